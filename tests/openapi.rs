//! `/openapi.json` describes herald's own routes, and each route it lists
//! exists (answers with something other than 404 for the documented method).

mod common;

use common::{Backend, TestServer};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_routes_that_exist() {
    let s = TestServer::start(Backend::Sqlite, "openapi").await.unwrap();
    let doc: serde_json::Value = reqwest::get(format!("{}/openapi.json", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 10);
    let (_, _, bin) = s
        .send(s.request(Method::POST, &format!("{}/api/herald/bins", s.base)))
        .await;
    let bin_id = bin["id"].as_str().unwrap().to_string();
    let hook = common::register::webhook(&s, "h", "http://127.0.0.1:9/", 4, "k").await;
    for (path, item) in paths {
        for (method, _) in item
            .as_object()
            .unwrap()
            .iter()
            .filter(|(m, _)| *m != "parameters")
        {
            let concrete = path
                .replace(
                    "serviceendpoints({id})",
                    &format!("serviceendpoints({hook})"),
                )
                .replace(
                    "asyncoperations({id})",
                    &format!("asyncoperations({})", uuid::Uuid::new_v4()),
                )
                .replace("subscriptions('{id}')", "subscriptions('nope')")
                .replace("{id}", &bin_id);
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (st, _, body) = s
                .send(
                    s.request(m.clone(), &format!("{}{}", s.base, concrete))
                        .json(&serde_json::json!({})),
                )
                .await;
            let is_route_missing = st == StatusCode::NOT_FOUND
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("No resource at"));
            assert!(
                !is_route_missing && st != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete} → {st} {body}"
            );
        }
    }
}
