//! The report: what a scenario measured ([`Outcome`]: parameters and
//! figures with their units) and how the run prints it — one aligned table,
//! or one JSON document for scripts — with every throughput also given as
//! a fraction of the loopback ceiling measured in the same run.

use clap::ValueEnum;
use serde_json::{json, Map, Value};

/// How the results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One aligned table.
    Table,
    /// One JSON document: {store, cores, ceiling_requests_per_s, scenarios: [{scenario, parameters…, metrics…}]}.
    Json,
}

/// How a metric's value reads.
#[derive(Clone, Copy, PartialEq)]
pub enum Unit {
    PerSec,
    Ms,
    Count,
    /// Megabytes (resident memory).
    Mb,
    /// Percent (of one core, or of the machine).
    Pct,
    /// A plain factor (a speed-up).
    Ratio,
}

/// One figure of a scenario: a key (JSON), a label (table), a value.
struct Metric {
    key: String,
    label: String,
    value: f64,
    unit: Unit,
}

/// What one scenario measured: its name, the parameters it ran with and
/// its figures, in the order they are reported.
pub struct Outcome {
    name: String,
    params: Map<String, Value>,
    metrics: Vec<Metric>,
}

impl Outcome {
    pub fn new(name: impl Into<String>, params: Value) -> Outcome {
        Outcome {
            name: name.into(),
            params: params.as_object().cloned().unwrap_or_default(),
            metrics: Vec::new(),
        }
    }

    /// The first figure's value (the ceiling's requests/s).
    pub fn first_value(&self) -> Option<f64> {
        self.metrics.first().map(|m| m.value)
    }

    /// Add a figure.
    pub fn metric(mut self, key: &str, label: &str, value: f64, unit: Unit) -> Outcome {
        self.metrics.push(Metric {
            key: key.into(),
            label: label.into(),
            value,
            unit,
        });
        self
    }
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::PerSec => format!("{} /s", group(v.round() as i64)),
        Unit::Count => group(v.round() as i64),
        Unit::Ms if v.abs() < 10.0 => format!("{v:.2} ms"),
        Unit::Ms => format!("{v:.1} ms"),
        Unit::Mb => format!("{v:.1} MB"),
        Unit::Pct => format!("{v:.0} %"),
        Unit::Ratio => format!("{v:.2}×"),
    }
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Print every scenario's figures, each throughput also as a fraction of
/// the `ceiling` (requests/s) when it was measured.
pub fn print_report(format: Format, store: &str, ceiling: Option<f64>, outcomes: &[Outcome]) {
    match format {
        Format::Json => {
            let scenarios: Vec<Value> = outcomes
                .iter()
                .map(|o| {
                    let mut m = Map::new();
                    m.insert("scenario".into(), json!(o.name));
                    for (k, v) in &o.params {
                        m.insert(k.clone(), v.clone());
                    }
                    for x in &o.metrics {
                        m.insert(x.key.clone(), json!((x.value * 1000.0).round() / 1000.0));
                        if let (Unit::PerSec, Some(c)) = (x.unit, ceiling) {
                            if o.name != "ceiling" && c > 0.0 {
                                m.insert(
                                    format!("{}_vs_ceiling", x.key),
                                    json!((x.value / c * 10000.0).round() / 10000.0),
                                );
                            }
                        }
                    }
                    Value::Object(m)
                })
                .collect();
            let doc = json!({
                "store": store,
                "cores": cores(),
                "load_average": load_average(),
                "ceiling_requests_per_s": ceiling.map(|c| c.round()),
                "scenarios": scenarios,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        Format::Table => {
            let cores = cores();
            let load = load_average().map_or(String::new(), |l| format!(", load average {l:.2}"));
            println!("herald bench — store {store}, {cores} cores{load}, everything in one process on loopback");
            let mut rows: Vec<[String; 4]> = vec![[
                "SCENARIO".into(),
                "METRIC".into(),
                "VALUE".into(),
                "OF CEILING".into(),
            ]];
            for o in outcomes {
                let params: Vec<String> = o
                    .params
                    .iter()
                    .filter(|(_, v)| !v.is_null() && !v.is_array())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let params = params.join(" ");
                for (i, x) in o.metrics.iter().enumerate() {
                    let ratio = match (x.unit, ceiling) {
                        (Unit::PerSec, Some(c)) if c > 0.0 => {
                            format!("{:.1} %", x.value / c * 100.0)
                        }
                        _ => String::new(),
                    };
                    let first = match i {
                        0 => o.name.clone(),
                        1 => format!("  {params}"),
                        _ => String::new(),
                    };
                    rows.push([first, x.label.clone(), fmt_value(x.value, x.unit), ratio]);
                }
                if o.metrics.len() == 1 && !params.is_empty() {
                    rows.push([
                        format!("  {params}"),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            let w: Vec<usize> = (0..4)
                .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
                .collect();
            for (ri, r) in rows.iter().enumerate() {
                let line = format!(
                    "{:<w0$}  {:<w1$}  {:>w2$}  {:>w3$}",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    w0 = w[0],
                    w1 = w[1],
                    w2 = w[2],
                    w3 = w[3]
                );
                println!("{}", line.trim_end());
                if ri == 0 {
                    println!("{}", "-".repeat(w.iter().sum::<usize>() + 6));
                }
            }
        }
    }
}

/// The machine's cores (as the report states them).
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The 1-minute load average (Linux), to warn about a busy machine.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
