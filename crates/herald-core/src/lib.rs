//! herald-core: the pure heart of herald. Schema metadata, typed values, the
//! query model and its parsers (OData, FetchXML), and the Dataverse
//! execution context. No I/O lives here, so all of it is unit-tested.

pub mod audit;
pub mod authvalue;
pub mod batch;
pub mod builtin;
pub mod clock;
pub mod context;
pub mod duration;
pub mod error;
pub mod fetchxml;
pub mod fixed_ids;
pub mod http_framing;
pub mod job;
pub mod matching;
pub mod new_job;
pub mod odata;
pub mod query;
pub mod query_expression;
pub mod schema;
pub mod security;
pub mod sql;
pub mod value;

pub use error::{QueryError, SchemaError};
pub use query::Query;
pub use schema::{Column, ColumnType, Schema, Table};
pub use value::Value;
