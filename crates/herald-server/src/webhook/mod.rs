//! One webhook call, owned in one place: the webhook (`serviceendpoint` row
//! → typed [`Endpoint`], loaded one at a time or in batches), and the call
//! itself ([`WebhookCall`]: body trimmed by the 256 KB rule, Dataverse's
//! headers, the endpoint's auth, Standard Webhooks signature headers, sent
//! and counted in the metrics). Synchronous steps (`pipeline`), System Jobs
//! (`jobs`) and `herald_Notify` (`api`) all call webhooks through here, so
//! none of them reaches into another's internals.

mod call;
mod endpoint;

pub use call::{invoke, record, send, CallKind, InvalidAuth, Payload, WebhookCall};
pub use endpoint::{load, lookup, rows_by_id, Endpoint, EndpointLookup, EndpointMemo};
