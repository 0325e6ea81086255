//! `$metadata`: the OData v4 CSDL XML document (Edmx 4.0) describing the
//! service, built from `herald_core::Schema` on every request, so it always
//! agrees with what the data API accepts.
//!
//! The document is Dataverse's shape: one schema `Microsoft.Dynamics.CRM`
//! (alias `mscrm`) with an entity type per table ([`entity`]), each
//! derived from the abstract `crmbaseentity`, the functions herald serves
//! and its own bound operations ([`operations`]), the Dataverse messages it
//! serves as actions — `CreateMultiple`, `UpdateMultiple`,
//! `UpsertMultiple`, `BulkDelete` — with their types ([`messages`]), and the
//! `System` entity container ([`container`]); a second, small schema `herald` holds the
//! complex types only herald's own operations return. This module owns the
//! part the three share: the navigation properties of each table, named
//! once here so that entity types, partners and container bindings agree.

mod container;
mod entity;
mod messages;
mod operations;

use herald_core::{Schema, Table};

/// The namespace of every Dataverse type, and the alias it is written with.
pub const NAMESPACE: &str = "Microsoft.Dynamics.CRM";
pub const ALIAS: &str = "mscrm";
/// The namespace of the types only herald's own operations use.
const HERALD_NAMESPACE: &str = "herald";

const EDMX_NS: &str = "http://docs.oasis-open.org/odata/ns/edmx";
const EDM_NS: &str = "http://docs.oasis-open.org/odata/ns/edm";
/// The OData Core vocabulary (for `Org.OData.Core.V1.Computed`).
const CORE_VOCABULARY: &str =
    "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml";

/// The version `RetrieveVersion` reports: Dataverse's 9.2 with herald's own
/// version as build and revision (herald 0.1.0 is `9.2.1.0`, 1.2.3 is
/// `9.2.1002.3`).
pub fn dataverse_version() -> String {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    format!("9.2.{}.{patch}", major * 1000 + minor)
}

/// The CSDL document of `schema`.
pub fn csdl(schema: &Schema) -> String {
    let model = Model::of(schema);
    let mut x = String::new();
    x.push_str(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    x.push_str(&format!(
        r#"<edmx:Edmx Version="4.0" xmlns:edmx="{EDMX_NS}">"#
    ));
    x.push_str(&format!(
        r#"<edmx:Reference Uri="{CORE_VOCABULARY}"><edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/></edmx:Reference>"#
    ));
    x.push_str("<edmx:DataServices>");
    x.push_str(&format!(
        r#"<Schema Namespace="{NAMESPACE}" Alias="{ALIAS}" xmlns="{EDM_NS}">"#
    ));
    messages::write_base_entity(&mut x);
    for entity in &model.entities {
        entity::write(&mut x, entity);
    }
    operations::write(&mut x, schema);
    messages::write(&mut x);
    container::write(&mut x, &model);
    x.push_str("</Schema>");
    x.push_str(&format!(
        r#"<Schema Namespace="{HERALD_NAMESPACE}" xmlns="{EDM_NS}">"#
    ));
    operations::write_herald_types(&mut x);
    x.push_str("</Schema></edmx:DataServices></edmx:Edmx>");
    x
}

/// A single-valued navigation property: a lookup column, read as
/// `_<column>_value` and followed to the table it points at.
struct Lookup<'s> {
    /// The navigation property (`parentcustomerid_account`, `createdby`).
    name: &'s str,
    /// The `_<column>_value` property holding the target's id.
    value_property: String,
    target: &'s Table,
    /// The collection on the target that lists this table's rows.
    partner: String,
}

/// A collection-valued navigation property: the rows of another table
/// whose lookup points at this one, named by the relationship (or, for a
/// many-to-many relationship, the rows linked to this one).
struct Collection<'s> {
    name: String,
    many: &'s Table,
    /// The many side's lookup navigation property; none for a
    /// many-to-many relationship (both sides are collections, which
    /// cannot be partners).
    partner: Option<&'s str>,
}

/// One entity type with its navigation properties.
struct Entity<'s> {
    table: &'s Table,
    lookups: Vec<Lookup<'s>>,
    collections: Vec<Collection<'s>>,
}

/// Every table with its navigation properties.
struct Model<'s> {
    entities: Vec<Entity<'s>>,
}

impl<'s> Model<'s> {
    fn of(schema: &'s Schema) -> Self {
        let relationships = schema.relationships();
        let entities = schema
            .tables()
            .map(|table| {
                let lookups = table
                    .readable_columns()
                    .filter_map(|c| {
                        let target = schema.table(c.lookup_target()?)?;
                        let partner = relationships
                            .iter()
                            .find(|r| {
                                r.many_table == table.logical_name && r.lookup_column == c.name
                            })?
                            .name
                            .clone();
                        Some(Lookup {
                            name: c.navigation_name(),
                            value_property: c.value_name(),
                            target,
                            partner,
                        })
                    })
                    .collect();
                let mut collections: Vec<Collection<'s>> = relationships
                    .iter()
                    .filter(|r| r.one_table == table.logical_name)
                    .filter_map(|r| {
                        let many = schema.table(&r.many_table)?;
                        let lookup = many.column(&r.lookup_column).filter(|c| c.readable())?;
                        Some(Collection {
                            name: r.name.clone(),
                            many,
                            partner: Some(lookup.navigation_name()),
                        })
                    })
                    .collect();
                // Many-to-many relationships made through the metadata
                // API: a collection on each side, with no Partner (two
                // collections cannot be partners in CSDL).
                for m in schema.many_to_many() {
                    let sides = [
                        (&m.entity1, &m.entity1_navigation, &m.entity2),
                        (&m.entity2, &m.entity2_navigation, &m.entity1),
                    ];
                    for (this, name, other) in sides {
                        if *this != table.logical_name
                            || collections.iter().any(|c| &c.name == name)
                        {
                            continue;
                        }
                        if let Some(many) = schema.table(other) {
                            collections.push(Collection {
                                name: name.clone(),
                                many,
                                partner: None,
                            });
                        }
                    }
                }
                Entity {
                    table,
                    lookups,
                    collections,
                }
            })
            .collect();
        Model { entities }
    }
}

/// `value` escaped for an XML attribute (names are identifiers already;
/// this keeps the document well-formed whatever a schema holds).
fn attr(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_dataverse_9_2() {
        let v = dataverse_version();
        assert!(v.starts_with("9.2."), "{v}");
        assert_eq!(v.split('.').count(), 4, "{v}");
        assert!(v.split('.').all(|p| p.parse::<u64>().is_ok()), "{v}");
    }

    #[test]
    fn attributes_are_escaped() {
        assert_eq!(attr(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
