//! Deleting a created table leaves nothing of it behind, on both stores:
//! its `sdkmessagefilter` rows, its privileges (`prvCreatenew_project`, …)
//! and every role's grant of them (built-in roles and a role of the
//! user's own) go with it; the role itself stays; making the table again
//! brings its privileges back.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{enc, TestServer};

use super::create::{create_table, project_body};
use super::ok;

const PRIVILEGES: &str = "privileges?$select=name&$filter=";

async fn count(s: &TestServer, path: &str) -> usize {
    ok(s, path).await["value"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default()
}

async fn privileges_of_project(s: &TestServer) -> usize {
    count(
        s,
        &format!("{PRIVILEGES}{}", enc("endswith(name,'new_project')")),
    )
    .await
}

async fn a_deleted_table_takes_its_privileges_and_filters(s: TestServer) {
    let entity_id = create_table(&s, project_body()).await;
    assert_eq!(privileges_of_project(&s).await, 6, "prvCreate…prvShare");
    let read = herald_core::fixed_ids::privilege_id("prvReadnew_project");
    let grants = format!(
        "roleprivilegescollection?$select=_roleid_value&$filter={}",
        enc(&format!("_privilegeid_value eq {read}"))
    );
    assert!(count(&s, &grants).await >= 1, "the built-in roles have it");
    let role = s.create("roles", json!({"name": "Project reader"})).await;
    let (status, _, body) = s
        .send(
            s.request(
                Method::POST,
                &format!("{}/roles({role})/roleprivileges_association/$ref", s.api),
            )
            .json(&json!({"@odata.id": format!("{}/privileges({read})", s.api)})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let filters = format!(
        "sdkmessagefilters?$select=name&$filter={}",
        enc("primaryobjecttypecode eq 'new_project'")
    );
    assert!(count(&s, &filters).await >= 3);

    let id = entity_id
        .rsplit('(')
        .next()
        .unwrap_or_default()
        .trim_end_matches(')');
    assert_eq!(
        s.delete(&format!("EntityDefinitions({id})")).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(privileges_of_project(&s).await, 0);
    assert_eq!(count(&s, &grants).await, 0, "no role keeps a grant");
    assert_eq!(count(&s, &filters).await, 0);
    let (status, body) = s.get(&format!("privileges({read})")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // The role of the user's own stays, with its other grants intact.
    let kept = ok(
        &s,
        &format!("roles({role})/roleprivileges_association?$select=name"),
    )
    .await;
    assert_eq!(kept["value"].as_array().map(Vec::len), Some(0), "{kept}");
    // Made again, the table has its privileges again.
    create_table(&s, project_body()).await;
    assert_eq!(privileges_of_project(&s).await, 6);
    s.create("new_projects", json!({"new_name": "Again"})).await;
}

both_backends!(a_deleted_table_takes_its_privileges_and_filters);
