//! The tables a query's SQL can name (the primary table and its links, by
//! alias) and how a column of one is written as an operand: resolved to its
//! SQL alias and, for text, [`fold`]ed, with the bound value folded the same
//! way. Shared by `select` (outputs, orderings) and `condition` (WHERE).

use herald_core::query::ColumnRef;
use herald_core::schema::Column;
use herald_core::{Schema, Table, Value};

use super::{fold, folds, ident, Param};
use crate::dialect::Dialect;
use crate::error::StoreError;

pub(super) struct Scope<'a> {
    pub(super) dialect: Dialect,
    pub(super) schema: &'a Schema,
    /// (alias, sql alias, table) for the primary table (alias None) and links.
    pub(super) tables: Vec<(Option<String>, String, &'a Table)>,
}

impl<'a> Scope<'a> {
    pub(super) fn resolve(&self, col: &ColumnRef) -> Result<(String, &'a Column), StoreError> {
        let (_, sql_alias, table) = self
            .tables
            .iter()
            .find(|(a, _, _)| a.as_deref() == col.alias.as_deref())
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unknown link alias '{}'",
                    col.alias.as_deref().unwrap_or("")
                ))
            })?;
        let column = table.column(&col.column).ok_or_else(|| {
            StoreError::Invalid(format!(
                "table '{}' has no column '{}'",
                table.logical_name, col.column
            ))
        })?;
        Ok((format!("{}.{}", sql_alias, ident(&column.name)), column))
    }

    /// The expression a comparison or an ordering uses for a column: its
    /// [`fold`] for string and memo columns, the column itself otherwise.
    pub(super) fn operand(&self, expr: &str, column: &Column) -> String {
        if folds(column) {
            fold(self.dialect, expr)
        } else {
            expr.to_string()
        }
    }
}

/// A value bound for comparison with [`Scope::operand`] of `column`.
pub(super) fn operand_param(column: &Column, value: &Value) -> Param {
    let p = Param::encode(column.ty.storage(), value);
    if folds(column) {
        p.folded()
    } else {
        p
    }
}
