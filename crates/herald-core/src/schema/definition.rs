//! Table definitions made through the metadata API, and how they change
//! the schema.
//!
//! The store keeps one [`TableDefinition`] per table that the API touched:
//! a table it created ([`NewTable`]), plus the columns and alternate keys
//! added to any table (built in, from `[[tables]]`, or created). The
//! schema herald serves is the base (built-in and config tables) with
//! every definition applied ([`Definitions::schema`]); a change
//! ([`SchemaChange`]) is checked against the schema it changes
//! ([`Definitions::apply`]) and the result rebuilt, so a change the schema
//! cannot take (a lookup to a missing table, a name taken) never reaches
//! the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::column::{Column, ColumnType};
use super::many_to_many::ManyToManyDefinition;
use super::table::{add_system_columns, AlternateKey, Table, TableDetails, TableKind, TableOrigin};
use super::Schema;
use crate::error::SchemaError;

/// A table created through the API: what `POST EntityDefinitions` gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTable {
    pub schema_name: String,
    pub entity_set: String,
    pub primary_id: String,
    pub primary_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub display_collection_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `OwnershipType: UserOwned`: the table gets an owner and a
    /// state/status pair (Assign, SetState), as a Dataverse table does.
    pub user_owned: bool,
    pub object_type_code: i64,
}

/// A column added through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    pub logical_name: String,
    pub schema_name: String,
    pub ty: ColumnType,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// For lookups: the navigation property and the relationship's name.
    #[serde(default)]
    pub navigation: Option<String>,
    #[serde(default)]
    pub relationship: Option<String>,
}

impl ColumnDefinition {
    /// The definition a column has (for changing it).
    pub fn of(column: &Column) -> ColumnDefinition {
        ColumnDefinition {
            logical_name: column.name.clone(),
            schema_name: column
                .schema_name
                .clone()
                .unwrap_or_else(|| column.name.clone()),
            ty: column.ty.clone(),
            display_name: column.label.clone(),
            required: column.required,
            navigation: column.navigation.clone(),
            relationship: column.relationship.clone(),
        }
    }

    pub fn to_column(&self) -> Column {
        let mut c = Column::new(&self.logical_name, self.ty.clone());
        c.required = self.required;
        c.navigation = self.navigation.clone();
        c.relationship = self.relationship.clone();
        c.schema_name = Some(self.schema_name.clone());
        c.label = self.display_name.clone();
        c.custom = true;
        c
    }
}

/// What the API made of one table (see the module doc).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDefinition {
    pub logical_name: String,
    /// Present when the table itself was created through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<NewTable>,
    #[serde(default)]
    pub columns: Vec<ColumnDefinition>,
    #[serde(default)]
    pub keys: Vec<AlternateKey>,
    /// Present when the table is the intersect of a many-to-many
    /// relationship created through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub many_to_many: Option<ManyToManyDefinition>,
}

impl TableDefinition {
    fn empty(logical_name: &str) -> TableDefinition {
        TableDefinition {
            logical_name: logical_name.to_string(),
            table: None,
            columns: Vec::new(),
            keys: Vec::new(),
            many_to_many: None,
        }
    }

    /// The table a created definition describes: its primary key, its
    /// columns, then the system columns.
    fn created_table(&self, new: &NewTable) -> Table {
        let mut columns = vec![Column::new(&new.primary_id, ColumnType::UniqueIdentifier)];
        columns.extend(self.columns.iter().map(ColumnDefinition::to_column));
        add_system_columns(&mut columns, &self.logical_name, new.user_owned);
        Table {
            logical_name: self.logical_name.clone(),
            entity_set: new.entity_set.clone(),
            primary_id: new.primary_id.clone(),
            primary_name: new.primary_name.clone(),
            kind: TableKind::Data,
            columns,
            object_type_code: new.object_type_code,
            details: TableDetails {
                origin: TableOrigin::Api,
                schema_name: Some(new.schema_name.clone()),
                display_name: new.display_name.clone(),
                display_collection_name: new.display_collection_name.clone(),
                description: new.description.clone(),
                keys: Vec::new(),
                many_to_many: None,
            },
        }
    }
}

/// A table's names for people (`DisplayName`, `DisplayCollectionName`,
/// `Description`): what `PUT EntityDefinitions(...)` changes. `None` is
/// the default herald derives (the description: none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableLabels {
    pub display_name: Option<String>,
    pub display_collection_name: Option<String>,
    pub description: Option<String>,
}

