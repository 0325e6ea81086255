//! Business Central URLs: the request paths under `/api/v1.0/` and
//! `/api/v2.0/`, a subscription's `resource` (relative or absolute), and
//! the resources written into notifications.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use herald_core::builtin::{bc_lines_named, BcEntity, BcLines};
use herald_core::value::{format_datetime, parse_guid};
use uuid::Uuid;

use super::entity::entity_named;
use super::errors;
use crate::api::error::ApiResult;

/// The API versions herald serves.
pub const VERSIONS: [&str; 2] = ["v1.0", "v2.0"];

/// What a request path names.
#[derive(Debug, Clone)]
pub enum BcPath {
    /// `companies`
    Companies,
    /// `companies(<id>)`
    Company(Uuid),
    /// `companies(<id>)/<entity>`
    Entities {
        company: Uuid,
        entity: &'static BcEntity,
    },
    /// `companies(<id>)/<entity>(<id>)`
    Entity {
        company: Uuid,
        entity: &'static BcEntity,
        id: Uuid,
    },
    /// `companies(<id>)/salesInvoices(<doc>)/salesInvoiceLines` (document
    /// given) or `companies(<id>)/salesInvoiceLines` (all of the company's)
    Lines {
        company: Uuid,
        lines: &'static BcLines,
        document: Option<Uuid>,
    },
    /// One line, under its document or directly under the company
    Line {
        company: Uuid,
        lines: &'static BcLines,
        document: Option<Uuid>,
        id: Uuid,
    },
    /// `subscriptions`
    Subscriptions,
    /// `subscriptions('<id>')` (quotes optional)
    Subscription(String),
    /// `webhookSupportedEntities` (also under a company)
    SupportedEntities(Option<Uuid>),
    /// `$metadata` (also under a company)
    Metadata,
}

/// `name(key)` → (name, Some(key)); `name` → (name, None).
fn split_key(segment: &str) -> ApiResult<(&str, Option<&str>)> {
    match segment.find('(') {
        None => Ok((segment, None)),
        Some(i) if segment.ends_with(')') => {
            Ok((&segment[..i], Some(&segment[i + 1..segment.len() - 1])))
        }
        Some(_) => Err(errors::bad_request(format!(
            "The segment '{segment}' is not valid: expected name(key)"
        ))),
    }
}

fn guid_key(key: &str, what: &str) -> ApiResult<Uuid> {
    let k = key.trim().trim_matches('\'');
    let k = k.strip_prefix("id=").unwrap_or(k);
    parse_guid(k).ok_or_else(|| {
        errors::bad_request(format!(
            "'{key}' is not a valid {what} id (expected a GUID)"
        ))
    })
}

