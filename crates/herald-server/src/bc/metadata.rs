//! `GET /api/v2.0/$metadata` (and `companies(<id>)/$metadata`, the same
//! document): the CSDL every `@odata.context` points at, in Business
//! Central's shape — namespace `Microsoft.NAV`, one entity type per entity
//! (singular name: `customer`) with `id` as key, its fields with their Edm
//! types and lengths, `lastModifiedDateTime`, and the navigation properties
//! `$expand` follows; the document lines (`salesInvoiceLine`), contained in
//! their document type (`salesInvoice.salesInvoiceLines`); `company`
//! contains every entity set (`ContainsTarget`), as BC's URLs nest them
//! under `companies(<id>)`; and `subscription`. The container `NAV` lists
//! the entity sets with their navigation bindings.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::builtin::{
    bc_entity_named, bc_lines_of, BcEntity, BcField, BC_ENTITIES, BC_LINES,
};

/// Every entity with a type and a set: the 22, then the document lines.
fn all_entities() -> impl Iterator<Item = &'static BcEntity> {
    BC_ENTITIES.iter().chain(BC_LINES.iter().map(|l| &l.entity))
}

/// The schema namespace of BC's API.
pub const NAMESPACE: &str = "Microsoft.NAV";

fn edm(field: BcField) -> String {
    match field {
        BcField::Text(n) => format!(r#"Type="Edm.String" MaxLength="{n}""#),
        BcField::Date => r#"Type="Edm.Date""#.into(),
        BcField::DateTime => r#"Type="Edm.DateTimeOffset""#.into(),
        BcField::Decimal => r#"Type="Edm.Decimal" Scale="Variable""#.into(),
        BcField::Int => r#"Type="Edm.Int32""#.into(),
        BcField::Bool => r#"Type="Edm.Boolean""#.into(),
        BcField::Guid => r#"Type="Edm.Guid""#.into(),
    }
}

fn property(x: &mut String, name: &str, edm_type: &str) {
    x.push_str(&format!(r#"<Property Name="{name}" {edm_type} />"#));
}

fn entity_type(x: &mut String, e: &BcEntity) {
    x.push_str(&format!(
        r#"<EntityType Name="{}"><Key><PropertyRef Name="id" /></Key><Property Name="id" Type="Edm.Guid" Nullable="false" />"#,
        e.type_name
    ));
    for (name, field) in e.fields {
        property(x, name, &edm(*field));
    }
    property(x, "lastModifiedDateTime", &edm(BcField::DateTime));
    for n in e.navigation {
        if let Some(target) = bc_entity_named(n.target) {
            x.push_str(&format!(
                r#"<NavigationProperty Name="{}" Type="{NAMESPACE}.{}" />"#,
                n.name, target.type_name
            ));
        }
    }
    for l in bc_lines_of(e.name) {
        x.push_str(&format!(
            r#"<NavigationProperty Name="{}" Type="Collection({NAMESPACE}.{})" ContainsTarget="true" />"#,
            l.entity.name, l.entity.type_name
        ));
    }
    x.push_str("</EntityType>");
}

fn company_type(x: &mut String) {
    x.push_str(r#"<EntityType Name="company"><Key><PropertyRef Name="id" /></Key><Property Name="id" Type="Edm.Guid" Nullable="false" />"#);
    property(x, "systemVersion", &edm(BcField::Text(250)));
    property(x, "name", &edm(BcField::Text(30)));
    property(x, "displayName", &edm(BcField::Text(250)));
    property(x, "businessProfileId", &edm(BcField::Text(250)));
    property(x, "systemCreatedAt", &edm(BcField::DateTime));
    property(x, "systemModifiedAt", &edm(BcField::DateTime));
    for e in all_entities() {
        x.push_str(&format!(
            r#"<NavigationProperty Name="{}" Type="Collection({NAMESPACE}.{})" ContainsTarget="true" />"#,
            e.name, e.type_name
        ));
    }
    x.push_str("</EntityType>");
}

fn subscription_type(x: &mut String) {
    x.push_str(r#"<EntityType Name="subscription"><Key><PropertyRef Name="subscriptionId" /></Key><Property Name="subscriptionId" Type="Edm.String" Nullable="false" MaxLength="150" />"#);
    property(x, "notificationUrl", &edm(BcField::Text(2048)));
    property(x, "resource", &edm(BcField::Text(2048)));
    property(x, "userId", &edm(BcField::Guid));
    property(x, "lastModifiedDateTime", &edm(BcField::DateTime));
    property(x, "clientState", &edm(BcField::Text(2048)));
    property(x, "expirationDateTime", &edm(BcField::DateTime));
    property(x, "systemCreatedAt", &edm(BcField::DateTime));
    property(x, "systemCreatedBy", &edm(BcField::Guid));
    property(x, "systemModifiedAt", &edm(BcField::DateTime));
    property(x, "systemModifiedBy", &edm(BcField::Guid));
    x.push_str("</EntityType>");
}

fn entity_set(x: &mut String, e: &BcEntity) {
    x.push_str(&format!(
        r#"<EntitySet Name="{}" EntityType="{NAMESPACE}.{}">"#,
        e.name, e.type_name
    ));
    for n in e.navigation {
        x.push_str(&format!(
            r#"<NavigationPropertyBinding Path="{}" Target="{}" />"#,
            n.name, n.target
        ));
    }
    x.push_str("</EntitySet>");
}

/// The CSDL document.
pub fn csdl() -> String {
    let mut x = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#
    );
    company_type(&mut x);
    for e in all_entities() {
        entity_type(&mut x, e);
    }
    subscription_type(&mut x);
    x.push_str(r#"<EntityContainer Name="NAV">"#);
    x.push_str(&format!(
        r#"<EntitySet Name="companies" EntityType="{NAMESPACE}.company" />"#
    ));
    for e in all_entities() {
        entity_set(&mut x, e);
    }
    x.push_str(&format!(
        r#"<EntitySet Name="subscriptions" EntityType="{NAMESPACE}.subscription" />"#
    ));
    x.push_str("</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>");
    x
}

/// The document as served: `application/xml`, OData 4.0.
pub fn response() -> Response {
    let mut resp = (StatusCode::OK, csdl()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    h.insert("OData-Version", HeaderValue::from_static("4.0"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_has_a_type_and_a_set() {
        let x = csdl();
        for e in BC_ENTITIES {
            assert!(
                x.contains(&format!(r#"<EntityType Name="{}">"#, e.type_name)),
                "{}",
                e.name
            );
            assert!(
                x.contains(&format!(r#"<EntitySet Name="{}" "#, e.name)),
                "{}",
                e.name
            );
        }
        assert!(x.contains(r#"<EntityType Name="salesInvoiceLine">"#));
        assert!(x.contains(r#"<NavigationProperty Name="salesInvoiceLines" Type="Collection(Microsoft.NAV.salesInvoiceLine)" ContainsTarget="true" />"#));
        assert!(x.contains(r#"<EntitySet Name="salesInvoiceLines" "#));
        assert!(x.contains(r#"<Property Name="currencyId" Type="Edm.Guid" />"#));
        assert!(
            x.contains(r#"<NavigationProperty Name="currency" Type="Microsoft.NAV.currency" />"#)
        );
    }
}
