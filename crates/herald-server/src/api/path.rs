//! Parsing the resource path after `/api/data/v9.x/`: an entity set, an
//! optional key (GUID or `@alias`), an optional navigation property. The
//! table-definition paths (`EntityDefinitions…`, `RelationshipDefinitions…`,
//! `GlobalOptionSetDefinitions…`) are only recognised here and handed whole
//! to `api::definitions`, which parses their richer keys and casts.

use herald_core::value::parse_guid;
use uuid::Uuid;

use crate::api::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// `$metadata`
    Metadata,
    /// `WhoAmI` or `WhoAmI()`
    WhoAmI,
    /// `RetrieveVersion` or `RetrieveVersion()`
    RetrieveVersion,
    /// `<set>[(<key>)][/<navigation>]`
    Set {
        set: String,
        key: Option<Key>,
        navigation: Option<String>,
    },
    /// The service document (empty path).
    Service,
    /// `EntityDefinitions…`, `RelationshipDefinitions…` or
    /// `GlobalOptionSetDefinitions…`: the whole path, for `api::definitions`.
    Definitions(String),
    /// `$batch`: several requests in one `multipart/mixed` body.
    Batch,
    /// `<set>(<key>)/<navigation>[(<child>)]/$ref`: the reference a
    /// navigation property holds (a lookup, or one row of a collection).
    Ref {
        set: String,
        key: Key,
        navigation: String,
        child: Option<Key>,
    },
    /// `<set>/Microsoft.Dynamics.CRM.<action>`: an action bound to the
    /// collection (CreateMultiple, UpdateMultiple, UpsertMultiple).
    CollectionAction { set: String, action: String },
}

/// The entity sets of the metadata API (they are not tables).
const DEFINITION_SETS: [&str; 3] = [
    "EntityDefinitions",
    "RelationshipDefinitions",
    "GlobalOptionSetDefinitions",
];

/// The namespace of Dataverse's actions and types.
pub const NAMESPACE: &str = "Microsoft.Dynamics.CRM.";

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Id(Uuid),
    /// `@name`, resolved from the query's parameter aliases.
    Alias(String),
    /// An alternate key: `(accountnumber='A-1')`, `(a=1,b='x')` — each
    /// column with its literal as written (resolved by
    /// `api::odata::alternate_key` against the table's keys).
    Alternate(Vec<(String, String)>),
}

/// Parse a (percent-decoded) path.
pub fn parse(path: &str) -> ApiResult<Resource> {
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Ok(Resource::Service);
    }
    if path == "$metadata" {
        return Ok(Resource::Metadata);
    }
    if path == "WhoAmI" || path == "WhoAmI()" {
        return Ok(Resource::WhoAmI);
    }
    if path == "RetrieveVersion" || path == "RetrieveVersion()" {
        return Ok(Resource::RetrieveVersion);
    }
    let head = path.split(['(', '/']).next().unwrap_or("");
    if DEFINITION_SETS.contains(&head) {
        return Ok(Resource::Definitions(path.to_string()));
    }
    if path == "$batch" {
        return Ok(Resource::Batch);
    }
    if let Some(inner) = path.strip_suffix("/$ref") {
        return parse_ref(inner);
    }
    if let Some((set, action)) = path.split_once('/') {
        if let Some(action) = action.strip_prefix(NAMESPACE) {
            if !set.contains('(') && !set.is_empty() && !action.contains('/') {
                return Ok(Resource::CollectionAction {
                    set: set.to_string(),
                    action: action.to_string(),
                });
            }
        }
    }
    let mut segments = path.splitn(2, '/');
    let first = segments.next().unwrap_or("");
    let navigation = segments.next().map(str::to_string);
    if let Some(nav) = &navigation {
        if nav.is_empty() || nav.contains('/') || nav.contains('(') {
            return Err(ApiError::bad_request(format!(
                "Resource not found for the segment '{nav}': herald supports one navigation property after a key"
            )));
        }
    }
    let (set, key) = name_and_key(first)?;
    if set.is_empty() {
        return Err(ApiError::bad_request("Missing entity set name in the path"));
    }
    if navigation.is_some() && key.is_none() {
        return Err(ApiError::bad_request(format!(
            "Resource not found for the segment '{set}': a navigation property needs a key, e.g. {set}(<id>)/<navigation>"
        )));
    }
    Ok(Resource::Set {
        set,
        key,
        navigation,
    })
}

/// `<name>` or `<name>(<key>)`.
fn name_and_key(segment: &str) -> ApiResult<(String, Option<Key>)> {
    let Some(open) = segment.find('(') else {
        return Ok((segment.to_string(), None));
    };
    if !segment.ends_with(')') {
        return Err(ApiError::bad_request(format!(
            "Bad key in '{segment}': expected <set>(<id>)"
        )));
    }
    let inner = &segment[open + 1..segment.len() - 1];
    let key = if let Some(alias) = inner.strip_prefix('@') {
        Key::Alias(alias.to_string())
    } else if let Some(pairs) = alternate_key(inner) {
        Key::Alternate(pairs)
    } else {
        let raw = inner.split_once('=').map(|(_, v)| v).unwrap_or(inner);
        Key::Id(parse_guid(raw).ok_or_else(|| {
            ApiError::bad_request(format!("'{inner}' is not a valid key: expected a GUID like 00000000-0000-0000-0000-000000000001"))
        })?)
    };
    Ok((segment[..open].to_string(), Some(key)))
}

