//! The entity container `System` (Dataverse's name): an `<EntitySet>` per
//! table with a `NavigationPropertyBinding` for each of its navigation
//! properties (so a client knows which set a followed link lands in), and a
//! `<FunctionImport>` for each unbound function served at the root, and an
//! `<ActionImport>` for each unbound action (`BulkDelete`).

use super::{attr, messages, operations, Model, ALIAS};

pub(super) fn write(x: &mut String, model: &Model<'_>) {
    x.push_str(r#"<EntityContainer Name="System">"#);
    for entity in &model.entities {
        let t = entity.table;
        x.push_str(&format!(
            r#"<EntitySet Name="{}" EntityType="{ALIAS}.{}">"#,
            attr(&t.entity_set),
            attr(&t.logical_name)
        ));
        let bindings = entity
            .lookups
            .iter()
            .map(|l| (l.name.to_string(), &l.target.entity_set))
            .chain(
                entity
                    .collections
                    .iter()
                    .map(|c| (c.name.clone(), &c.many.entity_set)),
            );
        for (path, target) in bindings {
            x.push_str(&format!(
                r#"<NavigationPropertyBinding Path="{}" Target="{}"/>"#,
                attr(&path),
                attr(target)
            ));
        }
        x.push_str("</EntitySet>");
    }
    for name in operations::unbound_functions() {
        x.push_str(&format!(
            r#"<FunctionImport Name="{name}" Function="{ALIAS}.{name}"/>"#
        ));
    }
    for name in messages::UNBOUND_ACTIONS {
        x.push_str(&format!(
            r#"<ActionImport Name="{name}" Action="{ALIAS}.{name}"/>"#
        ));
    }
    x.push_str("</EntityContainer>");
}
