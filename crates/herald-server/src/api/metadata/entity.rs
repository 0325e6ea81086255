//! One `<EntityType>` per table, derived from the abstract `crmbaseentity`
//! (as in Dataverse, so actions bound to any collection can name it): its
//! key (never null), a property per
//! readable column of the right Edm type (lookups as `_<column>_value`,
//! server-maintained columns annotated `Org.OData.Core.V1.Computed`), and
//! its navigation properties — each lookup with the `ReferentialConstraint`
//! Dataverse writes, each one-to-many relationship as a collection — with
//! their partners. Write-only columns (secrets) are not described.

use herald_core::schema::{Access, AttributeKind, Column, ColumnType};

use super::{attr, Entity, ALIAS};

pub(super) fn write(x: &mut String, entity: &Entity<'_>) {
    let t = entity.table;
    x.push_str(&format!(
        r#"<EntityType Name="{}" BaseType="{ALIAS}.{}"><Key><PropertyRef Name="{}"/></Key>"#,
        attr(&t.logical_name),
        super::messages::BASE_ENTITY,
        attr(&t.primary_id)
    ));
    for c in t.readable_columns() {
        property(x, c, c.name == t.primary_id);
    }
    for l in &entity.lookups {
        x.push_str(&format!(
            r#"<NavigationProperty Name="{}" Type="{ALIAS}.{}" Partner="{}"><ReferentialConstraint Property="{}" ReferencedProperty="{}"/></NavigationProperty>"#,
            attr(l.name),
            attr(&l.target.logical_name),
            attr(&l.partner),
            attr(&l.value_property),
            attr(&l.target.primary_id)
        ));
    }
    for c in &entity.collections {
        let partner = c
            .partner
            .map(|p| format!(r#" Partner="{}""#, attr(p)))
            .unwrap_or_default();
        x.push_str(&format!(
            r#"<NavigationProperty Name="{}" Type="Collection({ALIAS}.{})"{partner}/>"#,
            attr(&c.name),
            attr(&c.many.logical_name),
        ));
    }
    x.push_str("</EntityType>");
}

/// A column's `<Property>`: the name it is read under, its type, its
/// length, whether it may be null, and whether the server maintains it.
fn property(x: &mut String, c: &Column, key: bool) {
    let name = if c.is_lookup() && !key {
        c.value_name()
    } else {
        c.name.clone()
    };
    let mut facets = String::new();
    if key {
        facets.push_str(r#" Nullable="false""#);
    }
    if let ColumnType::String { max_length } | ColumnType::Memo { max_length } = c.ty {
        facets.push_str(&format!(r#" MaxLength="{max_length}""#));
    }
    let head = format!(
        r#"<Property Name="{}" Type="{}"{facets}"#,
        attr(&name),
        AttributeKind::of(c).edm_type()
    );
    x.push_str(&head);
    if c.access == Access::ReadOnly {
        x.push_str(r#"><Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/></Property>"#);
    } else {
        x.push_str("/>");
    }
}
