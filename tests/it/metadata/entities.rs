//! `EntityDefinitions`: the Python client's exact lookup, `$select`,
//! `$filter`, `$expand`, keys, and the errors.

use crate::common::{odata_error, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{enc, named, names, ok};

/// What `PowerPlatform-Dataverse-Client` sends before every record call
/// (as `requests` encodes it: `+` for spaces).
async fn python_client_lookup(s: TestServer) {
    let body = ok(
        &s,
        "EntityDefinitions?%24select=LogicalName%2CEntitySetName%2CPrimaryIdAttribute&%24filter=LogicalName+eq+%27account%27",
    )
    .await;
    assert_eq!(
        body,
        json!({
            "@odata.context": format!("{}/$metadata#EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)", s.api),
            "value": [{"LogicalName": "account", "EntitySetName": "accounts", "PrimaryIdAttribute": "accountid"}]
        })
    );
    // Its table lookup (`_get_entity_by_table_schema_name`), and an unknown
    // table: an empty list, which the client turns into its own error.
    let select =
        "MetadataId,LogicalName,SchemaName,EntitySetName,PrimaryNameAttribute,PrimaryIdAttribute";
    let contact = ok(
        &s,
        &format!(
            "EntityDefinitions?$select={select}&$filter={}",
            enc("LogicalName eq 'contact'")
        ),
    )
    .await;
    let c = &contact["value"][0];
    assert_eq!(c["SchemaName"], "Contact");
    assert_eq!(c["PrimaryNameAttribute"], "fullname");
    assert!(c["MetadataId"].as_str().is_some_and(|id| id.len() == 36));
    let none = ok(
        &s,
        &format!(
            "EntityDefinitions?$filter={}",
            enc("LogicalName eq 'new_missing'")
        ),
    )
    .await;
    assert_eq!(none["value"], json!([]));
}

/// Every table is described: business, registration, system and BC ones.
async fn every_table_is_listed(s: TestServer) {
    let body = ok(
        &s,
        "EntityDefinitions?$select=LogicalName,IsCustomEntity,OwnershipType",
    )
    .await;
    let all = names(&body, "LogicalName");
    for t in [
        "account",
        "serviceendpoint",
        "sdkmessageprocessingstep",
        "asyncoperation",
        "sdkmessagefilter",
        "bc_customer",
    ] {
        assert!(all.contains(&t), "{t} in {all:?}");
    }
    assert_eq!(all.len(), s.state.schema().tables().count());
    assert_eq!(named(&body, "account")["OwnershipType"], "UserOwned");
    assert_eq!(
        named(&body, "serviceendpoint")["OwnershipType"],
        "OrganizationOwned"
    );
    assert!(body["value"]
        .as_array()
        .is_some_and(|v| v.iter().all(|e| e["IsCustomEntity"] == false)));
    // No $select: the full EntityMetadata.
    let full = ok(&s, "EntityDefinitions").await;
    let account = named(&full, "account");
    for (k, v) in [
        ("EntitySetName", json!("accounts")),
        ("LogicalCollectionName", json!("accounts")),
        ("PrimaryIdAttribute", json!("accountid")),
        ("PrimaryNameAttribute", json!("name")),
        ("ObjectTypeCode", json!(1)),
        ("SchemaName", json!("Account")),
        ("IsCustomEntity", json!(false)),
        ("IsActivity", json!(false)),
        ("HasChanged", json!(null)),
    ] {
        assert_eq!(account[k], v, "{k}");
    }
    assert_eq!(
        account["DisplayName"]["UserLocalizedLabel"]["Label"],
        "Account"
    );
    assert_eq!(
        account["DisplayName"]["LocalizedLabels"][0]["LanguageCode"],
        1033
    );
    assert_eq!(
        account["DisplayCollectionName"]["LocalizedLabels"][0]["Label"],
        "Accounts"
    );
    assert!(account["Description"]["LocalizedLabels"].is_array());
    assert!(
        account.get("Attributes").is_none(),
        "navigation only when expanded"
    );
}

async fn filters(s: TestServer) {
    let cases = [
        ("EntitySetName eq 'contacts'", vec!["contact"]),
        ("SchemaName eq 'SdkMessageProcessingStep'", vec!["sdkmessageprocessingstep"]),
        ("LogicalName eq 'account' or LogicalName eq 'lead'", vec!["account", "lead"]),
        ("IsCustomEntity eq false and LogicalName eq 'incident'", vec!["incident"]),
        ("IsCustomEntity eq true", vec![]),
        ("IsPrivate eq false and (LogicalName eq 'lead')", vec!["lead"]),
        ("OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned' and ObjectTypeCode le 2", vec!["account", "contact"]),
    ];
    for (filter, expected) in cases {
        let body = ok(
            &s,
            &format!(
                "EntityDefinitions?$select=LogicalName&$filter={}",
                enc(filter)
            ),
        )
        .await;
        assert_eq!(names(&body, "LogicalName"), expected, "{filter}");
    }
}

async fn by_key_and_expand(s: TestServer) {
    let by_name = ok(
        &s,
        "EntityDefinitions(LogicalName='account')?$select=LogicalName,MetadataId",
    )
    .await;
    assert_eq!(
        by_name["@odata.context"],
        format!(
            "{}/$metadata#EntityDefinitions(LogicalName,MetadataId)/$entity",
            s.api
        )
    );
    let id = by_name["MetadataId"]
        .as_str()
        .expect("MetadataId")
        .to_string();
    let by_id = ok(
        &s,
        &format!("EntityDefinitions({id})?$select=EntitySetName"),
    )
    .await;
    assert_eq!(by_id["EntitySetName"], "accounts");
    let quoted = ok(
        &s,
        "EntityDefinitions(LogicalName=%27account%27)?$select=LogicalName",
    )
    .await;
    assert_eq!(quoted["LogicalName"], "account");

    let expanded = ok(
        &s,
        &format!(
            "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand={}",
            enc("Attributes($select=LogicalName,AttributeType;$filter=AttributeType eq 'Money')")
        ),
    )
    .await;
    assert_eq!(
        names(&json!({"value": expanded["Attributes"]}), "LogicalName"),
        ["revenue", "creditlimit"]
    );
    assert_eq!(
        expanded["Attributes"][0]["@odata.type"],
        "#Microsoft.Dynamics.CRM.MoneyAttributeMetadata"
    );
    assert!(expanded["Attributes"][0].get("MetadataId").is_none());

    let listed = ok(
        &s,
        &format!(
            "EntityDefinitions?$select=LogicalName&$filter={}&$expand=Attributes($select=LogicalName)",
            enc("LogicalName eq 'lead'")
        ),
    )
    .await;
    assert!(listed["value"][0]["Attributes"]
        .as_array()
        .is_some_and(|a| a.len() > 10));
}

async fn errors_are_odata_errors(s: TestServer) {
    let (status, body) = s.get("EntityDefinitions(LogicalName='nope')").await;
    let message = odata_error(status, &body, StatusCode::NOT_FOUND);
    assert_eq!(message, "Could not find an entity with name 'nope'");
    assert_eq!(body["error"]["code"], "0x80040217");
    let (status, body) = s
        .get("EntityDefinitions(00000000-0000-0000-0000-000000000001)")
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    for bad in [
        "EntityDefinitions?$top=1",
        "EntityDefinitions?$orderby=LogicalName",
        "EntityDefinitions?$select=Nope",
        "EntityDefinitions?$filter=DisplayName%20eq%20'x'",
        "EntityDefinitions?$expand=Nope",
        "EntityDefinitions(LogicalName=account)",
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.ImageAttributeMetadata",
    ] {
        let (status, body) = s.get(bad).await;
        odata_error(status, &body, StatusCode::BAD_REQUEST);
    }
    let (status, body) = s.get("EntityDefinitions(LogicalName='account')/Nope").await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let (status, _, body) = s
        .post("EntityDefinitions", json!({"SchemaName": "new_x"}))
        .await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("needs Attributes"), "{message}");
    // The same authentication as the data API.
    let resp = s
        .client
        .request(Method::GET, format!("{}/EntityDefinitions", s.api))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

both_backends!(
    python_client_lookup,
    every_table_is_listed,
    filters,
    by_key_and_expand,
    errors_are_odata_errors
);
