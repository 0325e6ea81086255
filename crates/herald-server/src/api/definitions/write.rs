//! The metadata API's writes: creating, relabelling and deleting tables
//! (`POST`/`PUT`/`DELETE EntityDefinitions`, the `CreateEntities` action),
//! columns (`POST`/`PUT`/`PATCH`/`DELETE …/Attributes`), lookups and
//! many-to-many relationships (`POST`/`DELETE RelationshipDefinitions`)
//! and alternate keys
//! (`POST`/`DELETE …/Keys`). Each request becomes herald-core
//! [`SchemaChange`]s (`body` reads the JSON), made by
//! [`crate::tables::change`] in one transaction; the answer is Dataverse's:
//! `204 No Content` with `OData-EntityId` naming what was made.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::schema::{ColumnDefinition, SchemaChange, TableLabels};
use herald_core::{Schema, Table};
use serde_json::Value as Json;

use super::error::DefinitionError;
use super::path::{self, ChildKind, Key, Target};
use super::{attribute, body, entity, find_table, key as keys, relationship};
use crate::api::error::{codes, ApiError, ApiResult};
use crate::auth::Caller;
use crate::state::AppState;
use herald_core::security::Privilege;

/// The unbound action Microsoft's Python client creates tables with.
pub const CREATE_ENTITIES: &str = "CreateEntities";

/// The header with which a client asks that the labels it sends be merged
/// with the ones a definition has (`PUT EntityDefinitions(...)`).
pub const MERGE_LABELS: &str = "MSCRM.MergeLabels";

/// Answer a write (`method` other than GET) on a metadata `path`;
/// `merge_labels` is the request's `MSCRM.MergeLabels: true`.
pub async fn run(
    state: &AppState,
    base: &str,
    method: &Method,
    path: &str,
    body: &[u8],
    caller: &Caller,
    merge_labels: bool,
) -> ApiResult<Response> {
    let schema = state.schema();
    let target = path::parse(path)?;
    let (change, made) = match (method.as_str(), &target) {
        (
            "POST",
            Target::Entities {
                key: None,
                child: None,
            },
        ) => {
            let (logical, table, columns) = body::table(&body::object(body)?)?;
            let made = Made::Table(logical.clone());
            let change = SchemaChange::CreateTable {
                logical_name: logical,
                table,
                columns,
            };
            (vec![change], made)
        }
        (
            "DELETE",
            Target::Entities {
                key: Some(k),
                child: None,
            },
        ) => {
            let t = find_table(&schema, k)?;
            (
                vec![SchemaChange::DeleteTable(t.logical_name.clone())],
                Made::Nothing,
            )
        }
        (
            "PUT" | "PATCH",
            Target::Entities {
                key: Some(k),
                child: None,
            },
        ) => {
            let t = find_table(&schema, k)?;
            let merge = merge_labels || method == Method::PATCH;
            let labels = body::updated_labels(
                &TableLabels::of(t),
                &entity::entity_json(t),
                &body::object(body)?,
                merge,
            )?;
            let made = Made::Table(t.logical_name.clone());
            let change = SchemaChange::UpdateTable {
                table: t.logical_name.clone(),
                labels,
            };
            (vec![change], made)
        }
        (
            _,
            Target::Entities {
                key: Some(k),
                child: Some(child),
            },
        ) => {
            let t = find_table(&schema, k)?;
            column_or_key_change(method, t, child, body)?
        }
        (
            "POST",
            Target::Relationships {
                key: None,
                cast: None,
            },
        ) => {
            let o = body::object(body)?;
            if body::is_many_to_many(&o) {
                let m = body::many_to_many(&o, |t| schema.table(t).map(|t| t.primary_id.clone()))?;
                let made = Made::ManyToMany(m.schema_name.clone());
                (vec![SchemaChange::CreateManyToMany(m)], made)
            } else {
                let (table, column) = body::relationship(&o)?;
                let made = Made::Relationship(table.clone(), column.logical_name.clone());
                (vec![SchemaChange::AddColumn { table, column }], made)
            }
        }
        (
            "DELETE",
            Target::Relationships {
                key: Some(k),
                cast: _,
            },
        ) if relationship::find_many_to_many(&schema, k).is_some() => {
            let m = relationship::find_many_to_many(&schema, k)
                .map(|m| m.intersect.clone())
                .unwrap_or_default();
            (vec![SchemaChange::DeleteManyToMany(m)], Made::Nothing)
        }
        (
            "DELETE",
            Target::Relationships {
                key: Some(k),
                cast: None,
            },
        ) => {
            let found = relationship::describe_all(&schema)
                .into_iter()
                .find(|d| match k {
                    Key::Id(id) => d.metadata_id() == *id,
                    Key::Named { value, .. } => &d.schema_name == value,
                })
                .ok_or_else(|| {
                    DefinitionError::NotFound("Could not find the relationship".into())
                })?;
            let r = found.relationship;
            let change = SchemaChange::DeleteColumn {
                table: r.many_table,
                column: r.lookup_column,
            };
            (vec![change], Made::Nothing)
        }
        _ => return Err(not_supported(method)),
    };
    authorize(caller, &change)?;
    let schema = crate::tables::change(state, &change, state.clock.now(), caller.user_id)
        .await
        .map_err(super::error::change_error)?;
    Ok(made.answer(base, &schema))
}

