//! The paths of the metadata API after `/api/data/v9.x/`:
//!
//! ```text
//! EntityDefinitions[(<key>)]
//! EntityDefinitions(<key>)/Attributes[(<key>)][/Microsoft.Dynamics.CRM.<Type>AttributeMetadata]
//! EntityDefinitions(<key>)/{ManyToOne,OneToMany,ManyToMany}Relationships[(<key>)]
//! EntityDefinitions(<key>)/Keys[(<key>)]
//! RelationshipDefinitions[(<key>)][/Microsoft.Dynamics.CRM.<Type>RelationshipMetadata]
//! GlobalOptionSetDefinitions[(<key>)][/Microsoft.Dynamics.CRM.<Type>OptionSetMetadata]
//! ```
//!
//! A key is a MetadataId (`(<guid>)`, `(MetadataId=<guid>)`) or a named
//! alternate key (`(LogicalName='account')`, `(SchemaName='…')`,
//! `(Name='…')`); which names each collection takes is checked where the
//! key is looked up.

use herald_core::value::parse_guid;
use uuid::Uuid;

use super::error::{DefinitionError, DefinitionResult};

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Id(Uuid),
    Named { property: String, value: String },
}

/// A collection under one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildKind {
    Attributes,
    ManyToOneRelationships,
    OneToManyRelationships,
    ManyToManyRelationships,
    Keys,
}