impl TableLabels {
    /// The labels a table has now.
    pub fn of(table: &Table) -> TableLabels {
        TableLabels {
            display_name: table.details.display_name.clone(),
            display_collection_name: table.details.display_collection_name.clone(),
            description: table.details.description.clone(),
        }
    }
}

/// One change to the schema through the metadata API.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaChange {
    CreateTable {
        logical_name: String,
        table: NewTable,
        columns: Vec<ColumnDefinition>,
    },
    DeleteTable(String),
    /// New labels of a table created through the API (its names and
    /// shape stay: those are checked where the request is read).
    UpdateTable {
        table: String,
        labels: TableLabels,
    },
    AddColumn {
        table: String,
        column: ColumnDefinition,
    },
    /// New labels, length or requirement of a column added through the API.
    UpdateColumn {
        table: String,
        column: ColumnDefinition,
    },
    DeleteColumn {
        table: String,
        column: String,
    },
    AddKey {
        table: String,
        key: AlternateKey,
    },
    DeleteKey {
        table: String,
        key: String,
    },
    /// A many-to-many relationship and its intersect table.
    CreateManyToMany(ManyToManyDefinition),
    /// The many-to-many relationship whose intersect table is named so.
    DeleteManyToMany(String),
}

impl SchemaChange {
    /// The table the change is about.
    pub fn table(&self) -> &str {
        match self {
            SchemaChange::CreateTable { logical_name, .. } => logical_name,
            SchemaChange::DeleteTable(t) | SchemaChange::DeleteManyToMany(t) => t,
            SchemaChange::CreateManyToMany(m) => &m.intersect,
            SchemaChange::UpdateTable { table, .. }
            | SchemaChange::AddColumn { table, .. }
            | SchemaChange::UpdateColumn { table, .. }
            | SchemaChange::DeleteColumn { table, .. }
            | SchemaChange::AddKey { table, .. }
            | SchemaChange::DeleteKey { table, .. } => table,
        }
    }
}

/// Why a change cannot be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ChangeError {
    #[error("{0}")]
    NotFound(String),
    /// The name is taken.
    #[error("{0}")]
    Duplicate(String),
    /// Built-in or declared in the config: not the API's to change.
    #[error("{0}")]
    NotCustom(String),
    /// Something still depends on it (a lookup, a key, a step).
    #[error("{0}")]
    InUse(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<SchemaError> for ChangeError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::Invalid(m) => ChangeError::Invalid(m),
        }
    }
}

/// Every stored definition, by table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Definitions {
    pub tables: BTreeMap<String, TableDefinition>,
}

/// Object type codes of tables created through the API start here (those
/// of `[[tables]]` start at 10 000).
const FIRST_CREATED_TABLE_CODE: i64 = 20_000;

impl Definitions {
    pub fn from_list(list: Vec<TableDefinition>) -> Definitions {
        Definitions {
            tables: list
                .into_iter()
                .map(|d| (d.logical_name.clone(), d))
                .collect(),
        }
    }

    /// The schema herald serves: `base` with every definition applied.
    pub fn schema(&self, base: &Schema) -> Result<Schema, SchemaError> {
        let mut tables: Vec<Table> = base.tables().cloned().collect();
        for def in self.tables.values() {
            if let Some(new) = &def.table {
                tables.push(def.created_table(new));
            }
            if let Some(m) = &def.many_to_many {
                tables.push(m.intersect_table());
            }
        }
        for def in self.tables.values() {
            let Some(table) = tables
                .iter_mut()
                .find(|t| t.logical_name == def.logical_name)
            else {
                return Err(SchemaError::Invalid(format!(
                    "columns were added to table '{}', which no longer exists",
                    def.logical_name
                )));
            };
            if def.table.is_none() {
                for c in &def.columns {
                    if table.column(&c.logical_name).is_some() {
                        return Err(SchemaError::Invalid(format!(
                            "table '{}' declares column '{}' itself now; remove the one added through the API",
                            def.logical_name, c.logical_name
                        )));
                    }
                    table.columns.push(c.to_column());
                }
            }
            table.details.keys = def.keys.clone();
        }
        Schema::from_tables(tables)
    }

