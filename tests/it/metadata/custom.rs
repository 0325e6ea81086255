//! A user table from the config's `[[tables]]` is a custom entity with
//! custom attributes; MetadataIds are the same after a restart and on
//! every server.

use crate::common::{Backend, TestServer};
use serde_json::Value;

use super::{named, ok};

fn gadget_table() -> herald_core::schema::UserTableConfig {
    toml::from_str(
        r#"
        logical_name = "new_gadget"
        primary_name = "new_name"
        [columns]
        new_name = "string(120)"
        new_stage = "choice(1:Draft,2:Live)"
        new_accountid = "lookup(account)"
        "#,
    )
    .expect("table config")
}

async fn user_tables_are_custom(s: TestServer) {
    let custom = ok(&s, "EntityDefinitions?$select=LogicalName,EntitySetName,ObjectTypeCode&$filter=IsCustomEntity%20eq%20true").await;
    assert_eq!(
        custom["value"].as_array().map(Vec::len),
        Some(1),
        "{custom}"
    );
    let gadget = named(&custom, "new_gadget");
    assert_eq!(gadget["EntitySetName"], "new_gadgets");
    assert!(gadget["ObjectTypeCode"]
        .as_i64()
        .is_some_and(|c| c >= 10_000));
    let table = ok(&s, "EntityDefinitions(LogicalName='new_gadget')").await;
    assert_eq!(
        table["DisplayName"]["UserLocalizedLabel"]["Label"],
        "Gadget"
    );
    assert_eq!(table["PrimaryNameAttribute"], "new_name");
    let attributes = ok(
        &s,
        "EntityDefinitions(LogicalName='new_gadget')/Attributes?$select=LogicalName,IsCustomAttribute,AttributeType",
    )
    .await;
    assert_eq!(named(&attributes, "new_name")["IsCustomAttribute"], true);
    assert_eq!(named(&attributes, "new_stage")["AttributeType"], "Picklist");
    assert_eq!(
        named(&attributes, "new_gadgetid")["IsCustomAttribute"],
        false
    );
    assert_eq!(named(&attributes, "createdon")["IsCustomAttribute"], false);
    let lookups = ok(
        &s,
        "EntityDefinitions(LogicalName='new_gadget')/ManyToOneRelationships?$select=SchemaName,ReferencedEntity,IsCustomRelationship",
    )
    .await;
    let to_account = lookups["value"]
        .as_array()
        .and_then(|v| v.iter().find(|r| r["ReferencedEntity"] == "account"))
        .expect("lookup to account");
    assert_eq!(to_account["IsCustomRelationship"], true);
    let options = ok(
        &s,
        "EntityDefinitions(LogicalName='new_gadget')/Attributes(LogicalName='new_stage')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet",
    )
    .await;
    assert_eq!(
        options["OptionSet"]["Options"][1]["Label"]["UserLocalizedLabel"]["Label"],
        "Live"
    );
}

both_backends!(tweak = |c| c.tables = vec![gadget_table()]; user_tables_are_custom);

/// Every MetadataId a client may keep: tables, columns, relationships.
async fn ids(s: &TestServer) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "EntityDefinitions?$select=LogicalName,MetadataId",
        "EntityDefinitions(LogicalName='new_gadget')/Attributes?$select=LogicalName,MetadataId",
        "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,MetadataId",
        "RelationshipDefinitions?$select=SchemaName,MetadataId",
    ] {
        out.push(ok(s, path).await["value"].clone());
    }
    out
}

/// Restart on the same data (SQLite file or PostgreSQL database): the
/// same ids; and a second, unrelated server gives the same ids too.
async fn metadata_ids_survive_a_restart(backend: Backend, test: &str) {
    let data = tempfile::tempdir().expect("data dir");
    let dir = data.path().to_path_buf();
    let first_dir = dir.clone();
    let pg = matches!(backend, Backend::Postgres);
    let Some(first) = TestServer::start_with(backend, &format!("{test}::first"), move |c| {
        c.server.data_dir = first_dir;
        c.tables = vec![gadget_table()];
    })
    .await
    else {
        return;
    };
    let before = ids(&first).await;
    let database_url = first.state.config.store.database_url.clone();
    drop(first);
    let restarted = super::restart(pg, test, dir, database_url, |c| {
        c.tables = vec![gadget_table()]
    })
    .await;
    assert_eq!(ids(&restarted).await, before, "same ids after a restart");
    let other_backend = if pg {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let other = TestServer::start_with(other_backend, &format!("{test}::other"), |c| {
        c.tables = vec![gadget_table()];
    })
    .await
    .expect("second server");
    assert_eq!(ids(&other).await, before, "same ids on another server");
}

both_backends!(starts_own: metadata_ids_survive_a_restart);