impl ChildKind {
    fn from_name(name: &str) -> Option<ChildKind> {
        Some(match name {
            "Attributes" => ChildKind::Attributes,
            "ManyToOneRelationships" => ChildKind::ManyToOneRelationships,
            "OneToManyRelationships" => ChildKind::OneToManyRelationships,
            "ManyToManyRelationships" => ChildKind::ManyToManyRelationships,
            "Keys" => ChildKind::Keys,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ChildKind::Attributes => "Attributes",
            ChildKind::ManyToOneRelationships => "ManyToOneRelationships",
            ChildKind::OneToManyRelationships => "OneToManyRelationships",
            ChildKind::ManyToManyRelationships => "ManyToManyRelationships",
            ChildKind::Keys => "Keys",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    pub kind: ChildKind,
    pub key: Option<Key>,
    /// A type-cast segment (`Microsoft.Dynamics.CRM.PicklistAttributeMetadata`).
    pub cast: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Entities {
        key: Option<Key>,
        child: Option<Child>,
    },
    Relationships {
        key: Option<Key>,
        cast: Option<String>,
    },
    GlobalOptionSets {
        key: Option<Key>,
        cast: Option<String>,
    },
}

/// Parse a (percent-decoded) metadata path.
pub fn parse(path: &str) -> DefinitionResult<Target> {
    let segments: Vec<(String, Option<Key>)> = split_outside_quotes(path.trim_matches('/'))
        .into_iter()
        .map(segment)
        .collect::<DefinitionResult<_>>()?;
    let mut rest = segments.into_iter();
    let Some((head, head_key)) = rest.next() else {
        return Err(not_found(path));
    };
    let target = match head.as_str() {
        "EntityDefinitions" => {
            let child = match rest.next() {
                None => None,
                Some((name, key)) => {
                    let kind = ChildKind::from_name(&name).ok_or_else(|| not_found(&name))?;
                    if head_key.is_none() {
                        return Err(DefinitionError::Invalid(format!(
                            "'{name}' needs a table: EntityDefinitions(LogicalName='<table>')/{name}"
                        )));
                    }
                    let cast = match rest.next() {
                        None => None,
                        Some((cast, None)) if cast.starts_with("Microsoft.Dynamics.CRM.") => {
                            if kind != ChildKind::Attributes {
                                return Err(DefinitionError::Unsupported(format!(
                                    "Type casts apply to Attributes only, not to '{name}'"
                                )));
                            }
                            Some(cast)
                        }
                        Some((other, _)) => return Err(not_found(&other)),
                    };
                    Some(Child { kind, key, cast })
                }
            };
            Target::Entities {
                key: head_key,
                child,
            }
        }
        "RelationshipDefinitions" => Target::Relationships {
            key: head_key,
            cast: cast_segment(rest.next())?,
        },
        "GlobalOptionSetDefinitions" => Target::GlobalOptionSets {
            key: head_key,
            cast: cast_segment(rest.next())?,
        },
        other => return Err(not_found(other)),
    };
    match rest.next() {
        Some((extra, _)) => Err(not_found(&extra)),
        None => Ok(target),
    }
}

/// An optional type-cast segment (`Microsoft.Dynamics.CRM.<Type>`).
fn cast_segment(segment: Option<(String, Option<Key>)>) -> DefinitionResult<Option<String>> {
    match segment {
        None => Ok(None),
        Some((cast, None)) if cast.starts_with("Microsoft.Dynamics.CRM.") => Ok(Some(cast)),
        Some((other, _)) => Err(not_found(&other)),
    }
}

fn not_found(segment: &str) -> DefinitionError {
    DefinitionError::NotFound(format!("Resource not found for the segment '{segment}'."))
}

/// `Name` or `Name(<key>)`.
fn segment(text: &str) -> DefinitionResult<(String, Option<Key>)> {
    let Some(open) = text.find('(') else {
        return Ok((text.to_string(), None));
    };
    let inner = text[open + 1..].strip_suffix(')').ok_or_else(|| {
        DefinitionError::Invalid(format!("Bad key in '{text}': expected Name(<key>)"))
    })?;
    Ok((text[..open].to_string(), Some(key(inner)?)))
}

/// `<guid>`, `MetadataId=<guid>` or `Property='value'` (`''` is a quote).
fn key(text: &str) -> DefinitionResult<Key> {
    let bad = || {
        DefinitionError::Invalid(format!(
            "'{text}' is not a valid key: use a MetadataId (a GUID) or e.g. LogicalName='account'"
        ))
    };
    let Some((property, value)) = text.split_once('=') else {
        return parse_guid(text.trim()).map(Key::Id).ok_or_else(bad);
    };
    let property = property.trim();
    let value = value.trim();
    if property == "MetadataId" {
        return parse_guid(value.trim_matches('\''))
            .map(Key::Id)
            .ok_or_else(bad);
    }
    let quoted = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|_| value.len() >= 2)
        .ok_or_else(bad)?;
    Ok(Key::Named {
        property: property.to_string(),
        value: quoted.replace("''", "'"),
    })
}

/// Split at `/` outside single-quoted strings.
fn split_outside_quotes(path: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut in_string, mut start) = (false, 0);
    for (i, c) in path.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '/' if !in_string => {
                pieces.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&path[start..]);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(property: &str, value: &str) -> Option<Key> {
        Some(Key::Named {
            property: property.into(),
            value: value.into(),
        })
    }

    #[test]
    fn parses_every_route() {
        let id = "70816501-edb9-4740-a16c-6a5efbc05d84";
        let guid = Uuid::parse_str(id).expect("uuid");
        assert_eq!(
            parse("EntityDefinitions").unwrap(),
            Target::Entities {
                key: None,
                child: None
            }
        );
        assert_eq!(
            parse("EntityDefinitions(LogicalName='account')").unwrap(),
            Target::Entities {
                key: named("LogicalName", "account"),
                child: None
            }
        );
        assert_eq!(
            parse(&format!(
                "EntityDefinitions({id})/Attributes(LogicalName='o''x')"
            ))
            .unwrap(),
            Target::Entities {
                key: Some(Key::Id(guid)),
                child: Some(Child {
                    kind: ChildKind::Attributes,
                    key: named("LogicalName", "o'x"),
                    cast: None
                })
            }
        );
        assert_eq!(
            parse("EntityDefinitions(MetadataId=70816501-edb9-4740-a16c-6a5efbc05d84)/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata").unwrap(),
            Target::Entities {
                key: Some(Key::Id(guid)),
                child: Some(Child {
                    kind: ChildKind::Attributes,
                    key: None,
                    cast: Some("Microsoft.Dynamics.CRM.PicklistAttributeMetadata".into())
                })
            }
        );
        assert_eq!(
            parse("EntityDefinitions(LogicalName='a/b')/Keys").unwrap(),
            Target::Entities {
                key: named("LogicalName", "a/b"),
                child: Some(Child {
                    kind: ChildKind::Keys,
                    key: None,
                    cast: None
                })
            }
        );
        assert_eq!(
            parse("RelationshipDefinitions(SchemaName='x')").unwrap(),
            Target::Relationships {
                key: named("SchemaName", "x"),
                cast: None
            }
        );
        assert_eq!(
            parse("RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata")
                .unwrap(),
            Target::Relationships {
                key: None,
                cast: Some("Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata".into())
            }
        );
        assert_eq!(
            parse("GlobalOptionSetDefinitions(Name='x')").unwrap(),
            Target::GlobalOptionSets {
                key: named("Name", "x"),
                cast: None
            }
        );
    }

    #[test]
    fn refuses_malformed_paths() {
        for bad in [
            "EntityDefinitions/Attributes",
            "EntityDefinitions(LogicalName='a')/Nope",
            "EntityDefinitions(LogicalName='a')/Keys/Microsoft.Dynamics.CRM.X",
            "EntityDefinitions(LogicalName='a')/Attributes/Other",
            "EntityDefinitions(LogicalName=account)",
            "EntityDefinitions(nope)",
            "EntityDefinitions(LogicalName='a'",
            "RelationshipDefinitions/x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
