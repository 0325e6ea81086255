//! Progress on stderr: one rewritten percentage line while a phase runs
//! when stderr is a terminal, one plain line per phase otherwise — all a
//! bench needs, so no `indicatif`. The counter is shared with the tasks
//! doing the work (`ProgressHandle::counter`), which bump it as they go.

use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

/// The count of one phase, shared with the tasks doing the work.
pub struct Progress {
    total: u64,
    done: AtomicU64,
}

impl Progress {
    /// One more unit of the phase done.
    pub fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// One phase's progress line; [`ProgressHandle::finish`] clears it.
pub struct ProgressHandle {
    p: Arc<Progress>,
    ticker: Option<JoinHandle<()>>,
    tty: bool,
}

impl ProgressHandle {
    pub fn start(label: &str, total: u64) -> ProgressHandle {
        let tty = std::io::stderr().is_terminal();
        let p = Arc::new(Progress {
            total: total.max(1),
            done: AtomicU64::new(0),
        });
        let ticker = if tty {
            let (p2, label) = (p.clone(), label.to_string());
            Some(tokio::spawn(async move {
                loop {
                    let d = p2.done.load(Ordering::Relaxed).min(p2.total);
                    eprint!(
                        "\r\x1b[2K  {label}: {:>3}% ({d}/{})",
                        d * 100 / p2.total,
                        p2.total
                    );
                    let _ = std::io::stderr().flush();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }))
        } else {
            eprintln!("  {label} …");
            None
        };
        ProgressHandle { p, ticker, tty }
    }

    /// The shared counter, for tasks that [`Progress::tick`] it.
    pub fn counter(&self) -> Arc<Progress> {
        self.p.clone()
    }

    /// `n` units done so far.
    pub fn set(&self, n: u64) {
        self.p.done.store(n, Ordering::Relaxed);
    }

    pub fn finish(mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if self.tty {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
            if self.tty {
                eprintln!();
            }
        }
    }
}
