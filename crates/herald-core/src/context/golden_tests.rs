//! Tests of the context module: the seed 000 golden example, every value
//! shape, the 256 KB rule and the webhook headers.

use chrono::{TimeZone, Utc};
use serde_json::Value as Json;
use uuid::Uuid;

use super::*;
use crate::schema::{Column, ColumnType, Schema};
use crate::value::Value;

/// The request body printed in seed 000 (and, identically, seed 002).
const SEED_000: &str = r#"
{
    "BusinessUnitId": "e2b9dd85-e89e-e711-8122-000d3aa2331c",
    "CorrelationId": "b374239d-4233-41a9-8b17-a86cb4f737b5",
    "Depth": 1,
    "InitiatingUserId": "75c2dd85-e89e-e711-8122-000d3aa2331c",
    "InputParameters": [{
        "key": "Target",
        "value": {
            "__type": "Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts",
            "Attributes": [{
                "key": "firstname",
                "value": "James"
            }, {
                "key": "contactid",
                "value": "6d81597f-0f9f-e711-8122-000d3aa2331c"
            }, {
                "key": "fullname",
                "value": "James Glynn (sample)"
            }, {
                "key": "yomifullname",
                "value": "James Glynn (sample)"
            }, {
                "key": "modifiedon",
                "value": "\/Date(1506384247000)\/"
            }, {
                "key": "modifiedby",
                "value": {
                    "__type": "EntityReference:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts",
                    "Id": "75c2dd85-e89e-e711-8122-000d3aa2331c",
                    "KeyAttributes": [],
                    "LogicalName": "systemuser",
                    "Name": null,
                    "RowVersion": null
                }
            }, {
                "key": "modifiedonbehalfby",
                "value": null
            }],
            "EntityState": null,
            "FormattedValues": [],
            "Id": "6d81597f-0f9f-e711-8122-000d3aa2331c",
            "KeyAttributes": [],
            "LogicalName": "contact",
            "RelatedEntities": [],
            "RowVersion": null
        }
    }],
    "IsExecutingOffline": false,
    "IsInTransaction": false,
    "IsOfflinePlayback": false,
    "IsolationMode": 1,
    "MessageName": "Update",
    "Mode": 1,
    "OperationCreatedOn": "\/Date(1506409448000-0700)\/",
    "OperationId": "4af10637-4ea2-e711-8122-000d3aa2331c",
    "OrganizationId": "4ef5b371-e89e-e711-8122-000d3aa2331c",
    "OrganizationName": "OrgName",
    "OutputParameters": [],
    "OwningExtension": {
        "Id": "75417616-4ea2-e711-8122-000d3aa2331c",
        "KeyAttributes": [],
        "LogicalName": "sdkmessageprocessingstep",
        "Name": null,
        "RowVersion": null
    },
    "ParentContext": {
        "BusinessUnitId": "e2b9dd85-e89e-e711-8122-000d3aa2331c",
        "CorrelationId": "b374239d-4233-41a9-8b17-a86cb4f737b5",
        "Depth": 1,
        "InitiatingUserId": "75c2dd85-e89e-e711-8122-000d3aa2331c",
        "InputParameters": [{
            "key": "Target",
            "value": {
                "__type": "Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts",
                "Attributes": [{
                    "key": "firstname",
                    "value": "James"
                }, {
                    "key": "contactid",
                    "value": "6d81597f-0f9f-e711-8122-000d3aa2331c"
                }],
                "EntityState": null,
                "FormattedValues": [],
                "Id": "6d81597f-0f9f-e711-8122-000d3aa2331c",
                "KeyAttributes": [],
                "LogicalName": "contact",
                "RelatedEntities": [],
                "RowVersion": null
            }
        }, {
            "key": "SuppressDuplicateDetection",
            "value": false
        }],
        "IsExecutingOffline": false,
        "IsInTransaction": false,
        "IsOfflinePlayback": false,
        "IsolationMode": 1,
        "MessageName": "Update",
        "Mode": 1,
        "OperationCreatedOn": "\/Date(1506409448000-0700)\/",
        "OperationId": "4af10637-4ea2-e711-8122-000d3aa2331c",
        "OrganizationId": "4ef5b371-e89e-e711-8122-000d3aa2331c",
        "OrganizationName": "OneFarm",
        "OutputParameters": [],
        "OwningExtension": {
            "Id": "75417616-4ea2-e711-8122-000d3aa2331c",
            "KeyAttributes": [],
            "LogicalName": "sdkmessageprocessingstep",
            "Name": null,
            "RowVersion": null
        },
        "ParentContext": null,
        "PostEntityImages": [],
        "PreEntityImages": [],
        "PrimaryEntityId": "6d81597f-0f9f-e711-8122-000d3aa2331c",
        "PrimaryEntityName": "contact",
        "RequestId": null,
        "SecondaryEntityName": "none",
        "SharedVariables": [{
            "key": "ChangedEntityTypes",
            "value": [{
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "feedback",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "contract",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "salesorder",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "connection",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "socialactivity",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "postfollow",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "incident",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "invoice",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "entitlement",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "lead",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "opportunity",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "quote",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "socialprofile",
                "value": "Update"
            }, {
                "__type": "KeyValuePairOfstringstring:#System.Collections.Generic",
                "key": "contact",
                "value": "Update"
            }]
        }],
        "Stage": 30,
        "UserId": "75c2dd85-e89e-e711-8122-000d3aa2331c"
    },
    "PostEntityImages": [{
        "key": "AsynchronousStepPrimaryName",
        "value": {
            "Attributes": [{
                "key": "fullname",
                "value": "James Glynn (sample)"
            }, {
                "key": "contactid",
                "value": "6d81597f-0f9f-e711-8122-000d3aa2331c"
            }],
            "EntityState": null,
            "FormattedValues": [],
            "Id": "6d81597f-0f9f-e711-8122-000d3aa2331c",
            "KeyAttributes": [],
            "LogicalName": "contact",
            "RelatedEntities": [],
            "RowVersion": null
        }
    }],
    "PreEntityImages": [],
    "PrimaryEntityId": "6d81597f-0f9f-e711-8122-000d3aa2331c",
    "PrimaryEntityName": "contact",
    "RequestId": null,
    "SecondaryEntityName": "none",
    "SharedVariables": [],
    "Stage": 40,
    "UserId": "75c2dd85-e89e-e711-8122-000d3aa2331c"
}

