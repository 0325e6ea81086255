//! The subscription API (SPEC §5): `POST /api/v2.0/subscriptions` with a
//! validation handshake, `GET` list / by id, `PATCH subscriptions('<id>')`
//! to renew (If-Match required, new handshake, new expiry), `DELETE` with
//! If-Match, and `GET webhookSupportedEntities`. Nothing is stored unless
//! the handshake passed.
//!
//! Who may do what (issue 15), as BC ties a subscription to its user: to
//! subscribe to an entity, or renew a subscription to it, the caller needs
//! Read on the entity's table (`prvReadbc_customer`, …) — a subscription
//! hands out what its entity's records do, and one may not watch what one
//! may not read (403, Dataverse's missing-privilege error). Each caller
//! sees, renews and deletes its own subscriptions (`userId`); managing
//! others' takes the privileges of the webhook registration table
//! `serviceendpoint` (Read to see them, Write to renew, Delete to delete),
//! which the System Customizer and the System Administrator hold and a
//! Basic User does not. Another user's subscription is, to a caller
//! without them, not there (404), so ids are not probed. Checked in
//! [`visible`] and [`may_read_entity`], which every handler calls.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use herald_core::builtin::BC_ENTITIES;
use herald_core::value::format_datetime;
use herald_store::bc::BcSubscription;
use serde_json::{json, Map, Value as Json};

use super::data::{company, if_match};
use super::entity::timestamp;
use super::handshake::handshake;
use super::path::{parse_resource, ResourceRef};
use super::{errors, json_object, json_response, BcRequest};
use crate::api::error::{ApiError, ApiResult};
use crate::auth::Caller;
use crate::pipeline::Precondition;
use crate::state::AppState;
use herald_core::security::Privilege;

/// Whether `caller` may see (Read), renew (Write) or delete (Delete) `sub`:
/// its own, or anyone's with that privilege on `serviceendpoint`.
fn visible(state: &AppState, caller: &Caller, sub: &BcSubscription, privilege: Privilege) -> bool {
    sub.user_id == caller.user_id
        || state
            .schema()
            .table("serviceendpoint")
            .is_some_and(|t| caller.grants.check(t, privilege).is_ok())
}

/// Refuse (403) a caller who may not read the table `logical` a
/// subscription watches.
fn may_read_entity(state: &AppState, caller: &Caller, logical: &str) -> ApiResult<()> {
    let schema = state.schema();
    let table = schema
        .table(logical)
        .ok_or_else(|| errors::internal(format!("missing table {logical}")))?;
    caller
        .grants
        .check(table, Privilege::Read)
        .map_err(ApiError::from)?;
    Ok(())
}

/// Longest clientState per API version (v1.0 as in the seed).
pub fn max_client_state(version: &str) -> usize {
    if version == "v1.0" {
        250
    } else {
        2048
    }
}

fn millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// `W/"<version>"`
pub fn etag(sub: &BcSubscription) -> String {
    format!("W/\"{}\"", sub.version)
}

/// A subscription as the API returns it.
pub fn subscription_json(sub: &BcSubscription) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("@odata.etag".into(), Json::String(etag(sub)));
    m.insert("subscriptionId".into(), Json::String(sub.id.clone()));
    m.insert(
        "notificationUrl".into(),
        Json::String(sub.notification_url.clone()),
    );
    m.insert("resource".into(), Json::String(sub.resource.clone()));
    m.insert("userId".into(), Json::String(sub.user_id.to_string()));
    m.insert(
        "lastModifiedDateTime".into(),
        Json::String(timestamp(&millis(sub.modified_ms))),
    );
    m.insert(
        "clientState".into(),
        Json::String(sub.client_state.clone().unwrap_or_default()),
    );
    m.insert(
        "expirationDateTime".into(),
        Json::String(format_datetime(&millis(sub.expires_ms))),
    );
    // The system fields of v2.0; the subscriber is the one who created and
    // last renewed it.
    let user = Json::String(sub.user_id.to_string());
    m.insert(
        "systemCreatedAt".into(),
        Json::String(timestamp(&millis(sub.created_ms))),
    );
    m.insert("systemCreatedBy".into(), user.clone());
    m.insert(
        "systemModifiedAt".into(),
        Json::String(timestamp(&millis(sub.modified_ms))),
    );
    m.insert("systemModifiedBy".into(), user);
    m
}

fn one(req: &BcRequest, sub: &BcSubscription, status: StatusCode) -> Response {
    let mut m = Map::new();
    m.insert(
        "@odata.context".into(),
        Json::String(format!("{}$metadata#subscriptions/$entity", req.base)),
    );
    m.extend(subscription_json(sub));
    let mut resp = json_response(status, Json::Object(m));
    if let Ok(v) = HeaderValue::from_str(&etag(sub)) {
        resp.headers_mut().insert(axum::http::header::ETAG, v);
    }
    resp
}

/// The fields of a POST/PATCH body.
struct Body {
    notification_url: Option<String>,
    resource: Option<String>,
    client_state: Option<Option<String>>,
}