    /// The object type code for the next created table.
    pub fn next_object_type_code(&self) -> i64 {
        self.tables
            .values()
            .filter_map(|d| {
                d.table
                    .as_ref()
                    .map(|t| t.object_type_code)
                    .or(d.many_to_many.as_ref().map(|m| m.object_type_code))
                    .map(|code| code + 1)
            })
            .max()
            .unwrap_or(FIRST_CREATED_TABLE_CODE)
            .max(FIRST_CREATED_TABLE_CODE)
    }

    /// Make `change` to these definitions, checked against `schema` (the
    /// schema they currently make), and return the schema after it.
    pub fn apply(
        &mut self,
        base: &Schema,
        schema: &Schema,
        change: &SchemaChange,
    ) -> Result<Schema, ChangeError> {
        match change {
            SchemaChange::CreateTable {
                logical_name,
                table,
                columns,
            } => {
                if schema.table(logical_name).is_some() {
                    return Err(ChangeError::Duplicate(format!(
                        "A table with the name '{logical_name}' already exists"
                    )));
                }
                if let Some(other) = schema.table_by_set(&table.entity_set) {
                    return Err(ChangeError::Duplicate(format!(
                        "The entity set name '{}' is already used by table '{}'",
                        table.entity_set, other.logical_name
                    )));
                }
                // Codes are handed out here, under the schema lock, so
                // two tables never share one.
                let mut table = table.clone();
                table.object_type_code = self.next_object_type_code();
                let mut def = TableDefinition::empty(logical_name);
                def.columns = columns.clone();
                check_distinct_columns(&def.created_table(&table))?;
                def.table = Some(table);
                self.tables.insert(logical_name.clone(), def);
            }
            SchemaChange::DeleteTable(name) => {
                let table = custom_table(schema, name, "deleted")?;
                if let Some((t, c)) = lookups_to(schema, name).into_iter().next() {
                    return Err(ChangeError::InUse(format!(
                        "The table '{name}' cannot be deleted: the lookup column '{t}.{c}' points at it (delete that column or its relationship first)"
                    )));
                }
                if let Some(m) = schema.many_to_many().find(|m| m.links(name)) {
                    return Err(ChangeError::InUse(format!(
                        "The table '{name}' cannot be deleted: the many-to-many relationship '{}' links it (delete the relationship first)",
                        m.schema_name
                    )));
                }
                debug_assert_eq!(table.logical_name, *name);
                self.tables.remove(name);
            }
            SchemaChange::UpdateTable { table, labels } => {
                custom_table(schema, table, "changed")?;
                let new = self
                    .tables
                    .get_mut(table)
                    .and_then(|d| d.table.as_mut())
                    .ok_or_else(|| {
                        ChangeError::NotFound(format!(
                            "Could not find an entity with name '{table}'"
                        ))
                    })?;
                new.display_name = labels.display_name.clone();
                new.display_collection_name = labels.display_collection_name.clone();
                new.description = labels.description.clone();
            }
            SchemaChange::AddColumn { table, column } => {
                let t = existing_table(schema, table)?;
                if t.kind != TableKind::Data {
                    return Err(ChangeError::NotCustom(format!(
                        "Columns can be added to business tables only; '{table}' is one of herald's registration or system tables"
                    )));
                }
                if t.column(&column.logical_name).is_some() {
                    return Err(ChangeError::Duplicate(format!(
                        "An attribute with the name '{}' already exists on table '{table}'",
                        column.logical_name
                    )));
                }
                if let Some(name) = &column.relationship {
                    if schema.relationships().iter().any(|r| &r.name == name) {
                        return Err(ChangeError::Duplicate(format!(
                            "A relationship with the name '{name}' already exists"
                        )));
                    }
                }
                if let Some(target) = column.ty.lookup_target() {
                    if schema.table(target).is_none() {
                        return Err(ChangeError::NotFound(format!(
                            "Could not find an entity with name '{target}' (the lookup's target)"
                        )));
                    }
                }
                self.entry(table).columns.push(column.clone());
            }
            SchemaChange::UpdateColumn { table, column } => {
                existing_table(schema, table)?;
                let def = self
                    .tables
                    .get_mut(table)
                    .and_then(|d| {
                        d.columns
                            .iter_mut()
                            .find(|c| c.logical_name == column.logical_name)
                    })
                    .ok_or_else(|| not_custom_column(schema, table, &column.logical_name))?;
                if std::mem::discriminant(&def.ty) != std::mem::discriminant(&column.ty) {
                    return Err(ChangeError::Invalid(format!(
                        "The type of attribute '{}' cannot be changed (it is {})",
                        column.logical_name,
                        def.ty.name()
                    )));
                }
                *def = column.clone();
            }
            SchemaChange::DeleteColumn { table, column } => {
                let t = existing_table(schema, table)?;
                let is_stored = self
                    .tables
                    .get(table)
                    .is_some_and(|d| d.columns.iter().any(|c| &c.logical_name == column));
                if !is_stored {
                    return Err(not_custom_column(schema, table, column));
                }
                if t.primary_name.as_deref() == Some(column.as_str()) {
                    return Err(ChangeError::InUse(format!(
                        "The attribute '{column}' is the primary name of '{table}' and cannot be deleted"
                    )));
                }
                if let Some(k) = t.details.keys.iter().find(|k| k.columns.contains(column)) {
                    return Err(ChangeError::InUse(format!(
                        "The attribute '{column}' is part of the alternate key '{}': delete the key first",
                        k.schema_name
                    )));
                }
                if let Some(def) = self.tables.get_mut(table) {
                    def.columns.retain(|c| &c.logical_name != column);
                }
            }
            SchemaChange::CreateManyToMany(m) => {
                self.check_many_to_many(schema, m)?;
                let mut m = m.clone();
                m.object_type_code = self.next_object_type_code();
                let mut def = TableDefinition::empty(&m.intersect);
                def.many_to_many = Some(m);
                self.tables.insert(def.logical_name.clone(), def);
            }
            SchemaChange::DeleteManyToMany(intersect) => {
                let found = self
                    .tables
                    .get(intersect)
                    .is_some_and(|d| d.many_to_many.is_some());
                if !found {
                    return Err(ChangeError::NotFound(format!(
                        "Could not find a many-to-many relationship with the intersect entity '{intersect}'"
                    )));
                }
                self.tables.remove(intersect);
            }
            SchemaChange::AddKey { table, key } => {
                let t = existing_table(schema, table)?;
                if t.details
                    .keys
                    .iter()
                    .any(|k| k.logical_name == key.logical_name)
                {
                    return Err(ChangeError::Duplicate(format!(
                        "An alternate key with the name '{}' already exists on table '{table}'",
                        key.schema_name
                    )));
                }
                if key.columns.is_empty() {
                    return Err(ChangeError::Invalid(
                        "An alternate key needs at least one attribute (KeyAttributes)".into(),
                    ));
                }
                for name in &key.columns {
                    let c = t.column(name).ok_or_else(|| {
                        ChangeError::NotFound(format!(
                            "Could not find an attribute with LogicalName '{name}' on entity '{table}'"
                        ))
                    })?;
                    if matches!(c.ty, ColumnType::Memo { .. } | ColumnType::Boolean)
                        || !c.readable()
                        || name == &t.primary_id
                    {
                        return Err(ChangeError::Invalid(format!(
                            "The attribute '{name}' ({}) cannot be part of an alternate key: use text, number, date, choice, lookup or unique identifier columns",
                            c.ty.name()
                        )));
                    }
                }
                if t.key_of_columns(&key.columns.iter().map(String::as_str).collect::<Vec<_>>())
                    .is_some()
                {
                    return Err(ChangeError::Duplicate(format!(
                        "Table '{table}' already has an alternate key on these attributes"
                    )));
                }
                let mut keys = t.details.keys.clone();
                keys.push(key.clone());
                self.entry(table).keys = keys;
            }
            SchemaChange::DeleteKey { table, key } => {
                let t = existing_table(schema, table)?;
                if !t.details.keys.iter().any(|k| &k.logical_name == key) {
                    return Err(ChangeError::NotFound(format!(
                        "Could not find an alternate key with LogicalName '{key}' on entity '{table}'"
                    )));
                }
                if let Some(def) = self.tables.get_mut(table) {
                    def.keys.retain(|k| &k.logical_name != key);
                }
            }
        }
        self.tables.retain(|_, d| {
            d.table.is_some()
                || d.many_to_many.is_some()
                || !d.columns.is_empty()
                || !d.keys.is_empty()
        });
        Ok(self.schema(base)?)
    }

