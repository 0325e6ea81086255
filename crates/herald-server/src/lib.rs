//! herald-server: the HTTP API (OData Web API), the single write pipeline,
//! bootstrap of first-start rows, configuration, and the server lifecycle.

pub mod accept;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bc;
pub mod bootstrap;
pub mod config;
pub mod conn_limit;
pub mod console;
pub mod edge;
mod io_wrapper;
pub mod jobs;
pub mod metrics;
pub mod node;
pub mod pipeline;
pub mod public_origin;
pub mod request_id;
pub mod secret_key;
pub mod security;
pub mod server;
pub mod state;
pub mod tables;
pub mod throttle;
pub mod tls;
pub mod webhook;
