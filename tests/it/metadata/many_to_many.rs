//! Many-to-many relationships made through the metadata API, over HTTP on
//! both stores, as Dataverse's clients make and use them: `POST
//! RelationshipDefinitions` with a `ManyToManyRelationshipMetadata`
//! creates the intersect table; the relationship is listed under both
//! tables and in `RelationshipDefinitions`; rows are associated with `POST
//! …/<navigation>/$ref` (either side), read with `$expand` and navigation
//! on both sides, disassociated with `DELETE …(<id>)/$ref` or
//! `…/$ref?$id=`, each firing the steps registered on Associate and
//! Disassociate; deleting a row drops its links; deleting the relationship
//! drops the intersect table; all of it survives a restart.

use std::time::Duration;

use herald_testkit::receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{enc, odata_error, register, Backend, TestServer};

use super::create::{create_table, id_of, project_body};
use super::{names, ok};

const NAV: &str = "new_project_contact";

fn relationship_body() -> Value {
    json!({
        "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
        "SchemaName": "new_project_contact",
        "Entity1LogicalName": "new_project",
        "Entity2LogicalName": "contact",
        "IntersectEntityName": "new_project_contact"
    })
}

/// The table and the relationship; returns the relationship's MetadataId.
async fn make(s: &TestServer) -> String {
    create_table(s, project_body()).await;
    let (status, headers, body) = s.post("RelationshipDefinitions", relationship_body()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "create N:N: {body}");
    let entity_id = headers
        .get("odata-entityid")
        .and_then(|v| v.to_str().ok())
        .expect("OData-EntityId")
        .to_string();
    assert!(
        entity_id.contains("/RelationshipDefinitions("),
        "{entity_id}"
    );
    id_of(&entity_id)
}

async fn link(s: &TestServer, from: &str, to: &str) -> (StatusCode, Value) {
    let (status, _, body) = s
        .send(
            s.request(Method::POST, &format!("{from}/{NAV}/$ref"))
                .json(&json!({"@odata.id": format!("{}/{to}", s.api)})),
        )
        .await;
    (status, body)
}

