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
}

/// The entity sets of the metadata API (they are not tables).
const DEFINITION_SETS: [&str; 3] = [
    "EntityDefinitions",
    "RelationshipDefinitions",
    "GlobalOptionSetDefinitions",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Id(Uuid),
    /// `@name`, resolved from the query's parameter aliases.
    Alias(String),
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
    let (set, key) = match first.find('(') {
        None => (first.to_string(), None),
        Some(open) => {
            if !first.ends_with(')') {
                return Err(ApiError::bad_request(format!(
                    "Bad key in '{first}': expected <set>(<id>)"
                )));
            }
            let inner = &first[open + 1..first.len() - 1];
            let key = if let Some(alias) = inner.strip_prefix('@') {
                Key::Alias(alias.to_string())
            } else {
                let raw = inner.split_once('=').map(|(_, v)| v).unwrap_or(inner);
                Key::Id(parse_guid(raw).ok_or_else(|| {
                    ApiError::bad_request(format!("'{inner}' is not a valid key: expected a GUID like 00000000-0000-0000-0000-000000000001"))
                })?)
            };
            (first[..open].to_string(), Some(key))
        }
    };
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
