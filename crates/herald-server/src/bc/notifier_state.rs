//! The BC notifier's per-server state, held in `AppState`: one tick at a
//! time (the background task and a test's direct call queue up), the lease
//! owner name its notifications are claimed under, and whether the
//! background task is held (tests that drive ticks with a manual clock).

use std::sync::atomic::{AtomicBool, Ordering};

pub struct NotifierState {
    pub(super) tick: tokio::sync::Mutex<()>,
    pub(super) owner: String,
    held: AtomicBool,
}

impl Default for NotifierState {
    fn default() -> Self {
        NotifierState {
            tick: tokio::sync::Mutex::new(()),
            owner: crate::node::node_name(Some("bc")),
            held: AtomicBool::new(false),
        }
    }
}

impl NotifierState {
    /// Stop the background task from ticking this server.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }
}
