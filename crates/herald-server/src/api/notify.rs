//! `POST serviceendpoints(<id>)/Microsoft.Dynamics.CRM.herald_Notify`:
//! invoke a webhook without a step (the seeds' "Invoke a webhook from a
//! plug-in", i.e. `IServiceEndpointNotificationService.Execute`). The body is
//! an execution context; it is posted with the endpoint's auth, Dataverse's
//! headers, the 256 KB rule and the 502/503/504 retry, and the endpoint's
//! response body is returned as the action's string value.

use axum::http::StatusCode;
use herald_core::value::parse_guid;
use herald_delivery::Outcome;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use super::payload::json_object;
use crate::api::error::{codes, ApiError, ApiResult};
use crate::state::AppState;
use crate::webhook::{self, Payload, WebhookCall};

pub const ACTION: &str = "herald_Notify";

/// Post `body` to the endpoint and return the endpoint's answer.
pub async fn notify(
    state: &AppState,
    base: &str,
    endpoint_id: Uuid,
    body: &[u8],
) -> ApiResult<Json> {
    let ctx = json_object(body)?;
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::payload("The body must be UTF-8 JSON"))?;
    let mut tx = state.store.begin().await?;
    let endpoint = webhook::load(&mut tx, endpoint_id, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::record_not_found("serviceendpoint", endpoint_id))?;
    drop(tx);
    let unavailable = |why: String| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            codes::ENDPOINT_UNAVAILABLE,
            format!(
                "Endpoint unavailable: the webhook '{}' ({}) {why}",
                endpoint.name, endpoint.url
            ),
        )
    };
    let field = |k: &str| ctx.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let correlation = parse_guid(&field("CorrelationId")).unwrap_or_else(Uuid::new_v4);
    let request_id = Uuid::new_v4();
    let call = WebhookCall {
        endpoint: &endpoint,
        payload: Payload::serialized(
            text.trim(),
            &field("PrimaryEntityName"),
            &field("MessageName"),
            correlation,
        ),
        request_id,
        message_id: request_id,
    };
    let request = call
        .request(&state.config.server.organization, state.clock.now())
        .map_err(|e| unavailable(e.to_string()))?;
    let (delivery, response) = webhook::invoke(state, &endpoint.name, &request).await;
    match delivery.outcome {
        Outcome::Succeeded { .. } => {
            let text = response
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            Ok(json!({"@odata.context": format!("{base}$metadata#Edm.String"), "value": text}))
        }
        Outcome::Failed(f) => Err(unavailable(format!(
            "failed after {} attempt(s): {}",
            delivery.attempts.len(),
            f.message
        ))),
    }
}
