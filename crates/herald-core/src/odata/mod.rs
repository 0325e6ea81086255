//! The OData v4 query options of the Dataverse Web API (SPEC §2): splitting
//! the raw query string, parameter aliases, and binding `$select`,
//! `$filter`, `$orderby`, `$top`, `$count` and `$expand` to the schema as a
//! [`crate::query::Query`].
//!
//! Every error is a [`crate::QueryError`]; errors inside an option carry the
//! 0-based character position in that option's (decoded) value.

mod aliases;
mod context;
mod filter;
mod lexer;
mod literal;
mod names;
mod options;
mod query_string;

#[cfg(test)]
mod tests;

pub use aliases::{parameter_aliases, resolve_alias};
pub use filter::MAX_FILTER_DEPTH;
pub use options::{parse_options, MAX_TOP};
pub use query_string::{percent_decode, split_query_string};
