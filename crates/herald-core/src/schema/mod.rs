//! The schema: every table herald serves, indexed by logical name and
//! checked as a whole (distinct entity sets, lookups to known tables).
//!
//! Everything the Web API, the query translator and the store know about a
//! table comes from here. The parts live in their own modules — columns,
//! tables, user tables from the config — and are re-exported here, so
//! `herald_core::schema::Column` and friends name them. Which tables exist
//! is not this module's business: the built-in ones and [`Schema::build`]
//! live in the `builtin` module, which builds on [`Schema::from_tables`];
//! this module imports nothing from there.

pub mod attribute_kind;
mod column;
mod definition;
mod many_to_many;
mod naming;
mod table;
mod user_table;

use std::collections::BTreeMap;

use crate::error::SchemaError;

pub use attribute_kind::{AttributeKind, NAMESPACE};
pub use column::{parse_column_type, Access, Column, ColumnType, Storage};
pub use definition::{
    lookups_to, ChangeError, ColumnDefinition, Definitions, NewTable, SchemaChange,
    TableDefinition, TableLabels,
};
pub use many_to_many::{Association, ManyToManyDefinition};
pub use naming::{check_custom_schema_name, entity_set_name};
pub use table::{
    add_system_columns, AlternateKey, Relationship, Table, TableDetails, TableKind, TableOrigin,
};
pub use user_table::UserTableConfig;

/// All tables herald serves.
#[derive(Debug, Clone)]
pub struct Schema {
    tables: BTreeMap<String, Table>,
}

impl Schema {
    /// Index and check `tables`: logical names and entity sets must be
    /// distinct, and every lookup must target one of the tables.
    pub fn from_tables(tables: Vec<Table>) -> Result<Schema, SchemaError> {
        Schema::from_results(tables.into_iter().map(Ok))
    }

    /// [`Schema::from_tables`] for tables that are still being made (user
    /// tables converted from the config): they are taken in order, and the
    /// first error wins, whether it is in making a table or a name taken
    /// by an earlier one; the whole-schema checks run last.
    pub(crate) fn from_results(
        tables: impl IntoIterator<Item = Result<Table, SchemaError>>,
    ) -> Result<Schema, SchemaError> {
        let mut by_name = BTreeMap::new();
        for table in tables {
            let table = table?;
            if by_name.contains_key(&table.logical_name) {
                return Err(SchemaError::Invalid(format!(
                    "table '{}' is already defined",
                    table.logical_name
                )));
            }
            by_name.insert(table.logical_name.clone(), table);
        }
        let schema = Schema { tables: by_name };
        schema.check()?;
        Ok(schema)
    }

    fn check(&self) -> Result<(), SchemaError> {
        let mut sets = BTreeMap::new();
        for t in self.tables.values() {
            if let Some(other) = sets.insert(t.entity_set.clone(), t.logical_name.clone()) {
                return Err(SchemaError::Invalid(format!(
                    "entity set '{}' is used by both '{}' and '{}'",
                    t.entity_set, other, t.logical_name
                )));
            }
            for c in &t.columns {
                if let Some(target) = c.lookup_target() {
                    if !self.tables.contains_key(target) {
                        return Err(SchemaError::Invalid(format!(
                            "column '{}.{}' looks up unknown table '{}'",
                            t.logical_name, c.name, target
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn table(&self, logical_name: &str) -> Option<&Table> {
        self.tables.get(logical_name)
    }

    pub fn table_by_set(&self, entity_set: &str) -> Option<&Table> {
        self.tables.values().find(|t| t.entity_set == entity_set)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// The one-to-many relationship `name` seen from table `one_table`.
    pub fn relationship_from(&self, one_table: &str, name: &str) -> Option<Relationship> {
        self.relationships()
            .into_iter()
            .find(|r| r.one_table == one_table && r.name == name)
    }

    /// The many-to-many relationships made through the metadata API.
    pub fn many_to_many(&self) -> impl Iterator<Item = &ManyToManyDefinition> {
        self.tables
            .values()
            .filter_map(|t| t.details.many_to_many.as_ref())
    }

    /// The many-to-many navigation `navigation` of `table`, if it is one:
    /// the security tables' own or one made through the metadata API.
    pub fn association(&self, table: &str, navigation: &str) -> Option<Association> {
        crate::security::association(table, navigation).or_else(|| {
            self.many_to_many()
                .find_map(|m| m.seen_from(table, navigation))
        })
    }

    pub fn relationships(&self) -> Vec<Relationship> {
        let mut out = Vec::new();
        for t in self.tables.values() {
            for c in &t.columns {
                if let Some(target) = c.lookup_target() {
                    let name = c
                        .relationship
                        .clone()
                        .unwrap_or_else(|| format!("{}_{}_{}", target, t.logical_name, c.name));
                    out.push(Relationship {
                        name,
                        one_table: target.to_string(),
                        many_table: t.logical_name.clone(),
                        lookup_column: c.name.clone(),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_user_tables_and_rejects_bad_ones() {
        let cfg: UserTableConfig = toml::from_str(
            r#"
            logical_name = "new_project"
            primary_name = "new_name"
            [columns]
            new_name = "string(200)"
            new_accountid = "lookup(account)"
            "#,
        )
        .unwrap();
        let schema = Schema::build(std::slice::from_ref(&cfg)).unwrap();
        let t = schema.table_by_set("new_projects").unwrap();
        assert_eq!(t.primary_id, "new_projectid");
        assert!(t.column("createdon").is_some());
        assert!(t.readable_column("_new_accountid_value").is_some());
        assert!(t.readable_column("new_accountid").is_none());

        let mut bad = cfg.clone();
        bad.columns.insert("x".into(), "lookup(nosuchtable)".into());
        assert!(Schema::build(&[bad]).is_err());
        let mut dup = cfg;
        dup.logical_name = "contact".into();
        dup.entity_set = Some("contacts2".into());
        assert!(Schema::build(&[dup]).is_err());
    }

    #[test]
    fn relationship_names_are_unique_on_each_table() {
        let schema = Schema::build(&[]).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for r in schema.relationships() {
            assert!(
                seen.insert((r.one_table.clone(), r.name.clone())),
                "{} has two relationships named {}",
                r.one_table,
                r.name
            );
        }
        let created = schema
            .relationship_from("systemuser", "lk_account_createdby")
            .unwrap();
        assert_eq!(
            (created.many_table.as_str(), created.lookup_column.as_str()),
            ("account", "createdby")
        );
    }
}