async fn linked(s: &TestServer, path: &str, select: &str) -> Vec<String> {
    let row = ok(s, &format!("{path}?$expand={NAV}($select={select})")).await;
    let mut out: Vec<String> = row[NAV]
        .as_array()
        .unwrap_or_else(|| panic!("no {NAV} in {row}"))
        .iter()
        .filter_map(|r| r[select].as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

async fn the_relationship_is_described_on_both_tables(s: TestServer) {
    let id = make(&s).await;
    let one = ok(
        &s,
        &format!(
            "RelationshipDefinitions({id})/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
        ),
    )
    .await;
    assert_eq!(one["SchemaName"], "new_project_contact");
    assert_eq!(one["IntersectEntityName"], "new_project_contact");
    assert_eq!(one["Entity1LogicalName"], "new_project");
    assert_eq!(one["Entity2LogicalName"], "contact");
    assert_eq!(one["Entity1IntersectAttribute"], "new_projectid");
    assert_eq!(one["Entity2IntersectAttribute"], "contactid");
    assert_eq!(one["Entity1NavigationPropertyName"], NAV);
    assert_eq!(one["Entity2NavigationPropertyName"], NAV);
    assert_eq!(one["RelationshipType"], "ManyToManyRelationship");
    assert_eq!(one["IsCustomRelationship"], true);
    for table in ["new_project", "contact"] {
        let list = ok(
            &s,
            &format!("EntityDefinitions(LogicalName='{table}')/ManyToManyRelationships?$select=SchemaName,IntersectEntityName"),
        )
        .await;
        assert_eq!(
            names(&list, "SchemaName"),
            vec!["new_project_contact"],
            "{table}"
        );
        let expanded = ok(
            &s,
            &format!("EntityDefinitions(LogicalName='{table}')?$select=LogicalName&$expand=ManyToManyRelationships($select=SchemaName)"),
        )
        .await;
        assert_eq!(
            expanded["ManyToManyRelationships"][0]["SchemaName"],
            "new_project_contact"
        );
    }
    let cast = ok(
        &s,
        "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=SchemaName",
    )
    .await;
    assert_eq!(names(&cast, "SchemaName"), vec!["new_project_contact"]);
    // What Microsoft's Python client's get_relationship sends.
    let filtered = ok(
        &s,
        &format!(
            "RelationshipDefinitions?$filter={}",
            enc("SchemaName eq 'new_project_contact'")
        ),
    )
    .await;
    assert_eq!(
        filtered["value"].as_array().map(Vec::len),
        Some(1),
        "{filtered}"
    );
    assert_eq!(
        filtered["value"][0]["@odata.type"],
        "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
    );
    let by_name = ok(
        &s,
        "RelationshipDefinitions(SchemaName='new_project_contact')",
    )
    .await;
    assert_eq!(by_name["MetadataId"], id.as_str());
    let intersect = ok(&s, "EntityDefinitions(LogicalName='new_project_contact')").await;
    assert_eq!(intersect["IsIntersect"], true, "{intersect}");
    let (status, body) = s.get("$metadata").await;
    assert_eq!(status, StatusCode::OK);
    let csdl = body.as_str().unwrap_or_default();
    assert!(
        csdl.contains(
            r#"<NavigationProperty Name="new_project_contact" Type="Collection(mscrm.contact)"/>"#
        ),
        "$metadata has the collection on new_project"
    );
    assert!(
        csdl.contains(r#"<NavigationProperty Name="new_project_contact" Type="Collection(mscrm.new_project)"/>"#),
        "$metadata has the collection on contact"
    );

    // Refused: a name taken, an unknown table, a system table.
    let (status, _, body) = s.post("RelationshipDefinitions", relationship_body()).await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "0x80040237", "{body}");
    let mut unknown = relationship_body();
    unknown["SchemaName"] = json!("new_project_nosuch");
    unknown["IntersectEntityName"] = json!("new_project_nosuch");
    unknown["Entity2LogicalName"] = json!("new_nosuch");
    let (status, _, body) = s.post("RelationshipDefinitions", unknown).await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let mut system = relationship_body();
    system["SchemaName"] = json!("new_project_step");
    system["IntersectEntityName"] = json!("new_project_step");
    system["Entity2LogicalName"] = json!("sdkmessageprocessingstep");
    let (status, _, body) = s.post("RelationshipDefinitions", system).await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    // The table cannot go while the relationship links it.
    let (status, _, body) = s
        .send(s.request(
            Method::DELETE,
            "EntityDefinitions(LogicalName='new_project')",
        ))
        .await;
    let message = odata_error(status, &body, StatusCode::BAD_REQUEST);
    assert!(message.contains("many-to-many"), "{message}");

    // Deleting the relationship drops the intersect table.
    assert_eq!(
        s.delete(&format!("RelationshipDefinitions({id})")).await,
        StatusCode::NO_CONTENT
    );
    let (status, body) = s
        .get("EntityDefinitions(LogicalName='new_project_contact')")
        .await;
    odata_error(status, &body, StatusCode::NOT_FOUND);
    let list = ok(
        &s,
        "EntityDefinitions(LogicalName='contact')/ManyToManyRelationships",
    )
    .await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(0));
    let (status, body) = s.get(&format!("new_projects?$expand={NAV}")).await;
    odata_error(status, &body, StatusCode::BAD_REQUEST);
    // And then the table can.
    assert_eq!(
        s.delete("EntityDefinitions(LogicalName='new_project')")
            .await,
        StatusCode::NO_CONTENT
    );
}

async fn rows_are_associated_and_disassociated(s: TestServer) {
    make(&s).await;
    let rx = Receiver::start().await;
    let hook = register::webhook(&s, "links", &rx.url(), 4, "key").await;
    for message in ["Associate", "Disassociate"] {
        let mid = register::message_id(&s, message).await;
        s.create(
            "sdkmessageprocessingsteps",
            json!({
                "sdkmessageid@odata.bind": format!("/sdkmessages({mid})"),
                "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({hook})"),
                "stage": 40, "mode": 0
            }),
        )
        .await;
    }
    let project = s
        .create("new_projects", json!({"new_name": "Apollo"}))
        .await;
    let ada = s.create("contacts", json!({"lastname": "Ada"})).await;
    let bob = s.create("contacts", json!({"lastname": "Bob"})).await;
    let p = format!("new_projects({project})");

    // Either side associates.
    let (status, body) = link(&s, &p, &format!("contacts({ada})")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = link(&s, &format!("contacts({bob})"), &p).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = link(&s, &p, &format!("contacts({ada})")).await;
    odata_error(status, &body, StatusCode::PRECONDITION_FAILED);
    assert_eq!(linked(&s, &p, "lastname").await, vec!["Ada", "Bob"]);
    assert_eq!(
        linked(&s, &format!("contacts({ada})"), "new_name").await,
        vec!["Apollo"]
    );
    let navigated = ok(&s, &format!("{p}/{NAV}?$select=lastname")).await;
    assert_eq!(
        navigated["value"].as_array().map(Vec::len),
        Some(2),
        "{navigated}"
    );

    // The Associate steps ran, with Dataverse's AssociateRequest inputs.
    let got = rx.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 2);
    let context: Value = serde_json::from_slice(&got[0].body).expect("context JSON");
    assert_eq!(context["MessageName"], "Associate");
    assert_eq!(context["PrimaryEntityName"], "new_project");
    assert_eq!(context["PrimaryEntityId"], project.as_str());
    let input = |c: &Value, key: &str| -> Value {
        c["InputParameters"]
            .as_array()
            .and_then(|v| v.iter().find(|p| p["key"] == key))
            .map(|p| p["value"].clone())
            .unwrap_or_else(|| panic!("no {key} in {c}"))
    };
    assert_eq!(input(&context, "Target")["Id"], project.as_str());
    assert_eq!(
        input(&context, "Relationship")["SchemaName"],
        "new_project_contact"
    );
    assert_eq!(input(&context, "RelatedEntities")[0]["Id"], ada.as_str());
    assert_eq!(
        input(&context, "RelatedEntities")[0]["LogicalName"],
        "contact"
    );
    let second: Value = serde_json::from_slice(&got[1].body).expect("context JSON");
    assert_eq!(second["PrimaryEntityName"], "contact");

    // Disassociate: by the other row's key, or with $id.
    let (status, _, body) = s
        .send(s.request(Method::DELETE, &format!("{p}/{NAV}({ada})/$ref")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _, body) = s
        .send(s.request(
            Method::DELETE,
            &format!(
                "contacts({bob})/{NAV}/$ref?$id={}",
                enc(&format!("{}/{p}", s.api))
            ),
        ))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(linked(&s, &p, "lastname").await.is_empty());
    let got = rx.wait_for(4, Duration::from_secs(20)).await;
    let last: Value = serde_json::from_slice(&got[3].body).expect("context JSON");
    assert_eq!(last["MessageName"], "Disassociate");
    assert_eq!(input(&last, "RelatedEntities")[0]["Id"], project.as_str());

    // The intersect table is not written directly.
    let (status, _, body) = s
        .post(
            "new_project_contactset",
            json!({"new_projectid": project, "contactid": ada}),
        )
        .await;
    odata_error(status, &body, StatusCode::FORBIDDEN);
    // A deleted row takes its links with it.
    let (status, body) = link(&s, &p, &format!("contacts({ada})")).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        s.delete(&format!("contacts({ada})")).await,
        StatusCode::NO_CONTENT
    );
    assert!(linked(&s, &p, "lastname").await.is_empty());
    let rows = ok(&s, "new_project_contactset").await;
    assert_eq!(rows["value"].as_array().map(Vec::len), Some(0), "{rows}");
}

