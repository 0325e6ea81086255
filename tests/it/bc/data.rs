//! The BC data API: companies and the 22 entities on v2.0 and v1.0 —
//! create, read, list, update and delete with etags and If-Match — going
//! through the same pipeline as the Dataverse Web API (a webhook step on
//! `bc_customer` sees BC writes, and Dataverse writes reach BC subscribers).

use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_testkit::{Behavior, Receiver};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::harness::{error_message, notifications, values, Bc};
use crate::common::Backend;

both_backends!(
    starts_own: data_api_reads_and_writes_through_the_pipeline,
    every_entity_creates_reads_updates_and_deletes,
    web_api_writes_reach_bc_subscribers,
);

async fn data_api_reads_and_writes_through_the_pipeline(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    // A Dataverse-style webhook step on the BC table sees BC API writes.
    let hook_rx = Receiver::start().await;
    let (st, _, _) = s
        .send(
            Method::POST,
            "/api/data/v9.2/serviceendpoints",
            Some(json!({"name": "h", "url": hook_rx.url(), "contract": 8, "authtype": 5, "authvalue": "<settings><setting name=\"X-K\" value=\"v\" /></settings>"})),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, eps) = s.get("/api/data/v9.2/serviceendpoints?$select=name").await;
    let ep = eps["value"][0]["serviceendpointid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, msgs) = s
        .get("/api/data/v9.2/sdkmessages?$select=name&$filter=name eq 'Create'")
        .await;
    let mid = msgs["value"][0]["sdkmessageid"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, filters) = s.get(&format!("/api/data/v9.2/sdkmessagefilters?$select=name&$filter=_sdkmessageid_value eq {mid} and primaryobjecttypecode eq 'bc_customer'")).await;
    let fid = filters["value"][0]["sdkmessagefilterid"]
        .as_str()
        .unwrap_or_else(|| panic!("no filter for bc_customer: {filters}"))
        .to_string();
    let (st, _, body) = s
        .send(
            Method::POST,
            "/api/data/v9.2/sdkmessageprocessingsteps",
            Some(json!({
                "sdkmessageid@odata.bind": format!("/sdkmessages({mid})"),
                "sdkmessagefilterid@odata.bind": format!("/sdkmessagefilters({fid})"),
                "eventhandler_serviceendpoint@odata.bind": format!("/serviceendpoints({ep})"),
                "stage": 40, "mode": 0,
            })),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    let (st, companies) = s.get("companies").await;
    assert_eq!(st, StatusCode::OK, "{companies}");
    assert_eq!(companies["value"][0]["id"], s.company());
    assert_eq!(companies["value"][0]["name"], "herald");

    let created = s.create("customers", json!({"number": "C10000", "displayName": "Adatum Corporation", "city": "Atlanta", "creditLimit": 2500.5, "taxLiable": true})).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["displayName"], "Adatum Corporation");
    assert_eq!(created["creditLimit"], 2500.5);
    assert_eq!(created["country"], "", "unset text is empty, as in BC");
    assert_eq!(created["@odata.etag"], "W/\"1\"");
    assert!(created["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("/customers/$entity"));
    assert!(created["lastModifiedDateTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let hook = hook_rx.wait_for(1, Duration::from_secs(10)).await;
    let ctx = hook[0].body_json();
    assert_eq!(ctx["PrimaryEntityName"], "bc_customer");
    assert_eq!(ctx["PrimaryEntityId"], id);

    let (st, list) = s.get(&s.collection("customers")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    let (st, one) = s.get(&format!("{}({id})", s.collection("customers"))).await;
    assert_eq!(
        (st, one["number"].clone()),
        (StatusCode::OK, json!("C10000"))
    );
    let (st, v1) = s.get(&format!("/api/v1.0/companies({})/customers?$filter=displayName eq 'Adatum Corporation'&$select=id,number", s.company())).await;
    assert_eq!(st, StatusCode::OK, "{v1}");
    assert_eq!(
        v1["value"][0].as_object().unwrap().len(),
        3,
        "etag, id, number: {v1}"
    );
    let (_, none) = s
        .get(&format!(
            "{}?$filter=city eq 'Paris'",
            s.collection("customers")
        ))
        .await;
    assert_eq!(none["value"].as_array().unwrap().len(), 0);

    // PATCH needs If-Match.
    let path = format!("{}({id})", s.collection("customers"));
    let (st, _, body) = s
        .send(Method::PATCH, &path, Some(json!({"city": "Boston"})), &[])
        .await;
    error_message(st, &body, StatusCode::PRECONDITION_REQUIRED);
    let (st, _, body) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({"city": "Boston"})),
            &[("If-Match", "W/\"7\"")],
        )
        .await;
    error_message(st, &body, StatusCode::PRECONDITION_FAILED);
    let (st, _, body) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({"city": "Boston"})),
            &[("If-Match", "W/\"1\"")],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["city"].clone(), body["@odata.etag"].clone()),
        (json!("Boston"), json!("W/\"2\""))
    );
    let (st, _, body) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({"nope": 1})),
            &[("If-Match", "*")],
        )
        .await;
    assert!(error_message(st, &body, StatusCode::BAD_REQUEST).contains("nope"));

    // Other entities, dates, and the Dataverse view of the same rows.
    let inv = s.create("salesInvoices", json!({"number": "S-1", "invoiceDate": "2019-01-31", "customerId": id, "totalAmountIncludingTax": 100})).await;
    assert_eq!(inv["invoiceDate"], "2019-01-31");
    let (st, dv) = s.get("/api/data/v9.2/bc_customers?$select=city").await;
    assert_eq!(
        (st, dv["value"][0]["city"].clone()),
        (StatusCode::OK, json!("Boston"))
    );

    let (st, body) = s
        .get(&format!("companies({})/customers", uuid::Uuid::new_v4()))
        .await;
    error_message(st, &body, StatusCode::NOT_FOUND);
    let (st, body) = s.get(&format!("companies({})/widgets", s.company())).await;
    error_message(st, &body, StatusCode::NOT_FOUND);

    let (st, _, _) = s.send(Method::DELETE, &path, None, &[]).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = s.get(&path).await;
    error_message(st, &body, StatusCode::NOT_FOUND);
    let unauth = reqwest::get(s.url("companies")).await.unwrap();
    assert_eq!(unauth.status(), StatusCode::UNAUTHORIZED);
}

