//! Building and sending one webhook call. The body is a serialized
//! `RemoteExecutionContext` ([`Payload`]: trimmed by Dataverse's 256 KB
//! rule, with what its headers say about it); the request carries
//! Dataverse's headers, the endpoint's auth, and Standard Webhooks
//! signature headers when the endpoint has a signing secret. Every call is
//! counted in the metrics under its [`CallKind`].

use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use herald_core::context::{
    headers_from_parts, serialize_for_delivery, trim_serialized, ExecutionContext,
};
use herald_delivery::{Delivery, WebhookRequest};
use uuid::Uuid;

use super::endpoint::Endpoint;
use crate::state::AppState;

/// The body of a call and what Dataverse's headers say about it.
#[derive(Debug, Clone)]
pub struct Payload {
    pub body: String,
    /// Over 256 KB before trimming (`x-ms-dynamics-msg-size-exceeded`).
    pub size_exceeded: bool,
    pub entity: String,
    pub message: String,
    pub correlation_id: Uuid,
}

impl Payload {
    /// A context built for this call.
    pub fn of_context(ctx: &ExecutionContext) -> Payload {
        let (body, size_exceeded) = serialize_for_delivery(ctx);
        Payload {
            body,
            size_exceeded,
            entity: ctx.primary_entity_name.clone(),
            message: ctx.message_name.clone(),
            correlation_id: ctx.correlation_id,
        }
    }

    /// A context serialized earlier (a System Job's stored data, a
    /// client's `herald_Notify` body), trimmed when over the limit.
    pub fn serialized(data: &str, entity: &str, message: &str, correlation_id: Uuid) -> Payload {
        let (body, size_exceeded) = trim_serialized(data);
        Payload {
            body,
            size_exceeded,
            entity: entity.to_string(),
            message: message.to_string(),
            correlation_id,
        }
    }
}

/// Why a call cannot be made at all.
#[derive(Debug, Clone, thiserror::Error)]
#[error("has invalid authentication settings: {0}")]
pub struct InvalidAuth(pub String);

/// One call of a webhook.
pub struct WebhookCall<'a> {
    pub endpoint: &'a Endpoint,
    pub payload: Payload,
    /// `x-request-id`: new for every call.
    pub request_id: Uuid,
    /// The Standard Webhooks `webhook-id` is `msg_<message_id>`: the
    /// request id of a synchronous delivery or a notify (the same on its one
    /// retry), a System Job's id (the same on every run and retry), so
    /// receivers can deduplicate.
    pub message_id: Uuid,
}

impl WebhookCall<'_> {
    /// The HTTP request: body, Dataverse's headers, signature headers
    /// (timestamped `now`) and the endpoint's auth.
    pub fn request(
        self,
        organization: &str,
        now: DateTime<Utc>,
    ) -> Result<WebhookRequest, InvalidAuth> {
        let endpoint = self.endpoint;
        let auth = endpoint.auth.clone().map_err(InvalidAuth)?;
        let p = self.payload;
        let mut headers = headers_from_parts(
            &p.entity,
            &p.message,
            p.correlation_id,
            organization,
            p.size_exceeded,
            self.request_id,
        );
        headers.extend(herald_delivery::signature_headers(
            &endpoint.signing,
            &format!("msg_{}", self.message_id.simple()),
            now.timestamp(),
            p.body.as_bytes(),
        ));
        Ok(WebhookRequest {
            url: endpoint.url.clone(),
            auth,
            headers,
            body: p.body.into(),
        })
    }
}

/// Who makes a call, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// A synchronous step, inside the write's transaction.
    Sync,
    /// A System Job.
    Async,
    /// `herald_Notify`: a client invoking a webhook without a step.
    Notify,
}

impl CallKind {
    pub fn label(self) -> &'static str {
        match self {
            CallKind::Sync => "sync",
            CallKind::Async => "async",
            CallKind::Notify => "notify",
        }
    }
}

/// Send a request (with the 502/503/504 retry) and count it under `kind`
/// and the endpoint's name.
pub async fn send(
    state: &AppState,
    kind: CallKind,
    endpoint_name: &str,
    request: &WebhookRequest,
) -> Delivery {
    let started = Instant::now();
    let delivery = state.sender.deliver(request).await;
    record(state, kind, endpoint_name, &delivery, started);
    delivery
}

/// [`send`] that also returns the body of the last answer (see
/// `Sender::invoke`), for `herald_Notify`.
pub async fn invoke(
    state: &AppState,
    endpoint_name: &str,
    request: &WebhookRequest,
) -> (Delivery, Option<Bytes>) {
    let started = Instant::now();
    let (delivery, body) = state.sender.invoke(request).await;
    record(state, CallKind::Notify, endpoint_name, &delivery, started);
    (delivery, body)
}

/// Count a call that started at `started` (one that could not be made at
/// all counts as failed).
pub fn record(
    state: &AppState,
    kind: CallKind,
    endpoint_name: &str,
    delivery: &Delivery,
    started: Instant,
) {
    state.metrics.record_delivery(
        kind.label(),
        endpoint_name,
        delivery.is_success(),
        started.elapsed(),
    );
}
