//! [`AttributeKind`]: Dataverse's attribute type of each column — the one
//! mapping from herald's column types to `AttributeType`, the
//! `…AttributeMetadata` type names and the Edm type a column is read as.
//! `EntityDefinitions` and `$metadata` both use it, so they cannot disagree.

use super::column::{Column, ColumnType};

/// The prefix of every metadata type name in `@odata.type` and in casts.
pub const NAMESPACE: &str = "Microsoft.Dynamics.CRM.";

/// Dataverse's attribute types, as herald's columns map onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    String,
    Memo,
    Integer,
    BigInt,
    Decimal,
    Money,
    Boolean,
    DateTime,
    Lookup,
    Owner,
    Picklist,
    State,
    Status,
    Uniqueidentifier,
}

/// Every kind, for looking up a type-cast segment.
const ALL_KINDS: [AttributeKind; 14] = {
    use AttributeKind::*;
    [
        String,
        Memo,
        Integer,
        BigInt,
        Decimal,
        Money,
        Boolean,
        DateTime,
        Lookup,
        Owner,
        Picklist,
        State,
        Status,
        Uniqueidentifier,
    ]
};

impl AttributeKind {
    pub fn of(column: &Column) -> AttributeKind {
        match (&column.ty, column.name.as_str()) {
            (ColumnType::Lookup { .. }, "ownerid") => AttributeKind::Owner,
            (ColumnType::Choice { .. }, "statecode") => AttributeKind::State,
            (ColumnType::Choice { .. }, "statuscode") => AttributeKind::Status,
            // Dataverse's row version is a BigInt.
            (ColumnType::Integer, "versionnumber") => AttributeKind::BigInt,
            (ColumnType::String { .. }, _) => AttributeKind::String,
            (ColumnType::Memo { .. }, _) => AttributeKind::Memo,
            (ColumnType::Integer, _) => AttributeKind::Integer,
            (ColumnType::Decimal, _) => AttributeKind::Decimal,
            (ColumnType::Money, _) => AttributeKind::Money,
            (ColumnType::Boolean, _) => AttributeKind::Boolean,
            (ColumnType::DateTime, _) => AttributeKind::DateTime,
            (ColumnType::UniqueIdentifier, _) => AttributeKind::Uniqueidentifier,
            (ColumnType::Lookup { .. }, _) => AttributeKind::Lookup,
            (ColumnType::Choice { .. }, _) => AttributeKind::Picklist,
        }
    }

    /// `AttributeType` (`AttributeTypeCode`).
    pub fn attribute_type(self) -> &'static str {
        match self {
            AttributeKind::String => "String",
            AttributeKind::Memo => "Memo",
            AttributeKind::Integer => "Integer",
            AttributeKind::BigInt => "BigInt",
            AttributeKind::Decimal => "Decimal",
            AttributeKind::Money => "Money",
            AttributeKind::Boolean => "Boolean",
            AttributeKind::DateTime => "DateTime",
            AttributeKind::Lookup => "Lookup",
            AttributeKind::Owner => "Owner",
            AttributeKind::Picklist => "Picklist",
            AttributeKind::State => "State",
            AttributeKind::Status => "Status",
            AttributeKind::Uniqueidentifier => "Uniqueidentifier",
        }
    }

    /// `AttributeTypeName.Value`.
    pub fn type_name(self) -> String {
        format!("{}Type", self.attribute_type())
    }

    /// The metadata type (`@odata.type` without `#` and namespace).
    pub fn metadata_type(self) -> &'static str {
        match self {
            AttributeKind::String => "StringAttributeMetadata",
            AttributeKind::Memo => "MemoAttributeMetadata",
            AttributeKind::Integer => "IntegerAttributeMetadata",
            AttributeKind::BigInt => "BigIntAttributeMetadata",
            AttributeKind::Decimal => "DecimalAttributeMetadata",
            AttributeKind::Money => "MoneyAttributeMetadata",
            AttributeKind::Boolean => "BooleanAttributeMetadata",
            AttributeKind::DateTime => "DateTimeAttributeMetadata",
            AttributeKind::Lookup | AttributeKind::Owner => "LookupAttributeMetadata",
            AttributeKind::Picklist => "PicklistAttributeMetadata",
            AttributeKind::State => "StateAttributeMetadata",
            AttributeKind::Status => "StatusAttributeMetadata",
            AttributeKind::Uniqueidentifier => "UniqueIdentifierAttributeMetadata",
        }
    }

    /// The kinds a type-cast segment (`Microsoft.Dynamics.CRM.XAttributeMetadata`,
    /// any letter case) selects; `None` for a type herald has no column of.
    pub fn from_cast(segment: &str) -> Option<Vec<AttributeKind>> {
        let name = segment.strip_prefix(NAMESPACE).unwrap_or(segment);
        let kinds: Vec<AttributeKind> = ALL_KINDS
            .into_iter()
            .filter(|k| k.metadata_type().eq_ignore_ascii_case(name))
            .collect();
        (!kinds.is_empty()).then_some(kinds)
    }

    /// Whether the attribute has an option set (`$expand=OptionSet`).
    pub fn has_options(self) -> bool {
        matches!(
            self,
            AttributeKind::Boolean
                | AttributeKind::Picklist
                | AttributeKind::State
                | AttributeKind::Status
        )
    }

    /// The Edm type the column is read as in `$metadata`.
    pub fn edm_type(self) -> &'static str {
        match self {
            AttributeKind::String | AttributeKind::Memo => "Edm.String",
            AttributeKind::Integer
            | AttributeKind::Picklist
            | AttributeKind::State
            | AttributeKind::Status => "Edm.Int32",
            AttributeKind::BigInt => "Edm.Int64",
            AttributeKind::Decimal | AttributeKind::Money => "Edm.Decimal",
            AttributeKind::Boolean => "Edm.Boolean",
            AttributeKind::DateTime => "Edm.DateTimeOffset",
            AttributeKind::Uniqueidentifier | AttributeKind::Lookup | AttributeKind::Owner => {
                "Edm.Guid"
            }
        }
    }
}
