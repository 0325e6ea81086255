//! Validation inside the write: which columns a client may set, that
//! lookups point at existing rows, and the registration rules of SPEC §3
//! (contract 8, authtype 4/5/6, stage/mode, filtering attributes, images).

use herald_core::authvalue::webhook_auth;
use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::schema::Access;
use herald_core::{Query, Schema, Table, Value};
use herald_store::{Record, Tx};
use uuid::Uuid;

use super::error::{PipelineError, PipelineResult};
use crate::state::AppState;
use herald_core::fixed_ids::plugin_type_id;

/// Refuse server-maintained columns and primary-key changes; keep the rest.
pub fn checked_values(
    table: &Table,
    values: &[(String, Value)],
    create: bool,
) -> PipelineResult<Vec<(String, Value)>> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (name, v) in values {
        let col = table.column(name).ok_or_else(|| {
            PipelineError::payload(format!(
                "The property '{name}' does not exist on type '{}'",
                table.logical_name
            ))
        })?;
        if col.access == Access::ReadOnly {
            return Err(PipelineError::payload(format!(
                "The column '{name}' of '{}' is maintained by the server and cannot be set",
                table.logical_name
            )));
        }
        if name == &table.primary_id && !create {
            continue;
        }
        if col.required && v.is_null() {
            return Err(PipelineError::payload(format!(
                "The column '{name}' of '{}' is required",
                table.logical_name
            )));
        }
        out.retain(|(c, _)| c != name);
        out.push((name.clone(), v.clone()));
    }
    if create {
        for c in table.columns.iter().filter(|c| c.required) {
            if !out.iter().any(|(n, v)| n == &c.name && !v.is_null()) {
                return Err(PipelineError::payload(format!(
                    "The column '{}' of '{}' is required",
                    c.name, table.logical_name
                )));
            }
        }
    }
    Ok(out)
}

/// Every non-null lookup must name an existing row of its target table.
pub async fn lookups_exist(
    tx: &mut Tx,
    schema: &Schema,
    table: &Table,
    values: &[(String, Value)],
) -> PipelineResult<()> {
    for (name, v) in values {
        let (Some(col), Some(id)) = (table.column(name), v.as_guid()) else {
            continue;
        };
        let Some(target) = col.lookup_target().and_then(|t| schema.table(t)) else {
            continue;
        };
        if tx.get(target, id).await?.is_none() {
            return Err(PipelineError::payload(format!(
                "{} With Id = {id} Does Not Exist (column '{name}' of '{}')",
                target.logical_name, table.logical_name
            )));
        }
    }
    Ok(())
}

/// A row of a system table by id, inside the write's transaction.
async fn row_of(
    tx: &mut Tx,
    state: &AppState,
    table: &str,
    id: Uuid,
) -> PipelineResult<Option<Record>> {
    let schema_now = state.schema();
    let t = schema_now
        .table(table)
        .ok_or_else(|| PipelineError::internal(format!("no {table} table")))?;
    Ok(tx.get(t, id).await?)
}

/// Check a comma list of column names against `table` and write it back
/// normalised (lower case, trimmed) under `column`.
fn set_column_list(
    values: &mut Vec<(String, Value)>,
    column: &str,
    list: &str,
    table: &Table,
) -> PipelineResult<()> {
    let mut normalized = Vec::new();
    for a in list.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let a = a.to_ascii_lowercase();
        if table.column(&a).is_none() {
            return Err(PipelineError::invalid(format!(
                "{column}: '{a}' is not a column of '{}'",
                table.logical_name
            )));
        }
        normalized.push(a);
    }
    values.retain(|(c, _)| c != column);
    values.push((column.to_string(), Value::String(normalized.join(","))));
    Ok(())
}

fn merged(before: Option<&Record>, values: &[(String, Value)]) -> Record {
    let mut r = before.cloned().unwrap_or_default();
    for (k, v) in values {
        r.set(k, v.clone());
    }
    r
}

