//! The metadata API: `EntityDefinitions`, `RelationshipDefinitions` and
//! `GlobalOptionSetDefinitions`, in Dataverse's shapes and names, so that
//! Microsoft's own clients (which resolve every table through
//! `EntityDefinitions` before touching a record) work against herald.
//!
//! Everything here is a pure function of the [`Schema`]: the JSON of each
//! table, column, option set and relationship is built from herald-core's
//! `Table`/`Column` (`entity`, `attribute`, `option_set`, `relationship`),
//! `query` applies `$select`/`$filter`/`$expand` to it, `path` parses the
//! routes. MetadataIds are UUID v5 of names, so every node and every
//! restart agrees on them. Writes (creating tables, columns, lookups and
//! keys) are `write`, which reads bodies with `body` and changes the
//! schema through `crate::tables`.

mod attribute;
mod body;
mod entity;
mod error;
mod key;
mod label;
mod option_set;
mod path;
mod query;
mod relationship;
pub mod write;

use herald_core::schema::{Column, ManyToManyDefinition};
use herald_core::{Schema, Table};
use serde_json::{json, Map, Value as Json};

pub use error::DefinitionError;

use error::DefinitionResult;
use herald_core::schema::AttributeKind;
use path::{Child, ChildKind, Key, Target};
use query::{ExpandItem, Options, Shape};
use relationship::Described;

/// Answer a GET of a metadata `path` (percent-decoded, after
/// `/api/data/v9.x/`) with the request's decoded query `options`. `base`
/// is the service root (`http://host/api/data/v9.2/`), for context URLs.
pub fn read(
    schema: &Schema,
    base: &str,
    path: &str,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    let context = format!("{base}$metadata#");
    match path::parse(path)? {
        Target::Entities { key: None, .. } => {
            let shape = entity::shape();
            let opts = Options::parse(schema, &shape, options)?;
            let items = schema.tables().map(|t| (t, entity::entity_json(t)));
            let value = select_all(&opts, items, |t, item| expand_entity(schema, t, item))?;
            Ok(collection(
                format!("{context}EntityDefinitions{}", opts.context_suffix()),
                value,
            ))
        }
        Target::Entities {
            key: Some(key),
            child: None,
        } => {
            let table = find_table(schema, &key)?;
            let opts = single_options(schema, &entity::shape(), options)?;
            let one = select_one(&opts, table, entity::entity_json(table), |t, item| {
                expand_entity(schema, t, item)
            })?;
            Ok(entity(
                format!(
                    "{context}EntityDefinitions{}/$entity",
                    opts.context_suffix()
                ),
                one,
            ))
        }
        Target::Entities {
            key: Some(key),
            child: Some(child),
        } => {
            let table = find_table(schema, &key)?;
            let under = format!(
                "{context}EntityDefinitions('{}')/{}",
                entity::metadata_id(table),
                child.kind.name()
            );
            read_child(schema, table, &child, under, options)
        }
        Target::Relationships { key, cast } => {
            let cast_path = cast.as_ref().map(|c| format!("/{c}")).unwrap_or_default();
            let under = format!("{context}RelationshipDefinitions{cast_path}");
            let cast_name = cast
                .as_deref()
                .map(|c| c.trim_start_matches(attribute::NAMESPACE));
            match cast_name {
                None => {
                    // Every relationship: one-to-many ones and, when the
                    // options apply to them too, many-to-many ones.
                    if let Some(k) = &key {
                        if let Some(m) = relationship::find_many_to_many(schema, k) {
                            return many_to_many(schema, vec![m], Some(k), under, options);
                        }
                    }
                    let shape = relationship::one_to_many_shape();
                    let all = relationship::describe_all(schema);
                    let mut out = relationships(schema, &shape, all, key.as_ref(), under, options)?;
                    if key.is_none() {
                        if let Ok(opts) =
                            Options::parse(schema, &relationship::many_to_many_shape(), options)
                        {
                            let items = schema
                                .many_to_many()
                                .map(|m| (m, relationship::many_to_many_json(m)));
                            let more = select_all(&opts, items, |_, _| Ok(Json::Null))?;
                            if let Some(list) = out.get_mut("value").and_then(Json::as_array_mut) {
                                list.extend(more.into_iter().map(with_many_to_many_type));
                            }
                        }
                    }
                    Ok(out)
                }
                Some("OneToManyRelationshipMetadata") => {
                    let shape = relationship::one_to_many_shape();
                    let all = relationship::describe_all(schema);
                    relationships(schema, &shape, all, key.as_ref(), under, options)
                }
                Some("ManyToManyRelationshipMetadata") => {
                    let all = schema.many_to_many().collect();
                    many_to_many(schema, all, key.as_ref(), under, options)
                }
                Some(other) => Err(DefinitionError::Unsupported(format!(
                    "'{other}' is not a relationship type (OneToManyRelationshipMetadata, ManyToManyRelationshipMetadata)"
                ))),
            }
        }
        Target::GlobalOptionSets { key, cast } => {
            let cast_name = cast
                .as_deref()
                .map(|c| c.trim_start_matches(attribute::NAMESPACE));
            if let Some(other) = cast_name
                .filter(|c| !matches!(*c, "OptionSetMetadata" | "BooleanOptionSetMetadata"))
            {
                return Err(DefinitionError::Unsupported(format!(
                    "'{other}' is not an option set type (OptionSetMetadata, BooleanOptionSetMetadata)"
                )));
            }
            let opts = Options::parse(schema, &option_set::global_shape(), options)?;
            if let Some(key) = key {
                return Err(DefinitionError::NotFound(format!(
                    "Could not find an option set {}: herald has no global option sets (every choice column has its own: $expand=OptionSet on its attribute)",
                    describe_key(&key)
                )));
            }
            Ok(collection(
                format!(
                    "{context}GlobalOptionSetDefinitions{}",
                    opts.context_suffix()
                ),
                Vec::new(),
            ))
        }
    }
}