/// The `name=value` pairs of an alternate key, unless the key is the
/// primary key (one pair whose value is a GUID, `accountid=<guid>`).
/// Commas inside quoted values do not separate pairs.
fn alternate_key(inner: &str) -> Option<Vec<(String, String)>> {
    if !inner.contains('=') {
        return None;
    }
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let pairs: Vec<(String, String)> = parts
        .into_iter()
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect();
    match pairs.as_slice() {
        [(_, value)] if parse_guid(value).is_some() => None,
        _ => Some(pairs),
    }
}

/// `<set>(<key>)/<navigation>[(<child>)]` before `/$ref`.
fn parse_ref(path: &str) -> ApiResult<Resource> {
    let refuse = || {
        ApiError::bad_request(format!(
            "'{path}/$ref' is not a reference: expected <set>(<id>)/<navigation>/$ref or <set>(<id>)/<collection>(<id>)/$ref"
        ))
    };
    let (first, nav) = path.split_once('/').ok_or_else(refuse)?;
    if nav.contains('/') {
        return Err(refuse());
    }
    let (set, key) = name_and_key(first)?;
    let (navigation, child) = name_and_key(nav)?;
    match key {
        Some(key) if !set.is_empty() && !navigation.is_empty() => Ok(Resource::Ref {
            set,
            key,
            navigation,
            child,
        }),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alternate_keys() {
        let key = |p: &str| match parse(p).unwrap() {
            Resource::Set { key, .. } => key,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            key("accounts(accountnumber='A-1')"),
            Some(Key::Alternate(vec![(
                "accountnumber".into(),
                "'A-1'".into()
            )]))
        );
        assert_eq!(
            key("new_things(new_a=1,new_b='x,y')"),
            Some(Key::Alternate(vec![
                ("new_a".into(), "1".into()),
                ("new_b".into(), "'x,y'".into())
            ]))
        );
        let id = "6d81597f-0f9f-e711-8122-000d3aa2331c";
        assert_eq!(
            key(&format!("accounts(accountid={id})")),
            Some(Key::Id(Uuid::parse_str(id).unwrap()))
        );
    }

    #[test]
    fn parses_paths() {
        let id = "6d81597f-0f9f-e711-8122-000d3aa2331c";
        assert_eq!(
            parse("contacts").unwrap(),
            Resource::Set {
                set: "contacts".into(),
                key: None,
                navigation: None
            }
        );
        assert_eq!(
            parse(&format!("contacts({id})")).unwrap(),
            Resource::Set {
                set: "contacts".into(),
                key: Some(Key::Id(Uuid::parse_str(id).unwrap())),
                navigation: None
            }
        );
        assert_eq!(
            parse("serviceendpoints(@id)/serviceendpoint_sdkmessageprocessingstep").unwrap(),
            Resource::Set {
                set: "serviceendpoints".into(),
                key: Some(Key::Alias("id".into())),
                navigation: Some("serviceendpoint_sdkmessageprocessingstep".into())
            }
        );
        assert!(parse("contacts(nope)").is_err());
        assert!(parse("contacts(").is_err());
        assert!(parse("contacts/x").is_err());
        assert_eq!(parse("WhoAmI()").unwrap(), Resource::WhoAmI);
        assert_eq!(
            parse("RetrieveVersion()").unwrap(),
            Resource::RetrieveVersion
        );
        assert_eq!(parse("RetrieveVersion").unwrap(), Resource::RetrieveVersion);
        assert_eq!(parse("").unwrap(), Resource::Service);
        assert_eq!(parse("/").unwrap(), Resource::Service);
    }

    #[test]
    fn definition_paths_are_handed_over_whole() {
        for p in [
            "EntityDefinitions",
            "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')/Microsoft.Dynamics.CRM.StringAttributeMetadata",
            "RelationshipDefinitions(SchemaName='x')",
            "GlobalOptionSetDefinitions(Name='x')",
        ] {
            assert_eq!(parse(p).unwrap(), Resource::Definitions(p.to_string()));
        }
        assert_eq!(
            parse("/EntityDefinitions/").unwrap(),
            Resource::Definitions("EntityDefinitions".into())
        );
        // Only the exact names: an entity set that merely starts alike is a set.
        assert!(matches!(
            parse("EntityDefinitionsX").unwrap(),
            Resource::Set { .. }
        ));
    }

    #[test]
    fn parses_batch_refs_and_collection_actions() {
        let id = Uuid::parse_str("6d81597f-0f9f-e711-8122-000d3aa2331c").unwrap();
        assert_eq!(parse("$batch").unwrap(), Resource::Batch);
        assert_eq!(
            parse(&format!("accounts({id})/primarycontactid/$ref")).unwrap(),
            Resource::Ref {
                set: "accounts".into(),
                key: Key::Id(id),
                navigation: "primarycontactid".into(),
                child: None
            }
        );
        assert_eq!(
            parse(&format!(
                "accounts({id})/contact_customer_accounts({id})/$ref"
            ))
            .unwrap(),
            Resource::Ref {
                set: "accounts".into(),
                key: Key::Id(id),
                navigation: "contact_customer_accounts".into(),
                child: Some(Key::Id(id))
            }
        );
        assert!(parse("accounts/x/$ref").is_err());
        assert_eq!(
            parse("accounts/Microsoft.Dynamics.CRM.CreateMultiple").unwrap(),
            Resource::CollectionAction {
                set: "accounts".into(),
                action: "CreateMultiple".into()
            }
        );
    }
}