"#;

/// The seed with herald's documented choices applied: one organization
/// name for both levels (the seed has `OrgName` and `OneFarm`, an artefact
/// of the docs) and `OperationCreatedOn` in UTC (`+0000`, not `-0700`).
fn expected_seed() -> Json {
    let text = SEED_000
        .replace("\"OneFarm\"", "\"OrgName\"")
        .replace("-0700)", "+0000)");
    serde_json::from_str(&text).unwrap()
}

fn g(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn vals(items: &[(&str, Value)]) -> Vec<(String, Value)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Equal values AND equal key order at every level (serde_json's `Map`
/// equality ignores order); panics with the path of the first difference.
fn assert_same_ordered(actual: &Json, expected: &Json, path: &str) {
    match (actual, expected) {
        (Json::Object(a), Json::Object(e)) => {
            let ak: Vec<&String> = a.keys().collect();
            let ek: Vec<&String> = e.keys().collect();
            assert_eq!(ak, ek, "keys (in order) differ at {path}");
            for (k, v) in e {
                assert_same_ordered(&a[k], v, &format!("{path}.{k}"));
            }
        }
        (Json::Array(a), Json::Array(e)) => {
            assert_eq!(a.len(), e.len(), "array length differs at {path}");
            for (i, (x, y)) in a.iter().zip(e).enumerate() {
                assert_same_ordered(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "value differs at {path}"),
    }
}

const CONTACT: &str = "6d81597f-0f9f-e711-8122-000d3aa2331c";
const USER: &str = "75c2dd85-e89e-e711-8122-000d3aa2331c";

/// Update of contact firstname Jim → James; step Update / contact /
/// filter firstname,lastname / PostOperation / async / rank 1, post image
/// `AsynchronousStepPrimaryName` (fullname, contactid).
fn seed_context() -> ExecutionContext {
    let schema = Schema::build(&[]).unwrap();
    let contact = schema.table("contact").unwrap();
    let id = g(CONTACT);
    let user = g(USER);
    let modifiedon = Utc.timestamp_millis_opt(1_506_384_247_000).unwrap();

    let target = entity_from_values(
        contact,
        id,
        &vals(&[
            ("firstname", s("James")),
            ("contactid", Value::Guid(id)),
            ("fullname", s("James Glynn (sample)")),
            ("yomifullname", s("James Glynn (sample)")),
            ("modifiedon", Value::DateTime(modifiedon)),
            ("modifiedby", Value::Guid(user)),
            ("modifiedonbehalfby", Value::Null),
        ]),
    );
    let sent = entity_from_values(
        contact,
        id,
        &vals(&[("firstname", s("James")), ("contactid", Value::Guid(id))]),
    );
    let post = image_from_values(
        contact,
        id,
        &vals(&[
            ("fullname", s("James Glynn (sample)")),
            ("contactid", Value::Guid(id)),
        ]),
    );
    let changed = [
        "feedback",
        "contract",
        "salesorder",
        "connection",
        "socialactivity",
        "postfollow",
        "incident",
        "invoice",
        "entitlement",
        "lead",
        "opportunity",
        "quote",
        "socialprofile",
        "contact",
    ]
    .iter()
    .map(|t| (t.to_string(), "Update".to_string()))
    .collect();

    ContextBuilder {
        message_name: "Update".into(),
        stage: STAGE_POST_OPERATION,
        mode: MODE_ASYNCHRONOUS,
        depth: 1,
        correlation_id: g("b374239d-4233-41a9-8b17-a86cb4f737b5"),
        operation_id: g("4af10637-4ea2-e711-8122-000d3aa2331c"),
        operation_created_on: Utc.timestamp_millis_opt(1_506_409_448_000).unwrap(),
        organization_id: g("4ef5b371-e89e-e711-8122-000d3aa2331c"),
        organization_name: "OrgName".into(),
        business_unit_id: g("e2b9dd85-e89e-e711-8122-000d3aa2331c"),
        user_id: user,
        initiating_user_id: user,
        request_id: None,
        owning_step_id: g("75417616-4ea2-e711-8122-000d3aa2331c"),
        target: Some(Target::Entity(target)),
        request_target: Some(Target::Entity(sent)),
        request_options: vec![("SuppressDuplicateDetection".into(), false.into())],
        post_images: vec![("AsynchronousStepPrimaryName".into(), post)],
        changed_entity_types: changed,
        ..Default::default()
    }
    .build()
}

#[test]
fn golden_seed_000_key_for_key_in_order() {
    let ctx = seed_context();
    let expected = expected_seed();
    assert_same_ordered(&ctx.to_json(), &expected, "$");
    assert_eq!(ctx.to_json(), expected);
}

#[test]
fn golden_seed_000_wire_string() {
    let ctx = seed_context();
    let wire = ctx.to_json_string();
    // Byte for byte the seed, compacted, with `/` escaped as Dataverse does.
    assert_eq!(wire, to_wire_string(&expected_seed()));
    assert!(wire.contains(r#""value":"\/Date(1506384247000)\/""#));
    assert!(wire.contains(r#""OperationCreatedOn":"\/Date(1506409448000+0000)\/""#));
    assert!(
        wire.contains(r#""__type":"Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts""#)
    );
    assert!(!wire.contains("http://"));
    // And it parses back to the same value.
    let back: Json = serde_json::from_str(&wire).unwrap();
    assert_same_ordered(&back, &ctx.to_json(), "$");
}

#[test]
fn images_carry_no_type_but_targets_do() {
    let ctx = seed_context();
    let json = ctx.to_json();
    let target = &json["InputParameters"][0]["value"];
    assert_eq!(
        target["__type"],
        "Entity:http://schemas.microsoft.com/xrm/2011/Contracts"
    );
    let image = json["PostEntityImages"][0]["value"].as_object().unwrap();
    assert!(!image.contains_key("__type"));
    assert_eq!(image.keys().next().unwrap(), "Attributes");
    assert!(!json["OwningExtension"]
        .as_object()
        .unwrap()
        .contains_key("__type"));
}

#[test]
fn value_shapes() {
    let id = g(CONTACT);
    let t = Utc.timestamp_millis_opt(1_506_384_247_000).unwrap();
    let cases: Vec<(AttributeValue, &str)> = vec![
        (AttributeValue::Null, "null"),
        (AttributeValue::String("a/b".into()), r#""a\/b""#),
        (AttributeValue::Int(-42), "-42"),
        (AttributeValue::Decimal(4.5), "4.5"),
        (AttributeValue::Decimal(1500.0), "1500"),
        (AttributeValue::Bool(true), "true"),
        (AttributeValue::DateTime(t), r#""\/Date(1506384247000)\/""#),
        (
            AttributeValue::DateTime(Utc.timestamp_millis_opt(-1_000).unwrap()),
            r#""\/Date(-1000)\/""#,
        ),
        // Whole seconds, as Dataverse keeps dates and the Web API shows them.
        (
            AttributeValue::DateTime(Utc.timestamp_millis_opt(1_506_384_247_986).unwrap()),
            r#""\/Date(1506384247000)\/""#,
        ),
        (
            AttributeValue::DateTime(Utc.timestamp_millis_opt(-1_500).unwrap()),
            r#""\/Date(-2000)\/""#,
        ),
        (
            AttributeValue::Guid(g("6D81597F-0F9F-E711-8122-000D3AA2331C")),
            r#""6d81597f-0f9f-e711-8122-000d3aa2331c""#,
        ),
        (
            AttributeValue::EntityReference(EntityReference {
                logical_name: "account".into(),
                id,
                name: Some("Contoso".into()),
            }),
            r#"{"__type":"EntityReference:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Id":"6d81597f-0f9f-e711-8122-000d3aa2331c","KeyAttributes":[],"LogicalName":"account","Name":"Contoso","RowVersion":null}"#,
        ),
        (
            AttributeValue::OptionSetValue(2),
            r#"{"__type":"OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":2}"#,
        ),
        (
            AttributeValue::Money(1234.5),
            r#"{"__type":"Money:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":1234.5}"#,
        ),
        (
            AttributeValue::Money(100.0),
            r#"{"__type":"Money:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":100}"#,
        ),
        (
            AttributeValue::Entity(Box::new(
                Entity::new("contact", id).with("firstname", "Jim".into()),
            )),
            r#"{"__type":"Entity:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Attributes":[{"key":"firstname","value":"Jim"}],"EntityState":null,"FormattedValues":[],"Id":"6d81597f-0f9f-e711-8122-000d3aa2331c","KeyAttributes":[],"LogicalName":"contact","RelatedEntities":[],"RowVersion":null}"#,
        ),
        (
            AttributeValue::KeyValuePairs(vec![("contact".into(), "Update".into())]),
            r#"[{"__type":"KeyValuePairOfstringstring:#System.Collections.Generic","key":"contact","value":"Update"}]"#,
        ),
    ];
    for (value, wire) in cases {
        assert_eq!(to_wire_string(&value.to_json()), wire, "{value:?}");
    }
}

#[test]
fn entity_without_type_and_formatted_values() {
    let mut e = Entity::new("account", Uuid::nil());
    e.set("industrycode", AttributeValue::OptionSetValue(1));
    e.formatted_values
        .push(("industrycode".into(), "Accounting".into()));
    e.set("industrycode", AttributeValue::OptionSetValue(2));
    assert_eq!(e.attributes.len(), 1);
    assert_eq!(
        to_wire_string(&e.to_json()),
        r#"{"Attributes":[{"key":"industrycode","value":{"__type":"OptionSetValue:http:\/\/schemas.microsoft.com\/xrm\/2011\/Contracts","Value":2}}],"EntityState":null,"FormattedValues":[{"key":"industrycode","value":"Accounting"}],"Id":"00000000-0000-0000-0000-000000000000","KeyAttributes":[],"LogicalName":"account","RelatedEntities":[],"RowVersion":null}"#
    );
}

#[test]
fn attribute_values_from_schema_columns() {
    let id = g(CONTACT);
    let t = Utc.timestamp_millis_opt(1_000).unwrap();
    let lookup = Column::new(
        "parentcustomerid",
        ColumnType::Lookup {
            target: "account".into(),
        },
    );
    assert_eq!(
        attribute_value(&lookup, &Value::Guid(id)),
        AttributeValue::EntityReference(EntityReference::new("account", id))
    );
    let choice = Column::new(
        "gendercode",
        ColumnType::Choice {
            options: vec![(1, "Male".into())],
        },
    );
    assert_eq!(
        attribute_value(&choice, &Value::Int(1)),
        AttributeValue::OptionSetValue(1)
    );
    let money = Column::new("creditlimit", ColumnType::Money);
    assert_eq!(
        attribute_value(&money, &Value::Decimal(9.5)),
        AttributeValue::Money(9.5)
    );
    assert_eq!(
        attribute_value(&money, &Value::Int(9)),
        AttributeValue::Money(9.0)
    );
    let dec = Column::new("d", ColumnType::Decimal);
    assert_eq!(
        attribute_value(&dec, &Value::Decimal(0.25)),
        AttributeValue::Decimal(0.25)
    );
    let dt = Column::new("birthdate", ColumnType::DateTime);
    assert_eq!(
        attribute_value(&dt, &Value::DateTime(t)),
        AttributeValue::DateTime(t)
    );
    let uid = Column::new("contactid", ColumnType::UniqueIdentifier);
    assert_eq!(
        attribute_value(&uid, &Value::Guid(id)),
        AttributeValue::Guid(id)
    );
    let int = Column::new("n", ColumnType::Integer);
    assert_eq!(
        attribute_value(&int, &Value::Int(7)),
        AttributeValue::Int(7)
    );
    let b = Column::new("donotemail", ColumnType::Boolean);
    assert_eq!(
        attribute_value(&b, &Value::Bool(true)),
        AttributeValue::Bool(true)
    );
    let st = Column::new("firstname", ColumnType::String { max_length: 50 });
    assert_eq!(
        attribute_value(&st, &s("Jim")),
        AttributeValue::String("Jim".into())
    );
    assert_eq!(attribute_value(&lookup, &Value::Null), AttributeValue::Null);
    assert_eq!(attribute_value(&choice, &Value::Null), AttributeValue::Null);
}

#[test]
fn entities_from_schema_values() {
    let schema = Schema::build(&[]).unwrap();
    let contact = schema.table("contact").unwrap();
    let id = g(CONTACT);
    let values = vals(&[
        ("gendercode", Value::Int(2)),
        ("parentcustomerid", Value::Guid(id)),
        ("notacolumn", Value::Int(3)),
    ]);
    let e = entity_from_values(contact, id, &values);
    assert_eq!(e.logical_name, "contact");
    assert_eq!(
        e.attribute("gendercode"),
        Some(&AttributeValue::OptionSetValue(2))
    );
    assert_eq!(
        e.attribute("parentcustomerid"),
        Some(&AttributeValue::EntityReference(EntityReference::new(
            "account", id
        )))
    );
    assert_eq!(e.attribute("notacolumn"), Some(&AttributeValue::Int(3)));
    assert!(e.formatted_values.is_empty());
    let image = image_from_values(contact, id, &values);
    assert_eq!(
        image.formatted_values,
        vec![("gendercode".to_string(), "Female".to_string())]
    );

    // Write-only columns never reach a receiver.
    let endpoint = schema.table("serviceendpoint").unwrap();
    let e = entity_from_values(
        endpoint,
        id,
        &vals(&[("name", s("hook")), ("authvalue", s("secret"))]),
    );
    assert!(e.attribute("authvalue").is_none());
    assert!(e.attribute("name").is_some());
}

#[test]
fn delete_and_create_contexts() {
    let id = g(CONTACT);
    let step = Uuid::from_u128(7);
    let delete = ContextBuilder {
        message_name: "Delete".into(),
        stage: STAGE_PRE_OPERATION,
        mode: MODE_SYNCHRONOUS,
        depth: 1,
        owning_step_id: step,
        target: Some(Target::Reference(EntityReference::new("contact", id))),
        ..Default::default()
    }
    .build();
    assert_eq!(delete.primary_entity_name, "contact");
    assert_eq!(delete.primary_entity_id, id);
    assert!(delete.is_in_transaction);
    let json = delete.to_json();
    assert_eq!(
        json["InputParameters"][0]["value"]["__type"],
        "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts"
    );
    let parent = &json["ParentContext"];
    assert_eq!(parent["Stage"], 30);
    assert_eq!(parent["ParentContext"], Json::Null);
    assert_eq!(parent["SharedVariables"], Json::Array(vec![]));
    assert_eq!(json["OwningExtension"]["Id"], step.to_string());
    assert_eq!(
        json["OwningExtension"]["LogicalName"],
        "sdkmessageprocessingstep"
    );

    let create = ContextBuilder {
        message_name: "Create".into(),
        stage: STAGE_POST_OPERATION,
        mode: MODE_SYNCHRONOUS,
        depth: 2,
        target: Some(Target::Entity(
            Entity::new("contact", id).with("firstname", "Jim".into()),
        )),
        output_parameters: vec![("id".into(), id.into())],
        changed_entity_types: vec![("contact".into(), "Create".into())],
        ..Default::default()
    }
    .build();
    let json = create.to_json();
    assert_eq!(json["OutputParameters"][0]["key"], "id");
    assert_eq!(json["OutputParameters"][0]["value"], CONTACT);
    assert_eq!(json["Depth"], 2);
    assert_eq!(json["ParentContext"]["Depth"], 2);
    assert_eq!(json["SharedVariables"], Json::Array(vec![]));
    assert_eq!(
        json["ParentContext"]["SharedVariables"][0]["value"][0]["key"],
        "contact"
    );
    assert_eq!(create.target(), create.input_parameter("Target"));
    assert_eq!(
        create.output_parameter("id"),
        Some(&AttributeValue::Guid(id))
    );
}

#[test]
fn small_payload_is_sent_whole() {
    let ctx = seed_context();
    let (body, exceeded) = serialize_for_delivery(&ctx);
    assert!(!exceeded);
    assert_eq!(body, ctx.to_json_string());
}

#[test]
fn payload_over_256_kb_is_trimmed_and_flagged() {
    let mut ctx = seed_context();
    let big = "x".repeat(MAX_PAYLOAD_BYTES + 1);
    if let Some(AttributeValue::Entity(e)) = ctx.input_parameters.get_mut(0).map(|(_, v)| v) {
        e.set("description", AttributeValue::String(big));
    }
    assert!(ctx.to_json_string().len() > MAX_PAYLOAD_BYTES);
    let (body, exceeded) = serialize_for_delivery(&ctx);
    assert!(exceeded);
    assert!(body.len() < 4096, "trimmed body is small: {}", body.len());
    let json: Json = serde_json::from_str(&body).unwrap();
    // The four properties are removed (keys and all); the rest keep their order.
    let kept: Vec<Json> = ctx
        .to_json()
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !TRIMMED_PROPERTIES.contains(&k.as_str()))
        .map(|k| Json::from(k.as_str()))
        .collect();
    assert_eq!(kept.len(), 27 - 4);
    let got: Vec<Json> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| Json::from(k.as_str()))
        .collect();
    assert_same_ordered(&Json::Array(got), &Json::Array(kept), "keys");
    for key in TRIMMED_PROPERTIES {
        assert!(json.get(key).is_none(), "{key} is removed");
    }
    // Everything else is the untrimmed body's.
    let mut full = ctx.to_json();
    if let Json::Object(m) = &mut full {
        m.retain(|k, _| !TRIMMED_PROPERTIES.contains(&k.as_str()));
    }
    assert_same_ordered(&json, &full, "$");
    assert_eq!(json["MessageName"], "Update");
    assert_eq!(json["PrimaryEntityId"], CONTACT);

    let headers = webhook_headers(&ctx, "OrgName", exceeded, Uuid::from_u128(1));
    assert!(headers.contains(&("x-ms-dynamics-msg-size-exceeded".into(), "true".into())));

    // The same rule on a context already serialized (System Jobs, notify).
    let (again, exceeded) = trim_serialized(&ctx.to_json_string());
    assert!(exceeded);
    assert_eq!(again, body);
    let small = seed_context().to_json_string();
    assert_eq!(trim_serialized(&small), (small.clone(), false));
}

#[test]
fn payload_exactly_at_the_limit_is_not_trimmed() {
    let mut ctx = seed_context();
    let base = ctx.to_json_string().len();
    // The attribute adds `,{"key":"description","value":"…"}` = 33 + n bytes.
    let pad = MAX_PAYLOAD_BYTES - base - 33;
    if let Some(AttributeValue::Entity(e)) = ctx.input_parameters.get_mut(0).map(|(_, v)| v) {
        e.set("description", AttributeValue::String("x".repeat(pad)));
    }
    assert_eq!(ctx.to_json_string().len(), MAX_PAYLOAD_BYTES);
    assert!(!serialize_for_delivery(&ctx).1);
    if let Some(AttributeValue::Entity(e)) = ctx.input_parameters.get_mut(0).map(|(_, v)| v) {
        e.set("description", AttributeValue::String("x".repeat(pad + 1)));
    }
    assert!(serialize_for_delivery(&ctx).1);
}

#[test]
fn headers_are_lower_case_and_ordered() {
    let ctx = seed_context();
    let rid = g("0F8FAD5B-D9CB-469F-A165-70867728950E");
    let h = webhook_headers(&ctx, "OrgName", false, rid);
    let expected: Vec<(String, String)> = [
        ("x-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("x-ms-dynamics-organization", "orgname"),
        ("x-ms-dynamics-entity-name", "contact"),
        ("x-ms-dynamics-request-name", "update"),
        (
            "x-ms-correlation-request-id",
            "b374239d-4233-41a9-8b17-a86cb4f737b5",
        ),
        ("content-type", "application/json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(h, expected);
}

#[test]
#[should_panic(expected = "keys (in order) differ")]
fn order_check_catches_reordered_keys() {
    let a: Json = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
    let b: Json = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
    assert_eq!(a, b); // serde_json alone does not see the difference
    assert_same_ordered(&a, &b, "$");
}

/// The streamed wire text and the `Value` tree come from one `Serialize`
/// implementation through two serializers (text with `\/`, and a tree);
/// for a context holding every kind of value, in every slot, they agree
/// byte for byte once the tree is written out.
#[test]
fn streamed_wire_text_is_the_tree_written_out_for_every_value_kind() {
    let id = g(CONTACT);
    let t = Utc.timestamp_millis_opt(1_506_384_247_000).unwrap();
    let every: Vec<(String, AttributeValue)> = vec![
        ("null".into(), AttributeValue::Null),
        (
            "s".into(),
            AttributeValue::String("a/b \"q\" \u{e9} \n".into()),
        ),
        ("i".into(), AttributeValue::Int(i64::MIN)),
        ("d".into(), AttributeValue::Decimal(0.1)),
        ("whole".into(), AttributeValue::Decimal(-1500.0)),
        ("nan".into(), AttributeValue::Decimal(f64::NAN)),
        ("huge".into(), AttributeValue::Decimal(1.0e300)),
        ("b".into(), AttributeValue::Bool(false)),
        ("t".into(), AttributeValue::DateTime(t)),
        ("g".into(), AttributeValue::Guid(id)),
        (
            "r".into(),
            AttributeValue::EntityReference(EntityReference {
                logical_name: "account".into(),
                id,
                name: Some("A/B".into()),
            }),
        ),
        ("o".into(), AttributeValue::OptionSetValue(3)),
        ("m".into(), AttributeValue::Money(12.25)),
        (
            "e".into(),
            AttributeValue::Entity(Box::new(
                Entity::new("contact", id).with("x", AttributeValue::Money(1.0)),
            )),
        ),
        (
            "kv".into(),
            AttributeValue::KeyValuePairs(vec![("contact".into(), "Update".into())]),
        ),
        (
            "ec".into(),
            AttributeValue::EntityCollection {
                entity_name: "contact".into(),
                entities: vec![
                    Entity::new("contact", id),
                    Entity::new("contact", Uuid::nil()),
                ],
            },
        ),
        (
            "rel".into(),
            AttributeValue::Relationship {
                schema_name: "contact_customer_accounts".into(),
            },
        ),
        (
            "refs".into(),
            AttributeValue::EntityReferenceCollection(vec![EntityReference::new("account", id)]),
        ),
    ];
    let mut ctx = seed_context();
    let mut image = Entity::new("contact", id);
    image.attributes = every.clone();
    image.formatted_values.push(("o".into(), "Three/3".into()));
    ctx.input_parameters.extend(every.clone());
    ctx.output_parameters = every.clone();
    ctx.shared_variables = every;
    ctx.pre_entity_images.push(("pre".into(), image.clone()));
    ctx.post_entity_images.push(("post".into(), image));
    ctx.request_id = Some(id);
    let mut parent = seed_context();
    parent.parent_context = Some(Box::new(seed_context()));
    ctx.parent_context = Some(Box::new(parent));

    let tree = ctx.to_json();
    let wire = ctx.to_json_string();
    assert_eq!(
        wire,
        serde_json::to_string(&tree).unwrap().replace('/', "\\/")
    );
    assert_eq!(wire, to_wire_string(&tree));
    assert_eq!(serde_json::from_str::<Json>(&wire).unwrap(), tree);
    assert!(wire.contains(r#""nan","value":null"#), "{wire}");
    assert!(wire.contains(r#""whole","value":-1500}"#), "{wire}");

    // Trimmed: the tree without the four keys, written out the same way.
    let mut trimmed = tree;
    if let Json::Object(m) = &mut trimmed {
        m.retain(|k, _| !TRIMMED_PROPERTIES.contains(&k.as_str()));
    }
    assert_eq!(ctx.to_trimmed_json_string(), to_wire_string(&trimmed));
}
