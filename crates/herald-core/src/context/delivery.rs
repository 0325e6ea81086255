//! What goes on the wire for one webhook call: the body (with Dataverse's
//! 256 KB rule) and the request headers (SPEC §4).

use serde_json::Value as Json;
use uuid::Uuid;

use super::execution::ExecutionContext;
use super::json::to_wire_string;

/// 256 KB: a body larger than this is trimmed and flagged.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// The body to POST and whether it had to be trimmed (then send
/// `x-ms-dynamics-msg-size-exceeded`).
///
/// When the full body is over [`MAX_PAYLOAD_BYTES`], the four properties
/// `ParentContext`, `InputParameters`, `PreEntityImages` and
/// `PostEntityImages` are removed: the keys themselves are left out, every
/// other key keeps its place. Decision: SPEC §4 says "drop" them and seeds
/// 000–002 say they "will be removed" (and "Some operations do not include
/// these properties"), so a receiver must tell a trimmed body from one that
/// merely had empty collections by their absence (and the header); emptying
/// them in place (`null` / `[]`) would not be what Dataverse sends. The
/// trimmed body is sent even if it is still over the limit.
pub fn serialize_for_delivery(ctx: &ExecutionContext) -> (String, bool) {
    let full = ctx.to_json_string();
    if full.len() <= MAX_PAYLOAD_BYTES {
        return (full, false);
    }
    (ctx.to_trimmed_json_string(), true)
}

/// The properties Dataverse removes from an over-limit body.
pub const TRIMMED_PROPERTIES: [&str; 4] = [
    "ParentContext",
    "InputParameters",
    "PreEntityImages",
    "PostEntityImages",
];

fn trim(json: &mut Json) {
    if let Json::Object(m) = json {
        for key in TRIMMED_PROPERTIES {
            // `shift_remove` keeps the order of the remaining keys.
            m.shift_remove(key);
        }
    }
}

/// The same rule for a context already on the wire form (System Jobs keep
/// their context serialized): returned as is when small enough, else
/// re-serialized trimmed.
pub fn trim_serialized(data: &str) -> (String, bool) {
    if data.len() <= MAX_PAYLOAD_BYTES {
        return (data.to_string(), false);
    }
    match serde_json::from_str::<Json>(data) {
        Ok(mut json) => {
            trim(&mut json);
            (to_wire_string(&json), true)
        }
        Err(_) => (data.to_string(), false),
    }
}

/// The request headers, values lower-case as Dataverse sends them:
/// `x-request-id`, `x-ms-dynamics-organization`, `x-ms-dynamics-entity-name`
/// (`PrimaryEntityName`), `x-ms-dynamics-request-name` (`MessageName`),
/// `x-ms-correlation-request-id` (`CorrelationId`),
/// `x-ms-dynamics-msg-size-exceeded: true` only when `size_exceeded`, and
/// `content-type: application/json`. Authentication headers are not here.
pub fn webhook_headers(
    ctx: &ExecutionContext,
    organization_name: &str,
    size_exceeded: bool,
    request_id: Uuid,
) -> Vec<(String, String)> {
    headers_from_parts(
        &ctx.primary_entity_name,
        &ctx.message_name,
        ctx.correlation_id,
        organization_name,
        size_exceeded,
        request_id,
    )
}

/// [`webhook_headers`] from the individual values.
pub fn headers_from_parts(
    entity_name: &str,
    message_name: &str,
    correlation_id: Uuid,
    organization_name: &str,
    size_exceeded: bool,
    request_id: Uuid,
) -> Vec<(String, String)> {
    let mut h = vec![
        ("x-request-id".to_string(), request_id.to_string()),
        (
            "x-ms-dynamics-organization".to_string(),
            organization_name.to_lowercase(),
        ),
        (
            "x-ms-dynamics-entity-name".to_string(),
            entity_name.to_lowercase(),
        ),
        (
            "x-ms-dynamics-request-name".to_string(),
            message_name.to_lowercase(),
        ),
        (
            "x-ms-correlation-request-id".to_string(),
            correlation_id.to_string(),
        ),
    ];
    if size_exceeded {
        h.push((
            "x-ms-dynamics-msg-size-exceeded".to_string(),
            "true".to_string(),
        ));
    }
    h.push(("content-type".to_string(), "application/json".to_string()));
    h
}
