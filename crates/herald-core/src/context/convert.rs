//! From herald's schema and typed [`Value`]s to context attribute values
//! and entities: lookups become `EntityReference`s to their target table,
//! choices `OptionSetValue`s, money `Money`, and so on.

use uuid::Uuid;

use super::value::{AttributeValue, Entity, EntityReference};
use crate::schema::{Column, ColumnType, Table};
use crate::value::Value;

/// The context form of one column value. A value that does not match the
/// column's type (which the Web API never lets through) falls back to the
/// plain shape of the value itself.
pub fn attribute_value(col: &Column, value: &Value) -> AttributeValue {
    match (&col.ty, value) {
        (_, Value::Null) => AttributeValue::Null,
        (ColumnType::Lookup { target }, Value::Guid(id)) => {
            AttributeValue::EntityReference(EntityReference::new(target, *id))
        }
        (ColumnType::Choice { .. }, Value::Int(v)) => AttributeValue::OptionSetValue(*v),
        (ColumnType::Money, Value::Decimal(d)) => AttributeValue::Money(*d),
        (ColumnType::Money, Value::Int(i)) => AttributeValue::Money(*i as f64),
        (ColumnType::Decimal, Value::Int(i)) => AttributeValue::Decimal(*i as f64),
        _ => plain(value),
    }
}

/// The shape a value has without column information.
fn plain(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null,
        Value::String(s) => AttributeValue::String(s.clone()),
        Value::Int(i) => AttributeValue::Int(*i),
        Value::Decimal(d) => AttributeValue::Decimal(*d),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::DateTime(t) => AttributeValue::DateTime(*t),
        Value::Guid(g) => AttributeValue::Guid(*g),
    }
}

/// An entity of `table` with the given column values, in the given order
/// (e.g. a `Target`). Names that are not columns of the table keep their
/// value's plain shape (so `modifiedonbehalfby: null` can be reproduced);
/// write-only columns (`authvalue`) are left out so secrets never leave.
/// `FormattedValues` stays empty, as for a `Target`.
pub fn entity_from_values(table: &Table, id: Uuid, values: &[(String, Value)]) -> Entity {
    let mut entity = Entity::new(&table.logical_name, id);
    for (name, value) in values {
        let av = match table.column(name) {
            Some(col) if !col.readable() => continue,
            Some(col) => attribute_value(col, value),
            None => plain(value),
        };
        entity.set(name, av);
    }
    entity
}

/// Like [`entity_from_values`], for a pre/post entity image: additionally
/// fills `FormattedValues` with the label of each non-null choice value.
pub fn image_from_values(table: &Table, id: Uuid, values: &[(String, Value)]) -> Entity {
    let mut entity = entity_from_values(table, id, values);
    for (name, value) in values {
        if let (Some(col), Value::Int(v)) = (table.column(name), value) {
            if let ColumnType::Choice { options } = &col.ty {
                if let Some((_, label)) = options.iter().find(|(o, _)| o == v) {
                    entity.formatted_values.push((name.clone(), label.clone()));
                }
            }
        }
    }
    entity
}
