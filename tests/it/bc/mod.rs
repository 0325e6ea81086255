//! Business Central (SPEC §5, seed 004): the data API, subscriptions with
//! the validation handshake, and notifications — delay window, coalescing,
//! batching per URL, collection, retries over 36 h, expiry, restarts —
//! against a real loopback subscriber, on SQLite and PostgreSQL.
//!
//! The server runs on a manual clock and its background notifier is held:
//! each test moves the clock and calls `bc::tick` itself, so hours and days
//! pass in milliseconds and every step is deterministic.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crate::common::Backend;
use herald_core::clock::{Clock, ManualClock};
use herald_server::bc::{self, TickReport};
use herald_server::config::Config;
use herald_server::state::SharedState;
use herald_testkit::{free_port, Behavior, Captured, Receiver, Reply};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

// ---------------------------------------------------------------- harness

/// A herald on a manual clock, driven over HTTP and by `tick`.
struct Bc {
    base: String,
    key: String,
    client: reqwest::Client,
    state: SharedState,
    clock: Arc<ManualClock>,
    config: Config,
    _dir: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Bc {
    async fn start(backend: Backend, test: &str, tweak: impl FnOnce(&mut Config)) -> Option<Bc> {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().to_path_buf();
        config.server.allow_private_targets = true;
        config.server.admin_key = Some("test-admin-key".into());
        if let Backend::Postgres = backend {
            config.store.database_url =
                Some(herald_store::testing::fresh_postgres_url(&format!("bc::{test}")).await?);
            config.store.max_connections = 8;
        }
        tweak(&mut config);
        let clock = Arc::new(ManualClock::new(Utc::now()));
        Some(Self::launch(config, clock, dir).await)
    }

    async fn launch(config: Config, clock: Arc<ManualClock>, dir: Arc<tempfile::TempDir>) -> Bc {
        let running = herald_server::server::start_with_clock(config.clone(), clock.clone())
            .await
            .expect("server starts");
        bc::notifier::hold_background(&running.state);
        let base = format!("http://{}", running.addr);
        let key = running.admin_key.clone();
        let state = running.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let _ = running
                .serve(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Bc {
            base,
            key,
            client: reqwest::Client::new(),
            state,
            clock,
            config,
            _dir: dir,
            shutdown: Some(tx),
            served: Some(served),
        }
    }

    /// Stop this server and start a new one on the same database and clock.
    async fn restart(mut self) -> Bc {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        let (config, clock, dir) = (self.config.clone(), self.clock.clone(), self._dir.clone());
        drop(self);
        Self::launch(config, clock, dir).await
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else if path.starts_with("/api/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/api/v2.0/{}", self.base, path.trim_start_matches('/'))
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut rb = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.key);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status();
        let h = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, h, json)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::GET, path, None, &[]).await;
        (s, b)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::POST, path, Some(body), &[]).await;
        (s, b)
    }

    async fn tick(&self) -> TickReport {
        bc::tick(&self.state).await.expect("tick")
    }

    fn advance(&self, d: chrono::Duration) {
        self.clock.advance(d);
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn company(&self) -> String {
        bc::default_company_id().to_string()
    }

    fn collection(&self, entity: &str) -> String {
        format!("companies({})/{entity}", self.company())
    }

    fn resource(&self, entity: &str) -> String {
        format!("/api/v2.0/companies({})/{entity}", self.company())
    }

    /// Create a record through the BC API; returns it.
    async fn create(&self, entity: &str, body: Value) -> Value {
        let (s, b) = self.post(&self.collection(entity), body).await;
        assert_eq!(s, StatusCode::CREATED, "create {entity}: {b}");
        b
    }

    async fn patch(&self, entity: &str, id: &str, body: Value) -> Value {
        let (s, _, b) = self
            .send(
                Method::PATCH,
                &format!("{}({id})", self.collection(entity)),
                Some(body),
                &[("If-Match", "*")],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "patch {entity}: {b}");
        b
    }

    /// Subscribe `url` to `entity`; returns the subscription.
    async fn subscribe(&self, url: &str, entity: &str, client_state: Option<&str>) -> Value {
        let mut body = json!({"notificationUrl": url, "resource": self.resource(entity)});
        if let Some(cs) = client_state {
            body["clientState"] = json!(cs);
        }
        let (s, b) = self.post("subscriptions", body).await;
        assert_eq!(s, StatusCode::CREATED, "subscribe: {b}");
        b
    }

    /// Move past the delay window and tick.
    async fn after_window(&self) -> TickReport {
        self.advance(chrono::Duration::seconds(31));
        self.tick().await
    }
}

