//! User tables: [`UserTableConfig`], a table as declared in the TOML config,
//! and its conversion to a [`Table`] with checked names, parsed column
//! types and the system columns.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::column::{parse_column_type, Column, ColumnType};
use super::table::{add_system_columns, Table, TableDetails, TableKind, TableOrigin};
use crate::error::SchemaError;

/// A user table as written in the `[[tables]]` array of the TOML config.
///
/// ```toml
/// [[tables]]
/// logical_name = "new_project"
/// entity_set = "new_projects"          # default: logical_name + "s"
/// primary_name = "new_name"            # default: "<logical_name>name" isn't assumed; optional
/// [tables.columns]
/// new_name = "string(200)"
/// new_budget = "money"
/// new_accountid = "lookup(account)"
/// new_phase = "choice(1:Plan,2:Build,3:Run)"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTableConfig {
    pub logical_name: String,
    pub entity_set: Option<String>,
    pub primary_id: Option<String>,
    pub primary_name: Option<String>,
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

impl UserTableConfig {
    /// The table this declares, with object type code `object_type_code`.
    pub(crate) fn to_table(&self, object_type_code: i64) -> Result<Table, SchemaError> {
        check_identifier(&self.logical_name)?;
        let primary_id = self
            .primary_id
            .clone()
            .unwrap_or_else(|| format!("{}id", self.logical_name));
        check_identifier(&primary_id)?;
        let mut columns = vec![Column::new(&primary_id, ColumnType::UniqueIdentifier)];
        for (name, spec) in &self.columns {
            check_identifier(name)?;
            let ty = parse_column_type(spec).map_err(|e| {
                SchemaError::Invalid(format!(
                    "table '{}', column '{}': {}",
                    self.logical_name, name, e
                ))
            })?;
            columns.push(Column::new(name, ty));
        }
        if let Some(pn) = &self.primary_name {
            if !columns.iter().any(|c| &c.name == pn) {
                return Err(SchemaError::Invalid(format!(
                    "table '{}': primary_name '{}' is not one of its columns",
                    self.logical_name, pn
                )));
            }
        }
        add_system_columns(&mut columns, &self.logical_name, false);
        let mut seen = BTreeSet::new();
        for c in &columns {
            if !seen.insert(c.name.clone()) {
                return Err(SchemaError::Invalid(format!(
                    "table '{}': column '{}' is declared twice (or is server-maintained)",
                    self.logical_name, c.name
                )));
            }
        }
        Ok(Table {
            logical_name: self.logical_name.clone(),
            entity_set: self
                .entity_set
                .clone()
                .unwrap_or_else(|| format!("{}s", self.logical_name)),
            primary_id,
            primary_name: self.primary_name.clone(),
            kind: TableKind::Data,
            columns,
            object_type_code,
            details: TableDetails {
                origin: TableOrigin::Config,
                ..TableDetails::default()
            },
        })
    }
}

fn check_identifier(name: &str) -> Result<(), SchemaError> {
    let ok = !name.is_empty()
        && name.len() <= 50
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(SchemaError::Invalid(format!(
            "'{name}' is not a valid name: use lower-case letters, digits and '_', starting with a letter"
        )))
    }
}