fn unknown_entity(name: &str) -> crate::api::error::ApiError {
    errors::not_found(format!(
        "No entity set '{name}' here: the supported entities are {}",
        herald_core::builtin::BC_ENTITIES
            .iter()
            .map(|e| e.name)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Parse the (decoded) path after `/api/<version>/`.
pub fn parse(path: &str) -> ApiResult<BcPath> {
    let path = path.trim_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    if segments.last() == Some(&"$metadata")
        && (segments.len() == 1 || (segments.len() == 2 && segments[0].starts_with("companies(")))
    {
        return Ok(BcPath::Metadata);
    }
    let (first, first_key) = split_key(segments[0])?;
    match (first, first_key, &segments[1..]) {
        ("companies", None, []) => Ok(BcPath::Companies),
        ("companies", Some(k), []) => Ok(BcPath::Company(guid_key(k, "company")?)),
        ("companies", Some(k), [rest]) => {
            let company = guid_key(k, "company")?;
            let (name, key) = split_key(rest)?;
            if name == "webhookSupportedEntities" && key.is_none() {
                return Ok(BcPath::SupportedEntities(Some(company)));
            }
            if let Some(lines) = bc_lines_named(name) {
                return lines_path(company, lines, None, key);
            }
            let entity = entity_named(name).ok_or_else(|| unknown_entity(name))?;
            match key {
                None => Ok(BcPath::Entities { company, entity }),
                Some(k) => Ok(BcPath::Entity { company, entity, id: guid_key(k, entity.name)? }),
            }
        }
        ("companies", Some(k), [doc, sub]) => {
            let company = guid_key(k, "company")?;
            let (doc_name, doc_key) = split_key(doc)?;
            let entity = entity_named(doc_name).ok_or_else(|| unknown_entity(doc_name))?;
            let doc_key = doc_key.ok_or_else(|| {
                errors::bad_request(format!("'{doc}' must name one {} by its id", entity.name))
            })?;
            let document = guid_key(doc_key, entity.name)?;
            let (sub_name, sub_key) = split_key(sub)?;
            match bc_lines_named(sub_name).filter(|l| l.document == entity.name) {
                Some(lines) => lines_path(company, lines, Some(document), sub_key),
                None => Err(errors::not_found(format!(
                    "'{sub_name}' is not a collection of {}: {}",
                    entity.name,
                    match herald_core::builtin::bc_lines_of(entity.name).next() {
                        Some(l) => format!("it has {}", l.entity.name),
                        None => "it has no lines".into(),
                    }
                ))),
            }
        }
        ("subscriptions", None, []) => Ok(BcPath::Subscriptions),
        ("subscriptions", Some(k), []) => {
            let id = k.trim().trim_matches('\'').to_string();
            if id.is_empty() {
                return Err(errors::bad_request("The subscription id is empty"));
            }
            Ok(BcPath::Subscription(id))
        }
        ("webhookSupportedEntities", None, []) => Ok(BcPath::SupportedEntities(None)),
        _ => Err(errors::not_found(format!(
            "No resource at '{path}': use companies, companies(<id>)/<entity>[(<id>)], subscriptions or webhookSupportedEntities"
        ))),
    }
}

fn lines_path(
    company: Uuid,
    lines: &'static BcLines,
    document: Option<Uuid>,
    key: Option<&str>,
) -> ApiResult<BcPath> {
    Ok(match key {
        None => BcPath::Lines {
            company,
            lines,
            document,
        },
        Some(k) => BcPath::Line {
            company,
            lines,
            document,
            id: guid_key(k, lines.entity.name)?,
        },
    })
}

/// A subscription's `resource`: a collection of one company.
#[derive(Debug, Clone)]
pub struct ResourceRef {
    pub version: &'static str,
    pub company: Uuid,
    pub entity: &'static BcEntity,
}

/// Parse `/api/v2.0/companies(<id>)/customers`, `api/v2.0/…` or an
/// absolute URL ending in it. The error says what is wrong.
pub fn parse_resource(resource: &str) -> Result<ResourceRef, String> {
    let r = resource.trim();
    let expected =
        "expected /api/v2.0/companies(<id>)/<entity>, e.g. /api/v2.0/companies(<id>)/customers";
    if r.is_empty() {
        return Err(format!("The resource is empty: {expected}"));
    }
    if r.contains('?') || r.contains('#') {
        return Err(format!(
            "The resource '{r}' must name a collection without query options: {expected}"
        ));
    }
    let from_api = match r.find("api/v") {
        Some(i) if i == 0 || r[..i].ends_with('/') => &r[i + 4..],
        _ => {
            return Err(format!(
                "The resource '{r}' is not a Business Central API path: {expected}"
            ))
        }
    };
    let mut parts = from_api.trim_end_matches('/').split('/');
    let version = parts.next().unwrap_or("");
    let Some(version) = VERSIONS.iter().find(|v| **v == version) else {
        return Err(format!(
            "The resource '{r}' uses API version '{version}': use v1.0 or v2.0"
        ));
    };
    let company_seg = parts.next().unwrap_or("");
    let entity_seg = parts.next().unwrap_or("");
    if parts.next().is_some() || entity_seg.is_empty() {
        return Err(format!(
            "The resource '{r}' is not a collection: {expected}"
        ));
    }
    let (cname, ckey) = split_key(company_seg).map_err(|e| e.message)?;
    let company = match (cname, ckey) {
        ("companies", Some(k)) => guid_key(k, "company").map_err(|e| e.message)?,
        _ => {
            return Err(format!(
                "The resource '{r}' does not name a company: {expected}"
            ))
        }
    };
    let (ename, ekey) = split_key(entity_seg).map_err(|e| e.message)?;
    if ekey.is_some() {
        return Err(format!("The resource '{r}' names a single record; subscriptions are to collections: {expected}"));
    }
    if let Some(lines) = bc_lines_named(ename) {
        return Err(format!(
            "'{ename}' does not support webhooks (as in Business Central); a change to a line changes its document's totals, so subscribe to {} to be notified of it",
            lines.document
        ));
    }
    let entity = entity_named(ename).ok_or_else(|| {
        format!(
            "'{ename}' does not support webhooks; supported entities: {}",
            herald_core::builtin::BC_ENTITIES
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    Ok(ResourceRef {
        version,
        company,
        entity,
    })
}

/// A record as notifications name it (no leading slash, as in the seed):
/// `api/v2.0/companies(<c>)/customers(<id>)`.
pub fn record_resource(version: &str, company: Uuid, entity: &BcEntity, id: Uuid) -> String {
    format!("api/{version}/companies({company})/{}({id})", entity.name)
}

/// The start of a window as collection filters write it: whole seconds,
/// strictly before the window's first change.
pub fn window_start(first_change: DateTime<Utc>) -> DateTime<Utc> {
    (first_change - Duration::milliseconds(1)).trunc_subsecs(0)
}

/// A `collection` notification's resource (leading slash, as in the seed):
/// `/api/v2.0/companies(<c>)/customers?$filter=lastModifiedDateTime%20gt%20<start>`
/// (`lastDateTimeModified` on v1.0).
pub fn collection_resource(
    version: &str,
    company: Uuid,
    entity: &BcEntity,
    since: DateTime<Utc>,
) -> String {
    let field = if version == "v1.0" {
        super::entity::LAST_MODIFIED_V1
    } else {
        super::entity::LAST_MODIFIED
    };
    format!(
        "/api/{version}/companies({company})/{}?$filter={field}%20gt%20{}",
        entity.name,
        format_datetime(&since)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "f64eba74-dacd-4854-a584-1834f68cfc3a";

    #[test]
    fn parses_paths() {
        assert!(matches!(parse("companies").unwrap(), BcPath::Companies));
        let p = parse(&format!("companies({C})/customers")).unwrap();
        assert!(matches!(p, BcPath::Entities { entity, .. } if entity.name == "customers"));
        assert!(matches!(
            parse(&format!("companies({C})/salesInvoices({C})")).unwrap(),
            BcPath::Entity { .. }
        ));
        assert!(
            matches!(parse("subscriptions('abc')").unwrap(), BcPath::Subscription(s) if s == "abc")
        );
        assert!(
            matches!(parse("subscriptions(abc)").unwrap(), BcPath::Subscription(s) if s == "abc")
        );
        assert!(matches!(
            parse(&format!(
                "companies({C})/salesInvoices({C})/salesInvoiceLines('{C}')"
            ))
            .unwrap(),
            BcPath::Line {
                document: Some(_),
                ..
            }
        ));
        assert!(matches!(
            parse(&format!(
                "companies({C})/salesInvoices({C})/salesInvoiceLines"
            ))
            .unwrap(),
            BcPath::Lines {
                document: Some(_),
                ..
            }
        ));
        assert!(matches!(
            parse(&format!("companies({C})/salesInvoiceLines")).unwrap(),
            BcPath::Lines { document: None, .. }
        ));
        assert_eq!(
            parse(&format!("companies({C})/customers({C})/salesInvoiceLines"))
                .unwrap_err()
                .status,
            404
        );
        assert!(matches!(parse("$metadata").unwrap(), BcPath::Metadata));
        assert!(matches!(
            parse(&format!("companies({C})/$metadata")).unwrap(),
            BcPath::Metadata
        ));
        assert!(matches!(
            parse("webhookSupportedEntities").unwrap(),
            BcPath::SupportedEntities(None)
        ));
        assert_eq!(
            parse(&format!("companies({C})/nothing"))
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(parse("companies(x)").unwrap_err().status, 400);
    }

    #[test]
    fn parses_resources() {
        for r in [
            format!("/api/v2.0/companies({C})/customers"),
            format!("api/v2.0/companies({C})/customers"),
            format!("https://api.businesscentral.dynamics.com/v2.0/tenant/prod/api/v2.0/companies({C})/customers/"),
        ] {
            let p = parse_resource(&r).unwrap_or_else(|e| panic!("{r}: {e}"));
            assert_eq!((p.version, p.entity.name), ("v2.0", "customers"));
        }
        assert_eq!(
            parse_resource(&format!("/api/v1.0/companies({C})/items"))
                .unwrap()
                .version,
            "v1.0"
        );
        for (bad, needle) in [
            (
                format!("/api/v2.0/companies({C})/widgets"),
                "does not support webhooks",
            ),
            (format!("/api/v3.0/companies({C})/items"), "v3.0"),
            (
                format!("/api/v2.0/companies({C})/salesInvoiceLines"),
                "subscribe to salesInvoices",
            ),
            (
                format!("/api/v2.0/companies({C})/items({C})"),
                "single record",
            ),
            ("/api/v2.0/companies/items".to_string(), "company"),
            ("/odata/items".to_string(), "not a Business Central"),
        ] {
            let e = parse_resource(&bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn notification_resources() {
        let e = entity_named("salesInvoices").unwrap();
        let c = Uuid::parse_str(C).unwrap();
        let t = chrono::DateTime::parse_from_rfc3339("2018-10-15T11:00:00.000Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            collection_resource("v1.0", c, e, window_start(t)),
            format!("/api/v1.0/companies({C})/salesInvoices?$filter=lastDateTimeModified%20gt%202018-10-15T10:59:59Z")
        );
        let t2 = t + Duration::milliseconds(467);
        assert_eq!(format_datetime(&window_start(t2)), "2018-10-15T11:00:00Z");
        assert_eq!(
            record_resource("v2.0", c, e, c),
            format!("api/v2.0/companies({C})/salesInvoices({C})")
        );
    }
}