    /// A new many-to-many relationship links two business tables, under
    /// names no table, relationship or navigation property has yet.
    fn check_many_to_many(
        &self,
        schema: &Schema,
        m: &ManyToManyDefinition,
    ) -> Result<(), ChangeError> {
        for name in [&m.entity1, &m.entity2] {
            let t = existing_table(schema, name)?;
            if t.kind != TableKind::Data {
                return Err(ChangeError::NotCustom(format!(
                    "Many-to-many relationships link business tables only; '{name}' is one of herald's registration, security or system tables"
                )));
            }
        }
        if schema.table(&m.intersect).is_some() {
            return Err(ChangeError::Duplicate(format!(
                "A table with the name '{}' already exists (IntersectEntityName)",
                m.intersect
            )));
        }
        let set = format!("{}set", m.intersect);
        if let Some(other) = schema.table_by_set(&set) {
            return Err(ChangeError::Duplicate(format!(
                "The entity set name '{set}' is already used by table '{}'",
                other.logical_name
            )));
        }
        let taken = schema
            .relationships()
            .iter()
            .any(|r| r.name == m.schema_name)
            || schema
                .many_to_many()
                .any(|o| o.schema_name.eq_ignore_ascii_case(&m.schema_name));
        if taken {
            return Err(ChangeError::Duplicate(format!(
                "A relationship with the name '{}' already exists",
                m.schema_name
            )));
        }
        if m.entity1 == m.entity2 && m.entity1_navigation == m.entity2_navigation {
            return Err(ChangeError::Invalid(format!(
                "A relationship of '{}' with itself needs two navigation property names (Entity1NavigationPropertyName, Entity2NavigationPropertyName)",
                m.entity1
            )));
        }
        for (table, navigation) in [
            (&m.entity1, &m.entity1_navigation),
            (&m.entity2, &m.entity2_navigation),
        ] {
            let t = existing_table(schema, table)?;
            let used = t.column(navigation).is_some()
                || t.lookup_by_navigation(navigation).is_some()
                || schema.relationship_from(table, navigation).is_some()
                || schema.association(table, navigation).is_some();
            if used {
                return Err(ChangeError::Duplicate(format!(
                    "The navigation property name '{navigation}' is already used on table '{table}'"
                )));
            }
        }
        Ok(())
    }

