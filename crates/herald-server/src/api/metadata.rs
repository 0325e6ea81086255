//! `$metadata`: a CSDL document describing every table (entity type), its
//! columns and lookups, so OData tools can discover the service.

use herald_core::schema::ColumnType;
use herald_core::Schema;

fn edm_type(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::String { .. } | ColumnType::Memo { .. } => "Edm.String",
        ColumnType::Integer | ColumnType::Choice { .. } => "Edm.Int32",
        ColumnType::Decimal | ColumnType::Money => "Edm.Decimal",
        ColumnType::Boolean => "Edm.Boolean",
        ColumnType::DateTime => "Edm.DateTimeOffset",
        ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => "Edm.Guid",
    }
}

pub fn csdl(schema: &Schema) -> String {
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#,
    );
    let relationships = schema.relationships();
    for t in schema.tables() {
        x.push_str(&format!(
            r#"<EntityType Name="{}"><Key><PropertyRef Name="{}" /></Key>"#,
            t.logical_name, t.primary_id
        ));
        for c in t.readable_columns() {
            let name = if c.is_lookup() && c.name != t.primary_id {
                c.value_name()
            } else {
                c.name.clone()
            };
            let max = match c.ty {
                ColumnType::String { max_length } | ColumnType::Memo { max_length } => {
                    format!(r#" MaxLength="{max_length}""#)
                }
                _ => String::new(),
            };
            x.push_str(&format!(
                r#"<Property Name="{}" Type="{}"{} />"#,
                name,
                edm_type(&c.ty),
                max
            ));
        }
        for c in t.columns.iter().filter(|c| c.is_lookup()) {
            if let Some(target) = c.lookup_target() {
                x.push_str(&format!(
                    r#"<NavigationProperty Name="{}" Type="mscrm.{}" />"#,
                    c.navigation_name(),
                    target
                ));
            }
        }
        for r in relationships
            .iter()
            .filter(|r| r.one_table == t.logical_name)
        {
            x.push_str(&format!(
                r#"<NavigationProperty Name="{}" Type="Collection(mscrm.{})" />"#,
                r.name, r.many_table
            ));
        }
        x.push_str("</EntityType>");
    }
    x.push_str(r#"<EntityContainer Name="System">"#);
    for t in schema.tables() {
        x.push_str(&format!(
            r#"<EntitySet Name="{}" EntityType="mscrm.{}" />"#,
            t.entity_set, t.logical_name
        ));
    }
    x.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    x
}
