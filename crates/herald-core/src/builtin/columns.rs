//! The column shorthand the built-in tables are written in: one small
//! constructor per column type (`s("name", 160)`, `lookup("parentaccountid",
//! "account")`, …), so the table lists read like Dataverse's metadata.

use crate::schema::{Column, ColumnType};

pub(super) fn s(name: &str, len: usize) -> Column {
    Column::new(name, ColumnType::String { max_length: len })
}
pub(super) fn memo(name: &str) -> Column {
    Column::new(
        name,
        ColumnType::Memo {
            max_length: 1_048_576,
        },
    )
}
pub(super) fn int(name: &str) -> Column {
    Column::new(name, ColumnType::Integer)
}
pub(super) fn money(name: &str) -> Column {
    Column::new(name, ColumnType::Money)
}
pub(super) fn dec(name: &str) -> Column {
    Column::new(name, ColumnType::Decimal)
}
pub(super) fn boolean(name: &str) -> Column {
    Column::new(name, ColumnType::Boolean)
}
pub(super) fn dt(name: &str) -> Column {
    Column::new(name, ColumnType::DateTime)
}
pub(super) fn guid(name: &str) -> Column {
    Column::new(name, ColumnType::UniqueIdentifier)
}
pub(super) fn lookup(name: &str, target: &str) -> Column {
    Column::new(
        name,
        ColumnType::Lookup {
            target: target.to_string(),
        },
    )
}
pub(super) fn choice(name: &str, options: &[(i64, &str)]) -> Column {
    Column::new(
        name,
        ColumnType::Choice {
            options: options.iter().map(|(v, l)| (*v, l.to_string())).collect(),
        },
    )
}
