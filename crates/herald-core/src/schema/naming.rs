//! Dataverse's naming rules for what the metadata API creates: a custom
//! `SchemaName` carries a publisher prefix (`new_Project`), the logical
//! name is the lower-cased schema name, and a table's entity set is the
//! English plural of its logical name (`new_project` → `new_projects`,
//! `new_category` → `new_categories`, `new_box` → `new_boxes`).

/// The logical name of a custom `SchemaName`, or why it is not one: it
/// must be `<prefix>_<name>`, the prefix 2 to 8 letters or digits starting
/// with a letter (not Microsoft's `mscrm`), the rest letters, digits and
/// `_`, at most 50 characters in all.
pub fn check_custom_schema_name(schema_name: &str) -> Result<String, String> {
    let Some((prefix, rest)) = schema_name.split_once('_') else {
        return Err(format!(
            "'{schema_name}' has no customization prefix: a custom name is <prefix>_<name>, such as new_{schema_name}"
        ));
    };
    let prefix_ok = (2..=8).contains(&prefix.len())
        && prefix
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && prefix.chars().all(|c| c.is_ascii_alphanumeric())
        && !prefix.eq_ignore_ascii_case("mscrm");
    if !prefix_ok {
        return Err(format!(
            "'{prefix}' in '{schema_name}' is not a customization prefix: 2 to 8 letters or digits, starting with a letter (not mscrm)"
        ));
    }
    let rest_ok = !rest.is_empty()
        && rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !rest_ok || schema_name.len() > 50 {
        return Err(format!(
            "'{schema_name}' is not a valid name: after the prefix, letters, digits and '_' starting with a letter, at most 50 characters in all"
        ));
    }
    Ok(schema_name.to_ascii_lowercase())
}

/// The entity set (and `LogicalCollectionName`) Dataverse derives for a
/// table: the English plural of its logical name.
pub fn entity_set_name(logical_name: &str) -> String {
    let vowel = |c: char| "aeiou".contains(c);
    if let Some(stem) = logical_name.strip_suffix('y') {
        if stem.chars().last().is_some_and(|c| !vowel(c) && c != '_') {
            return format!("{stem}ies");
        }
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| logical_name.ends_with(end))
    {
        return format!("{logical_name}es");
    }
    format!("{logical_name}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_as_dataverse_makes_them() {
        assert_eq!(entity_set_name("new_project"), "new_projects");
        assert_eq!(entity_set_name("new_category"), "new_categories");
        assert_eq!(entity_set_name("new_survey"), "new_surveys");
        assert_eq!(entity_set_name("new_box"), "new_boxes");
        assert_eq!(entity_set_name("new_status"), "new_statuses");
        assert_eq!(entity_set_name("new_batch"), "new_batches");
    }

    #[test]
    fn custom_names_need_a_prefix() {
        assert_eq!(
            check_custom_schema_name("new_Project").unwrap(),
            "new_project"
        );
        assert_eq!(
            check_custom_schema_name("cr1a2_Big_Thing").unwrap(),
            "cr1a2_big_thing"
        );
        for bad in [
            "Project",
            "n_Project",
            "new_",
            "new_1x",
            "mscrm_X",
            "1ab_X",
            "new_a-b",
            "toolongprefix_X",
        ] {
            assert!(check_custom_schema_name(bad).is_err(), "{bad}");
        }
    }
}