both_backends!(
    the_relationship_is_described_on_both_tables,
    rows_are_associated_and_disassociated
);

/// The relationship and its links are there after a restart, and on a
/// second PostgreSQL node at once.
async fn a_relationship_survives_a_restart(backend: Backend, test: &str) {
    let data = tempfile::tempdir().expect("data dir");
    let dir = data.path().to_path_buf();
    let first_dir = dir.clone();
    let pg = matches!(backend, Backend::Postgres);
    let Some(first) = TestServer::start_with(backend, &format!("{test}::first"), move |c| {
        c.server.data_dir = first_dir;
    })
    .await
    else {
        return;
    };
    let id = make(&first).await;
    let project = first
        .create("new_projects", json!({"new_name": "Kept"}))
        .await;
    let ada = first.create("contacts", json!({"lastname": "Ada"})).await;
    let p = format!("new_projects({project})");
    let database_url = first.state.config.store.database_url.clone();
    if pg {
        let url = database_url.clone();
        let other =
            TestServer::start_with(Backend::Postgres, &format!("{test}::other"), move |c| {
                c.store.database_url = url;
            })
            .await
            .expect("second node");
        let (status, body) = link(&other, &p, &format!("contacts({ada})")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "on the second node: {body}");
    } else {
        let (status, body) = link(&first, &p, &format!("contacts({ada})")).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    drop(first);
    let restarted = super::restart(pg, test, dir, database_url, |_| {}).await;
    assert_eq!(linked(&restarted, &p, "lastname").await, vec!["Ada"]);
    let one = ok(&restarted, &format!("RelationshipDefinitions({id})")).await;
    assert_eq!(one["SchemaName"], "new_project_contact");
}

both_backends!(starts_own: a_relationship_survives_a_restart);