impl Drop for Bc {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

both_backends!(
    backend: data_api_reads_and_writes_through_the_pipeline,
    every_entity_creates_reads_updates_and_deletes,
    web_api_writes_reach_bc_subscribers,
    subscription_handshake_and_fields,
    failed_handshakes_store_nothing,
    subscription_input_is_checked,
    renew_and_delete_need_if_match,
    changes_are_held_and_coalesced,
    subscriptions_sharing_a_url_share_a_request,
    many_changes_become_one_collection_notification,
    retryable_failures_are_retried_until_delivered,
    other_failures_delete_the_subscription_at_once,
    no_answer_is_retried_not_deleted,
    a_redirect_deletes_the_subscription,
    subscription_is_deleted_after_36_hours_of_failures,
    expired_subscriptions_get_nothing_and_are_removed,
    expired_subscriptions_are_hidden_and_not_counted,
    pending_notifications_survive_a_restart,
    cli_lists_shows_and_deletes_subscriptions,
);

fn handshakes(rx: &Receiver) -> Vec<Captured> {
    rx.requests()
        .into_iter()
        .filter(|c| c.query_param("validationToken").is_some())
        .collect()
}

/// Notification POSTs (not handshakes) the receiver got.
fn notifications(rx: &Receiver) -> Vec<Captured> {
    rx.requests()
        .into_iter()
        .filter(|c| c.query_param("validationToken").is_none())
        .collect()
}

fn values(c: &Captured) -> Vec<Value> {
    c.body_json()["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn error_message(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "unexpected status; body {body}");
    assert!(body["error"]["code"].is_string(), "no error.code in {body}");
    body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.message in {body}"))
        .to_string()
}

// ---------------------------------------------------------------- data API

async fn data_api_reads_and_writes_through_the_pipeline(b: Backend) {
    let Some(s) = Bc::start(b, "data_api", |_| {}).await else {
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
async fn every_entity_creates_reads_updates_and_deletes(b: Backend) {
    let Some(s) = Bc::start(b, "every_entity", |_| {}).await else {
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
async fn web_api_writes_reach_bc_subscribers(b: Backend) {
    let Some(s) = Bc::start(b, "web_api_writes", |_| {}).await else {
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

// ---------------------------------------------------------------- subscriptions

async fn subscription_handshake_and_fields(b: Backend) {
    let Some(s) = Bc::start(b, "handshake", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let url = rx.url_for("/hook?tenant=a");
    let before = s.now();
    let (st, h, sub) = s
        .send(Method::POST, "subscriptions", Some(json!({"notificationUrl": url, "resource": s.resource("customers"), "clientState": "secret-1"})), &[])
        .await;
    assert_eq!(st, StatusCode::CREATED, "{sub}");
    assert!(h.get("etag").is_some());
    let hs = handshakes(&rx);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].method, "POST");
    assert_eq!(hs[0].path, "/hook");
    assert_eq!(
        hs[0].query_param("tenant").as_deref(),
        Some("a"),
        "the URL's own query is kept, the token appended with &"
    );
    assert_eq!(hs[0].header("content-length"), Some("0"));
    assert_eq!(hs[0].header("clientstate"), Some("secret-1"));
    assert!(hs[0].body.is_empty());

    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    assert_eq!(sub["notificationUrl"], url);
    assert_eq!(sub["resource"], s.resource("customers"));
    assert_eq!(sub["clientState"], "secret-1");
    assert_eq!(sub["userId"].as_str().unwrap().len(), 36);
    assert!(sub["@odata.etag"].is_string());
    assert!(sub["lastModifiedDateTime"].is_string());
    let expires = DateTime::parse_from_rfc3339(sub["expirationDateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    let three_days = before + chrono::Duration::days(3);
    assert!(
        (expires - three_days).num_seconds().abs() <= 1,
        "{expires} vs {three_days}"
    );

    let (st, list) = s.get("subscriptions").await;
    assert_eq!(
        (st, list["value"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    for path in [
        format!("subscriptions('{id}')"),
        format!("subscriptions({id})"),
    ] {
        let (st, one) = s.get(&path).await;
        assert_eq!(
            (st, one["subscriptionId"].clone()),
            (StatusCode::OK, json!(id)),
            "{path}"
        );
    }
    let (st, body) = s.get("subscriptions('nope')").await;
    error_message(st, &body, StatusCode::NOT_FOUND);

    let (st, supported) = s.get("webhookSupportedEntities").await;
    assert_eq!(st, StatusCode::OK);
    let names: Vec<&str> = supported["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 22);
    for n in [
        "customers",
        "items",
        "vendors",
        "salesInvoices",
        "generalLedgerEntries",
        "companyInformation",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    // An absolute resource and the v1.0 endpoint work too.
    let abs = format!(
        "https://api.businesscentral.dynamics.com/v2.0/t/prod/api/v2.0/companies({})/items",
        s.company()
    );
    let (st, body) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": abs}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    let (st, body) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": rx.url(), "resource": format!("/api/v1.0/companies({})/vendors", s.company()), "clientState": "x".repeat(250)})).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
}

async fn failed_handshakes_store_nothing(b: Backend) {
    let Some(s) = Bc::start(b, "bad_handshake", |c| {
        c.bc.handshake_timeout = Duration::from_millis(300)
    })
    .await
    else {
        return;
    };
    let body = |url: String| json!({"notificationUrl": url, "resource": s.resource("customers")});

    let wrong = Receiver::start_with(Behavior::status_with_body(200, "not-the-token")).await;
    let (st, e) = s.post("subscriptions", body(wrong.url())).await;
    let m = error_message(st, &e, StatusCode::BAD_REQUEST);
    assert!(
        m.contains("validationToken") && m.contains("not-the-token"),
        "{m}"
    );

    let status = Receiver::start_with(Behavior::status(404)).await;
    let (st, e) = s.post("subscriptions", body(status.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("404"));

    let redirect = Receiver::start_with(Behavior::redirect("https://example.com/")).await;
    let (st, e) = s.post("subscriptions", body(redirect.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("302"));

    let slow = Receiver::start_with(Behavior::Delay {
        delay: Duration::from_secs(3),
        reply: Reply::status(200),
    })
    .await;
    let started = Instant::now();
    let (st, e) = s.post("subscriptions", body(slow.url())).await;
    let m = error_message(st, &e, StatusCode::BAD_REQUEST);
    assert!(m.contains("no answer within 300 ms"), "{m}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the handshake timeout applies"
    );

    let nobody = free_port();
    let (st, e) = s.post("subscriptions", body(nobody.url())).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("could not be reached"));

    let (_, list) = s.get("subscriptions").await;
    assert_eq!(
        list["value"],
        json!([]),
        "nothing is stored after a failed handshake"
    );
}

async fn subscription_input_is_checked(b: Backend) {
    let Some(s) = Bc::start(b, "input", |c| c.bc.max_subscriptions = 2).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let c = s.company();
    for (body, needle) in [
        (
            json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({c})/widgets")}),
            "does not support webhooks",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({})/customers", uuid::Uuid::new_v4())}),
            "does not exist",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": "customers"}),
            "not a Business Central API path",
        ),
        (json!({"notificationUrl": rx.url()}), "resource is required"),
        (
            json!({"resource": s.resource("items")}),
            "notificationUrl is required",
        ),
        (
            json!({"notificationUrl": "ftp://x/", "resource": s.resource("items")}),
            "http",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "clientState": "x".repeat(2049)}),
            "2048",
        ),
        (
            json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "color": 1}),
            "color",
        ),
    ] {
        let (st, e) = s.post("subscriptions", body.clone()).await;
        let m = error_message(st, &e, StatusCode::BAD_REQUEST);
        assert!(m.contains(needle), "{body}: {m}");
    }
    let (st, e) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": rx.url(), "resource": s.resource("items"), "clientState": "x".repeat(251)})).await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("250"));
    assert!(
        handshakes(&rx).is_empty(),
        "invalid input never reaches the subscriber"
    );

    // The cap.
    s.subscribe(&rx.url(), "items", None).await;
    s.subscribe(&rx.url(), "vendors", Some(&"x".repeat(2048)))
        .await;
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("customers")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST)
        .contains("maximum number of subscriptions (2)"));
    assert_eq!(handshakes(&rx).len(), 2);
}

async fn renew_and_delete_need_if_match(b: Backend) {
    let Some(s) = Bc::start(b, "renew", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", Some("one")).await;
    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    let etag = sub["@odata.etag"].as_str().unwrap().to_string();
    let path = format!("subscriptions('{id}')");

    let (st, _, e) = s.send(Method::PATCH, &path, Some(json!({})), &[]).await;
    error_message(st, &e, StatusCode::PRECONDITION_REQUIRED);
    let (st, _, e) = s
        .send(
            Method::PATCH,
            &path,
            Some(json!({})),
            &[("If-Match", "W/\"99\"")],
        )
        .await;
    error_message(st, &e, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        handshakes(&rx).len(),
        1,
        "no handshake without a matching If-Match"
    );

    s.advance(chrono::Duration::days(2));
    let (st, _, renewed) = s
        .send(Method::PATCH, &path, Some(json!({"notificationUrl": rx.url(), "resource": s.resource("customers"), "clientState": "two"})), &[("If-Match", &etag)])
        .await;
    assert_eq!(st, StatusCode::OK, "{renewed}");
    let hs = handshakes(&rx);
    assert_eq!(hs.len(), 2, "renewal handshakes again");
    assert_eq!(hs[1].header("clientstate"), Some("two"));
    assert_eq!(renewed["clientState"], "two");
    assert_ne!(renewed["@odata.etag"], json!(etag));
    let expires = DateTime::parse_from_rfc3339(renewed["expirationDateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    assert!(
        (expires - (s.now() + chrono::Duration::days(3)))
            .num_seconds()
            .abs()
            <= 1
    );

    // A renewal whose handshake fails keeps the subscription as it was.
    rx.respond(Behavior::status(500));
    let new_etag = renewed["@odata.etag"].as_str().unwrap().to_string();
    let (st, _, e) = s
        .send(Method::PATCH, &path, None, &[("If-Match", &new_etag)])
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("500"));
    let (_, now) = s.get(&path).await;
    assert_eq!(now["expirationDateTime"], renewed["expirationDateTime"]);

    let (st, _, e) = s.send(Method::DELETE, &path, None, &[]).await;
    error_message(st, &e, StatusCode::PRECONDITION_REQUIRED);
    let (st, _, e) = s
        .send(Method::DELETE, &path, None, &[("If-Match", &etag)])
        .await;
    error_message(st, &e, StatusCode::PRECONDITION_FAILED);
    let (st, _, _) = s
        .send(Method::DELETE, &path, None, &[("If-Match", &new_etag)])
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, e) = s.get(&path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- notifications

async fn changes_are_held_and_coalesced(b: Backend) {
    let Some(s) = Bc::start(b, "coalesce", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let before_sub = s.create("customers", json!({"displayName": "Old"})).await;
    let old_id = before_sub["id"].as_str().unwrap().to_string();
    let sub = s
        .subscribe(&rx.url_for("/notify"), "customers", Some("cs"))
        .await;

    for i in 0..5 {
        s.patch("customers", &old_id, json!({"city": format!("City {i}")}))
            .await;
    }
    let fresh = s.create("customers", json!({"displayName": "New"})).await;
    let fresh_id = fresh["id"].as_str().unwrap().to_string();
    s.patch("customers", &fresh_id, json!({"city": "X"})).await;
    let gone = s.create("customers", json!({"displayName": "Gone"})).await;
    let gone_id = gone["id"].as_str().unwrap().to_string();
    let (st, _, _) = s
        .send(
            Method::DELETE,
            &format!("{}({gone_id})", s.collection("customers")),
            None,
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    // Another table, unwatched: nothing captured for it.
    s.create("items", json!({"displayName": "Bike"})).await;

    // Held for the delay window.
    let r = s.tick().await;
    assert_eq!((r.windows, r.posts), (0, 0), "{r:?}");
    s.advance(chrono::Duration::seconds(20));
    assert_eq!(s.tick().await.posts, 0);
    assert!(notifications(&rx).is_empty());
    s.advance(chrono::Duration::seconds(11));
    let r = s.tick().await;
    assert_eq!((r.windows, r.posts, r.delivered), (1, 1, 3), "{r:?}");

    let got = notifications(&rx);
    assert_eq!(got.len(), 1);
    let n = &got[0];
    assert_eq!(n.path, "/notify");
    assert!(n
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert!(n
        .header("x-ms-correlation-id")
        .is_some_and(|c| !c.is_empty()));
    let v = values(n);
    let by = |id: &str| {
        v.iter()
            .find(|e| {
                e["resource"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("customers({id})"))
            })
            .cloned()
            .unwrap_or_else(|| panic!("no entry for {id}: {v:?}"))
    };
    let c = s.company();
    let old = by(&old_id);
    assert_eq!(old["changeType"], "updated", "update x5 is one 'updated'");
    assert_eq!(
        old["resource"],
        format!("api/v2.0/companies({c})/customers({old_id})")
    );
    assert_eq!(old["subscriptionId"], sub["subscriptionId"]);
    assert_eq!(old["clientState"], "cs");
    assert_eq!(old["expirationDateTime"], sub["expirationDateTime"]);
    assert!(old["lastModifiedDateTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        by(&fresh_id)["changeType"],
        "created",
        "create-then-update stays 'created'"
    );
    assert_eq!(
        by(&gone_id)["changeType"],
        "deleted",
        "anything-then-delete is 'deleted'"
    );
    assert_eq!(v.len(), 3);

    // Nothing more is due; the next change starts a new window.
    assert_eq!(s.tick().await.posts, 0);
    s.patch("customers", &old_id, json!({"city": "Again"}))
        .await;
    s.after_window().await;
    let got = notifications(&rx);
    assert_eq!(got.len(), 2);
    assert_eq!(values(&got[1]).len(), 1);
    assert_eq!(values(&got[1])[0]["changeType"], "updated");
}

async fn subscriptions_sharing_a_url_share_a_request(b: Backend) {
    let Some(s) = Bc::start(b, "share_url", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let other = Receiver::start_with(Behavior::echo_validation_token()).await;
    let a = s.subscribe(&rx.url(), "customers", Some("a")).await;
    let b2 = s.subscribe(&rx.url(), "vendors", Some("b")).await;
    s.subscribe(&other.url(), "vendors", None).await;
    s.create("customers", json!({"displayName": "C"})).await;
    s.create("vendors", json!({"displayName": "V"})).await;
    let r = s.after_window().await;
    assert_eq!((r.windows, r.posts), (2, 2), "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 1, "one request for both subscriptions");
    let v = values(&got[0]);
    assert_eq!(v.len(), 2);
    let mut ids: Vec<&str> = v
        .iter()
        .map(|e| e["subscriptionId"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![
        a["subscriptionId"].as_str().unwrap(),
        b2["subscriptionId"].as_str().unwrap(),
    ];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(notifications(&other).len(), 1);
    assert_eq!(values(&notifications(&other)[0]).len(), 1);
}

async fn many_changes_become_one_collection_notification(b: Backend) {
    let Some(s) = Bc::start(b, "collection", |c| c.bc.collection_threshold = 10).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "salesInvoices", None).await;
    let v1 = Receiver::start_with(Behavior::echo_validation_token()).await;
    let (st, body) = s.post("/api/v1.0/subscriptions", json!({"notificationUrl": v1.url(), "resource": format!("/api/v1.0/companies({})/salesInvoices", s.company())})).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    for i in 0..11 {
        s.create("salesInvoices", json!({"number": format!("S-{i}")}))
            .await;
    }
    let r = s.after_window().await;
    assert_eq!(r.queued, 2, "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["changeType"], "collection");
    let resource = v[0]["resource"].as_str().unwrap().to_string();
    let prefix = format!(
        "/api/v2.0/companies({})/salesInvoices?$filter=lastModifiedDateTime%20gt%20",
        s.company()
    );
    assert!(resource.starts_with(&prefix), "{resource}");
    // The subscriber can read the collection back with that very filter.
    let (st, back) = s.get(&resource.replace("%20", " ")).await;
    assert_eq!(st, StatusCode::OK, "{back}");
    assert_eq!(back["value"].as_array().unwrap().len(), 11);
    let v1_entry = &values(&notifications(&v1)[0])[0];
    assert!(
        v1_entry["resource"]
            .as_str()
            .unwrap()
            .contains("?$filter=lastDateTimeModified%20gt%20"),
        "{v1_entry}"
    );

    // At the threshold itself, records are notified one by one.
    for i in 0..10 {
        s.create("salesInvoices", json!({"number": format!("T-{i}")}))
            .await;
    }
    s.after_window().await;
    let v = values(&notifications(&rx)[1]);
    assert_eq!(v.len(), 10);
    assert!(v.iter().all(|e| e["changeType"] == "created"));

    // The threshold counts distinct records after coalescing, not changes:
    // 1 record changed 16 times is 1 record.
    let one = s.create("salesInvoices", json!({"number": "U-0"})).await;
    let id = one["id"].as_str().unwrap().to_string();
    for i in 0..15 {
        s.patch("salesInvoices", &id, json!({"status": format!("S{i}")}))
            .await;
    }
    s.after_window().await;
    let v = values(&notifications(&rx)[2]);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0]["changeType"], "created");
    assert!(v[0]["resource"]
        .as_str()
        .unwrap()
        .ends_with(&format!("salesInvoices({id})")));
}

/// The default threshold (1000): 1 001 inserts give one `collection`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn default_threshold_1001_inserts_give_one_collection() {
    let s = Bc::start(Backend::Sqlite, "collection_1001", |_| {})
        .await
        .unwrap();
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "items", None).await;
    let s = Arc::new(s);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let s = s.clone();
        tasks.spawn(async move {
            for i in (w..1001).step_by(8) {
                s.create("items", json!({"number": format!("I-{i}")})).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let r = s.after_window().await;
    assert_eq!((r.queued, r.delivered), (1, 1), "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert_eq!(v[0]["changeType"], "collection");
    assert!(v[0]["resource"]
        .as_str()
        .unwrap()
        .contains("/items?$filter=lastModifiedDateTime%20gt%20"));
}

/// With the real clock and the background task (not held), a change is
/// delivered on its own once the delay passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_notifier_delivers_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_path_buf();
    config.server.allow_private_targets = true;
    config.server.admin_key = Some("k".into());
    config.bc.notification_delay = Duration::from_millis(300);
    let running = herald_server::server::start(config).await.unwrap();
    let base = format!("http://{}/api/v2.0", running.addr);
    let (tx, rx_stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(running.serve(async move {
        let _ = rx_stop.await;
    }));
    let http = reqwest::Client::new();
    let company = bc::default_company_id();
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let resp = http
        .post(format!("{base}/subscriptions"))
        .bearer_auth("k")
        .json(&json!({"notificationUrl": rx.url(), "resource": format!("/api/v2.0/companies({company})/vendors")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let started = Instant::now();
    let resp = http
        .post(format!("{base}/companies({company})/vendors"))
        .bearer_auth("k")
        .json(&json!({"displayName": "V"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "held for the delay"
    );
    assert_eq!(values(&got[1])[0]["changeType"], "created");
    let _ = tx.send(());
}

async fn retryable_failures_are_retried_until_delivered(b: Backend) {
    let Some(s) = Bc::start(b, "retry", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::statuses(
        [503, 500, 408],
        Behavior::status(200),
    )))
    .await;
    s.subscribe(&rx.url(), "customers", None).await;
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!((r.posts, r.retrying), (1, 1), "{r:?}");
    assert_eq!(s.tick().await.posts, 0, "not before the first delay");
    s.advance(chrono::Duration::seconds(59));
    assert_eq!(s.tick().await.posts, 0);
    s.advance(chrono::Duration::seconds(1));
    assert_eq!(s.tick().await.retrying, 1, "after 1 min");
    s.advance(chrono::Duration::minutes(9));
    assert_eq!(s.tick().await.posts, 0);
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.retrying, 1, "after 10 min more");
    // A change meanwhile joins the pending batch.
    s.create("customers", json!({"displayName": "B"})).await;
    s.advance(chrono::Duration::minutes(100));
    let r = s.tick().await;
    assert_eq!((r.posts, r.delivered), (1, 2), "after 100 min more: {r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 4);
    assert_eq!(
        values(&got[0]),
        values(&got[2]),
        "the same batch is sent again"
    );
    let (_, subs) = s.get("subscriptions").await;
    assert_eq!(
        subs["value"].as_array().unwrap().len(),
        1,
        "still subscribed"
    );
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);

    // Retry-After is honoured.
    rx.respond(Behavior::sequence(
        [Behavior::Reply(
            Reply::status(429).with_header("Retry-After", "300"),
        )],
        Behavior::status(200),
    ));
    s.create("customers", json!({"displayName": "C"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    s.advance(chrono::Duration::minutes(4));
    assert_eq!(
        s.tick().await.posts,
        0,
        "Retry-After: 300 beats the 1 min step"
    );
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.delivered, 1);
}

async fn other_failures_delete_the_subscription_at_once(b: Backend) {
    let Some(s) = Bc::start(b, "gone", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(404))).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let keep = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&keep.url(), "customers", None).await;
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!((r.posts, r.removed, r.delivered), (2, 1, 1), "{r:?}");
    let (st, e) = s
        .get(&format!(
            "subscriptions('{}')",
            sub["subscriptionId"].as_str().unwrap()
        ))
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    s.create("customers", json!({"displayName": "B"})).await;
    s.after_window().await;
    assert_eq!(notifications(&rx).len(), 1, "nothing more after the 404");
    assert_eq!(notifications(&keep).len(), 2);
}

/// A subscriber that never answers (`bc.notification_timeout` passes), or
/// closes the connection without a status, is retried like a 5xx — the
/// subscription stays — and gets the batch once it answers.
async fn no_answer_is_retried_not_deleted(b: Backend) {
    let Some(s) = Bc::start(b, "no_answer", |c| {
        c.bc.notification_timeout = Duration::from_millis(300)
    })
    .await
    else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::Hang)).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    let started = Instant::now();
    let r = s.after_window().await;
    assert_eq!(
        (r.posts, r.retrying, r.removed, r.delivered),
        (1, 1, 0, 0),
        "{r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the notification timeout bounds the wait"
    );
    assert_eq!(notifications(&rx).len(), 1, "the POST was made");
    assert_eq!(s.get(&path).await.0, StatusCode::OK, "still subscribed");
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 1);

    // A connection closed without an answer is no answer too.
    rx.respond(Behavior::Close);
    s.advance(chrono::Duration::minutes(1));
    let r = s.tick().await;
    assert_eq!((r.posts, r.retrying, r.removed), (1, 1, 0), "{r:?}");
    assert_eq!(s.get(&path).await.0, StatusCode::OK, "still subscribed");

    rx.respond(Behavior::status(200));
    s.advance(chrono::Duration::minutes(10));
    let r = s.tick().await;
    assert_eq!((r.posts, r.delivered, r.removed), (1, 1, 0), "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 3);
    assert_eq!(
        values(&got[0]),
        values(&got[2]),
        "the same batch, delivered"
    );
    assert_eq!(s.get(&path).await.0, StatusCode::OK);
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
}

/// A 302 to a notification is an answer that is not 2xx and not
/// retryable: the redirect is not followed and the subscription is deleted.
async fn a_redirect_deletes_the_subscription(b: Backend) {
    let Some(s) = Bc::start(b, "redirect", |_| {}).await else {
        return;
    };
    let elsewhere = Receiver::start().await;
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::redirect(
        elsewhere.url_for("/moved"),
    )))
    .await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    let r = s.after_window().await;
    assert_eq!(
        (r.posts, r.removed, r.retrying, r.delivered),
        (1, 1, 0, 0),
        "{r:?}"
    );
    assert_eq!(notifications(&rx).len(), 1);
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
    let (st, e) = s.get(&path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
    s.create("customers", json!({"displayName": "B"})).await;
    assert_eq!(s.after_window().await.posts, 0, "nothing more is sent");
}

async fn subscription_is_deleted_after_36_hours_of_failures(b: Backend) {
    let Some(s) = Bc::start(b, "give_up", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token_or(Behavior::status(503))).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let path = format!(
        "subscriptions('{}')",
        sub["subscriptionId"].as_str().unwrap()
    );
    s.create("customers", json!({"displayName": "A"})).await;
    s.after_window().await;
    let first_failure = s.now();
    let mut removed_at = None;
    for _ in 0..20 {
        s.advance(chrono::Duration::hours(3));
        let r = s.tick().await;
        if r.removed > 0 {
            removed_at = Some(s.now());
            break;
        }
        assert_eq!(
            s.get(&path).await.0,
            StatusCode::OK,
            "still there at {}",
            s.now() - first_failure
        );
    }
    let removed_at = removed_at.expect("the subscription is deleted");
    let after = removed_at - first_failure;
    assert!(
        after >= chrono::Duration::hours(36) && after <= chrono::Duration::hours(39),
        "deleted after {after}"
    );
    assert_eq!(s.get(&path).await.0, StatusCode::NOT_FOUND);
    let posts = notifications(&rx).len();
    assert!(
        (6..=13).contains(&posts),
        "{posts} attempts (one per 3-hour tick once the steps reach 6 h)"
    );
    assert_eq!(
        s.state.store.bc_pending_notifications().await.unwrap(),
        0,
        "the batch is dropped"
    );
}

async fn expired_subscriptions_get_nothing_and_are_removed(b: Backend) {
    let Some(s) = Bc::start(b, "expiry", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", None).await;
    let renewed = s.subscribe(&rx.url(), "vendors", None).await;
    s.advance(chrono::Duration::days(2));
    let path = format!(
        "subscriptions('{}')",
        renewed["subscriptionId"].as_str().unwrap()
    );
    let (st, _, body) = s
        .send(Method::PATCH, &path, None, &[("If-Match", "*")])
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    s.advance(chrono::Duration::days(1) - chrono::Duration::seconds(10));
    s.create("customers", json!({"displayName": "late"})).await;
    s.create("vendors", json!({"displayName": "late"})).await;
    let r = s.after_window().await;
    assert_eq!(r.expired, 1, "{r:?}");
    let got = notifications(&rx);
    assert_eq!(got.len(), 1);
    let v = values(&got[0]);
    assert_eq!(v.len(), 1, "only the renewed subscription hears: {v:?}");
    assert_eq!(v[0]["subscriptionId"], renewed["subscriptionId"]);
    let (st, e) = s
        .get(&format!(
            "subscriptions('{}')",
            sub["subscriptionId"].as_str().unwrap()
        ))
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    // Pending notifications of a subscription that expires are dropped too.
    rx.respond(Behavior::status(503));
    s.create("vendors", json!({"displayName": "again"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    s.advance(chrono::Duration::days(3));
    let r = s.tick().await;
    assert_eq!((r.expired, r.posts), (1, 0), "{r:?}");
    assert_eq!(s.state.store.bc_pending_notifications().await.unwrap(), 0);
}

/// A subscription whose expiry has passed is gone for the API at once —
/// not listed, 404 by id, not renewable, not counted against
/// `bc.max_subscriptions` — even before the notifier removes it.
async fn expired_subscriptions_are_hidden_and_not_counted(b: Backend) {
    let Some(s) = Bc::start(b, "expired_hidden", |c| c.bc.max_subscriptions = 2).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let old = s.subscribe(&rx.url(), "customers", None).await;
    let old_path = format!(
        "subscriptions('{}')",
        old["subscriptionId"].as_str().unwrap()
    );
    s.advance(chrono::Duration::days(1));
    let young = s.subscribe(&rx.url(), "vendors", None).await;
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("items")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST).contains("maximum"));

    // Just before its expiry it is there; just after, it is not.
    s.advance(chrono::Duration::days(2) - chrono::Duration::seconds(1));
    assert_eq!(s.get(&old_path).await.0, StatusCode::OK);
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    s.advance(chrono::Duration::seconds(1));
    let (st, e) = s.get(&old_path).await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    let (st, list) = s.get("subscriptions").await;
    assert_eq!(st, StatusCode::OK);
    let ids: Vec<&Value> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["subscriptionId"])
        .collect();
    assert_eq!(ids, vec![&young["subscriptionId"]], "{list}");
    let handshakes_before = handshakes(&rx).len();
    let (st, _, e) = s
        .send(Method::PATCH, &old_path, None, &[("If-Match", "*")])
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);
    assert_eq!(
        handshakes(&rx).len(),
        handshakes_before,
        "no handshake to renew an expired subscription"
    );
    let (st, _, e) = s
        .send(Method::DELETE, &old_path, None, &[("If-Match", "*")])
        .await;
    error_message(st, &e, StatusCode::NOT_FOUND);

    // The expired one no longer takes a place under the cap.
    let third = s.subscribe(&rx.url(), "items", None).await;
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"].as_array().unwrap().len(), 2, "{list}");
    let (st, e) = s
        .post(
            "subscriptions",
            json!({"notificationUrl": rx.url(), "resource": s.resource("employees")}),
        )
        .await;
    assert!(error_message(st, &e, StatusCode::BAD_REQUEST)
        .contains("maximum number of subscriptions (2)"));

    // The notifier then removes the row; what the API shows does not change.
    assert_eq!(s.tick().await.expired, 1);
    let (_, list) = s.get("subscriptions").await;
    let mut ids: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["subscriptionId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = vec![
        young["subscriptionId"].as_str().unwrap().to_string(),
        third["subscriptionId"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(ids, want);
}

async fn pending_notifications_survive_a_restart(b: Backend) {
    let Some(s) = Bc::start(b, "restart", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    s.subscribe(&rx.url(), "customers", None).await;
    for i in 0..3 {
        s.create("customers", json!({"displayName": format!("R{i}")}))
            .await;
    }
    assert_eq!(s.state.store.bc_pending_changes().await.unwrap(), 3);
    let s = s.restart().await;
    let r = s.after_window().await;
    assert_eq!(r.delivered, 3, "{r:?}");
    let v = values(&notifications(&rx)[0]);
    assert!(v.iter().all(|e| e["changeType"] == "created"));

    // A batch waiting for its retry survives too.
    rx.respond(Behavior::status(500));
    s.create("customers", json!({"displayName": "R3"})).await;
    assert_eq!(s.after_window().await.retrying, 1);
    let s = s.restart().await;
    rx.respond(Behavior::status(200));
    s.advance(chrono::Duration::minutes(1));
    assert_eq!(s.tick().await.delivered, 1);
}

async fn cli_lists_shows_and_deletes_subscriptions(b: Backend) {
    let Some(s) = Bc::start(b, "cli", |_| {}).await else {
        return;
    };
    let rx = Receiver::start_with(Behavior::echo_validation_token()).await;
    let sub = s.subscribe(&rx.url(), "customers", Some("cs")).await;
    let id = sub["subscriptionId"].as_str().unwrap().to_string();
    let base = s.base.clone();
    let run = move |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
        for var in [
            "HERALD_URL",
            "HERALD_KEY",
            "HERALD_ADMIN_KEY",
            "HERALD_DATA_DIR",
        ] {
            c.env_remove(var);
        }
        let out = c
            .args(["--url", &base, "--key", "test-admin-key"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let run = Arc::new(run);
    let r = run.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || r(&["subscription", "list"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains(&id) && out.contains("customers") && out.to_uppercase().contains("EXPIRES"),
        "{out}"
    );
    let r = run.clone();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || r(&["subscription", "list", "--output", "json"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["subscriptionId"], json!(id));
    let (r, i) = (run.clone(), id.clone());
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || r(&["subscription", "show", &i, "-o", "json"]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["clientState"], "cs");
    let r = run.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || r(&["subscription", "show", "nope"]))
        .await
        .unwrap();
    assert!(!ok && err.contains("nope"), "{err}");
    let (r, i) = (run.clone(), id.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || r(&["subscription", "delete", &i]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains(&id) || err.contains(&id), "{out}{err}");
    let (_, list) = s.get("subscriptions").await;
    assert_eq!(list["value"], json!([]));
}
