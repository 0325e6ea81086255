//! The whole read path (path → JSON) on the built-in schema, without HTTP.

use super::*;

const BASE: &str = "http://h/api/data/v9.2/";

fn get(path: &str, options: &[(&str, &str)]) -> DefinitionResult<Json> {
    let schema = Schema::build(&[]).expect("schema");
    let options: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    read(&schema, BASE, path, &options)
}

fn ok(path: &str, options: &[(&str, &str)]) -> Json {
    get(path, options).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn answers_the_python_clients_lookup() {
    let body = ok(
        "EntityDefinitions",
        &[
            ("$select", "LogicalName,EntitySetName,PrimaryIdAttribute"),
            ("$filter", "LogicalName eq 'account'"),
        ],
    );
    assert_eq!(
        body,
        json!({
            "@odata.context": "http://h/api/data/v9.2/$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)",
            "value": [{"LogicalName": "account", "EntitySetName": "accounts", "PrimaryIdAttribute": "accountid"}]
        })
    );
}

#[test]
fn picklists_by_cast_with_their_options() {
    let body = ok(
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        &[
            ("$select", "LogicalName"),
            ("$expand", "OptionSet($select=Options),GlobalOptionSet"),
        ],
    );
    let value = body["value"].as_array().expect("value");
    let names: Vec<&str> = value
        .iter()
        .filter_map(|a| a["LogicalName"].as_str())
        .collect();
    assert_eq!(names, ["industrycode", "accountcategorycode"]);
    assert_eq!(
        value[0]["@odata.type"],
        "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata"
    );
    assert_eq!(
        value[0]["OptionSet"]["Options"][4]["Label"]["LocalizedLabels"][0]["Label"],
        "Financial"
    );
    assert!(
        value[0]["OptionSet"].get("Name").is_none(),
        "nested $select applies"
    );
    assert!(value[0]["GlobalOptionSet"].is_null());
}

#[test]
fn one_attribute_by_name_and_by_id_with_a_cast() {
    let by_name = ok(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata",
        &[("$select", "LogicalName,MaxLength")],
    );
    assert_eq!(by_name["MaxLength"], 160);
    let id = fixed_id_of("attributemetadata", "account.name");
    let by_id = ok(
        &format!("EntityDefinitions(LogicalName='account')/Attributes({id})"),
        &[],
    );
    assert_eq!(by_id["LogicalName"], "name");
    assert_eq!(
        by_id["MaxLength"], 160,
        "the full derived type without a cast"
    );
    let wrong = get(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
        &[],
    );
    assert!(matches!(wrong, Err(DefinitionError::NotFound(_))));
    // Derived properties need the cast, as in Dataverse.
    assert!(get(
        "EntityDefinitions(LogicalName='account')/Attributes",
        &[("$select", "MaxLength")]
    )
    .is_err());
}

#[test]
fn entities_expand_attributes_and_filter_on_kind() {
    let body = ok(
        "EntityDefinitions",
        &[
            ("$select", "LogicalName"),
            ("$filter", "IsCustomEntity eq false and (LogicalName eq 'serviceendpoint' or SchemaName eq 'Account')"),
            ("$expand", "Attributes($select=LogicalName,IsValidForRead;$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Memo')"),
        ],
    );
    let value = body["value"].as_array().expect("value");
    assert_eq!(value.len(), 2);
    let endpoint = value
        .iter()
        .find(|e| e["LogicalName"] == "serviceendpoint")
        .expect("serviceendpoint");
    let authvalue = endpoint["Attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["LogicalName"] == "authvalue"))
        .expect("authvalue is a Memo");
    assert_eq!(authvalue["IsValidForRead"], false);
    assert_eq!(
        body["@odata.context"],
        "http://h/api/data/v9.2/$metadata#EntityDefinitions(LogicalName,Attributes(LogicalName,IsValidForRead))"
    );
}

#[test]
fn relationships_keys_and_option_sets() {
    let many_to_one = ok(
        "EntityDefinitions(LogicalName='contact')/ManyToOneRelationships",
        &[("$filter", "ReferencedEntity eq 'account'")],
    );
    assert_eq!(
        many_to_one["value"][0]["SchemaName"],
        "contact_customer_accounts"
    );
    let one_to_many = ok(
        "EntityDefinitions(LogicalName='serviceendpoint')/OneToManyRelationships",
        &[("$select", "SchemaName,ReferencingEntity")],
    );
    assert_eq!(
        one_to_many["value"][0]["ReferencingEntity"],
        "sdkmessageprocessingstep"
    );
    let by_name = ok(
        "RelationshipDefinitions",
        &[("$filter", "SchemaName eq 'lk_account_createdby'")],
    );
    assert_eq!(by_name["value"][0]["ReferencingEntity"], "account");
    let one = ok(
        "RelationshipDefinitions(SchemaName='lk_account_createdby')",
        &[],
    );
    assert_eq!(one["ReferencedEntity"], "systemuser");
    let cast = ok(
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
        &[("$filter", "SchemaName eq 'lk_account_createdby'")],
    );
    assert_eq!(cast["value"][0]["ReferencedEntity"], "systemuser");
    for empty in [
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
        "GlobalOptionSetDefinitions/Microsoft.Dynamics.CRM.OptionSetMetadata",
        "EntityDefinitions(LogicalName='account')/ManyToManyRelationships",
        "EntityDefinitions(LogicalName='account')/Keys",
        "GlobalOptionSetDefinitions",
    ] {
        assert_eq!(ok(empty, &[])["value"], json!([]), "{empty}");
    }
    assert!(matches!(
        get("GlobalOptionSetDefinitions(Name='x')", &[]),
        Err(DefinitionError::NotFound(_))
    ));
}

#[test]
fn errors_say_what_is_wrong() {
    let unknown = get("EntityDefinitions(LogicalName='nope')", &[]).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "Could not find an entity with name 'nope'"
    );
    assert!(matches!(unknown, DefinitionError::NotFound(_)));
    assert!(matches!(
        get("EntityDefinitions", &[("$top", "1")]),
        Err(DefinitionError::Unsupported(_))
    ));
    assert!(matches!(
        get(
            "EntityDefinitions(LogicalName='account')",
            &[("$filter", "IsActivity eq false")]
        ),
        Err(DefinitionError::Invalid(_))
    ));
    assert!(get(
        "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='nope')",
        &[]
    )
    .is_err());
    // An empty answer, not an error, for a filter that matches nothing.
    assert_eq!(
        ok("EntityDefinitions", &[("$filter", "LogicalName eq 'nope'")])["value"],
        json!([])
    );
}

fn fixed_id_of(kind: &str, name: &str) -> uuid::Uuid {
    herald_core::fixed_ids::fixed_id(kind, name)
}
