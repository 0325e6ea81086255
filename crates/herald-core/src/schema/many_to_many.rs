//! Many-to-many relationships made through the metadata API
//! (`ManyToManyRelationshipMetadata`): [`ManyToManyDefinition`], what
//! `POST RelationshipDefinitions` gave, and the intersect table that holds
//! its links, made as Dataverse makes it — one row per linked pair, its
//! two columns named after the tables' primary keys
//! (`<table>idone`/`<table>idtwo` when a table is linked to itself).
//!
//! The same relationship is seen from both tables as a collection-valued
//! navigation property ([`Association`]); the security tables' own
//! many-to-many relationships (`systemuserroles_association`, …) are seen
//! the same way, so `$ref`, `$expand` and the Associate/Disassociate
//! messages treat them alike.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::column::{Column, ColumnType};
use super::table::{add_system_columns, Table, TableDetails, TableKind, TableOrigin};

/// A custom many-to-many relationship (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManyToManyDefinition {
    /// The relationship's `SchemaName` (`new_project_contact`).
    pub schema_name: String,
    /// The intersect table's logical name (`IntersectEntityName`, lower-cased).
    pub intersect: String,
    pub entity1: String,
    pub entity2: String,
    /// The intersect's columns that hold entity1's and entity2's ids.
    pub entity1_attribute: String,
    pub entity2_attribute: String,
    /// The collection-valued navigation property on entity1 (to entity2
    /// rows) and on entity2 (to entity1 rows).
    pub entity1_navigation: String,
    pub entity2_navigation: String,
    pub object_type_code: i64,
}

impl ManyToManyDefinition {
    /// The intersect's columns for tables whose primary keys are
    /// `primary1` and `primary2`, as Dataverse names them.
    pub fn intersect_attributes(primary1: &str, primary2: &str) -> (String, String) {
        if primary1 == primary2 {
            (format!("{primary1}one"), format!("{primary2}two"))
        } else {
            (primary1.to_string(), primary2.to_string())
        }
    }

    /// The intersect table: its primary key and the two id columns.
    pub fn intersect_table(&self) -> Table {
        let primary_id = format!("{}id", self.intersect);
        let id = |name: &str| {
            let mut c = Column::new(name, ColumnType::UniqueIdentifier);
            c.required = true;
            c
        };
        let mut columns = vec![
            Column::new(&primary_id, ColumnType::UniqueIdentifier),
            id(&self.entity1_attribute),
            id(&self.entity2_attribute),
        ];
        // Who linked the rows and when, as every herald table has.
        add_system_columns(&mut columns, &self.intersect, false);
        Table {
            logical_name: self.intersect.clone(),
            entity_set: format!("{}set", self.intersect),
            primary_id: primary_id.clone(),
            primary_name: None,
            kind: TableKind::Intersect,
            columns,
            object_type_code: self.object_type_code,
            details: TableDetails {
                origin: TableOrigin::Api,
                schema_name: Some(self.intersect.clone()),
                many_to_many: Some(self.clone()),
                ..TableDetails::default()
            },
        }
    }

    /// The relationship seen from `table` through `navigation`.
    pub fn seen_from(&self, table: &str, navigation: &str) -> Option<Association> {
        let side = |first: bool| Association {
            name: self.schema_name.clone(),
            intersect: self.intersect.clone(),
            this_column: if first {
                self.entity1_attribute.clone()
            } else {
                self.entity2_attribute.clone()
            },
            other_table: if first {
                self.entity2.clone()
            } else {
                self.entity1.clone()
            },
            other_column: if first {
                self.entity2_attribute.clone()
            } else {
                self.entity1_attribute.clone()
            },
            this_is_first: first,
        };
        if self.entity1 == table && self.entity1_navigation == navigation {
            Some(side(true))
        } else if self.entity2 == table && self.entity2_navigation == navigation {
            Some(side(false))
        } else {
            None
        }
    }

    /// Whether `table` is one of the two linked tables.
    pub fn links(&self, table: &str) -> bool {
        self.entity1 == table || self.entity2 == table
    }
}

/// One side of a many-to-many relationship, seen from the table its
/// navigation property is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    /// The relationship's name.
    pub name: String,
    pub intersect: String,
    /// The intersect's column that points at this table's row.
    pub this_column: String,
    /// The table at the other end, and the intersect's column to it.
    pub other_table: String,
    pub other_column: String,
    /// Whether this side is the relationship's first table (entity1).
    pub this_is_first: bool,
}

impl Association {
    /// The intersect row linking `this` (a row of the table it is seen
    /// from) and `other`: one fixed id per pair, so linking twice is a
    /// duplicate and unlinking needs no lookup.
    pub fn intersect_id(&self, this: Uuid, other: Uuid) -> Uuid {
        let (first, second) = if self.this_is_first {
            (this, other)
        } else {
            (other, this)
        };
        match self.intersect.as_str() {
            "systemuserroles" => crate::fixed_ids::user_role_id(first, second),
            "roleprivileges" => crate::fixed_ids::role_privilege_id(first, second),
            name => crate::fixed_ids::fixed_id(name, &format!("{first}:{second}")),
        }
    }
}