/// A collection under one table: its attributes (optionally cast), its
/// relationships, or its (always empty) many-to-many relationships and keys.
fn read_child(
    schema: &Schema,
    table: &Table,
    child: &Child,
    under: String,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    match child.kind {
        ChildKind::Attributes => attributes(schema, table, child, under, options),
        ChildKind::OneToManyRelationships | ChildKind::ManyToOneRelationships => {
            let all = relationship::describe_all(schema)
                .into_iter()
                .filter(|d| match child.kind {
                    ChildKind::OneToManyRelationships => {
                        d.relationship.one_table == table.logical_name
                    }
                    _ => d.relationship.many_table == table.logical_name,
                })
                .collect();
            let shape = relationship::one_to_many_shape();
            relationships(schema, &shape, all, child.key.as_ref(), under, options)
        }
        ChildKind::Keys => keys(schema, table, child, under, options),
        ChildKind::ManyToManyRelationships => {
            let all = schema
                .many_to_many()
                .filter(|m| m.links(&table.logical_name))
                .collect();
            many_to_many(schema, all, child.key.as_ref(), under, options)
        }
    }
}

/// `Keys` and `Keys(<key>)`: the table's alternate keys.
fn keys(
    schema: &Schema,
    table: &Table,
    child: &Child,
    under: String,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    let shape = relationship::key_shape();
    let no_expand = |_: &(), _: &ExpandItem| Ok(Json::Null);
    match &child.key {
        None => {
            let opts = Options::parse(schema, &shape, options)?;
            let items = table
                .details
                .keys
                .iter()
                .map(|k| ((), key::key_json(table, k)));
            let value = select_all(&opts, items, no_expand)?;
            Ok(collection(
                format!("{under}{}", opts.context_suffix()),
                value,
            ))
        }
        Some(k) => {
            let found = table
                .details
                .keys
                .iter()
                .find(|key| match k {
                    Key::Id(id) => key::metadata_id(table, key) == *id,
                    Key::Named { value, .. } => &key.logical_name == value,
                })
                .ok_or_else(|| {
                    DefinitionError::NotFound(format!(
                        "Could not find an alternate key {} on '{}'",
                        describe_key(k),
                        table.logical_name
                    ))
                })?;
            let opts = single_options(schema, &shape, options)?;
            let one = select_one(&opts, (), key::key_json(table, found), no_expand)?;
            Ok(entity(
                format!("{under}{}/$entity", opts.context_suffix()),
                one,
            ))
        }
    }
}

