//! `$ref`: the reference a navigation property holds, set and cleared
//! without touching the rest of the record — `PUT <set>(id)/<lookup>/$ref`
//! with `{"@odata.id": "<url>"}` and `DELETE <set>(id)/<lookup>/$ref` for a
//! single-valued property; `POST <set>(id)/<collection>/$ref` and `DELETE
//! <set>(id)/<collection>(<child>)/$ref` (or `…/$ref?$id=<url>`) for a
//! one-to-many, which change the child's lookup. Each is an Update through
//! the pipeline, so Update steps fire as for a PATCH. Many-to-many
//! relationships — the security tables' (`systemuserroles_association`,
//! `roleprivileges_association`) and those made through the metadata API
//! — create and delete their intersect rows, as Associate and
//! Disassociate (their steps run around the write).

use axum::http::Method;
use axum::response::Response;
use herald_core::schema::Association;
use herald_core::{Table, Value};
use uuid::Uuid;

use super::write::{correlation, no_content};
use super::writer::Writer;
use super::{resolve_key, table_for, Request};
use crate::api::error::{ApiError, ApiResult};
use crate::api::path::Key;
use crate::api::payload::{json_object, parse_bind};
use crate::pipeline::{Link, Message, Operation};
use crate::state::AppState;

/// The reference a `$ref` request addresses.
pub(super) struct Target<'p> {
    pub(super) set: &'p str,
    pub(super) key: Key,
    pub(super) navigation: &'p str,
    /// The child of a collection (`<collection>(<child>)/$ref`).
    pub(super) child: Option<Key>,
}

/// The lookup a `$ref` request changes: which row, which column, to what.
struct Change<'t> {
    table: &'t Table,
    id: Uuid,
    column: String,
    value: Value,
}

pub(super) async fn run(
    state: &AppState,
    req: &Request,
    method: &Method,
    target: Target<'_>,
    body: &[u8],
    writer: &mut Writer<'_, '_>,
) -> ApiResult<Response> {
    let table = table_for(req, target.set)?;
    if let Some(assoc) = req
        .schema
        .association(&table.logical_name, target.navigation)
    {
        let op = associate(req, method, assoc, target, body)?;
        writer
            .execute(state, op.with_correlation(correlation(state, &req.headers)))
            .await?;
        return Ok(no_content());
    }
    let change = change_of(req, method, target, body)?;
    writer
        .execute(
            state,
            Operation::new(
                Message::Update,
                &change.table.logical_name,
                Some(change.id),
                vec![(change.column, change.value)],
                req.caller.user_id,
            )
            .with_correlation(correlation(state, &req.headers)),
        )
        .await?;
    Ok(no_content())
}

fn change_of<'s>(
    req: &'s Request,
    method: &Method,
    target: Target<'_>,
    body: &[u8],
) -> ApiResult<Change<'s>> {
    let table = table_for(req, target.set)?;
    let id = resolve_key(req, target.key)?;
    let schema = &req.schema;
    if let Some(col) = table.lookup_by_navigation(target.navigation) {
        let referenced = schema
            .table(col.lookup_target().unwrap_or(""))
            .ok_or_else(|| ApiError::internal("lookup without target"))?;
        let value = match (method, target.child) {
            (&Method::PUT, None) => Value::Guid(parse_bind(schema, referenced, &odata_id(body)?)?),
            (&Method::DELETE, None) => Value::Null,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "'{}' is single-valued: PUT {}(<id>)/{}/$ref sets it, DELETE clears it",
                    target.navigation, target.set, target.navigation
                )))
            }
        };
        return Ok(Change {
            table,
            id,
            column: col.name.clone(),
            value,
        });
    }
    let rel = schema
        .relationship_from(&table.logical_name, target.navigation)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{}' is not a navigation property of '{}'",
                target.navigation, table.logical_name
            ))
        })?;
    let many = schema
        .table(&rel.many_table)
        .ok_or_else(|| ApiError::internal("relationship without table"))?;
    let (child, value) = match (method, target.child) {
        (&Method::POST, None) => (parse_bind(schema, many, &odata_id(body)?)?, Value::Guid(id)),
        (&Method::DELETE, Some(child)) => (resolve_key(req, child)?, Value::Null),
        (&Method::DELETE, None) => {
            let reference = req
                .options
                .iter()
                .find(|(k, _)| k == "$id")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Name the row to remove: DELETE {}(<id>)/{}(<child id>)/$ref",
                        target.set, target.navigation
                    ))
                })?;
            (parse_bind(schema, many, &reference)?, Value::Null)
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "'{}' is collection-valued: POST {}(<id>)/{}/$ref adds a row, DELETE {}(<id>)/{}(<child id>)/$ref removes one",
                target.navigation, target.set, target.navigation, target.set, target.navigation
            )))
        }
    };
    Ok(Change {
        table: many,
        id: child,
        column: rel.lookup_column.clone(),
        value,
    })
}

