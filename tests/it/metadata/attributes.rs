//! `EntityDefinitions(…)/Attributes`: the list, one attribute by name and
//! by MetadataId, every type cast clients use, and write-only columns.

use crate::common::{odata_error, TestServer};
use reqwest::StatusCode;
use serde_json::json;

use super::{enc, named, names, ok};

const ACCOUNT: &str = "EntityDefinitions(LogicalName='account')";
const CAST: &str = "Microsoft.Dynamics.CRM.";

async fn lists_and_filters_attributes(s: TestServer) {
    let all = ok(
        &s,
        &format!("{ACCOUNT}/Attributes?$select=LogicalName,AttributeType"),
    )
    .await;
    let schema = s.state.schema();
    let account = schema.table("account").expect("account");
    assert_eq!(names(&all, "LogicalName").len(), account.columns.len());
    assert_eq!(named(&all, "name")["AttributeType"], "String");
    assert_eq!(named(&all, "ownerid")["AttributeType"], "Owner");
    assert_eq!(
        named(&all, "statecode")["@odata.type"],
        "#Microsoft.Dynamics.CRM.StateAttributeMetadata"
    );
    let id = s.get(&format!("{ACCOUNT}?$select=MetadataId")).await.1["MetadataId"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        all["@odata.context"],
        format!(
            "{}/$metadata#EntityDefinitions('{id}')/Attributes(LogicalName,AttributeType)",
            s.api
        )
    );

    // What the Python client sends to find one column.
    let one = ok(
        &s,
        &format!(
            "EntityDefinitions({id})/Attributes?$select=MetadataId,LogicalName,SchemaName&$filter={}",
            enc("LogicalName eq 'emailaddress1'")
        ),
    )
    .await;
    assert_eq!(names(&one, "LogicalName"), ["emailaddress1"]);
    let picklists = ok(
        &s,
        &format!(
            "{ACCOUNT}/Attributes?$select=LogicalName&$filter={}",
            enc("AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'")
        ),
    )
    .await;
    assert_eq!(
        names(&picklists, "LogicalName"),
        ["industrycode", "accountcategorycode"]
    );
    let strings = ok(
        &s,
        &format!(
            "{ACCOUNT}/Attributes?$select=LogicalName&$filter={}",
            enc("AttributeType eq 'String' and startswith(LogicalName,'address1')")
        ),
    )
    .await;
    assert_eq!(names(&strings, "LogicalName").len(), 4);
}

