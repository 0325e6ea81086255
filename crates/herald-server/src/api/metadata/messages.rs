//! The Dataverse messages herald serves as actions, declared the way
//! Dataverse's own `$metadata` declares them:
//! - `CreateMultiple`, `UpdateMultiple` and `UpsertMultiple`, bound to a
//!   collection of `crmbaseentity` (the abstract base type of every entity
//!   type, so one declaration serves every set), each with `Targets`;
//!   `CreateMultiple` returns `CreateMultipleResponse` (`Ids`),
//!   `UpsertMultiple` returns `UpsertMultipleResponse` (`Results`, each an
//!   `UpsertResponse`: `RecordCreated` and the `Target` entity);
//! - `BulkDelete`, unbound (an `ActionImport` of the container), with its
//!   nine parameters and `BulkDeleteResponse` (`JobId`), and the
//!   QueryExpression types its `QuerySet` is made of (`QueryExpression`,
//!   `ColumnSet`, `FilterExpression`, `ConditionExpression`, `Object`,
//!   `LinkEntity`, `OrderExpression`, `PagingInfo` and their enums). The
//!   `ConditionOperator` enum lists the operators herald maps
//!   (`herald_core::query_expression::OPERATORS`); a QueryExpression using
//!   anything else is refused with a 400 when it is sent.
//!
//! Which of these the API serves is `api/odata/bulk.rs` and
//! `api/odata/bulk_delete.rs`; the tests of `metadata_csdl` post to each
//! declared action and check the answer against its declared type.

use herald_core::query_expression::OPERATORS;

use super::ALIAS;

/// The abstract base entity type of every table.
pub(super) const BASE_ENTITY: &str = "crmbaseentity";

/// The unbound actions (for the container's `ActionImport`s).
pub(super) const UNBOUND_ACTIONS: [&str; 1] = ["BulkDelete"];

/// A property of a complex type: name, type, nullable.
type Member = (&'static str, &'static str, bool);

const COMPLEX_TYPES: &[(&str, &[Member])] = &[
    (
        "CreateMultipleResponse",
        &[("Ids", "Collection(Edm.Guid)", false)],
    ),
    (
        "UpsertMultipleResponse",
        &[("Results", "Collection(mscrm.UpsertResponse)", false)],
    ),
    ("BulkDeleteResponse", &[("JobId", "Edm.Guid", false)]),
    (
        "QueryExpression",
        &[
            ("EntityName", "Edm.String", true),
            ("ColumnSet", "mscrm.ColumnSet", true),
            ("Distinct", "Edm.Boolean", false),
            ("NoLock", "Edm.Boolean", false),
            ("PageInfo", "mscrm.PagingInfo", true),
            ("LinkEntities", "Collection(mscrm.LinkEntity)", true),
            ("Criteria", "mscrm.FilterExpression", true),
            ("Orders", "Collection(mscrm.OrderExpression)", true),
            ("TopCount", "Edm.Int32", true),
        ],
    ),
    (
        "ColumnSet",
        &[
            ("AllColumns", "Edm.Boolean", false),
            ("Columns", "Collection(Edm.String)", true),
        ],
    ),
    (
        "FilterExpression",
        &[
            ("FilterOperator", "mscrm.LogicalOperator", false),
            ("Conditions", "Collection(mscrm.ConditionExpression)", true),
            ("Filters", "Collection(mscrm.FilterExpression)", true),
            ("IsQuickFindFilter", "Edm.Boolean", false),
        ],
    ),
    (
        "ConditionExpression",
        &[
            ("EntityName", "Edm.String", true),
            ("AttributeName", "Edm.String", true),
            ("Operator", "mscrm.ConditionOperator", false),
            ("Values", "Collection(mscrm.Object)", true),
        ],
    ),
    (
        "Object",
        &[("Type", "Edm.String", true), ("Value", "Edm.String", true)],
    ),
    (
        "LinkEntity",
        &[
            ("LinkFromAttributeName", "Edm.String", true),
            ("LinkFromEntityName", "Edm.String", true),
            ("LinkToEntityName", "Edm.String", true),
            ("LinkToAttributeName", "Edm.String", true),
            ("JoinOperator", "mscrm.JoinOperator", false),
            ("LinkCriteria", "mscrm.FilterExpression", true),
            ("LinkEntities", "Collection(mscrm.LinkEntity)", true),
            ("Columns", "mscrm.ColumnSet", true),
            ("EntityAlias", "Edm.String", true),
            ("Orders", "Collection(mscrm.OrderExpression)", true),
        ],
    ),
    (
        "OrderExpression",
        &[
            ("AttributeName", "Edm.String", true),
            ("OrderType", "mscrm.OrderType", false),
            ("Alias", "Edm.String", true),
            ("EntityName", "Edm.String", true),
        ],
    ),
    (
        "PagingInfo",
        &[
            ("PageNumber", "Edm.Int32", false),
            ("Count", "Edm.Int32", false),
            ("ReturnTotalRecordCount", "Edm.Boolean", false),
            ("PagingCookie", "Edm.String", true),
        ],
    ),
];

