//! API keys beyond the admin's: `POST /api/herald/keys` `{"user", "name"?}`
//! makes a key that acts as that systemuser (given by `systemuserid` or
//! `domainname`) and returns it once; `GET /api/herald/keys` lists the keys
//! (id, name, user, created on — never the key, which herald keeps only as a
//! hash; the id is the start of that hash); `DELETE /api/herald/keys/<id or
//! name>` removes one, refused from the next request on (nothing caches
//! keys: see `herald_store::keys`). `"roles": [..]` (names or ids) gives
//! the user those security roles; a user without any and none asked for
//! becomes a Basic User. Only a System Administrator may call these: a
//! key is a user's identity. Adding and removing a key are audited
//! (`crate::audit`) in the same transaction.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::query::{escape_like, ColumnRef, CompareOp, Condition};
use herald_core::value::{datetime_from_millis, parse_guid};
use herald_core::{Query, Value};
use herald_store::keys::ApiKey;
use herald_store::Record;
use serde_json::{json, Value as Json};

use super::payload::json_object;
use crate::api::error::{codes, ApiError, ApiResult};
use crate::auth::{authenticate, bearer, generate_key, hash_key, Caller};
use crate::pipeline::{Message, Operation};
use crate::state::{AppState, SharedState};
use herald_core::fixed_ids::user_role_id;
use herald_core::security::BuiltinRole;
use uuid::Uuid;

/// Longest key name accepted.
const NAME_MAX: usize = 100;

async fn require_admin(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let caller = authenticate(state, headers).await?;
    caller.require_system_administrator("prvCreateUser")?;
    Ok(caller)
}

/// The role a `roles` entry names: a built-in role's name (`Basic User`,
/// `basic-user`), a role id, or a custom role's name.
async fn find_role(state: &AppState, role: &str) -> ApiResult<Uuid> {
    if let Some(r) = BuiltinRole::of_name(role) {
        return Ok(r.id());
    }
    let filter = match parse_guid(role) {
        Some(id) => Condition::Compare {
            column: ColumnRef::new("roleid"),
            op: CompareOp::Eq,
            value: Value::Guid(id),
        },
        None => Condition::Like {
            column: ColumnRef::new("name"),
            pattern: escape_like(role),
            negated: false,
        },
    };
    let mut q = Query::all("role");
    q.select = vec!["roleid".into()];
    q.filter = Some(filter);
    let rows = state.store.fetch(&q, Some(2), 0).await?;
    match rows.as_slice() {
        [one] => one
            .guid("roleid")
            .ok_or_else(|| ApiError::internal("a role without an id")),
        [] => Err(ApiError::payload(format!(
            "No security role has the id or name '{role}' (built in: System Administrator, System Customizer, Basic User)"
        ))),
        _ => Err(ApiError::payload(format!(
            "Several security roles are named '{role}': give the roleid instead"
        ))),
    }
}

