//! Who may do what: each API key acts as its systemuser with exactly that
//! user's security roles. This room owns the per-user cache of privileges
//! ([`GrantCache`], invalidated by a version every role change writes),
//! the check of a write ([`authorize_write`], called by the one write path,
//! `pipeline::write`) and the [`Reader`], the one query path every
//! client-visible read takes (Web API reads, FetchXML, `?sql=`, `$expand`,
//! `$batch` parts, the console, the BC API). The rules themselves are pure
//! and live in `herald_core::security`.

mod cache;
mod reader;
mod write;

pub use cache::GrantCache;
pub use reader::{ReadError, Reader};
pub use write::{authorize_write, privilege_of};
