//! Logging for the commands that run herald in this process (`serve`,
//! `bench`): `tracing` to stderr, filtered by `RUST_LOG`, else by the
//! command's own default. One place, so that both read `RUST_LOG` alike.

use tracing_subscriber::EnvFilter;

/// Log to stderr at `RUST_LOG`, or at `default_filter` when it is not
/// set. A second call keeps the first subscriber.
pub fn to_stderr(default_filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
}
