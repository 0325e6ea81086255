//! herald's outbound HTTP: webhook delivery with Dataverse's outcome and
//! retry rule, the service endpoint's auth options, and the SSRF guard.
//!
//! - [`guard`]: which addresses may be called; the guarded DNS resolver.
//! - [`auth`]: WebhookKey / HttpHeader / HttpQueryString applied to a request.
//! - [`sender`]: the shared client, [`Sender::deliver`] / [`Sender::invoke`]
//!   (webhooks) and [`Sender::post`] (raw single POST, e.g. Business Central).
//! - [`outcome`]: attempts, outcome, failure kinds and messages.
//! - `transport`: the pooled hyper client under the sender.

pub mod auth;
pub mod guard;
pub mod outcome;
pub mod sender;
pub mod signing;
mod transport;

pub use auth::apply_auth;
pub use guard::{check_ip, GuardedResolver};
pub use outcome::{Attempt, Delivery, Failure, FailureKind, Outcome};
pub use sender::{
    Sender, SenderConfig, SenderError, WebhookRequest, EXCERPT_BYTES, MAX_CONNECT_TIMEOUT,
    MAX_RESPONSE_BODY, RETRY_PAUSE,
};
pub use signing::{signature_headers, SigningSecret};

/// Re-exported so callers need not depend on `bytes` / `http` themselves.
pub use bytes::Bytes;
pub use http::HeaderMap;