fn set_default(values: &mut Vec<(String, Value)>, before: Option<&Record>, name: &str, v: Value) {
    let present = values.iter().any(|(c, x)| c == name && !x.is_null())
        || before
            .and_then(|b| b.get(name))
            .is_some_and(|x| !x.is_null());
    if !present {
        values.retain(|(c, _)| c != name);
        values.push((name.to_string(), v));
    }
}

/// Rules for the registration tables; no-op for other tables.
pub async fn registration_rules(
    tx: &mut Tx,
    state: &AppState,
    table: &Table,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> PipelineResult<()> {
    match table.logical_name.as_str() {
        "serviceendpoint" => service_endpoint(tx, state, table, before, values).await,
        "sdkmessageprocessingstep" => step(tx, state, before, values).await,
        "sdkmessageprocessingstepimage" => image(tx, state, before, values).await,
        _ => Ok(()),
    }
}

async fn service_endpoint(
    tx: &mut Tx,
    state: &AppState,
    table: &Table,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> PipelineResult<()> {
    set_default(values, before, "contract", Value::Int(8));
    set_default(values, before, "messageformat", Value::Int(2));
    set_default(values, before, "userclaim", Value::Int(1));
    let row = merged(before, values);
    if row.int("contract") != Some(8) {
        return Err(PipelineError::invalid(format!(
            "contract {} is not supported: herald only hosts webhooks (contract 8)",
            row.int("contract")
                .map(|c| c.to_string())
                .unwrap_or_else(|| "null".into())
        )));
    }
    if row.int("messageformat") != Some(2) {
        return Err(PipelineError::invalid(
            "messageformat must be 2 (Json) for webhooks",
        ));
    }
    let url = row.string("url").unwrap_or("");
    match url::Url::parse(url) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
            if before.is_none() || values.iter().any(|(c, _)| c == "url") {
                target_allowed(state, &u, url).await?;
            }
        }
        _ => {
            return Err(PipelineError::invalid(format!(
                "url '{url}' must be an absolute http:// or https:// URL"
            )))
        }
    }
    let authtype = row.int("authtype").ok_or_else(|| {
        PipelineError::invalid(
            "authtype is required: 4 (WebhookKey), 5 (HttpHeader) or 6 (HttpQueryString)",
        )
    })?;
    let authvalue_written = values.iter().any(|(c, _)| c == "authvalue");
    if authvalue_written || before.is_none() || values.iter().any(|(c, _)| c == "authtype") {
        let authvalue = row.string("authvalue");
        webhook_auth(authtype, authvalue).map_err(PipelineError::invalid)?;
        values.retain(|(c, _)| c != "isauthvalueset");
        values.push((
            "isauthvalueset".into(),
            Value::Bool(authvalue.is_some_and(|a| !a.is_empty())),
        ));
    }
    signing_secret(state, before, values)?;
    let name = row.string("name").unwrap_or("").to_string();
    let mut q = Query::all("serviceendpoint");
    q.select = vec![table.primary_id.clone()];
    q.filter = Some(Condition::Compare {
        column: ColumnRef::new("name"),
        op: CompareOp::Eq,
        value: Value::String(name.clone()),
    });
    let me = row.guid("serviceendpointid");
    if tx
        .fetch(&q, None, 0)
        .await?
        .iter()
        .any(|r| r.guid("serviceendpointid") != me || me.is_none())
        && before.is_none_or(|b| b.string("name") != Some(&name))
    {
        return Err(PipelineError::Duplicate(format!(
            "A webhook named '{name}' already exists; names are unique (regardless of case)"
        )));
    }
    let _ = state;
    Ok(())
}

/// The delivery guard applied at registration: a forbidden target (any
/// spelling of a private or metadata address, a name resolving only to
/// such, a URL with user info) is a 400 that says why. Names are looked up
/// without connecting; delivery checks again after its own DNS lookup.
async fn target_allowed(state: &AppState, url: &url::Url, raw: &str) -> PipelineResult<()> {
    let resolver = herald_delivery::guard::SystemResolver::default();
    state
        .sender
        .check_target(url, &resolver)
        .await
        .map_err(|why| PipelineError::invalid(format!("url '{raw}' is refused as a target: {why}")))
}

