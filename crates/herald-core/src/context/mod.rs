//! Dataverse's `RemoteExecutionContext`: the body of every webhook request.
//!
//! Modelled and serialized exactly as seed 000 ("Use webhooks…", Request
//! Body) shows, key for key and in the same property order, so that a
//! receiver written for Dataverse (including one deserializing into
//! `Microsoft.Xrm.Sdk.RemoteExecutionContext`) accepts herald's requests.
//!
//! - [`value`]: entities, entity references and typed attribute values;
//! - [`execution`]: the [`ExecutionContext`] itself;
//! - [`json`]: its JSON form and the `\/`-escaped wire string;
//! - [`convert`]: from herald's schema and [`crate::Value`]s to attribute values;
//! - [`builder`]: a context and its `ParentContext` for one step execution;
//! - [`delivery`]: the 256 KB rule and the webhook request headers.
//!
//! Everything here is pure: no clock, no random ids — callers pass them in.

pub mod builder;
pub mod convert;
pub mod delivery;
pub mod execution;
pub mod json;
pub mod value;

#[cfg(test)]
mod golden_tests;

pub use builder::{ContextBuilder, Target};
pub use convert::{attribute_value, entity_from_values, image_from_values};
pub use delivery::{
    headers_from_parts, serialize_for_delivery, trim_serialized, webhook_headers,
    MAX_PAYLOAD_BYTES, TRIMMED_PROPERTIES,
};
pub use execution::{
    ExecutionContext, ISOLATION_MODE, MODE_ASYNCHRONOUS, MODE_SYNCHRONOUS, STAGE_MAIN_OPERATION,
    STAGE_POST_OPERATION, STAGE_PRE_OPERATION, STAGE_PRE_VALIDATION,
};
pub use json::to_wire_string;
pub use value::{AttributeValue, Entity, EntityReference, ParamValue};