/// Give `user` the role `role` (a `systemuserroles` row, written through
/// the pipeline as `caller`); holding it already is fine.
async fn associate_role(
    state: &AppState,
    caller: &Caller,
    user: Uuid,
    role: Uuid,
) -> ApiResult<()> {
    let op = Operation::new(
        Message::Create,
        "systemuserroles",
        Some(user_role_id(user, role)),
        vec![
            ("systemuserid".into(), Value::Guid(user)),
            ("roleid".into(), Value::Guid(role)),
        ],
        caller.user_id,
    );
    match crate::pipeline::execute(state, op).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The names of the roles `user` holds, sorted.
pub async fn role_names(state: &AppState, user: Uuid) -> ApiResult<Vec<String>> {
    let roles = state.store.user_privileges(user).await?.roles;
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Query::all("role");
    q.select = vec!["name".into()];
    q.filter = Some(Condition::In {
        column: ColumnRef::new("roleid"),
        values: roles.into_iter().map(Value::Guid).collect(),
        negated: false,
    });
    let mut names: Vec<String> = state
        .store
        .fetch(&q, None, 0)
        .await?
        .iter()
        .filter_map(|r| r.string("name").map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

fn user_query(filter: Condition) -> Query {
    let mut q = Query::all("systemuser");
    q.select = ["systemuserid", "domainname", "fullname", "isdisabled"]
        .map(String::from)
        .to_vec();
    q.filter = Some(filter);
    q
}

/// The systemuser a `user` value names: its id, or its domainname
/// (case-insensitive, as in Dataverse).
async fn find_user(state: &AppState, user: &str) -> ApiResult<Record> {
    let filter = match parse_guid(user) {
        Some(id) => Condition::Compare {
            column: ColumnRef::new("systemuserid"),
            op: CompareOp::Eq,
            value: Value::Guid(id),
        },
        None => Condition::Like {
            column: ColumnRef::new("domainname"),
            pattern: escape_like(user),
            negated: false,
        },
    };
    let mut rows = state.store.fetch(&user_query(filter), Some(2), 0).await?;
    match rows.len() {
        0 => Err(ApiError::payload(format!(
            "No systemuser has the id or domainname '{user}': create the user first (POST /api/data/v9.2/systemusers)"
        ))),
        1 => Ok(rows.remove(0)),
        _ => Err(ApiError::payload(format!(
            "Several systemusers have the domainname '{user}': give the systemuserid instead"
        ))),
    }
}

/// A key as the API shows it (never the key itself): id, name, its user
/// (`record`, the systemuser when found), created on.
fn key_json(key: &ApiKey, record: Option<&Record>) -> Json {
    json!({
        "id": key.id(),
        "name": key.name,
        "systemuserid": key.user,
        "domainname": record.and_then(|r| r.string("domainname")),
        "fullname": record.and_then(|r| r.string("fullname")),
        "createdon": datetime_from_millis(key.created_ms).to_json(),
    })
}

fn text_field<'a>(
    body: &'a serde_json::Map<String, Json>,
    field: &str,
) -> ApiResult<Option<&'a str>> {
    match body.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(ApiError::payload(format!("'{field}' must be a string"))),
    }
}

/// `POST /api/herald/keys` → 201 with the new key (shown only here).
pub async fn create(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let result: ApiResult<Response> = async {
        let caller = require_admin(&state, &headers).await?;
        let body = json_object(&body)?;
        if let Some(k) = body.keys().find(|k| !["user", "name", "roles"].contains(&k.as_str())) {
            return Err(ApiError::payload(format!(
                "Unknown property '{k}': send {{\"user\": \"<systemuserid or domainname>\", \"name\": \"…\", \"roles\": [\"Basic User\", …]}}"
            )));
        }
        let wanted: Vec<String> = match body.get("roles") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .map(|r| r.as_str().map(|s| s.trim().to_string()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::payload("'roles' must be a list of role names or ids"))?,
            Some(_) => return Err(ApiError::payload("'roles' must be a list of role names or ids")),
        };
        let user = text_field(&body, "user")?
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                ApiError::payload("'user' is required: a systemuserid or a domainname")
            })?;
        let name = text_field(&body, "name")?.filter(|n| !n.is_empty()).unwrap_or("key");
        if name.chars().count() > NAME_MAX {
            return Err(ApiError::payload(format!(
                "'name' is limited to {NAME_MAX} characters"
            )));
        }
        let record = find_user(&state, user).await?;
        let user_id = record
            .guid("systemuserid")
            .ok_or_else(|| ApiError::internal("a systemuser without an id"))?;
        if record.get("isdisabled") == Some(&Value::Bool(true)) {
            return Err(ApiError::payload(format!(
                "The systemuser '{user}' is disabled"
            )));
        }
        // The roles asked for; a user with none and none asked for becomes
        // a Basic User, so the new key can do something.
        let mut roles = Vec::new();
        for r in &wanted {
            roles.push(find_role(&state, r).await?);
        }
        if roles.is_empty() && state.store.user_privileges(user_id).await?.roles.is_empty() {
            roles.push(BuiltinRole::BasicUser.id());
        }
        for role in roles {
            associate_role(&state, &caller, user_id, role).await?;
        }
        let key = generate_key();
        let added = ApiKey {
            keyhash: hash_key(&key),
            name: name.to_string(),
            user: user_id,
            created_ms: state.clock.now().timestamp_millis(),
        };
        let mut tx = state.store.begin().await?;
        tx.put_api_key(&added.keyhash, user_id, name, added.created_ms)
            .await?;
        let actor = crate::audit::Actor::new(caller.user_id, state.clock.now());
        crate::audit::record_key(&mut tx, &state.schema(), &actor, &added, true).await?;
        tx.commit().await?;
        let mut out = key_json(&added, Some(&record));
        out["roles"] = json!(role_names(&state, user_id).await?);
        out["key"] = json!(key);
        Ok((StatusCode::CREATED, axum::Json(out)).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `GET /api/herald/keys` → `{"value": [{name, systemuserid, domainname,
/// fullname, createdon}]}`, oldest first.
pub async fn list(State(state): State<SharedState>, headers: HeaderMap) -> Response {
    let result: ApiResult<Response> = async {
        require_admin(&state, &headers).await?;
        let keys = state.store.api_keys().await?;
        let mut ids: Vec<Value> = keys.iter().map(|k| Value::Guid(k.user)).collect();
        ids.sort_by_key(|v| v.as_guid());
        ids.dedup();
        let users = if ids.is_empty() {
            Vec::new()
        } else {
            let q = user_query(Condition::In {
                column: ColumnRef::new("systemuserid"),
                values: ids,
                negated: false,
            });
            state.store.fetch(&q, None, 0).await?
        };
        let mut value: Vec<Json> = Vec::new();
        for k in &keys {
            let record = users
                .iter()
                .find(|u| u.guid("systemuserid") == Some(k.user));
            let mut j = key_json(k, record);
            j["roles"] = json!(role_names(&state, k.user).await?);
            value.push(j);
        }
        Ok(axum::Json(json!({"value": value})).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, codes::INVALID_ARGUMENT, message)
}

fn no_key(which: &str) -> ApiError {
    ApiError::not_found(format!(
        "No API key has the id or name '{which}' (herald key list shows them)"
    ))
}

/// The one key `which` names: an id from the list (or the whole hash),
/// else a name (exact, else ignoring ASCII case).
fn pick<'a>(keys: &'a [ApiKey], which: &str) -> ApiResult<&'a ApiKey> {
    let by_id: Vec<&ApiKey> = keys
        .iter()
        .filter(|k| k.id().eq_ignore_ascii_case(which) || k.keyhash.eq_ignore_ascii_case(which))
        .collect();
    let mut named: Vec<&ApiKey> = keys.iter().filter(|k| k.name == which).collect();
    if named.is_empty() {
        named = keys
            .iter()
            .filter(|k| k.name.eq_ignore_ascii_case(which))
            .collect();
    }
    let found = if by_id.is_empty() { named } else { by_id };
    match found.as_slice() {
        [] => Err(no_key(which)),
        [one] => Ok(one),
        several => Err(conflict(format!(
            "{} API keys are named '{which}': remove one by its id (herald key list shows them)",
            several.len()
        ))),
    }
}