/// `POST CreateEntities` (`{"Entities": [EntityMetadata…]}`): every table
/// in one transaction.
pub async fn create_entities(
    state: &AppState,
    base: &str,
    body: &[u8],
    caller: &Caller,
) -> ApiResult<Response> {
    let o = body::object(body)?;
    let entities = o
        .get("Entities")
        .and_then(Json::as_array)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            DefinitionError::Invalid(
                "CreateEntities needs Entities: a list of EntityMetadata".into(),
            )
        })?;
    let mut changes = Vec::new();
    let mut first = None;
    for e in entities {
        let e = e.as_object().ok_or_else(|| {
            DefinitionError::Invalid("Each of Entities is an EntityMetadata object".into())
        })?;
        let (logical, table, columns) = body::table(e)?;
        first.get_or_insert_with(|| logical.clone());
        changes.push(SchemaChange::CreateTable {
            logical_name: logical,
            table,
            columns,
        });
    }
    authorize(caller, &changes)?;
    let schema = crate::tables::change(state, &changes, state.clock.now(), caller.user_id)
        .await
        .map_err(super::error::change_error)?;
    Ok(first
        .map(Made::Table)
        .unwrap_or(Made::Nothing)
        .answer(base, &schema))
}

/// A change under one table: its columns and keys.
fn column_or_key_change(
    method: &Method,
    table: &Table,
    child: &path::Child,
    body: &[u8],
) -> ApiResult<(Vec<SchemaChange>, Made)> {
    let name = table.logical_name.clone();
    let column_of = |k: &Key| {
        table
            .columns
            .iter()
            .find(|c| match k {
                Key::Id(id) => attribute::metadata_id(table, c) == *id,
                Key::Named { property, value } => property == "LogicalName" && &c.name == value,
            })
            .ok_or_else(|| super::attribute_not_found(table, k))
    };
    Ok(match (method.as_str(), child.kind, &child.key) {
        ("POST", ChildKind::Attributes, None) => {
            let (column, primary) = body::column(&body::object(body)?)?;
            if primary {
                return Err(DefinitionError::Invalid(format!(
                    "'{name}' has its primary name attribute already: IsPrimaryName is for the one created with the table"
                ))
                .into());
            }
            let made = Made::Attribute(name.clone(), column.logical_name.clone());
            (
                vec![SchemaChange::AddColumn {
                    table: name,
                    column,
                }],
                made,
            )
        }
        ("PUT" | "PATCH", ChildKind::Attributes, Some(k)) => {
            let column = column_of(k)?;
            let current = ColumnDefinition::of(column);
            let next = body::updated_column(&current, &body::object(body)?)?;
            let made = Made::Attribute(name.clone(), column.name.clone());
            (
                vec![SchemaChange::UpdateColumn {
                    table: name,
                    column: next,
                }],
                made,
            )
        }
        ("DELETE", ChildKind::Attributes, Some(k)) => {
            let column = column_of(k)?.name.clone();
            (
                vec![SchemaChange::DeleteColumn {
                    table: name,
                    column,
                }],
                Made::Nothing,
            )
        }
        ("POST", ChildKind::Keys, None) => {
            let key = body::key(&body::object(body)?)?;
            let made = Made::Key(name.clone(), key.logical_name.clone());
            (vec![SchemaChange::AddKey { table: name, key }], made)
        }
        ("DELETE", ChildKind::Keys, Some(k)) => {
            let key = table
                .details
                .keys
                .iter()
                .find(|key| match k {
                    Key::Id(id) => keys::metadata_id(table, key) == *id,
                    Key::Named { value, .. } => {
                        &key.logical_name == value || &key.schema_name == value
                    }
                })
                .ok_or_else(|| {
                    DefinitionError::NotFound(format!(
                        "Could not find an alternate key {} on entity '{name}'",
                        super::describe_key(k)
                    ))
                })?;
            let key = key.logical_name.clone();
            (
                vec![SchemaChange::DeleteKey { table: name, key }],
                Made::Nothing,
            )
        }
        _ => return Err(not_supported(method)),
    })
}