const ENUMS: &[(&str, &[(&str, i64)])] = &[
    ("LogicalOperator", &[("And", 0), ("Or", 1)]),
    (
        "JoinOperator",
        &[("Inner", 0), ("LeftOuter", 1), ("Natural", 2)],
    ),
    ("OrderType", &[("Ascending", 0), ("Descending", 1)]),
];

/// `BulkDelete`'s parameters, as Dataverse declares them.
const BULK_DELETE_PARAMETERS: [Member; 9] = [
    ("QuerySet", "Collection(mscrm.QueryExpression)", false),
    ("JobName", "Edm.String", false),
    ("SendEmailNotification", "Edm.Boolean", false),
    ("ToRecipients", "Collection(Edm.Guid)", false),
    ("CCRecipients", "Collection(Edm.Guid)", false),
    ("RecurrencePattern", "Edm.String", false),
    ("StartDateTime", "Edm.DateTimeOffset", false),
    ("SourceImportId", "Edm.Guid", true),
    ("RunNow", "Edm.Boolean", true),
];

fn nullable(n: bool) -> &'static str {
    if n {
        ""
    } else {
        r#" Nullable="false""#
    }
}

fn parameters(x: &mut String, params: &[(&str, &str, bool)]) {
    for (name, ty, n) in params {
        x.push_str(&format!(
            r#"<Parameter Name="{name}" Type="{ty}"{}/>"#,
            nullable(*n)
        ));
    }
}

/// The abstract base type every entity type derives from.
pub(super) fn write_base_entity(x: &mut String) {
    x.push_str(&format!(
        r#"<EntityType Name="{BASE_ENTITY}" Abstract="true"/>"#
    ));
}

/// The complex types, enums and actions of the `mscrm` schema.
pub(super) fn write(x: &mut String) {
    for (name, members) in COMPLEX_TYPES {
        x.push_str(&format!(r#"<ComplexType Name="{name}">"#));
        for (p, ty, n) in *members {
            x.push_str(&format!(
                r#"<Property Name="{p}" Type="{ty}"{}/>"#,
                nullable(*n)
            ));
        }
        x.push_str("</ComplexType>");
    }
    // A structural property cannot hold an entity: the upserted record is
    // a navigation property of the response, as in Dataverse.
    x.push_str(&format!(
        r#"<ComplexType Name="UpsertResponse"><Property Name="RecordCreated" Type="Edm.Boolean" Nullable="false"/><NavigationProperty Name="Target" Type="{ALIAS}.{BASE_ENTITY}" Nullable="false"/></ComplexType>"#
    ));
    let operators: Vec<(&str, i64)> = OPERATORS.to_vec();
    for (name, members) in ENUMS
        .iter()
        .map(|(n, m)| (*n, m.to_vec()))
        .chain([("ConditionOperator", operators)])
    {
        x.push_str(&format!(r#"<EnumType Name="{name}">"#));
        for (member, value) in members {
            x.push_str(&format!(r#"<Member Name="{member}" Value="{value}"/>"#));
        }
        x.push_str("</EnumType>");
    }
    let entities = format!("Collection({ALIAS}.{BASE_ENTITY})");
    for (name, returns) in [
        ("CreateMultiple", Some("CreateMultipleResponse")),
        ("UpdateMultiple", None),
        ("UpsertMultiple", Some("UpsertMultipleResponse")),
    ] {
        x.push_str(&format!(r#"<Action Name="{name}" IsBound="true">"#));
        parameters(
            x,
            &[
                ("entityset", entities.as_str(), false),
                ("Targets", entities.as_str(), false),
            ],
        );
        if let Some(r) = returns {
            x.push_str(&format!(
                r#"<ReturnType Type="{ALIAS}.{r}" Nullable="false"/>"#
            ));
        }
        x.push_str("</Action>");
    }
    x.push_str(r#"<Action Name="BulkDelete">"#);
    parameters(x, &BULK_DELETE_PARAMETERS);
    x.push_str(&format!(
        r#"<ReturnType Type="{ALIAS}.BulkDeleteResponse" Nullable="false"/></Action>"#
    ));
}
