//! Resolving the property names a client writes (`name`,
//! `_parentcustomerid_value`) to the table's columns.

use crate::error::QueryError;
use crate::schema::{Column, Table};

use super::context::Ctx;

/// Resolve a property as read through the Web API (see
/// [`Table::readable_column`]): lookups only as `_<name>_value`, write-only
/// columns invisible. The error names the property, the table and, for a
/// bare lookup name, the name to use instead.
pub(crate) fn resolve_property<'t>(
    table: &'t Table,
    name: &str,
    pos: usize,
    ctx: &Ctx,
) -> Result<&'t Column, QueryError> {
    if let Some(col) = table.readable_column(name) {
        return Ok(col);
    }
    let hint = match table.column(name) {
        Some(c) if c.is_lookup() && c.readable() => {
            format!("; lookup columns are read as '{}'", c.value_name())
        }
        _ if name.contains('/') => "; navigation paths are not supported here".to_string(),
        _ => String::new(),
    };
    Err(ctx.error(
        pos,
        format!(
            "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'{hint}",
            table.logical_name
        ),
    ))
}