/// A new signing secret: checked, and the old one kept for the grace period.
fn signing_secret(
    state: &AppState,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> PipelineResult<()> {
    if values
        .iter()
        .any(|(c, _)| c == "herald_previoussigningsecret")
    {
        return Err(PipelineError::payload(
            "herald_previoussigningsecret is maintained by herald during secret rotation",
        ));
    }
    let Some(new) = values
        .iter()
        .find(|(c, _)| c == "herald_signingsecret")
        .map(|(_, v)| v.clone())
    else {
        return Ok(());
    };
    let new = new.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(secret) = &new {
        herald_delivery::SigningSecret::parse(secret)
            .map_err(|e| PipelineError::invalid(format!("herald_signingsecret: {e}")))?;
    }
    values.retain(|(c, _)| c != "herald_issigningsecretset" && c != "herald_signingsecret");
    values.push((
        "herald_signingsecret".into(),
        new.clone().map(Value::String).unwrap_or(Value::Null),
    ));
    values.push((
        "herald_issigningsecretset".into(),
        Value::Bool(new.is_some()),
    ));
    let old = before
        .and_then(|b| b.string("herald_signingsecret"))
        .map(str::to_string);
    match (old, &new) {
        (Some(old), Some(new)) if &old != new => {
            let grace = chrono::Duration::from_std(state.config.delivery.secret_rotation_grace)
                .unwrap_or(chrono::Duration::days(1));
            values.push(("herald_previoussigningsecret".into(), Value::String(old)));
            values.push((
                "herald_previoussecretexpireson".into(),
                Value::DateTime(state.clock.now() + grace),
            ));
        }
        (_, None) => {
            values.push(("herald_previoussigningsecret".into(), Value::Null));
            values.push(("herald_previoussecretexpireson".into(), Value::Null));
        }
        _ => {}
    }
    Ok(())
}

async fn step(
    tx: &mut Tx,
    state: &AppState,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> PipelineResult<()> {
    set_default(values, before, "rank", Value::Int(1));
    set_default(values, before, "mode", Value::Int(0));
    set_default(values, before, "supporteddeployment", Value::Int(0));
    set_default(values, before, "asyncautodelete", Value::Bool(false));
    set_default(
        values,
        before,
        "plugintypeid",
        Value::Guid(plugin_type_id()),
    );
    set_default(values, before, "statecode", Value::Int(0));
    set_default(values, before, "statuscode", Value::Int(1));
    let row = merged(before, values);
    let schema = state.schema().clone();
    let message_id = row
        .guid("sdkmessageid")
        .ok_or_else(|| PipelineError::invalid("sdkmessageid is required: bind it with \"sdkmessageid@odata.bind\": \"/sdkmessages(<id>)\""))?;
    let message = row_of(tx, state, "sdkmessage", message_id)
        .await?
        .and_then(|r| r.string("name").map(str::to_string))
        .ok_or_else(|| PipelineError::invalid(format!("sdkmessage {message_id} does not exist")))?;
    let handler = row
        .guid("eventhandler")
        .ok_or_else(|| PipelineError::invalid("eventhandler is required: bind it with \"eventhandler_serviceendpoint@odata.bind\": \"/serviceendpoints(<id>)\""))?;
    let endpoint = row_of(tx, state, "serviceendpoint", handler)
        .await?
        .ok_or_else(|| {
            PipelineError::invalid(format!("serviceendpoint {handler} does not exist"))
        })?;
    if before.is_none() || values.iter().any(|(c, _)| c == "eventhandler") {
        // A webhook registered while private targets were allowed gets no
        // new steps once they are not.
        let url = endpoint.string("url").unwrap_or("");
        if let Ok(u) = url::Url::parse(url) {
            target_allowed(state, &u, url).await?;
        }
    }
    let entity = match row.guid("sdkmessagefilterid") {
        Some(fid) => {
            let f = row_of(tx, state, "sdkmessagefilter", fid)
                .await?
                .ok_or_else(|| {
                    PipelineError::invalid(format!("sdkmessagefilter {fid} does not exist"))
                })?;
            if f.guid("sdkmessageid") != Some(message_id) {
                return Err(PipelineError::invalid(format!(
                    "sdkmessagefilter {fid} belongs to another message than {message}"
                )));
            }
            f.string("primaryobjecttypecode").map(str::to_string)
        }
        None => None,
    };
    let stage = row.int("stage").ok_or_else(|| {
        PipelineError::invalid(
            "stage is required: 10 (PreValidation), 20 (PreOperation) or 40 (PostOperation)",
        )
    })?;
    if ![10, 20, 40].contains(&stage) {
        return Err(PipelineError::invalid(format!("stage {stage} is not valid: use 10 (PreValidation), 20 (PreOperation) or 40 (PostOperation)")));
    }
    let mode = row.int("mode").unwrap_or(0);
    if mode == 1 && stage != 40 {
        return Err(PipelineError::invalid(
            "Asynchronous steps (mode 1) are only allowed at stage 40 (PostOperation)",
        ));
    }
    if let Some(attrs) = row
        .string("filteringattributes")
        .filter(|a| !a.trim().is_empty())
    {
        if message != "Update" {
            return Err(PipelineError::invalid(format!(
                "filteringattributes are only allowed on Update steps, not {message}"
            )));
        }
        let table = entity
            .as_deref()
            .and_then(|e| schema.table(e))
            .ok_or_else(|| {
                PipelineError::invalid("filteringattributes need a table: bind sdkmessagefilterid")
            })?;
        set_column_list(values, "filteringattributes", attrs, table)?;
    }
    if let Some(e) = &entity {
        if let Some(t) = schema.table(e) {
            if !t.supports_message(&message) {
                return Err(PipelineError::invalid(format!(
                    "The message {message} cannot be registered on '{e}'"
                )));
            }
        }
    } else if message != "Create" && message != "Update" && message != "Delete" {
        // Steps without a table are allowed for every message.
    }
    if row.string("name").is_none_or(str::is_empty) {
        let name = format!(
            "{}: {} of {}",
            endpoint.string("name").unwrap_or("webhook"),
            message,
            entity.as_deref().unwrap_or("any entity")
        );
        values.retain(|(c, _)| c != "name");
        values.push(("name".into(), Value::String(name)));
    }
    Ok(())
}

async fn image(
    tx: &mut Tx,
    state: &AppState,
    before: Option<&Record>,
    values: &mut Vec<(String, Value)>,
) -> PipelineResult<()> {
    let row = merged(before, values);
    let schema = state.schema().clone();
    let step_id = row
        .guid("sdkmessageprocessingstepid")
        .ok_or_else(|| PipelineError::invalid("sdkmessageprocessingstepid is required: bind it with \"sdkmessageprocessingstepid@odata.bind\": \"/sdkmessageprocessingsteps(<id>)\""))?;
    let step = row_of(tx, state, "sdkmessageprocessingstep", step_id)
        .await?
        .ok_or_else(|| {
            PipelineError::invalid(format!("sdkmessageprocessingstep {step_id} does not exist"))
        })?;
    let message = match step.guid("sdkmessageid") {
        Some(m) => row_of(tx, state, "sdkmessage", m)
            .await?
            .and_then(|r| r.string("name").map(str::to_string))
            .unwrap_or_default(),
        None => String::new(),
    };
    let imagetype = row.int("imagetype").ok_or_else(|| {
        PipelineError::invalid("imagetype is required: 0 (PreImage), 1 (PostImage) or 2 (Both)")
    })?;
    if message == "Create" && (imagetype == 0 || imagetype == 2) {
        return Err(PipelineError::invalid(
            "A Create step cannot have a pre-image: the row does not exist before Create",
        ));
    }
    if message == "Delete" && (imagetype == 1 || imagetype == 2) {
        return Err(PipelineError::invalid(
            "A Delete step cannot have a post-image: the row no longer exists after Delete",
        ));
    }
    let entity = match step.guid("sdkmessagefilterid") {
        Some(f) => row_of(tx, state, "sdkmessagefilter", f)
            .await?
            .and_then(|r| r.string("primaryobjecttypecode").map(str::to_string)),
        None => None,
    };
    if let (Some(attrs), Some(t)) = (
        row.string("attributes").filter(|a| !a.trim().is_empty()),
        entity.as_deref().and_then(|e| schema.table(e)),
    ) {
        set_column_list(values, "attributes", attrs, t)?;
    }
    let default_property = if message == "Create" { "Id" } else { "Target" };
    set_default(
        values,
        before,
        "messagepropertyname",
        Value::String(default_property.into()),
    );
    let alias = row
        .string("entityalias")
        .or(row.string("name"))
        .unwrap_or("Image")
        .to_string();
    set_default(values, before, "entityalias", Value::String(alias.clone()));
    set_default(values, before, "name", Value::String(alias));
    Ok(())
}

/// Refuse deleting a webhook that still has steps; a step's images go with
/// it (as Dataverse cascades them).
/// Rows no write may change or delete: the admin user the admin key acts
/// as (rewriting it would let any key take over the admin's identity).
pub fn not_protected(state: &AppState, table: &Table, id: Uuid) -> PipelineResult<()> {
    if table.logical_name == "systemuser" && id == state.org.admin_user_id {
        return Err(PipelineError::Forbidden(format!(
            "The systemuser {id} is herald's admin user, which the admin API key acts as; it cannot be changed or deleted"
        )));
    }
    Ok(())
}

/// The rows a delete cascades to are audited like the delete itself.
pub async fn before_delete(
    tx: &mut Tx,
    state: &AppState,
    actor: &crate::audit::Actor,
    table: &Table,
    id: Uuid,
) -> PipelineResult<()> {
    match table.logical_name.as_str() {
        "serviceendpoint" => {
            let q = rows_where("sdkmessageprocessingstep", "eventhandler", Value::Guid(id));
            if !tx.fetch(&q, Some(1), 0).await?.is_empty() {
                return Err(PipelineError::invalid(format!(
                    "The serviceendpoint {id} cannot be deleted while steps are registered on it; delete the steps first"
                )));
            }
        }
        "sdkmessageprocessingstep" => {
            let schema_now = state.schema();
            let images = schema_now
                .table("sdkmessageprocessingstepimage")
                .ok_or_else(|| PipelineError::internal("no image table"))?;
            let q = rows_where(
                &images.logical_name,
                "sdkmessageprocessingstepid",
                Value::Guid(id),
            );
            for r in tx.fetch(&q, None, 0).await? {
                if let Some(image_id) = r.guid(&images.primary_id) {
                    tx.delete(images, image_id).await?;
                    crate::audit::record_write(
                        tx,
                        &schema_now,
                        actor,
                        images,
                        image_id,
                        Some(&r),
                        None,
                    )
                    .await?;
                }
            }
        }
        // A role's links to privileges and users go with it, and a user's
        // links to roles with the user (as Dataverse's intersect rows do).
        "role" => {
            delete_where(tx, state, actor, "roleprivileges", "roleid", id).await?;
            delete_where(tx, state, actor, "systemuserroles", "roleid", id).await?;
            state.security.changed(tx).await?;
        }
        "systemuser" => {
            delete_where(tx, state, actor, "systemuserroles", "systemuserid", id).await?;
            state.security.changed(tx).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Delete (and audit) the rows of `table` whose `column` is `id`.
async fn delete_where(
    tx: &mut Tx,
    state: &AppState,
    actor: &crate::audit::Actor,
    table: &str,
    column: &str,
    id: Uuid,
) -> PipelineResult<()> {
    let schema = state.schema();
    let t = schema
        .table(table)
        .ok_or_else(|| PipelineError::internal(format!("no {table} table")))?;
    for r in tx
        .fetch(&rows_where(table, column, Value::Guid(id)), None, 0)
        .await?
    {
        if let Some(row_id) = r.guid(&t.primary_id) {
            tx.delete(t, row_id).await?;
            crate::audit::record_write(tx, &schema, actor, t, row_id, Some(&r), None).await?;
        }
    }
    Ok(())
}

/// A query for the rows of `table` whose `column` equals `value`.
fn rows_where(table: &str, column: &str, value: Value) -> Query {
    let mut q = Query::all(table);
    q.filter = Some(Condition::Compare {
        column: ColumnRef::new(column),
        op: CompareOp::Eq,
        value,
    });
    q
}