/// A many-to-many `$ref` (`systemuserroles_association`,
/// `roleprivileges_association`): `POST` creates the intersect row, `DELETE
/// …(<other id>)/$ref` (or `?$id=`) deletes it — a Create or Delete of the
/// intersect table through the pipeline, so its privileges apply.
fn associate(
    req: &Request,
    method: &Method,
    assoc: Association,
    target: Target<'_>,
    body: &[u8],
) -> ApiResult<Operation> {
    let schema = &req.schema;
    let this_table = table_for(req, target.set)?.logical_name.clone();
    let id = resolve_key(req, target.key)?;
    let other = schema
        .table(&assoc.other_table)
        .ok_or_else(|| ApiError::internal("association without table"))?;
    let intersect = assoc.intersect.as_str();
    let link = |other_id: Uuid| Link {
        relationship: assoc.name.clone(),
        target: (this_table.clone(), id),
        related: (other.logical_name.clone(), other_id),
    };
    match (method, target.child) {
        (&Method::POST, None) => {
            let other_id = parse_bind(schema, other, &odata_id(body)?)?;
            let mut values = vec![
                (assoc.this_column.clone(), Value::Guid(id)),
                (assoc.other_column.clone(), Value::Guid(other_id)),
            ];
            if intersect == "roleprivileges" {
                values.push((
                    "privilegedepthmask".into(),
                    Value::Int(herald_core::security::depth::GLOBAL),
                ));
            }
            Ok(Operation::new(
                Message::Create,
                intersect,
                Some(assoc.intersect_id(id, other_id)),
                values,
                req.caller.user_id,
            )
            .with_link(link(other_id)))
        }
        (&Method::DELETE, child) => {
            let other_id = match child {
                Some(c) => resolve_key(req, c)?,
                None => {
                    let reference = req
                        .options
                        .iter()
                        .find(|(k, _)| k == "$id")
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "Name the row to disassociate: DELETE {}(<id>)/{}(<other id>)/$ref",
                                target.set, target.navigation
                            ))
                        })?;
                    parse_bind(schema, other, &reference)?
                }
            };
            Ok(Operation::new(
                Message::Delete,
                intersect,
                Some(assoc.intersect_id(id, other_id)),
                Vec::new(),
                req.caller.user_id,
            )
            .with_link(link(other_id)))
        }
        _ => Err(ApiError::bad_request(format!(
            "'{}' is many-to-many: POST {}(<id>)/{}/$ref associates a row, DELETE {}(<id>)/{}(<other id>)/$ref disassociates it",
            target.navigation, target.set, target.navigation, target.set, target.navigation
        ))),
    }
}

/// The `@odata.id` of a `$ref` body.
fn odata_id(body: &[u8]) -> ApiResult<String> {
    json_object(body)?
        .get("@odata.id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::payload("A $ref body is {\"@odata.id\": \"<url of the referenced row>\"}")
        })
}
