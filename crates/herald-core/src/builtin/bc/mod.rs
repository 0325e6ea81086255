//! Business Central (SPEC §5, seed 004): the 22 BC API entities with webhook
//! support ([`BC_ENTITIES`], in `entities`), their field types
//! ([`BcField`]), navigation properties ([`BcNavigation`]), number series
//! ([`NumberSeries`]) and defaults, the document lines inside some of them
//! ([`BC_LINES`], in `lines`, with their arithmetic in `amounts`), and the
//! built-in tables that hold them ([`bc_tables`]): `bc_company` and one
//! table per entity and per kind of line, each row tied to its company.

pub mod amounts;
mod entities;
mod lines;
mod navigation;
mod numbers;

pub use entities::BC_ENTITIES;
pub use lines::{
    bc_lines_named, bc_lines_of, bc_lines_of_table, BcLines, BC_LINES, COMPUTED_LINE_FIELDS,
};
pub use navigation::BcNavigation;
pub use numbers::NumberSeries;

use super::columns::{boolean, dec, dt, guid, int, lookup, s};
use super::table::table;
use crate::schema::{Column, Table, TableKind};

/// The type of a Business Central API field, and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BcField {
    /// Text up to this many characters.
    Text(usize),
    /// `Edm.Date` (`2019-01-31`), stored as midnight UTC.
    Date,
    DateTime,
    Decimal,
    Int,
    Bool,
    Guid,
}

/// One entity of the Business Central API (`/api/v2.0/companies(<id>)/<name>`)
/// and the built-in table that holds it. Field names are the API's
/// camelCase; each is stored in the column of the same name in lower case
/// ([`bc_column`]). Every entity also has `id` (the primary key),
/// `lastModifiedDateTime` (`modifiedon`) and a `companyid` lookup.
#[derive(Debug, Clone, Copy)]
pub struct BcEntity {
    /// The entity set as the BC API names it (`customers`).
    pub name: &'static str,
    /// The entity type in BC's `$metadata` (`customer`).
    pub type_name: &'static str,
    /// herald's table (`bc_customer`; entity set `bc_customers`).
    pub logical: &'static str,
    pub fields: &'static [(&'static str, BcField)],
    /// The single-valued navigation properties `$expand` follows.
    pub navigation: &'static [BcNavigation],
    /// Where `number` comes from when a create leaves it out.
    pub number_series: Option<NumberSeries>,
    /// Text fields a create that leaves them out gets (`type` `Company`).
    pub defaults: &'static [(&'static str, &'static str)],
}

impl BcEntity {
    /// The field of this name (exact spelling), with its type.
    pub fn field(&self, name: &str) -> Option<BcField> {
        self.fields
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, t)| *t)
    }

    /// The navigation property of this name (case-insensitive, as BC).
    pub fn navigation_named(&self, name: &str) -> Option<&'static BcNavigation> {
        self.navigation
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(name))
    }
}

/// The entity with this API name (case-insensitive, as BC matches them).
pub fn bc_entity_named(name: &str) -> Option<&'static BcEntity> {
    BC_ENTITIES
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
}

/// The table of Business Central companies.
pub const BC_COMPANY: &str = "bc_company";
/// The lookup every BC entity table has to its company.
pub const BC_COMPANY_COLUMN: &str = "companyid";

/// The column a BC camelCase field is stored in.
pub fn bc_column(field: &str) -> String {
    field.to_ascii_lowercase()
}

/// The BC entity stored in `logical`, if it is one of the 22 with webhook
/// support (document lines are not: see [`bc_lines_of_table`]).
pub fn bc_entity_of(logical: &str) -> Option<&'static BcEntity> {
    BC_ENTITIES.iter().find(|e| e.logical == logical)
}

fn bc_field_column(name: &str, field: BcField) -> Column {
    let col = bc_column(name);
    match field {
        BcField::Text(n) => s(&col, n),
        BcField::Date | BcField::DateTime => dt(&col),
        BcField::Decimal => dec(&col),
        BcField::Int => int(&col),
        BcField::Bool => boolean(&col),
        BcField::Guid => guid(&col),
    }
}