fn parse_body(req: &BcRequest, raw: &[u8]) -> ApiResult<Body> {
    let obj = json_object(raw)?;
    let mut body = Body {
        notification_url: None,
        resource: None,
        client_state: None,
    };
    let string = |k: &str, v: &Json| -> ApiResult<String> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| errors::bad_request(format!("'{k}' must be a string")))
    };
    for (k, v) in &obj {
        match k.as_str() {
            "notificationUrl" => body.notification_url = Some(string(k, v)?),
            "resource" => body.resource = Some(string(k, v)?),
            "clientState" => {
                body.client_state = Some(match v {
                    Json::Null => None,
                    _ => Some(string(k, v)?).filter(|s| !s.is_empty()),
                })
            }
            // Read-only properties a client may echo back.
            "subscriptionId" | "userId" | "lastModifiedDateTime" | "expirationDateTime" | "timestamp"
            | "systemCreatedAt" | "systemCreatedBy" | "systemModifiedAt" | "systemModifiedBy" => {}
            _ if k.starts_with('@') || k.contains("@odata.") => {}
            _ => {
                return Err(errors::bad_request(format!(
                    "The property '{k}' does not exist on type 'subscription' (properties: notificationUrl, resource, clientState)"
                )))
            }
        }
    }
    if let Some(Some(cs)) = &body.client_state {
        let max = max_client_state(req.version);
        let len = cs.chars().count();
        if len > max {
            return Err(errors::bad_request(format!(
                "clientState is {len} characters long; the maximum on {} is {max}",
                req.version
            )));
        }
    }
    Ok(body)
}

/// A notificationUrl must be an absolute http(s) URL that the delivery
/// guard allows (checked now, names looked up without connecting; the
/// handshake and every notification check it again after DNS).
async fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        errors::bad_request(format!(
            "notificationUrl '{url}' is not a valid absolute URL: {e}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(errors::bad_request(format!(
            "notificationUrl '{url}' must be an http:// or https:// URL"
        )));
    }
    state
        .sender
        .check_target(&parsed, &herald_delivery::guard::SystemResolver::default())
        .await
        .map_err(|why| {
            errors::bad_request(format!(
                "notificationUrl '{url}' is refused as a target: {why}"
            ))
        })
}

async fn resource_of(state: &AppState, resource: &str) -> ApiResult<ResourceRef> {
    let r = parse_resource(resource).map_err(errors::bad_request)?;
    if company(state, r.company).await.is_err() {
        return Err(errors::bad_request(format!(
            "The resource '{resource}' names company {}, which does not exist",
            r.company
        )));
    }
    Ok(r)
}

fn full_message(max: usize) -> crate::api::error::ApiError {
    errors::bad_request(format!(
        "The maximum number of subscriptions ({max}) has been reached: delete or let expire some, or raise bc.max_subscriptions"
    ))
}

pub async fn create(state: &AppState, req: &BcRequest, raw: &[u8]) -> ApiResult<Response> {
    let body = parse_body(req, raw)?;
    let url = body
        .notification_url
        .ok_or_else(|| errors::bad_request("notificationUrl is required"))?;
    check_url(state, &url).await?;
    let resource = body.resource.ok_or_else(|| {
        errors::bad_request("resource is required (e.g. /api/v2.0/companies(<id>)/customers)")
    })?;
    let r = resource_of(state, &resource).await?;
    may_read_entity(state, &req.caller, r.entity.logical)?;
    let client_state = body.client_state.flatten();
    let max = state.config.bc.max_subscriptions;
    let live = state
        .store
        .bc_count_live_subscriptions(state.clock.now().timestamp_millis())
        .await?;
    if live >= max as i64 {
        return Err(full_message(max));
    }
    handshake(state, &url, client_state.as_deref())
        .await
        .map_err(errors::bad_request)?;
    let now = state.clock.now();
    let expiration = chrono::Duration::from_std(state.config.bc.subscription_expiration)
        .unwrap_or(chrono::Duration::days(3));
    let sub = BcSubscription {
        id: uuid::Uuid::new_v4().simple().to_string(),
        notification_url: url.trim().to_string(),
        resource: resource.trim().to_string(),
        table: r.entity.logical.to_string(),
        company_id: r.company,
        api_version: r.version.to_string(),
        user_id: req.caller.user_id,
        client_state,
        expires_ms: (now + expiration).timestamp_millis(),
        created_ms: now.timestamp_millis(),
        modified_ms: now.timestamp_millis(),
        version: 1,
    };
    if !state.store.bc_insert_subscription(&sub, max).await? {
        return Err(full_message(max));
    }
    tracing::info!(subscription = %sub.id, resource = %sub.resource, "BC subscription created");
    let mut resp = one(req, &sub, StatusCode::CREATED);
    if let Ok(v) = HeaderValue::from_str(&format!("{}subscriptions('{}')", req.base, sub.id)) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

/// The subscription `id` as `req`'s caller may handle it with
/// `privilege` (see [`visible`]); an expired one is gone (404) even before
/// the notifier removes it, and so is another user's to a caller who may
/// not manage it.
async fn find(
    state: &AppState,
    req: &BcRequest,
    id: &str,
    privilege: Privilege,
) -> ApiResult<BcSubscription> {
    let now = state.clock.now().timestamp_millis();
    state
        .store
        .bc_live_subscription(id, now)
        .await?
        .filter(|sub| visible(state, &req.caller, sub, privilege))
        .ok_or_else(|| {
            errors::not_found(format!(
                "The subscription '{id}' does not exist (it may have expired)"
            ))
        })
}

/// The version If-Match allows: any for `*`, else exactly the given one.
fn check_if_match(req: &BcRequest, sub: &BcSubscription, what: &str) -> ApiResult<i64> {
    match if_match(req)? {
        None => Err(errors::if_match_required(what)),
        Some(Precondition::Version(v)) if v != sub.version => Err(errors::entity_changed(format!(
            "The subscription has changed: its @odata.etag is {}, the If-Match header names another version",
            etag(sub)
        ))),
        Some(_) => Ok(sub.version),
    }
}

pub async fn list(state: &AppState, req: &BcRequest) -> ApiResult<Response> {
    let now = state.clock.now().timestamp_millis();
    let subs = state.store.bc_live_subscriptions(now).await?;
    let value: Vec<Json> = subs
        .iter()
        .filter(|s| visible(state, &req.caller, s, Privilege::Read))
        .map(|s| Json::Object(subscription_json(s)))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"@odata.context": format!("{}$metadata#subscriptions", req.base), "value": value}),
    ))
}