    fn entry(&mut self, table: &str) -> &mut TableDefinition {
        self.tables
            .entry(table.to_string())
            .or_insert_with(|| TableDefinition::empty(table))
    }
}

impl ColumnType {
    /// The table a lookup points at.
    pub fn lookup_target(&self) -> Option<&str> {
        match self {
            ColumnType::Lookup { target } => Some(target),
            _ => None,
        }
    }
}

/// Lookup columns of other tables that point at `table`: (table, column).
pub fn lookups_to(schema: &Schema, table: &str) -> Vec<(String, String)> {
    schema
        .tables()
        .filter(|t| t.logical_name != table)
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.lookup_target() == Some(table))
                .map(|c| (t.logical_name.clone(), c.name.clone()))
        })
        .collect()
}

fn existing_table<'a>(schema: &'a Schema, name: &str) -> Result<&'a Table, ChangeError> {
    schema.table(name).ok_or_else(|| {
        ChangeError::NotFound(format!("Could not find an entity with name '{name}'"))
    })
}

/// A table created through the API, which can be `verb` (`deleted`,
/// `changed`) through it.
fn custom_table<'a>(schema: &'a Schema, name: &str, verb: &str) -> Result<&'a Table, ChangeError> {
    let t = existing_table(schema, name)?;
    match t.details.origin {
        TableOrigin::Api => Ok(t),
        TableOrigin::BuiltIn => Err(ChangeError::NotCustom(format!(
            "The table '{name}' is a system table and cannot be {verb}: only tables created through EntityDefinitions can"
        ))),
        TableOrigin::Config => Err(ChangeError::NotCustom(format!(
            "The table '{name}' is declared in the [[tables]] section of herald's config and cannot be {verb} here: change it there"
        ))),
    }
}

fn not_custom_column(schema: &Schema, table: &str, column: &str) -> ChangeError {
    match schema.table(table).and_then(|t| t.column(column)) {
        None => ChangeError::NotFound(format!(
            "Could not find an attribute with LogicalName '{column}' on entity '{table}'"
        )),
        Some(_) => ChangeError::NotCustom(format!(
            "The attribute '{table}.{column}' is not a custom attribute added through the Web API: herald's own and [[tables]] columns cannot be changed here"
        )),
    }
}

