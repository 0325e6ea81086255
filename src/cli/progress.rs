//! Progress on stderr for the CLI operations that can take long (`herald
//! job retry --failed`, `herald bench`'s phases): an `indicatif` bar when
//! stderr is a terminal; otherwise a line when the phase starts and one
//! with the count when it ends, so logs and tests see what happened.
//!
//! The work's tasks bump a plain atomic counter ([`Progress::tick`],
//! shared with [`ProgressHandle::counter`]): the bench's hot loops pay one
//! relaxed add, and a ticker copies the count into the bar five times a
//! second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

/// The count of one phase, shared with the tasks doing the work.
pub struct Progress {
    done: AtomicU64,
}

impl Progress {
    /// One more unit of the phase done.
    pub fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }
}

/// One phase's progress; [`ProgressHandle::finish`] ends it.
pub struct ProgressHandle {
    p: Arc<Progress>,
    bar: ProgressBar,
    label: String,
    total: u64,
    ticker: Option<JoinHandle<()>>,
}

impl ProgressHandle {
    /// Start a phase of `total` units. Needs a tokio runtime (the ticker).
    pub fn start(label: &str, total: u64) -> ProgressHandle {
        let total = total.max(1);
        let p = Arc::new(Progress {
            done: AtomicU64::new(0),
        });
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "  {msg}: [{bar:30}] {pos}/{len} ({percent}%, {elapsed}, eta {eta})",
        )
        .map(|s| s.progress_chars("#>-"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        let ticker = if bar.is_hidden() {
            eprintln!("  {label} …");
            None
        } else {
            let (p2, bar2) = (p.clone(), bar.clone());
            Some(tokio::spawn(async move {
                loop {
                    bar2.set_position(p2.done.load(Ordering::Relaxed).min(total));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }))
        };
        ProgressHandle {
            p,
            bar,
            label: label.to_string(),
            total,
            ticker,
        }
    }

    /// The shared counter, for tasks that [`Progress::tick`] it.
    pub fn counter(&self) -> Arc<Progress> {
        self.p.clone()
    }

    /// `n` units done so far.
    pub fn set(&self, n: u64) {
        self.p.done.store(n, Ordering::Relaxed);
        self.bar.set_position(n.min(self.total));
    }

    /// Print a line above the bar (or just print it, without a terminal).
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// End the phase: the bar goes; without a terminal, the count is printed.
    pub fn finish(mut self) {
        self.stop();
        if self.bar.is_hidden() {
            let done = self.p.done.load(Ordering::Relaxed).min(self.total);
            eprintln!("  {}: {done}/{}", self.label, self.total);
        }
    }

    fn stop(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
