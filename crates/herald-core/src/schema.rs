//! Table and column metadata: the built-in Dataverse-like tables, the system
//! (registration and job) tables, and user tables declared in the TOML config.
//!
//! Everything the Web API, the query translator and the store know about a
//! table comes from here, so a user table behaves exactly like a built-in one.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::SchemaError;

/// The type of a column, as Dataverse names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// Single line of text with a maximum length in characters.
    String {
        max_length: usize,
    },
    /// Multiple lines of text.
    Memo {
        max_length: usize,
    },
    Integer,
    Decimal,
    Money,
    Boolean,
    DateTime,
    UniqueIdentifier,
    /// Reference to a row of another table (by logical name).
    Lookup {
        target: String,
    },
    /// Option set: an integer among the declared options.
    Choice {
        options: Vec<(i64, String)>,
    },
}

impl ColumnType {
    pub fn name(&self) -> &'static str {
        match self {
            ColumnType::String { .. } => "string",
            ColumnType::Memo { .. } => "memo",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Money => "money",
            ColumnType::Boolean => "boolean",
            ColumnType::DateTime => "datetime",
            ColumnType::UniqueIdentifier => "uniqueidentifier",
            ColumnType::Lookup { .. } => "lookup",
            ColumnType::Choice { .. } => "choice",
        }
    }

    /// The storage class used by both SQL backends.
    pub fn storage(&self) -> Storage {
        match self {
            ColumnType::String { .. } | ColumnType::Memo { .. } => Storage::Text,
            ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => Storage::Text,
            ColumnType::Integer | ColumnType::Choice { .. } => Storage::Integer,
            ColumnType::DateTime => Storage::Integer,
            ColumnType::Decimal | ColumnType::Money => Storage::Real,
            ColumnType::Boolean => Storage::Boolean,
        }
    }
}

/// How a value is kept in SQL. Datetimes are milliseconds since the Unix
/// epoch (UTC) so that ordering and comparison agree on both stores; GUIDs
/// are lower-case hyphenated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Text,
    Integer,
    Real,
    Boolean,
}

/// Who may write a column through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Maintained by the server (createdon, versionnumber, computed names…).
    ReadOnly,
    /// Can be written but never read, selected or filtered (authvalue).
    WriteOnly,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub access: Access,
    /// For lookups: the single-valued navigation property used with
    /// `@odata.bind` and `$expand` (defaults to the column name).
    pub navigation: Option<String>,
    /// For lookups: the name of the one-to-many relationship seen from the
    /// target table (e.g. `contact_customer_accounts`).
    pub relationship: Option<String>,
    pub required: bool,
}

impl Column {
    pub fn new(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_string(),
            ty,
            access: Access::ReadWrite,
            navigation: None,
            relationship: None,
            required: false,
        }
    }

    pub fn read_only(mut self) -> Self {
        self.access = Access::ReadOnly;
        self
    }

    pub fn write_only(mut self) -> Self {
        self.access = Access::WriteOnly;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn nav(mut self, navigation: &str) -> Self {
        self.navigation = Some(navigation.to_string());
        self
    }

    pub fn relationship(mut self, relationship: &str) -> Self {
        self.relationship = Some(relationship.to_string());
        self
    }

    pub fn is_lookup(&self) -> bool {
        matches!(self.ty, ColumnType::Lookup { .. })
    }

    pub fn lookup_target(&self) -> Option<&str> {
        match &self.ty {
            ColumnType::Lookup { target } => Some(target),
            _ => None,
        }
    }

    /// The single-valued navigation property name of a lookup.
    pub fn navigation_name(&self) -> &str {
        self.navigation.as_deref().unwrap_or(&self.name)
    }

    /// `_<name>_value`, the name a lookup is read and filtered under.
    pub fn value_name(&self) -> String {
        format!("_{}_value", self.name)
    }

    pub fn readable(&self) -> bool {
        self.access != Access::WriteOnly
    }
}

/// Whether a table holds business data or herald's own registrations/jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// Business data: its writes are server events.
    Data,
    /// Registration tables (serviceendpoint, steps, images): writable via the
    /// Web API, but not themselves sources of webhook events.
    Registration,
    /// Tables only the server writes (asyncoperation, sdkmessage, …).
    System,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub logical_name: String,
    pub entity_set: String,
    pub primary_id: String,
    pub primary_name: Option<String>,
    pub kind: TableKind,
    pub columns: Vec<Column>,
    /// Object type code (Dataverse's numeric table id) for sdkmessagefilter.
    pub object_type_code: i64,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Resolve the name a client uses for a column: the plain name, or
    /// `_<lookup>_value` for lookups. Write-only columns are invisible.
    pub fn readable_column(&self, property: &str) -> Option<&Column> {
        let col = if let Some(inner) = property
            .strip_prefix('_')
            .and_then(|p| p.strip_suffix("_value"))
        {
            self.column(inner).filter(|c| c.is_lookup())
        } else {
            self.column(property)
                .filter(|c| !c.is_lookup() || c.name == self.primary_id)
        };
        col.filter(|c| c.readable())
    }

    /// Find a lookup column by its navigation property (or its bare name).
    pub fn lookup_by_navigation(&self, nav: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.is_lookup() && (c.navigation_name() == nav || c.name == nav))
    }

    pub fn readable_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.readable())
    }

    pub fn is_event_source(&self) -> bool {
        self.kind == TableKind::Data
    }

    /// Whether a step can be registered for `message` on this table (it has
    /// an `sdkmessagefilter` row): Create, Update and Delete on every data
    /// table, Assign where it has an owner, SetState where it has a state.
    pub fn supports_message(&self, message: &str) -> bool {
        if !self.is_event_source() {
            return false;
        }
        match message {
            "Create" | "Update" | "Delete" => true,
            "Assign" => self.column("ownerid").is_some(),
            "SetState" => self.column("statecode").is_some(),
            _ => false,
        }
    }
}