/// `DELETE /api/herald/keys/{key}` (an id or a name) → 200 with the removed
/// key. 404 when no key matches; 409 when a name is ambiguous, or for the
/// admin key this server was started with (HERALD_ADMIN_KEY or
/// `<data-dir>/admin.key`, registered again at every start) and for the key
/// making the request.
pub async fn remove(
    State(state): State<SharedState>,
    Path(which): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result: ApiResult<Response> = async {
        let caller = require_admin(&state, &headers).await?;
        let which = which.trim();
        let keys = state.store.api_keys().await?;
        let key = pick(&keys, which)?;
        let started_with = crate::bootstrap::existing_admin_key(
            state.config.server.admin_key.as_deref(),
            &state.config.server.data_dir,
        )
        .map(|(k, _)| hash_key(&k));
        if started_with.as_deref() == Some(key.keyhash.as_str()) {
            return Err(conflict(format!(
                "The key '{}' ({}) is the admin key herald was started with (HERALD_ADMIN_KEY or <data-dir>/admin.key) and cannot be removed: start herald with another admin key first",
                key.name,
                key.id()
            )));
        }
        if bearer(&headers).map(hash_key).as_deref() == Some(key.keyhash.as_str()) {
            return Err(conflict(format!(
                "The key '{}' ({}) is the one this request is made with: remove it with another admin key",
                key.name,
                key.id()
            )));
        }
        // The removal and its audit row commit together.
        let mut tx = state.store.begin().await?;
        if !tx.remove_api_key(&key.keyhash).await? {
            return Err(no_key(which));
        }
        let actor = crate::audit::Actor::new(caller.user_id, state.clock.now());
        crate::audit::record_key(&mut tx, &state.schema(), &actor, key, false).await?;
        tx.commit().await?;
        let q = user_query(Condition::Compare {
            column: ColumnRef::new("systemuserid"),
            op: CompareOp::Eq,
            value: Value::Guid(key.user),
        });
        let user = state.store.fetch(&q, Some(1), 0).await?;
        let mut out = key_json(key, user.first());
        out["removed"] = json!(true);
        Ok(axum::Json(out).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
