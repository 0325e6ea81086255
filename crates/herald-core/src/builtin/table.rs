//! The constructor of a built-in table: the primary key `<logical>id` comes
//! first, the system columns every table has come last.

use super::columns::guid;
use crate::schema::{add_system_columns, Column, Table, TableKind};

/// A built-in table `logical` (entity set `set`) with object type code
/// `code`; `with_state` adds the owner and state/status columns.
pub(super) fn table(
    logical: &str,
    set: &str,
    primary_name: Option<&str>,
    kind: TableKind,
    code: i64,
    mut columns: Vec<Column>,
    with_state: bool,
) -> Table {
    let primary_id = format!("{logical}id");
    columns.insert(0, guid(&primary_id));
    add_system_columns(&mut columns, logical, with_state);
    Table {
        logical_name: logical.to_string(),
        entity_set: set.to_string(),
        primary_id,
        primary_name: primary_name.map(str::to_string),
        kind,
        columns,
        object_type_code: code,
        details: Default::default(),
    }
}
