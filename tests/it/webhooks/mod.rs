//! Webhook registrations, the event pipeline and delivery, against a real
//! loopback receiver, on SQLite and PostgreSQL.

mod golden;

mod context;
mod failures;
mod notify;
mod registration;
mod steps;
mod trimming;

/// The seeds' `HttpHeader` authvalue: two headers every request must carry.
const HEADERS: &str = r#"<settings><setting name="X-Test1" value="test1" /><setting name="X-Test2" value="test2" /></settings>"#;