/// A one-to-many relationship: rows of `many_table` point at `one_table`
/// through the lookup `lookup_column`.
#[derive(Debug, Clone)]
pub struct Relationship {
    pub name: String,
    pub one_table: String,
    pub many_table: String,
    pub lookup_column: String,
}

/// All tables herald serves.
#[derive(Debug, Clone)]
pub struct Schema {
    tables: BTreeMap<String, Table>,
}

impl Schema {
    /// Built-in and system tables plus the user tables of the config.
    pub fn build(user_tables: &[UserTableConfig]) -> Result<Schema, SchemaError> {
        let mut tables = BTreeMap::new();
        for t in crate::builtin::builtin_tables() {
            tables.insert(t.logical_name.clone(), t);
        }
        for (code, cfg) in (10_000..).zip(user_tables) {
            let table = cfg.to_table(code)?;
            if tables.contains_key(&table.logical_name) {
                return Err(SchemaError::Invalid(format!(
                    "table '{}' is already defined",
                    table.logical_name
                )));
            }
            tables.insert(table.logical_name.clone(), table);
        }
        let schema = Schema { tables };
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
    fn to_table(&self, object_type_code: i64) -> Result<Table, SchemaError> {
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
        crate::builtin::add_system_columns(&mut columns, false);
        let mut seen = std::collections::BTreeSet::new();
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

/// Parse a column type as written in the config: `string(100)`, `memo`,
/// `integer`, `decimal`, `money`, `boolean`, `datetime`, `uniqueidentifier`,
/// `lookup(account)`, `choice(1:Red,2:Blue)`.
pub fn parse_column_type(spec: &str) -> Result<ColumnType, String> {
    let spec = spec.trim();
    let (head, arg) = match spec.find('(') {
        Some(i) if spec.ends_with(')') => (&spec[..i], Some(&spec[i + 1..spec.len() - 1])),
        Some(_) => return Err(format!("'{spec}' has an unclosed '('")),
        None => (spec, None),
    };
    let ty = match (head, arg) {
        ("string", None) => ColumnType::String { max_length: 100 },
        ("string", Some(n)) => ColumnType::String {
            max_length: n
                .trim()
                .parse()
                .map_err(|_| format!("'{n}' is not a length"))?,
        },
        ("memo", None) => ColumnType::Memo { max_length: 1_048_576 },
        ("memo", Some(n)) => ColumnType::Memo {
            max_length: n
                .trim()
                .parse()
                .map_err(|_| format!("'{n}' is not a length"))?,
        },
        ("integer", None) => ColumnType::Integer,
        ("decimal", None) => ColumnType::Decimal,
        ("money", None) => ColumnType::Money,
        ("boolean", None) => ColumnType::Boolean,
        ("datetime", None) => ColumnType::DateTime,
        ("uniqueidentifier", None) => ColumnType::UniqueIdentifier,
        ("lookup", Some(t)) => ColumnType::Lookup {
            target: t.trim().to_string(),
        },
        ("choice", Some(opts)) => {
            let mut options = Vec::new();
            for part in opts.split(',') {
                let (v, label) = part
                    .split_once(':')
                    .ok_or_else(|| format!("choice option '{part}' must be value:Label"))?;
                let v: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("choice value '{v}' is not an integer"))?;
                options.push((v, label.trim().to_string()));
            }
            ColumnType::Choice { options }
        }
        _ => {
            return Err(format!(
                "unknown column type '{spec}' (expected string(n), memo, integer, decimal, money, boolean, datetime, uniqueidentifier, lookup(table) or choice(v:Label,…))"
            ))
        }
    };
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_column_types() {
        assert_eq!(
            parse_column_type("string(20)").unwrap(),
            ColumnType::String { max_length: 20 }
        );
        assert_eq!(
            parse_column_type("lookup(account)").unwrap(),
            ColumnType::Lookup {
                target: "account".into()
            }
        );
        assert!(parse_column_type("float").is_err());
        assert!(parse_column_type("string(x)").is_err());
        match parse_column_type("choice(1:Red, 2:Blue)").unwrap() {
            ColumnType::Choice { options } => assert_eq!(options[1], (2, "Blue".to_string())),
            other => panic!("unexpected {other:?}"),
        }
    }

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
    fn builtin_relationships_exist() {
        let schema = Schema::build(&[]).unwrap();
        assert!(schema
            .relationship_from("account", "contact_customer_accounts")
            .is_some());
        assert!(schema
            .relationship_from(
                "serviceendpoint",
                "serviceendpoint_sdkmessageprocessingstep"
            )
            .is_some());
    }
}