/// The Business Central tables: `bc_company` and one table per entity of
/// [`BC_ENTITIES`] and of [`BC_LINES`] (entity set `bc_<name in lower
/// case>`), each row tied to its company; a line's document field is a
/// lookup to the document's table. They are ordinary data tables, so
/// Dataverse-style steps can be registered on them too.
pub fn bc_tables() -> Vec<Table> {
    let mut out = vec![table(
        BC_COMPANY,
        "bc_companies",
        Some("name"),
        TableKind::Data,
        9100,
        vec![
            s("name", 30).required(),
            s("displayname", 250),
            s("businessprofileid", 250),
        ],
        false,
    )];
    let documents = BC_ENTITIES.iter().map(|e| (e, None));
    let lines = BC_LINES.iter().map(|l| (&l.entity, Some(l)));
    for (i, (e, lines)) in documents.chain(lines).enumerate() {
        let mut columns = vec![lookup(BC_COMPANY_COLUMN, BC_COMPANY)
            .required()
            .relationship(&format!("{}_company", e.logical))];
        columns.extend(e.fields.iter().map(|(n, f)| {
            match lines.and_then(|l| bc_entity_named(l.document).filter(|_| *n == l.document_field))
            {
                Some(document) => lookup(&bc_column(n), document.logical)
                    .required()
                    .relationship(&format!("{}_document", e.logical)),
                None => bc_field_column(n, *f),
            }
        }));
        let has = |f: &str| e.fields.iter().any(|(n, _)| *n == f);
        let primary_name = ["displayName", "number", "description"]
            .into_iter()
            .find(|f| has(f))
            .map(bc_column);
        out.push(table(
            e.logical,
            &format!("bc_{}", e.name.to_ascii_lowercase()),
            primary_name.as_deref(),
            TableKind::Data,
            9101 + i as i64,
            columns,
            false,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bc_tables_are_complete_and_distinct() {
        assert_eq!(BC_ENTITIES.len(), 22);
        let tables = bc_tables();
        assert_eq!(tables.len(), 1 + 22 + BC_LINES.len());
        let schema = crate::Schema::build(&[]).unwrap();
        for e in BC_ENTITIES.iter().chain(BC_LINES.iter().map(|l| &l.entity)) {
            let t = schema.table(e.logical).unwrap();
            assert!(t.column("companyid").is_some_and(|c| c.required));
            for (f, _) in e.fields {
                assert!(t.column(&bc_column(f)).is_some(), "{}.{f}", e.logical);
            }
            assert!(
                t.primary_name
                    .as_deref()
                    .is_some_and(|p| t.column(p).is_some()),
                "{}",
                e.logical
            );
        }
        assert_eq!(
            schema.table_by_set("bc_customers").unwrap().logical_name,
            "bc_customer"
        );
        assert_eq!(
            bc_entity_of("bc_salesinvoice").unwrap().name,
            "salesInvoices"
        );
        assert!(bc_entity_of("bc_salesinvoiceline").is_none());
        let lines = schema.table("bc_salesinvoiceline").unwrap();
        assert_eq!(
            lines.column("documentid").and_then(|c| c.lookup_target()),
            Some("bc_salesinvoice")
        );
    }

    #[test]
    fn navigation_and_defaults_name_real_fields() {
        for l in BC_LINES {
            assert!(bc_entity_named(l.document).is_some(), "{}", l.document);
            assert_eq!(l.entity.field(l.document_field), Some(BcField::Guid));
            for f in ["amountExcludingTax", "netAmount", "netAmountIncludingTax"] {
                assert_eq!(l.entity.field(f), Some(BcField::Decimal), "{f}");
            }
            for f in COMPUTED_LINE_FIELDS {
                assert!(
                    matches!(l.entity.field(f), None | Some(BcField::Decimal)),
                    "{f}"
                );
            }
        }
        for e in BC_ENTITIES.iter().chain(BC_LINES.iter().map(|l| &l.entity)) {
            assert!(!e.type_name.is_empty(), "{}", e.name);
            for n in e.navigation {
                let target = bc_entity_named(n.target)
                    .unwrap_or_else(|| panic!("{}.{} → {}", e.name, n.name, n.target));
                if let Some(id) = n.id_field {
                    assert_eq!(e.field(id), Some(BcField::Guid), "{}.{id}", e.name);
                }
                if let Some((here, there)) = n.code_field {
                    assert!(e.field(here).is_some(), "{}.{here}", e.name);
                    assert!(target.field(there).is_some(), "{}.{there}", target.name);
                }
                assert!(n.id_field.is_some() || n.code_field.is_some());
            }
            for (f, _) in e.defaults {
                assert!(
                    matches!(e.field(f), Some(BcField::Text(_))),
                    "{}.{f}",
                    e.name
                );
            }
            if e.number_series.is_some() {
                assert!(e.field("number").is_some(), "{}", e.name);
            }
        }
    }
}