/// A value for every field of an entity, by type; the same value read back.
fn sample_value(field: herald_core::builtin::BcField, n: usize) -> Value {
    use herald_core::builtin::BcField;
    match field {
        BcField::Text(max) => json!(format!("V{n}-abcdefghijklmnopqrstuvwxyz")
            .chars()
            .take(max)
            .collect::<String>()),
        BcField::Date => json!("2024-05-17"),
        BcField::DateTime => json!("2024-05-17T10:11:12.000Z"),
        BcField::Decimal => json!(12.5 + n as f64),
        BcField::Int => json!(7 + n as i64),
        BcField::Bool => json!(true),
        BcField::Guid => json!(uuid::Uuid::from_u128(0x5ee0 + n as u128).to_string()),
    }
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    let t = v
        .as_str()
        .unwrap_or_else(|| panic!("lastModifiedDateTime is not a string: {v}"));
    assert!(t.ends_with('Z'), "{t}");
    DateTime::parse_from_rfc3339(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .with_timezone(&Utc)
}

/// Every one of the 22 entities, on v2.0 and v1.0: POST (201, id, etag 1,
/// lastModifiedDateTime now, every field as sent), GET by id and in the
/// list, PATCH with a stale and a current If-Match (412, then 200 with
/// etag 2 and a later lastModifiedDateTime), DELETE with a stale and a
/// current If-Match (412, then 204), then 404.
async fn every_entity_creates_reads_updates_and_deletes(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let c = s.company();
    assert_eq!(herald_core::builtin::BC_ENTITIES.len(), 22);
    for version in ["v2.0", "v1.0"] {
        for e in herald_core::builtin::BC_ENTITIES {
            let what = format!("{version} {}", e.name);
            let collection = format!("/api/{version}/companies({c})/{}", e.name);
            let mut body = serde_json::Map::new();
            for (n, (field, ty)) in e.fields.iter().enumerate() {
                body.insert((*field).to_string(), sample_value(*ty, n));
            }
            let before = s.now();
            let (st, h, created) = s
                .send(
                    Method::POST,
                    &collection,
                    Some(Value::Object(body.clone())),
                    &[],
                )
                .await;
            assert_eq!(st, StatusCode::CREATED, "{what}: {created}");
            let id = created["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no id in {created}"))
                .to_string();
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{what}: id {id}");
            assert_eq!(created["@odata.etag"], "W/\"1\"", "{what}");
            assert_eq!(
                h.get("etag").and_then(|v| v.to_str().ok()),
                Some("W/\"1\""),
                "{what}"
            );
            assert!(
                h.get("location").and_then(|v| v.to_str().ok()).is_some_and(
                    |l| l.ends_with(&format!("/api/{version}/companies({c})/{}({id})", e.name))
                ),
                "{what}: {h:?}"
            );
            assert!(
                created["@odata.context"]
                    .as_str()
                    .is_some_and(|x| x.contains(&format!("/api/{version}/"))
                        && x.ends_with(&format!("/{}/$entity", e.name))),
                "{what}: {created}"
            );
            let created_at = parse_time(&created["lastModifiedDateTime"]);
            assert!(
                (created_at - before).num_milliseconds().abs() < 1000,
                "{what}: {created_at} vs clock {before}"
            );
            for (field, sent) in &body {
                assert_eq!(&created[field], sent, "{what}.{field}");
            }

            let one = format!("{collection}({id})");
            let (st, h, got) = s.send(Method::GET, &one, None, &[]).await;
            assert_eq!(st, StatusCode::OK, "{what}: {got}");
            assert_eq!(
                (got["id"].clone(), got["@odata.etag"].clone()),
                (json!(id), json!("W/\"1\"")),
                "{what}"
            );
            assert_eq!(got["lastModifiedDateTime"], created["lastModifiedDateTime"]);
            assert!(h.get("etag").is_some(), "{what}");
            let (st, list) = s.get(&collection).await;
            assert_eq!(st, StatusCode::OK, "{what}: {list}");
            let listed: Vec<&Value> = list["value"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["id"] == json!(id))
                .collect();
            assert_eq!(listed.len(), 1, "{what}: {list}");
            assert_eq!(listed[0]["@odata.etag"], "W/\"1\"", "{what}");

            // PATCH: the first field gets a new value.
            s.advance(chrono::Duration::seconds(5));
            let (field, ty) = e.fields[0];
            let new_value = sample_value(ty, 100);
            let change = json!({ field: new_value });
            for stale in ["W/\"9\"", "W/\"0\""] {
                let (st, _, err) = s
                    .send(
                        Method::PATCH,
                        &one,
                        Some(change.clone()),
                        &[("If-Match", stale)],
                    )
                    .await;
                error_message(st, &err, StatusCode::PRECONDITION_FAILED);
            }
            let (st, _, err) = s.send(Method::PATCH, &one, Some(change.clone()), &[]).await;
            error_message(st, &err, StatusCode::PRECONDITION_REQUIRED);
            let (st, h, patched) = s
                .send(
                    Method::PATCH,
                    &one,
                    Some(change.clone()),
                    &[("If-Match", "W/\"1\"")],
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{what}: {patched}");
            assert_eq!(patched["id"], json!(id), "{what}");
            assert_eq!(patched[field], new_value, "{what}");
            assert_eq!(patched["@odata.etag"], "W/\"2\"", "{what}");
            assert_eq!(
                h.get("etag").and_then(|v| v.to_str().ok()),
                Some("W/\"2\""),
                "{what}"
            );
            let patched_at = parse_time(&patched["lastModifiedDateTime"]);
            assert!(
                patched_at - created_at >= chrono::Duration::seconds(5),
                "{what}: {created_at} → {patched_at}"
            );
            let (_, got) = s.get(&one).await;
            assert_eq!(
                (got[field].clone(), got["@odata.etag"].clone()),
                (new_value.clone(), json!("W/\"2\"")),
                "{what}"
            );

            // DELETE: a stale etag is refused; the current one deletes.
            let (st, _, err) = s
                .send(Method::DELETE, &one, None, &[("If-Match", "W/\"1\"")])
                .await;
            error_message(st, &err, StatusCode::PRECONDITION_FAILED);
            let (st, _, body) = s
                .send(Method::DELETE, &one, None, &[("If-Match", "W/\"2\"")])
                .await;
            assert_eq!(st, StatusCode::NO_CONTENT, "{what}: {body}");
            let (st, err) = s.get(&one).await;
            error_message(st, &err, StatusCode::NOT_FOUND);
            let (_, list) = s.get(&collection).await;
            assert!(
                list["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["id"] != json!(id)),
                "{what}: {list}"
            );
        }
    }
}

/// A write through the Dataverse Web API (`bc_customers`) is a BC change
/// like any other: created, updated and deleted reach a BC subscriber;
/// another company's rows do not.
async fn web_api_writes_reach_bc_subscribers(b: Backend, test: &str) {
    let Some(s) = Bc::start(b, test, |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", Some("dv")).await;
    let c = s.company();
    let other = uuid::Uuid::new_v4();
    let (st, _, body) = s
        .send(
            Method::POST,
            "/api/data/v9.2/bc_companies",
            Some(json!({"bc_companyid": other, "name": "Other"})),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");

    let dv_create = |company: String, name: &str| json!({"displayname": name, "city": "Leeds", "companyid@odata.bind": format!("/bc_companies({company})")});
    let (st, h, body) = s
        .send(
            Method::POST,
            "/api/data/v9.2/bc_customers",
            Some(dv_create(c.clone(), "Via Dataverse")),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    let entity_id = h
        .get("odata-entityid")
        .and_then(|v| v.to_str().ok())
        .expect("OData-EntityId");
    let id = entity_id
        .rsplit('(')
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let (st, _, body) = s
        .send(
            Method::POST,
            "/api/data/v9.2/bc_customers",
            Some(dv_create(other.to_string(), "Elsewhere")),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    // The BC API sees the Dataverse row.
    let (st, one) = s.get(&format!("{}({id})", s.collection("customers"))).await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert_eq!(one["displayName"], "Via Dataverse");

    let r = s.after_window().await;
    assert_eq!(r.delivered, 1, "only the subscribed company: {r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 1);
    let v = values(&got[0]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["subscriptionId"], sub["subscriptionId"]);
    assert_eq!(v[0]["clientState"], "dv");
    assert_eq!(v[0]["changeType"], "created");
    assert_eq!(
        v[0]["resource"],
        format!("api/v2.0/companies({c})/customers({id})")
    );

    let row = format!("/api/data/v9.2/bc_customers({id})");
    let (st, _, body) = s
        .send(Method::PATCH, &row, Some(json!({"city": "York"})), &[])
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    s.after_window().await;
    let got = notifications(&rx);
    assert_eq!(got.len(), 2);
    assert_eq!(values(&got[1])[0]["changeType"], "updated");

    let (st, _, body) = s.send(Method::DELETE, &row, None, &[]).await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{body}");
    s.after_window().await;
    let got = notifications(&rx);
    assert_eq!(got.len(), 3);
    let v = values(&got[2]);
    assert_eq!(
        (v[0]["changeType"].clone(), v[0]["resource"].clone()),
        (
            json!("deleted"),
            json!(format!("api/v2.0/companies({c})/customers({id})"))
        )
    );
}
