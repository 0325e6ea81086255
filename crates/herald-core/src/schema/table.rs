//! Tables: [`Table`] (a named set of columns with its primary key and kind),
//! [`TableKind`], one-to-many [`Relationship`]s, and the system columns
//! every table gets ([`add_system_columns`]). Built-in and user tables are
//! the same type, so a user table behaves exactly like a built-in one.

use super::column::{Column, ColumnType};

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
    /// The intersect table of a many-to-many relationship made through
    /// the metadata API: written by associating and disassociating rows
    /// (`$ref`), not itself a source of webhook events (its links raise
    /// Associate and Disassociate).
    Intersect,
    /// Security roles and their links to privileges and users: writable
    /// through the Web API by a System Administrator only, not sources of
    /// webhook events.
    Security,
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
    /// Where the table comes from, its names for people and its alternate keys.
    pub details: TableDetails,
}

/// Where a table is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableOrigin {
    /// Shipped with herald (Dataverse's tables, registrations, jobs, Business Central).
    #[default]
    BuiltIn,
    /// A `[[tables]]` entry of the config.
    Config,
    /// Created at run time through the metadata API (`POST EntityDefinitions`).
    Api,
}

/// What the metadata API says about a table beyond its columns.
#[derive(Debug, Clone, Default)]
pub struct TableDetails {
    pub origin: TableOrigin,
    /// The `SchemaName` the table was created with (`new_Project`).
    pub schema_name: Option<String>,
    /// `DisplayName` and `DisplayCollectionName`, when given.
    pub display_name: Option<String>,
    pub display_collection_name: Option<String>,
    /// `Description`, when given.
    pub description: Option<String>,
    /// Alternate keys: rows can be addressed by these columns' values.
    pub keys: Vec<AlternateKey>,
    /// For an intersect table: the many-to-many relationship it holds.
    pub many_to_many: Option<super::many_to_many::ManyToManyDefinition>,
}

/// An alternate key (`EntityKeyMetadata`): columns whose values together
/// identify one row, kept unique by the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlternateKey {
    /// Lower-cased schema name.
    pub logical_name: String,
    pub schema_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Logical names of the key's columns, in key order.
    pub columns: Vec<String>,
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

    /// Whether the table is a user's (declared in `[[tables]]` or created
    /// at run time) rather than one herald ships.
    pub fn is_custom(&self) -> bool {
        self.details.origin != TableOrigin::BuiltIn
    }

    /// The alternate key made of exactly `columns` (in any order).
    pub fn key_of_columns(&self, columns: &[&str]) -> Option<&AlternateKey> {
        self.details.keys.iter().find(|k| {
            k.columns.len() == columns.len()
                && columns.iter().all(|c| k.columns.iter().any(|k| k == c))
        })
    }

    pub fn is_event_source(&self) -> bool {
        self.kind == TableKind::Data
    }

    /// Whether a step can be registered for `message` on this table (it has
    /// an `sdkmessagefilter` row): Create, Update and Delete on every data
    /// table, Assign where it has an owner, SetState where it has a state;
    /// the bulk messages (CreateMultiple, UpdateMultiple, UpsertMultiple)
    /// wherever Create and Update are.
    pub fn supports_message(&self, message: &str) -> bool {
        if !self.is_event_source() {
            return false;
        }
        match message {
            "Create" | "Update" | "Delete" => true,
            "CreateMultiple" | "UpdateMultiple" | "UpsertMultiple" => true,
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

/// The columns every table has, maintained by the server. Business tables
/// also get an owner and a state/status pair (for Assign and SetState).
/// Their relationships are named per table (`lk_<table>_createdby`, as
/// Dataverse names them), so that the one side (systemuser) has one
/// collection per table, not one name shared by all.
pub fn add_system_columns(columns: &mut Vec<Column>, table: &str, with_state: bool) {
    let system_user = || ColumnType::Lookup {
        target: "systemuser".to_string(),
    };
    let choice = |options: [(i64, &str); 2]| ColumnType::Choice {
        options: options.map(|(v, l)| (v, l.to_string())).to_vec(),
    };
    columns.push(Column::new("createdon", ColumnType::DateTime).read_only());
    columns.push(Column::new("modifiedon", ColumnType::DateTime).read_only());
    columns.push(
        Column::new("createdby", system_user())
            .read_only()
            .relationship(&format!("lk_{table}_createdby")),
    );
    columns.push(
        Column::new("modifiedby", system_user())
            .read_only()
            .relationship(&format!("lk_{table}_modifiedby")),
    );
    columns.push(Column::new("versionnumber", ColumnType::Integer).read_only());
    if with_state {
        columns
            .push(Column::new("ownerid", system_user()).relationship(&format!("lk_{table}_owner")));
        columns.push(Column::new(
            "statecode",
            choice([(0, "Active"), (1, "Inactive")]),
        ));
        columns.push(Column::new(
            "statuscode",
            choice([(1, "Active"), (2, "Inactive")]),
        ));
    }
}
