//! Helpers for tests that need a real database: a fresh PostgreSQL database
//! per test (from `HERALD_TEST_DATABASE_URL`) or a temp SQLite file.

use sqlx::Connection;

/// The variable naming the PostgreSQL server tests use.
pub const PG_ENV: &str = "HERALD_TEST_DATABASE_URL";

/// Create an empty database on the test PostgreSQL server and return its URL,
/// or `None` (after saying so on stderr) when `HERALD_TEST_DATABASE_URL` is
/// not set.
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    let base = match std::env::var(PG_ENV) {
        Ok(u) if !u.is_empty() => u,
        _ => {
            say_skipped(test);
            return None;
        }
    };
    let name = format!("herald_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}={base} is set but unreachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
    let _ = conn.close().await;
    Some(replace_db_name(&base, &name))
}

/// Say that a PostgreSQL test was skipped where the person running the tests
/// sees it: `cargo test` captures `eprintln!` of passing tests, but not
/// writes to the process's stderr handle.
fn say_skipped(test: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (PostgreSQL): {test}: set {PG_ENV}=postgres://… to run it"
    );
}

/// `url` with its database name replaced by `name` (query string kept).
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A SQLite URL for a file in `dir`.
pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("herald.db").display())
}

/// A store on a SQLite file in `dir`, with the built-in tables only.
pub async fn sqlite_store(dir: &std::path::Path) -> crate::Store {
    let schema = std::sync::Arc::new(herald_core::Schema::build(&[]).expect("built-in schema"));
    crate::Store::connect(&sqlite_url(dir), schema, crate::StoreOptions::default())
        .await
        .expect("open a SQLite store")
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        assert_eq!(
            super::replace_db_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::replace_db_name("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
