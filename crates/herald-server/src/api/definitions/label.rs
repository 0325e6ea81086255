//! Dataverse's `Label` and managed-property shapes, and the human names
//! herald derives for tables and columns (the schema keeps logical names
//! only). Every metadata object uses these, so they live in one place.

use herald_core::fixed_ids::fixed_id;
use serde_json::{json, Value as Json};
use uuid::Uuid;

/// The only language herald labels in (English, as Dataverse numbers it).
pub const LANGUAGE_CODE: i64 = 1033;

/// A `Label` with one English `LocalizedLabel`; `owner` and `property`
/// name what it labels, so its `MetadataId` is stable (UUID v5).
pub fn label(text: &str, owner: Uuid, property: &str) -> Json {
    let localized = json!({
        "Label": text,
        "LanguageCode": LANGUAGE_CODE,
        "IsManaged": false,
        "MetadataId": fixed_id("localizedlabel", &format!("{owner}:{property}:{LANGUAGE_CODE}")),
        "HasChanged": null,
    });
    json!({"LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized})
}

/// A `Label` with no text (what Dataverse returns for an unset description).
pub fn empty_label() -> Json {
    json!({"LocalizedLabels": [], "UserLocalizedLabel": null})
}

/// A `BooleanManagedProperty` (`IsCustomizable`, `IsRenameable`, …).
pub fn managed(value: bool, can_be_changed: bool, logical_name: &str) -> Json {
    json!({
        "Value": value,
        "CanBeChanged": can_be_changed,
        "ManagedPropertyLogicalName": logical_name,
    })
}

/// Words of a logical name for people: publisher-style prefixes
/// (`new_`, herald's `bc_`) go when `strip_prefix`, `_` separates words,
/// each word starts with a capital (`address1_city` → `Address1 City`).
pub fn humanize(logical_name: &str, strip_prefix: bool) -> String {
    let name = match logical_name.split_once('_') {
        Some((_, rest)) if strip_prefix && !rest.is_empty() => rest,
        _ => logical_name,
    };
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(capitalize)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Split a PascalCase schema name into words (`SdkMessageFilter` →
/// `Sdk Message Filter`).
pub fn words_of_schema_name(schema_name: &str) -> String {
    let mut out = String::new();
    for (i, c) in schema_name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The plural of a display name, following how the entity set pluralises
/// the logical name (`opportunity`/`opportunities` → `…ies`, else `+s`).
pub fn plural(display: &str, logical_name: &str, entity_set: &str) -> String {
    if let Some(stem) = logical_name.strip_suffix('y') {
        if entity_set == format!("{stem}ies") {
            if let Some(display_stem) = display.strip_suffix('y') {
                return format!("{display_stem}ies");
            }
        }
    }
    match entity_set.strip_prefix(logical_name) {
        Some(suffix) if !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_lowercase()) => {
            format!("{display}{suffix}")
        }
        _ => format!("{display}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_have_dataverse_shape_and_stable_ids() {
        let owner = fixed_id("entitymetadata", "account");
        let l = label("Account", owner, "DisplayName");
        assert_eq!(l["LocalizedLabels"][0]["Label"], "Account");
        assert_eq!(l["LocalizedLabels"][0]["LanguageCode"], 1033);
        assert_eq!(l["UserLocalizedLabel"], l["LocalizedLabels"][0]);
        assert_eq!(l, label("Account", owner, "DisplayName"));
        assert_ne!(
            l["UserLocalizedLabel"]["MetadataId"],
            label("Account", owner, "DisplayCollectionName")["UserLocalizedLabel"]["MetadataId"]
        );
        assert!(empty_label()["UserLocalizedLabel"].is_null());
    }

    #[test]
    fn names_for_people() {
        assert_eq!(humanize("address1_city", false), "Address1 City");
        assert_eq!(humanize("new_project_phase", true), "Project Phase");
        assert_eq!(humanize("bc_customer", true), "Customer");
        assert_eq!(
            words_of_schema_name("SdkMessageFilter"),
            "Sdk Message Filter"
        );
        assert_eq!(
            plural("Opportunity", "opportunity", "opportunities"),
            "Opportunities"
        );
        assert_eq!(plural("Account", "account", "accounts"), "Accounts");
        assert_eq!(plural("Company", "bc_company", "bc_companies"), "Companies");
        assert_eq!(plural("Gadget", "new_gadget", "gadgetry"), "Gadgets");
    }
}