async fn one_attribute(s: TestServer) {
    let name = ok(&s, &format!("{ACCOUNT}/Attributes(LogicalName='name')")).await;
    assert_eq!(
        name["@odata.type"],
        "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    );
    for (k, v) in [
        ("LogicalName", json!("name")),
        ("SchemaName", json!("name")),
        ("EntityLogicalName", json!("account")),
        ("AttributeType", json!("String")),
        ("AttributeTypeName", json!({"Value": "StringType"})),
        ("IsPrimaryName", json!(true)),
        ("IsPrimaryId", json!(false)),
        ("IsValidForCreate", json!(true)),
        ("IsValidForUpdate", json!(true)),
        ("IsValidForRead", json!(true)),
        ("IsCustomAttribute", json!(false)),
        ("AttributeOf", json!(null)),
        ("HasChanged", json!(null)),
        ("MaxLength", json!(160)),
    ] {
        assert_eq!(name[k], v, "{k}");
    }
    assert_eq!(
        name["RequiredLevel"],
        json!({"Value": "None", "CanBeChanged": true, "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"})
    );
    assert_eq!(name["DisplayName"]["UserLocalizedLabel"]["Label"], "Name");
    let id = name["MetadataId"].as_str().expect("MetadataId");
    let by_id = ok(
        &s,
        &format!("{ACCOUNT}/Attributes({id})?$select=LogicalName"),
    )
    .await;
    assert_eq!(by_id["LogicalName"], "name");
    let primary = ok(
        &s,
        &format!("{ACCOUNT}/Attributes(LogicalName='accountid')"),
    )
    .await;
    assert_eq!(primary["IsPrimaryId"], true);
    assert_eq!(primary["RequiredLevel"]["Value"], "SystemRequired");
    assert_eq!(
        primary["@odata.type"],
        "#Microsoft.Dynamics.CRM.UniqueIdentifierAttributeMetadata"
    );
    let created = ok(
        &s,
        &format!("{ACCOUNT}/Attributes(LogicalName='createdon')"),
    )
    .await;
    assert_eq!(
        (
            created["IsValidForCreate"].clone(),
            created["IsValidForUpdate"].clone()
        ),
        (json!(false), json!(false))
    );

    let (status, body) = s
        .get(&format!("{ACCOUNT}/Attributes(LogicalName='nope')"))
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let (status, body) = s
        .get(&format!(
            "{ACCOUNT}/Attributes(LogicalName='name')/{CAST}PicklistAttributeMetadata"
        ))
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
}

/// Each cast returns only its type, with the derived properties.
async fn type_casts(s: TestServer) {
    let cases = [
        (
            "account",
            "StringAttributeMetadata",
            "MaxLength",
            "name",
            json!(160),
        ),
        (
            "account",
            "MemoAttributeMetadata",
            "MaxLength",
            "description",
            json!(1_048_576),
        ),
        (
            "account",
            "IntegerAttributeMetadata",
            "MaxValue",
            "numberofemployees",
            json!(2_147_483_647),
        ),
        (
            "incident",
            "DecimalAttributeMetadata",
            "Precision",
            "customersatisfactioncode",
            json!(2),
        ),
        (
            "account",
            "MoneyAttributeMetadata",
            "PrecisionSource",
            "revenue",
            json!(2),
        ),
        (
            "account",
            "DateTimeAttributeMetadata",
            "Format",
            "createdon",
            json!("DateAndTime"),
        ),
        (
            "account",
            "BooleanAttributeMetadata",
            "DefaultValue",
            "creditonhold",
            json!(false),
        ),
        (
            "contact",
            "LookupAttributeMetadata",
            "Targets",
            "parentcustomerid",
            json!(["account"]),
        ),
        (
            "account",
            "UniqueidentifierAttributeMetadata",
            "LogicalName",
            "accountid",
            json!("accountid"),
        ),
        (
            "account",
            "PicklistAttributeMetadata",
            "DefaultFormValue",
            "industrycode",
            json!(-1),
        ),
    ];
    for (table, cast, property, column, value) in cases {
        let body = ok(
            &s,
            &format!("EntityDefinitions(LogicalName='{table}')/Attributes/{CAST}{cast}?$select=LogicalName,{property}"),
        )
        .await;
        let attribute = named(&body, column);
        assert_eq!(attribute[property], value, "{cast}.{property}");
        let types: Vec<&str> = body["value"]
            .as_array()
            .map(|v| v.iter().filter_map(|a| a["@odata.type"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            types
                .iter()
                .all(|t| t.eq_ignore_ascii_case(&format!("#{CAST}{cast}"))),
            "{cast}: {types:?}"
        );
        let single = ok(
            &s,
            &format!("EntityDefinitions(LogicalName='{table}')/Attributes(LogicalName='{column}')/{CAST}{cast}?$select={property}"),
        )
        .await;
        assert_eq!(single[property], value, "single {cast}");
    }
}

/// The request the Python client sends for picklist labels, and boolean
/// option sets.
async fn option_sets(s: TestServer) {
    let body = ok(
        &s,
        &format!("{ACCOUNT}/Attributes/{CAST}PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options),GlobalOptionSet"),
    )
    .await;
    let industry = named(&body, "industrycode");
    let options = industry["OptionSet"]["Options"]
        .as_array()
        .expect("options");
    assert_eq!(options.len(), 5);
    assert_eq!(options[0]["Value"], 1);
    assert_eq!(
        options[0]["Label"]["LocalizedLabels"][0]["Label"],
        "Accounting"
    );
    assert!(industry["GlobalOptionSet"].is_null());

    let flag = ok(
        &s,
        &format!("{ACCOUNT}/Attributes(LogicalName='creditonhold')/{CAST}BooleanAttributeMetadata?$select=LogicalName&$expand=OptionSet"),
    )
    .await;
    assert_eq!(flag["OptionSet"]["TrueOption"]["Value"], 1);
    assert_eq!(
        flag["OptionSet"]["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"],
        "Yes"
    );
    assert_eq!(
        flag["OptionSet"]["FalseOption"]["Label"]["UserLocalizedLabel"]["Label"],
        "No"
    );

    let status = ok(
        &s,
        &format!("EntityDefinitions(LogicalName='asyncoperation')/Attributes(LogicalName='statuscode')/{CAST}StatusAttributeMetadata?$expand=OptionSet"),
    )
    .await;
    let succeeded = status["OptionSet"]["Options"]
        .as_array()
        .and_then(|o| o.iter().find(|x| x["Value"] == 30))
        .expect("Succeeded");
    assert_eq!(succeeded["State"], 3);

    // OptionSet is a navigation property of the option types only.
    let (st, body) = s
        .get(&format!(
            "{ACCOUNT}/Attributes/{CAST}StringAttributeMetadata?$expand=OptionSet"
        ))
        .await;
    odata_error(st, &body, StatusCode::BAD_REQUEST);
}

/// Secrets can be written but never read: metadata says so.
async fn write_only_columns_are_not_valid_for_read(s: TestServer) {
    let body = ok(
        &s,
        "EntityDefinitions(LogicalName='serviceendpoint')/Attributes?$select=LogicalName,IsValidForRead,IsValidForCreate,IsValidForUpdate",
    )
    .await;
    for secret in [
        "authvalue",
        "herald_signingsecret",
        "herald_previoussigningsecret",
    ] {
        let a = named(&body, secret);
        assert_eq!(a["IsValidForRead"], false, "{secret}");
        assert_eq!(a["IsValidForCreate"], true, "{secret}");
        assert_eq!(a["IsValidForUpdate"], true, "{secret}");
    }
    let set = named(&body, "isauthvalueset");
    assert_eq!(
        (
            set["IsValidForRead"].clone(),
            set["IsValidForCreate"].clone()
        ),
        (json!(true), json!(false))
    );
    let unreadable = ok(
        &s,
        &format!(
            "EntityDefinitions(LogicalName='serviceendpoint')/Attributes?$select=LogicalName&$filter={}",
            enc("IsValidForRead eq false")
        ),
    )
    .await;
    assert_eq!(
        names(&unreadable, "LogicalName"),
        [
            "authvalue",
            "herald_signingsecret",
            "herald_previoussigningsecret"
        ]
    );
}

both_backends!(
    lists_and_filters_attributes,
    one_attribute,
    type_casts,
    option_sets,
    write_only_columns_are_not_valid_for_read
);