pub async fn get(state: &AppState, req: &BcRequest, id: &str) -> ApiResult<Response> {
    let sub = find(state, req, id, Privilege::Read).await?;
    Ok(one(req, &sub, StatusCode::OK))
}

/// Renew: a new handshake, then a new expiry (and clientState / URL if given).
pub async fn renew(state: &AppState, req: &BcRequest, id: &str, raw: &[u8]) -> ApiResult<Response> {
    let sub = find(state, req, id, Privilege::Write).await?;
    may_read_entity(state, &req.caller, &sub.table)?;
    let expected = check_if_match(req, &sub, "PATCH of a subscription")?;
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        Body {
            notification_url: None,
            resource: None,
            client_state: None,
        }
    } else {
        parse_body(req, raw)?
    };
    if let Some(r) = &body.resource {
        let new = parse_resource(r).map_err(errors::bad_request)?;
        if new.entity.logical != sub.table || new.company != sub.company_id {
            return Err(errors::bad_request(format!(
                "The resource of a subscription cannot be changed (it is '{}'); create a new subscription instead",
                sub.resource
            )));
        }
    }
    let url = body
        .notification_url
        .unwrap_or_else(|| sub.notification_url.clone());
    check_url(state, &url).await?;
    let client_state = match body.client_state {
        Some(cs) => cs,
        None => sub.client_state.clone(),
    };
    handshake(state, &url, client_state.as_deref())
        .await
        .map_err(errors::bad_request)?;
    let now = state.clock.now();
    let expiration = chrono::Duration::from_std(state.config.bc.subscription_expiration)
        .unwrap_or(chrono::Duration::days(3));
    let renewed = state
        .store
        .bc_renew_subscription(
            &sub.id,
            expected,
            url.trim(),
            client_state.as_deref(),
            (now + expiration).timestamp_millis(),
            now.timestamp_millis(),
        )
        .await?;
    match renewed {
        Some(s) => Ok(one(req, &s, StatusCode::OK)),
        None => match state
            .store
            .bc_live_subscription(&sub.id, now.timestamp_millis())
            .await?
        {
            Some(_) => Err(errors::entity_changed("The subscription was changed by another request during the handshake; read it again")),
            None => Err(errors::not_found(format!("The subscription '{id}' was deleted or expired during the handshake"))),
        },
    }
}

pub async fn delete(state: &AppState, req: &BcRequest, id: &str) -> ApiResult<Response> {
    let sub = find(state, req, id, Privilege::Delete).await?;
    check_if_match(req, &sub, "DELETE of a subscription")?;
    state
        .store
        .bc_delete_subscriptions(std::slice::from_ref(&sub.id))
        .await?;
    tracing::info!(subscription = %sub.id, "BC subscription deleted");
    Ok(super::no_content())
}

/// The entities that can be subscribed to, with a resource template.
pub fn supported(req: &BcRequest, company: Option<uuid::Uuid>) -> Response {
    let company = company
        .map(|c| c.to_string())
        .unwrap_or_else(|| "{companyId}".into());
    let value: Vec<Json> = BC_ENTITIES
        .iter()
        .map(|e| json!({"name": e.name, "resource": format!("/api/{}/companies({company})/{}", req.version, e.name)}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"@odata.context": format!("{}$metadata#webhookSupportedEntities", req.base), "value": value}),
    )
}