/// `Attributes`, `Attributes(<key>)`, with or without a type cast.
fn attributes(
    schema: &Schema,
    table: &Table,
    child: &Child,
    under: String,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    let kinds = match &child.cast {
        None => None,
        Some(cast) => Some(AttributeKind::from_cast(cast).ok_or_else(|| {
            DefinitionError::Unsupported(format!(
                "'{cast}' is not an attribute type herald has (String, Memo, Integer, BigInt, Decimal, Money, Boolean, DateTime, Lookup, Picklist, State, Status, UniqueIdentifier)"
            ))
        })?),
    };
    let shape = attribute::shape(kinds.as_deref());
    let cast_path = child
        .cast
        .as_ref()
        .map(|c| format!("/{c}"))
        .unwrap_or_default();
    let of_cast = |c: &Column| {
        kinds
            .as_ref()
            .is_none_or(|k| k.contains(&AttributeKind::of(c)))
    };
    let columns = table.columns.iter().enumerate();
    match &child.key {
        None => {
            let opts = Options::parse(schema, &shape, options)?;
            let items = columns
                .filter(|(_, c)| of_cast(c))
                .map(|(i, c)| (c, attribute::attribute_json(table, c, i)));
            let value = select_all(&opts, items, |c, item| {
                expand_attribute(schema, table, c, item)
            })?;
            Ok(collection(
                format!("{under}{cast_path}{}", opts.context_suffix()),
                value,
            ))
        }
        Some(key) => {
            let (position, column) = columns
                .into_iter()
                .find(|(_, c)| match key {
                    Key::Id(id) => attribute::metadata_id(table, c) == *id,
                    Key::Named { property, value } => property == "LogicalName" && &c.name == value,
                })
                .ok_or_else(|| attribute_not_found(table, key))?;
            if !of_cast(column) {
                return Err(DefinitionError::NotFound(format!(
                    "The attribute '{}' of '{}' is a {}, not a {}",
                    column.name,
                    table.logical_name,
                    AttributeKind::of(column).metadata_type(),
                    shape.type_name
                )));
            }
            let opts = single_options(schema, &shape, options)?;
            let one = select_one(
                &opts,
                column,
                attribute::attribute_json(table, column, position),
                |c, item| expand_attribute(schema, table, c, item),
            )?;
            Ok(entity(
                format!("{under}{cast_path}{}/$entity", opts.context_suffix()),
                one,
            ))
        }
    }
}

/// A collection of relationships, or one of them by key.
fn relationships(
    schema: &Schema,
    shape: &Shape,
    all: Vec<Described>,
    key: Option<&Key>,
    under: String,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    let no_expand = |_: &Described, _: &ExpandItem| Ok(Json::Null);
    match key {
        None => {
            let opts = Options::parse(schema, shape, options)?;
            let items = all.into_iter().map(|d| {
                let json = relationship::one_to_many_json(schema, &d);
                (d, json)
            });
            let value = select_all(&opts, items, no_expand)?;
            Ok(collection(
                format!("{under}{}", opts.context_suffix()),
                value,
            ))
        }
        Some(key) => {
            relationship_key(key)?;
            let found = all
                .into_iter()
                .find(|d| match key {
                    Key::Id(id) => d.metadata_id() == *id,
                    Key::Named { value, .. } => &d.schema_name == value,
                })
                .ok_or_else(|| {
                    DefinitionError::NotFound(format!(
                        "Could not find a relationship {}",
                        describe_key(key)
                    ))
                })?;
            let opts = single_options(schema, shape, options)?;
            let json = relationship::one_to_many_json(schema, &found);
            let one = select_one(&opts, found, json, no_expand)?;
            Ok(entity(
                format!("{under}{}/$entity", opts.context_suffix()),
                one,
            ))
        }
    }
}

