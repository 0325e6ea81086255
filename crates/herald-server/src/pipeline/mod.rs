//! The single write path. Every change — Web API, CLI, BC API, a receiver
//! calling back — is an [`Operation`] run by [`execute`], in one
//! transaction: resolve the row and preconditions → stage 10 → validate →
//! stage 20 → write → stage 40 (sync steps) → outbox rows for async work →
//! commit.
//!
//! Webhook steps hook into the stages (`dispatch`, with the steps cached by
//! `registrations`); the webhook call itself belongs to `crate::webhook`.
//! Errors are the pipeline's own ([`PipelineError`]): nothing here speaks
//! HTTP.

pub mod associate;
mod bulk;
mod computed;
pub mod depth;
mod dispatch;
mod error;
pub mod event;
mod operation;
pub mod registrations;
mod steps;
mod validate;
mod write;

pub use bulk::{BulkMessage, BulkPhase};
pub use error::{PipelineError, PipelineResult};
pub use operation::{Link, Message, Operation, Outcome, Precondition};
pub use write::{execute, WriteSession};
