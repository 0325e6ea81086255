//! What the bench reads of processes and of the machine from Linux's
//! `/proc`: a process's resident memory (`VmRSS`, and its peak `VmHWM`,
//! which `/proc/self/clear_refs` resets so that a phase's peak can be read
//! apart from an earlier phase's), its CPU time (`utime + stime` of
//! `/proc/<pid>/stat`), and the machine's busy share over a span (the
//! `cpu` line of `/proc/stat`). Where `/proc` is missing (not Linux) every
//! reading is `None` and the report leaves the figure out.
//!
//! The bench runs herald, the receiver and the load generator in one
//! process, so "the process" here is all three; a second node of
//! `drain --nodes 2` is a child process, read by its pid.

use std::time::Duration;

/// Kilobytes of a `VmRSS:`-style line of `/proc/<pid>/status`.
fn status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resident memory now, MB (`pid` None: this process).
pub fn rss_mb(pid: Option<u32>) -> Option<f64> {
    status_kb(pid, "VmRSS").map(|kb| kb as f64 / 1024.0)
}

/// Peak resident memory since start or the last [`reset_peak`], MB.
pub fn peak_mb(pid: Option<u32>) -> Option<f64> {
    status_kb(pid, "VmHWM").map(|kb| kb as f64 / 1024.0)
}

/// Reset this process's `VmHWM` to its current RSS (Linux ≥ 4.0); false
/// when the kernel refused, and the peak then counts from the start.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The highest `VmRSS` of this process seen by a sampler every 50 ms
/// while it lives (what `VmHWM` gives too, where the kernel lets
/// [`reset_peak`] restart it; the sampler does not need that).
pub struct RssWatch {
    max_kb: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssWatch {
    pub fn start() -> RssWatch {
        let max_kb = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let m = max_kb.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(kb) = status_kb(None, "VmRSS") {
                    m.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        RssWatch { max_kb, task }
    }

    /// The highest reading so far, MB (None: nothing read).
    pub fn max_mb(&self) -> Option<f64> {
        let kb = self.max_kb.load(std::sync::atomic::Ordering::Relaxed);
        (kb > 0).then(|| kb as f64 / 1024.0)
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Clock ticks per second of `/proc/<pid>/stat`'s times.
fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU time (user + system) a process has used, all its threads.
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime 14 and stime 15.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks_per_s(),
    ))
}

/// CPU time of every process whose command is `name` and whose command
/// line (a PostgreSQL backend's names its database) holds `holding`, by
/// pid.
fn cpu_of_named(name: &str, holding: &str) -> std::collections::HashMap<u32, Duration> {
    let mut out = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if comm.trim_end() == name && String::from_utf8_lossy(&cmdline).contains(holding) {
            if let Some(t) = cpu_time(Some(pid)) {
                out.insert(pid, t);
            }
        }
    }
    out
}

/// The machine's CPU counters (the `cpu` line of `/proc/stat`): (busy,
/// total) ticks over every core.
#[derive(Debug, Clone, Copy)]
pub struct MachineCpu {
    busy: u64,
    total: u64,
}

impl MachineCpu {
    pub fn now() -> Option<MachineCpu> {
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        let line = text.lines().find(|l| l.starts_with("cpu "))?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal (guest is in user).
        let total: u64 = v.iter().take(8).sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        Some(MachineCpu {
            busy: total.saturating_sub(idle),
            total,
        })
    }

    /// Percent of all cores' time busy between `self` and `later`.
    pub fn busy_pct(&self, later: &MachineCpu) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        later.busy.saturating_sub(self.busy) as f64 * 100.0 / total as f64
    }
}

/// CPU readings at the start of a span, to give each process's cores used
/// and the machine's busy share at its end.
pub struct CpuSpan {
    started: std::time::Instant,
    this: Option<Duration>,
    child: Option<(u32, Option<Duration>)>,
    postgres: std::collections::HashMap<u32, Duration>,
    pg_db: Option<String>,
    machine: Option<MachineCpu>,
}

/// What a [`CpuSpan`] measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    /// Cores this process kept busy on average (CPU time / wall time).
    pub this_cores: Option<f64>,
    /// The same for the child process.
    pub child_cores: Option<f64>,
    /// The same for the local PostgreSQL server's backends serving the
    /// bench's database (None: none runs here). The server's shared
    /// processes (WAL writer, checkpointer) are not counted, nor backends
    /// that ended during the span.
    pub postgres_cores: Option<f64>,
    /// Percent of the machine's cores busy (every process: herald, the
    /// store's server, anything else running).
    pub machine_busy_pct: Option<f64>,
}

impl CpuSpan {
    /// Start measuring this process and, if given, a child by its pid and
    /// the PostgreSQL backends of database `pg_db`.
    pub fn start(child: Option<u32>, pg_db: Option<&str>) -> CpuSpan {
        CpuSpan {
            started: std::time::Instant::now(),
            this: cpu_time(None),
            child: child.map(|p| (p, cpu_time(Some(p)))),
            postgres: pg_db
                .map(|db| cpu_of_named("postgres", &format!(" {db} ")))
                .unwrap_or_default(),
            pg_db: pg_db.map(|db| format!(" {db} ")),
            machine: MachineCpu::now(),
        }
    }

    pub fn end(&self) -> CpuUse {
        let wall = self.started.elapsed().as_secs_f64().max(1e-9);
        let cores = |before: Option<Duration>, after: Option<Duration>| {
            Some((after?.as_secs_f64() - before?.as_secs_f64()) / wall)
        };
        let pg_now = self
            .pg_db
            .as_deref()
            .map(|db| cpu_of_named("postgres", db))
            .unwrap_or_default();
        let postgres_cores = (!pg_now.is_empty()).then(|| {
            let used: f64 = pg_now
                .iter()
                .map(|(pid, t)| {
                    let before = self.postgres.get(pid).copied().unwrap_or_default();
                    t.saturating_sub(before).as_secs_f64()
                })
                .sum();
            used / wall
        });
        CpuUse {
            this_cores: cores(self.this, cpu_time(None)),
            postgres_cores,
            child_cores: self
                .child
                .and_then(|(pid, before)| cores(before, cpu_time(Some(pid)))),
            machine_busy_pct: self
                .machine
                .zip(MachineCpu::now())
                .map(|(a, b)| a.busy_pct(&b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_cpu_time() {
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        let rss = rss_mb(None).expect("VmRSS");
        assert!(rss > 0.0);
        assert!(peak_mb(None).expect("VmHWM") >= rss * 0.5);
        // Burn a little CPU so the reading moves.
        let span = CpuSpan::start(None, None);
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let used = span.end();
        assert!(used.this_cores.is_some());
        assert!(used
            .machine_busy_pct
            .is_some_and(|p| (0.0..=100.0).contains(&p)));
    }
}
