//! `/openapi.json` describes herald's own routes, and each route it lists
//! exists (answers with something other than 404 for the documented method);
//! `$metadata` is a CSDL document OData tools can read.

use crate::common::{register, Backend, TestServer};
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
    let hook = register::webhook(&s, "h", "http://127.0.0.1:9/", 4, "k").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_csdl_with_tables_columns_and_lookups() {
    let s = TestServer::start(Backend::Sqlite, "metadata")
        .await
        .unwrap();
    let resp = s.request(Method::GET, "$metadata").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    assert_eq!(resp.headers()["odata-version"], "4.0");
    let xml = resp.text().await.unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"));
    // The CSDL namespace name (an XML namespace URI), compared as a string; never fetched.
    const EDM: &str = "http://docs.oasis-open.org/odata/ns/edm";
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "Edmx");
    assert_eq!(root.attribute("Version"), Some("4.0"));
    let schema = doc
        .descendants()
        .find(|n| n.has_tag_name((EDM, "Schema")))
        .expect("a Schema");
    assert_eq!(
        schema.attribute("Namespace"),
        Some("Microsoft.Dynamics.CRM")
    );
    let entity_type = |name: &str| {
        schema
            .children()
            .find(|n| n.has_tag_name((EDM, "EntityType")) && n.attribute("Name") == Some(name))
            .unwrap_or_else(|| panic!("no EntityType {name}"))
    };
    let children = |node: roxmltree::Node<'_, '_>, tag: &str| -> Vec<(String, String)> {
        node.children()
            .filter(|n| n.has_tag_name((EDM, tag)))
            .map(|n| {
                (
                    n.attribute("Name").unwrap_or_default().to_string(),
                    n.attribute("Type").unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let has = |list: &[(String, String)], name: &str, ty: &str| {
        list.iter().any(|(n, t)| n == name && t == ty)
    };

    // contact: its key, typed columns, and the parentcustomerid lookup.
    let contact = entity_type("contact");
    let key: Vec<&str> = contact
        .descendants()
        .filter(|n| n.has_tag_name((EDM, "PropertyRef")))
        .filter_map(|n| n.attribute("Name"))
        .collect();
    assert_eq!(key, vec!["contactid"]);
    let props = children(contact, "Property");
    for (name, ty) in [
        ("contactid", "Edm.Guid"),
        ("firstname", "Edm.String"),
        ("birthdate", "Edm.DateTimeOffset"),
        ("creditlimit", "Edm.Decimal"),
        ("donotemail", "Edm.Boolean"),
        ("gendercode", "Edm.Int32"),
        ("_parentcustomerid_value", "Edm.Guid"),
    ] {
        assert!(has(&props, name, ty), "contact.{name}: {ty} in {props:?}");
    }
    let firstname = contact
        .children()
        .find(|n| n.has_tag_name((EDM, "Property")) && n.attribute("Name") == Some("firstname"))
        .unwrap();
    assert_eq!(firstname.attribute("MaxLength"), Some("50"));
    let navs = children(contact, "NavigationProperty");
    assert!(
        has(&navs, "parentcustomerid_account", "mscrm.account"),
        "the lookup's navigation property: {navs:?}"
    );
    // …and its other side, a collection on account.
    let account_navs = children(entity_type("account"), "NavigationProperty");
    assert!(
        has(
            &account_navs,
            "contact_customer_accounts",
            "Collection(mscrm.contact)"
        ),
        "{account_navs:?}"
    );

    // Entity sets name the collections.
    let container = schema
        .children()
        .find(|n| n.has_tag_name((EDM, "EntityContainer")))
        .expect("an EntityContainer");
    let sets: Vec<(&str, &str)> = container
        .children()
        .filter(|n| n.has_tag_name((EDM, "EntitySet")))
        .map(|n| {
            (
                n.attribute("Name").unwrap_or_default(),
                n.attribute("EntityType").unwrap_or_default(),
            )
        })
        .collect();
    assert!(sets.contains(&("contacts", "mscrm.contact")), "{sets:?}");
    assert!(sets.contains(&("serviceendpoints", "mscrm.serviceendpoint")));

    // Write-only secrets are not described (the flags that say they are set are).
    let endpoint_props = children(entity_type("serviceendpoint"), "Property");
    assert!(
        has(&endpoint_props, "isauthvalueset", "Edm.Boolean"),
        "{endpoint_props:?}"
    );
    for secret in [
        "authvalue",
        "herald_signingsecret",
        "herald_previoussigningsecret",
    ] {
        assert!(
            !endpoint_props.iter().any(|(n, _)| n == secret),
            "{secret} must not be in $metadata: {endpoint_props:?}"
        );
        assert!(
            !xml.contains(&format!("Name=\"{secret}\"")),
            "{secret} appears in $metadata"
        );
    }
}