/// Dataverse's metadata privileges: tables, keys and many-to-many
/// relationships (their intersect tables) are `Entity` (`prvCreateEntity`,
/// `prvWriteEntity`, `prvDeleteEntity`), columns and lookups `Attribute`.
fn authorize(caller: &Caller, changes: &[SchemaChange]) -> ApiResult<()> {
    for change in changes {
        let (entity, privilege) = match change {
            SchemaChange::CreateTable { .. } => ("Entity", Privilege::Create),
            SchemaChange::DeleteTable(_) => ("Entity", Privilege::Delete),
            SchemaChange::UpdateTable { .. }
            | SchemaChange::AddKey { .. }
            | SchemaChange::DeleteKey { .. } => ("Entity", Privilege::Write),
            // A many-to-many relationship makes (and drops) its intersect table.
            SchemaChange::CreateManyToMany(_) => ("Entity", Privilege::Create),
            SchemaChange::DeleteManyToMany(_) => ("Entity", Privilege::Delete),
            SchemaChange::AddColumn { .. } => ("Attribute", Privilege::Create),
            SchemaChange::UpdateColumn { .. } => ("Attribute", Privilege::Write),
            SchemaChange::DeleteColumn { .. } => ("Attribute", Privilege::Delete),
        };
        caller.grants.check_metadata(entity, privilege)?;
    }
    Ok(())
}

fn not_supported(method: &Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        codes::UNSUPPORTED,
        format!(
            "{method} is not supported on this table definition: herald creates, relabels (PUT) and deletes tables (EntityDefinitions, CreateEntities), columns (…/Attributes, also PUT/PATCH), lookups (RelationshipDefinitions) and alternate keys (…/Keys)"
        ),
    )
}

/// What a write made, for its `OData-EntityId`.
enum Made {
    Nothing,
    Table(String),
    Attribute(String, String),
    Relationship(String, String),
    /// A many-to-many relationship, by schema name.
    ManyToMany(String),
    Key(String, String),
}

impl Made {
    fn answer(self, base: &str, schema: &Schema) -> Response {
        let table = |name: &str| schema.table(name);
        let id =
            match &self {
                Made::Nothing => None,
                Made::Table(t) => {
                    table(t).map(|t| format!("EntityDefinitions({})", entity::metadata_id(t)))
                }
                Made::Attribute(t, c) => table(t).and_then(|t| {
                    t.column(c).map(|c| {
                        format!(
                            "EntityDefinitions({})/Attributes({})",
                            entity::metadata_id(t),
                            attribute::metadata_id(t, c)
                        )
                    })
                }),
                Made::Relationship(t, c) => relationship::describe_all(schema)
                    .into_iter()
                    .find(|d| d.relationship.many_table == *t && d.relationship.lookup_column == *c)
                    .map(|d| format!("RelationshipDefinitions({})", d.metadata_id())),
                Made::ManyToMany(name) => schema
                    .many_to_many()
                    .find(|m| &m.schema_name == name)
                    .map(|m| {
                        format!(
                            "RelationshipDefinitions({})",
                            relationship::many_to_many_id(m)
                        )
                    }),
                Made::Key(t, k) => table(t).and_then(|t| {
                    t.details
                        .keys
                        .iter()
                        .find(|key| &key.logical_name == k)
                        .map(|key| {
                            format!(
                                "EntityDefinitions({})/Keys({})",
                                entity::metadata_id(t),
                                keys::metadata_id(t, key)
                            )
                        })
                }),
            };
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert("OData-Version", HeaderValue::from_static("4.0"));
        if let Some(v) = id.and_then(|id| HeaderValue::from_str(&format!("{base}{id}")).ok()) {
            r.headers_mut().insert("OData-EntityId", v);
        }
        r
    }
}
