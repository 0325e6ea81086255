//! The read check of a whole query, the one every read of the Web API,
//! FetchXML, `?sql=`, the console and the BC API passes: Read on its table,
//! on every link-entity (joins) and on every `$expand` (recursively); a
//! table read at Basic depth is narrowed to the user's own rows (in the
//! query's filter, a link's filter, an expansion's filter).

use super::{Grants, Missing, Privilege, Scope};
use crate::query::{Condition, Link, Query};
use crate::schema::Schema;

/// Check `query` for `grants`, narrowing it where only own rows may be
/// read. Unknown tables are left to the store to refuse.
pub fn authorize_query(grants: &Grants, schema: &Schema, query: &mut Query) -> Result<(), Missing> {
    if let Some(table) = schema.table(&query.table) {
        if grants.check(table, Privilege::Read)? == Scope::Own {
            let own = grants.own_rows(table, None);
            query.filter = Some(and(own, query.filter.take()));
        }
    }
    for link in query.links.iter_mut() {
        authorize_link(grants, schema, link)?;
    }
    for ex in query.expand.iter_mut() {
        authorize_query(grants, schema, &mut ex.query)?;
    }
    Ok(())
}

fn authorize_link(grants: &Grants, schema: &Schema, link: &mut Link) -> Result<(), Missing> {
    if let Some(table) = schema.table(&link.table) {
        if grants.check(table, Privilege::Read)? == Scope::Own {
            let own = grants.own_rows(table, Some(&link.alias));
            link.filter = Some(and(own, link.filter.take()));
        }
    }
    for l in link.links.iter_mut() {
        authorize_link(grants, schema, l)?;
    }
    Ok(())
}

fn and(first: Condition, rest: Option<Condition>) -> Condition {
    match rest {
        Some(r) => Condition::And(vec![first, r]),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::{catalog, BuiltinRole};
    use uuid::Uuid;

    fn basic_user(schema: &Schema) -> Grants {
        let role = BuiltinRole::BasicUser;
        let pairs = catalog(schema).into_iter().filter_map(|p| {
            let t = schema.table(p.table.as_deref()?)?;
            role.grants(t, p.privilege).map(|d| (p.name, d))
        });
        Grants::new(Uuid::from_u128(7), vec![role.id()], pairs)
    }

    #[test]
    fn links_and_expansions_are_checked_and_narrowed() {
        let schema = Schema::build(&[]).unwrap();
        let g = basic_user(&schema);
        let xml = r#"<fetch><entity name="account"><link-entity name="serviceendpoint" from="serviceendpointid" to="accountid" alias="se"/></entity></fetch>"#;
        let mut q = crate::fetchxml::parse_fetchxml(&schema, xml).unwrap();
        let err = authorize_query(&g, &schema, &mut q).unwrap_err();
        assert_eq!(err.privilege, "prvReadServiceEndpoint");

        let mut q = Query::all("asyncoperation");
        authorize_query(&g, &schema, &mut q).unwrap();
        assert!(format!("{:?}", q.filter).contains("createdby"), "{q:?}");

        let mut q = Query::all("contact");
        authorize_query(&g, &schema, &mut q).unwrap();
        assert_eq!(q.filter, None);
    }
}