/// Refuse a relationship key other than MetadataId or SchemaName.
fn relationship_key(key: &Key) -> DefinitionResult<()> {
    match key {
        Key::Named { property, .. } if property != "SchemaName" => Err(DefinitionError::Invalid(
            format!("Relationships are keyed by MetadataId or SchemaName, not '{property}'"),
        )),
        _ => Ok(()),
    }
}

/// Many-to-many relationships, or one of them by key.
fn many_to_many(
    schema: &Schema,
    all: Vec<&ManyToManyDefinition>,
    key: Option<&Key>,
    under: String,
    options: &[(String, String)],
) -> DefinitionResult<Json> {
    let shape = relationship::many_to_many_shape();
    let no_expand = |_: &(), _: &ExpandItem| Ok(Json::Null);
    match key {
        None => {
            let opts = Options::parse(schema, &shape, options)?;
            let items = all
                .into_iter()
                .map(|m| ((), relationship::many_to_many_json(m)));
            let value = select_all(&opts, items, no_expand)?;
            Ok(collection(
                format!("{under}{}", opts.context_suffix()),
                value,
            ))
        }
        Some(key) => {
            relationship_key(key)?;
            let found = all
                .into_iter()
                .find(|m| match key {
                    Key::Id(id) => relationship::many_to_many_id(m) == *id,
                    Key::Named { value, .. } => &m.schema_name == value,
                })
                .ok_or_else(|| {
                    DefinitionError::NotFound(format!(
                        "Could not find a relationship {}",
                        describe_key(key)
                    ))
                })?;
            let opts = single_options(schema, &shape, options)?;
            let one = select_one(&opts, (), relationship::many_to_many_json(found), no_expand)?;
            Ok(with_many_to_many_type(entity(
                format!("{under}{}/$entity", opts.context_suffix()),
                one,
            )))
        }
    }
}

/// A many-to-many relationship in a list of every relationship names its
/// type, as Dataverse's do.
fn with_many_to_many_type(mut json: Json) -> Json {
    if let Json::Object(map) = &mut json {
        map.entry("@odata.type").or_insert_with(|| {
            Json::String(format!(
                "#{}ManyToManyRelationshipMetadata",
                attribute::NAMESPACE
            ))
        });
    }
    json
}

/// What `$expand` on a table leads to: its attributes or relationships,
/// each with its own nested `$select`/`$filter`.
fn expand_entity(schema: &Schema, table: &Table, item: &ExpandItem) -> DefinitionResult<Json> {
    let (shape, objects): (Shape, Vec<Map<String, Json>>) = match item.navigation.as_str() {
        "Attributes" => (
            attribute::shape(None),
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| attribute::attribute_json(table, c, i))
                .collect(),
        ),
        "OneToManyRelationships" | "ManyToOneRelationships" => {
            let one_to_many = item.navigation == "OneToManyRelationships";
            let objects = relationship::describe_all(schema)
                .into_iter()
                .filter(|d| {
                    let side = if one_to_many {
                        &d.relationship.one_table
                    } else {
                        &d.relationship.many_table
                    };
                    *side == table.logical_name
                })
                .map(|d| relationship::one_to_many_json(schema, &d))
                .collect();
            (relationship::one_to_many_shape(), objects)
        }
        "ManyToManyRelationships" => (
            relationship::many_to_many_shape(),
            schema
                .many_to_many()
                .filter(|m| m.links(&table.logical_name))
                .map(relationship::many_to_many_json)
                .collect(),
        ),
        _ => (
            relationship::key_shape(),
            table
                .details
                .keys
                .iter()
                .map(|k| key::key_json(table, k))
                .collect(),
        ),
    };
    // Nested levels have no navigation properties of their own to expand.
    let opts = Options::parse(schema, &shape, &item.options)?;
    let items = objects.into_iter().map(|json| ((), json));
    let value = select_all(&opts, items, |_, _| Ok(Json::Null))?;
    Ok(Json::Array(value))
}