fn check_distinct_columns(table: &Table) -> Result<(), ChangeError> {
    let mut seen = std::collections::BTreeSet::new();
    for c in &table.columns {
        if !seen.insert(c.name.as_str()) {
            return Err(ChangeError::Duplicate(format!(
                "An attribute with the name '{}' is given twice (or is one herald maintains itself)",
                c.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> ColumnDefinition {
        ColumnDefinition {
            logical_name: name.to_string(),
            schema_name: name.to_string(),
            ty: ColumnType::String { max_length: 100 },
            display_name: None,
            required: false,
            navigation: None,
            relationship: None,
        }
    }

    fn project() -> SchemaChange {
        SchemaChange::CreateTable {
            logical_name: "new_project".into(),
            table: NewTable {
                schema_name: "new_Project".into(),
                entity_set: "new_projects".into(),
                primary_id: "new_projectid".into(),
                primary_name: Some("new_name".into()),
                display_name: Some("Project".into()),
                display_collection_name: Some("Projects".into()),
                description: None,
                user_owned: true,
                object_type_code: 20_000,
            },
            columns: vec![text("new_name")],
        }
    }

    #[test]
    fn creates_extends_and_deletes_tables() {
        let base = Schema::build(&[]).unwrap();
        let mut defs = Definitions::default();
        let schema = defs.apply(&base, &base, &project()).unwrap();
        let t = schema.table("new_project").unwrap();
        assert_eq!(t.details.origin, TableOrigin::Api);
        assert!(t.column("ownerid").is_some());
        assert!(t.column("new_name").is_some_and(|c| c.custom));
        assert!(matches!(
            defs.apply(&base, &schema, &project()),
            Err(ChangeError::Duplicate(_))
        ));
        let lookup = ColumnDefinition {
            ty: ColumnType::Lookup {
                target: "new_project".into(),
            },
            ..text("new_projectid")
        };
        let schema = defs
            .apply(
                &base,
                &schema,
                &SchemaChange::AddColumn {
                    table: "account".into(),
                    column: lookup,
                },
            )
            .unwrap();
        assert!(schema
            .table("account")
            .unwrap()
            .column("new_projectid")
            .is_some());
        assert!(matches!(
            defs.apply(
                &base,
                &schema,
                &SchemaChange::DeleteTable("new_project".into())
            ),
            Err(ChangeError::InUse(_))
        ));
        assert!(matches!(
            defs.apply(&base, &schema, &SchemaChange::DeleteTable("account".into())),
            Err(ChangeError::NotCustom(_))
        ));
        assert!(matches!(
            defs.apply(
                &base,
                &schema,
                &SchemaChange::DeleteColumn {
                    table: "account".into(),
                    column: "name".into()
                }
            ),
            Err(ChangeError::NotCustom(_))
        ));
        let schema = defs
            .apply(
                &base,
                &schema,
                &SchemaChange::DeleteColumn {
                    table: "account".into(),
                    column: "new_projectid".into(),
                },
            )
            .unwrap();
        let schema = defs
            .apply(
                &base,
                &schema,
                &SchemaChange::DeleteTable("new_project".into()),
            )
            .unwrap();
        assert!(schema.table("new_project").is_none());
        assert!(defs.tables.is_empty());
    }

    #[test]
    fn definitions_round_trip_through_json() {
        let base = Schema::build(&[]).unwrap();
        let mut defs = Definitions::default();
        let schema = defs.apply(&base, &base, &project()).unwrap();
        let key = AlternateKey {
            logical_name: "new_namekey".into(),
            schema_name: "new_NameKey".into(),
            display_name: None,
            columns: vec!["new_name".into()],
        };
        defs.apply(
            &base,
            &schema,
            &SchemaChange::AddKey {
                table: "new_project".into(),
                key,
            },
        )
        .unwrap();
        let json: Vec<String> = defs
            .tables
            .values()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect();
        let back = Definitions::from_list(
            json.iter()
                .map(|j| serde_json::from_str(j).unwrap())
                .collect(),
        );
        assert_eq!(back, defs);
        assert_eq!(back.next_object_type_code(), 20_001);
        let schema = back.schema(&base).unwrap();
        assert_eq!(schema.table("new_project").unwrap().details.keys.len(), 1);
    }
}