/// What `$expand` on a cast attribute leads to: `OptionSet` (its own
/// options) or `GlobalOptionSet` (always null: herald has none).
fn expand_attribute(
    schema: &Schema,
    table: &Table,
    column: &Column,
    item: &ExpandItem,
) -> DefinitionResult<Json> {
    let kind = AttributeKind::of(column);
    let opts = single_options(schema, &option_set::shape(kind), &item.options)?;
    if item.navigation == "GlobalOptionSet" {
        return Ok(Json::Null);
    }
    Ok(match option_set::option_set_json(table, column) {
        Some(set) => Json::Object(opts.project(set)),
        None => Json::Null,
    })
}

/// Options of a request for one object: `$filter` makes no sense there.
fn single_options(
    schema: &Schema,
    shape: &Shape,
    options: &[(String, String)],
) -> DefinitionResult<Options> {
    let opts = Options::parse(schema, shape, options)?;
    if opts.filter.is_some() {
        return Err(DefinitionError::Invalid(
            "$filter applies to collections, not to a single definition".into(),
        ));
    }
    Ok(opts)
}

/// Filter, project and expand a collection.
fn select_all<T>(
    opts: &Options,
    items: impl IntoIterator<Item = (T, Map<String, Json>)>,
    expand: impl Fn(&T, &ExpandItem) -> DefinitionResult<Json>,
) -> DefinitionResult<Vec<Json>> {
    items
        .into_iter()
        .filter(|(_, json)| opts.matches(json))
        .map(|(item, json)| select_one(opts, item, json, &expand))
        .collect()
}

fn select_one<T>(
    opts: &Options,
    item: T,
    json: Map<String, Json>,
    expand: impl Fn(&T, &ExpandItem) -> DefinitionResult<Json>,
) -> DefinitionResult<Json> {
    let mut out = opts.project(json);
    for e in &opts.expand {
        out.insert(e.navigation.clone(), expand(&item, e)?);
    }
    Ok(Json::Object(out))
}

fn collection(context: String, value: Vec<Json>) -> Json {
    json!({"@odata.context": context, "value": value})
}

fn entity(context: String, body: Json) -> Json {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Json::String(context));
    if let Json::Object(map) = body {
        out.extend(map);
    }
    Json::Object(out)
}

pub(super) fn find_table<'a>(schema: &'a Schema, key: &Key) -> DefinitionResult<&'a Table> {
    match key {
        Key::Id(id) => schema.tables().find(|t| entity::metadata_id(t) == *id),
        Key::Named { property, value } if property == "LogicalName" => schema.table(value),
        Key::Named { property, .. } => {
            return Err(DefinitionError::Invalid(format!(
                "EntityDefinitions is keyed by MetadataId or LogicalName, not '{property}'"
            )))
        }
    }
    .ok_or_else(|| match key {
        Key::Named { value, .. } => {
            DefinitionError::NotFound(format!("Could not find an entity with name '{value}'"))
        }
        Key::Id(id) => {
            DefinitionError::NotFound(format!("Could not find an entity with MetadataId '{id}'"))
        }
    })
}

pub(super) fn attribute_not_found(table: &Table, key: &Key) -> DefinitionError {
    match key {
        Key::Named { property, .. } if property != "LogicalName" => DefinitionError::Invalid(
            format!("Attributes are keyed by MetadataId or LogicalName, not '{property}'"),
        ),
        _ => DefinitionError::NotFound(format!(
            "Could not find an attribute {} on entity '{}'",
            describe_key(key),
            table.logical_name
        )),
    }
}

pub(super) fn describe_key(key: &Key) -> String {
    match key {
        Key::Id(id) => format!("with MetadataId '{id}'"),
        Key::Named { property, value } => format!("with {property} '{value}'"),
    }
}

#[cfg(test)]
mod tests;
