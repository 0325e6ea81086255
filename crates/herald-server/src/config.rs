//! herald's configuration: a TOML file with sections `[server] [store]
//! [delivery] [jobs] [audit] [bc]` and `[[tables]]`, overlaid by environment
//! variables `HERALD_<SECTION>__<KEY>`, overlaid by command-line flags
//! (applied by the binary). Unknown keys are errors, durations are strings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_core::duration::parse_duration;
use herald_core::schema::UserTableConfig;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub delivery: DeliveryConfig,
    pub jobs: JobsConfig,
    pub audit: AuditConfig,
    pub bc: BcConfig,
    pub tables: Vec<UserTableConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`HERALD_LISTEN`).
    pub listen: String,
    /// Where the SQLite file and the generated admin key live.
    pub data_dir: PathBuf,
    /// OrganizationName in contexts and the `x-ms-dynamics-organization` header.
    pub organization: String,
    /// Largest request body accepted (bytes); larger gets 413.
    pub max_body_size: usize,
    /// Allow webhooks to loopback/private addresses (local development).
    pub allow_private_targets: bool,
    /// The admin API key; generated and stored in `<data_dir>/admin.key` if unset.
    pub admin_key: Option<String>,
    /// The keys sealing secrets at rest (`HERALD_SECRET_KEY`: comma-separated
    /// base64 of 32 bytes, the first seals); unset: `<data_dir>/secret.key`.
    pub secret_key: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for localhost, 127.0.0.1
    /// and ::1, generated once into `<data_dir>/tls/` (local development).
    pub tls_self_signed: bool,
    /// Peers (CIDR blocks or addresses) whose `Forwarded` /
    /// `X-Forwarded-Proto` / `X-Forwarded-Host` decide the scheme and host
    /// of the URLs herald writes; default none. In the environment: a
    /// comma-separated list.
    #[serde(deserialize_with = "ip_nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// How long a client may take to send each request's head (from when
    /// herald starts waiting for it, so idle keep-alive time counts).
    #[serde(deserialize_with = "duration")]
    pub header_read_timeout: Duration,
}

impl ServerConfig {
    /// Whether herald itself terminates TLS.
    pub fn serves_tls(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some() || self.tls_key.is_some()
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:5080".into(),
            data_dir: PathBuf::from("./herald-data"),
            organization: "herald".into(),
            max_body_size: 8 * 1024 * 1024,
            allow_private_targets: false,
            admin_key: None,
            secret_key: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data dir.
    pub database_url: Option<String>,
    pub max_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            database_url: None,
            max_connections: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Total time allowed for one webhook request (Dataverse: 60 s).
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    /// Writes deeper than this within one correlation are refused.
    pub max_depth: i64,
    /// After a signing secret is replaced, the old one keeps signing (both
    /// signatures are sent) for this long.
    #[serde(deserialize_with = "duration")]
    pub secret_rotation_grace: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(60),
            max_depth: 8,
            secret_rotation_grace: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How many System Jobs one node delivers at once.
    pub concurrency: usize,
    /// How long a claimed job stays leased before another node may take it.
    #[serde(deserialize_with = "duration")]
    pub lease: Duration,
    /// Safety-net poll interval when no wake-up arrives.
    #[serde(deserialize_with = "duration")]
    pub poll_interval: Duration,
    /// Succeeded jobs older than this are purged.
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
    /// How often the purge runs; default (None): `retention / 10`, between
    /// 1 min and 1 h. See [`JobsConfig::retention_every`].
    #[serde(deserialize_with = "opt_duration")]
    pub retention_interval: Option<Duration>,
    /// Fairness: the percentage (1–100) of `concurrency` that the jobs of
    /// one endpoint may occupy on a node, so that a slow or hanging endpoint
    /// never starves the others (50: at most 16 of 32 slots).
    pub endpoint_share: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            concurrency: 32,
            lease: Duration::from_secs(180),
            poll_interval: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 86_400),
            retention_interval: None,
            endpoint_share: 50,
        }
    }
}

impl JobsConfig {
    /// How many of a node's slots one endpoint may hold at once (≥ 1).
    pub fn per_endpoint(&self) -> usize {
        let share = self.endpoint_share.clamp(1, 100) as usize;
        (self.concurrency.max(1) * share).div_ceil(100).max(1)
    }

    /// How often the retention purge runs: `retention_interval` when set
    /// (at least 10 ms), else `retention / 10` between 1 min and 1 h.
    pub fn retention_every(&self) -> Duration {
        match self.retention_interval {
            Some(every) => every.max(Duration::from_millis(10)),
            None => (self.retention / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600)),
        }
    }
}

/// The audit trail (`audits`): how long its rows are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Audit rows older than this are purged (`HERALD_AUDIT__RETENTION`).
    #[serde(deserialize_with = "duration")]
    pub retention: Duration,
    /// How often the purge runs; default (None): `retention / 10`, between
    /// 1 min and 1 h.
    #[serde(deserialize_with = "opt_duration")]
    pub retention_interval: Option<Duration>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: Duration::from_secs(90 * 86_400),
            retention_interval: None,
        }
    }
}

impl AuditConfig {
    /// How often the purge runs: `retention_interval` when set (at least
    /// 10 ms), else `retention / 10` between 1 min and 1 h.
    pub fn retention_every(&self) -> Duration {
        match self.retention_interval {
            Some(every) => every.max(Duration::from_millis(10)),
            None => (self.retention / 10).clamp(Duration::from_secs(60), Duration::from_secs(3600)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BcConfig {
    #[serde(deserialize_with = "duration")]
    pub notification_delay: Duration,
    pub collection_threshold: usize,
    #[serde(deserialize_with = "duration")]
    pub handshake_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub notification_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub subscription_expiration: Duration,
    pub max_subscriptions: usize,
}

impl Default for BcConfig {
    fn default() -> Self {
        BcConfig {
            notification_delay: Duration::from_secs(30),
            collection_threshold: 1000,
            handshake_timeout: Duration::from_secs(5),
            notification_timeout: Duration::from_secs(30),
            subscription_expiration: Duration::from_secs(3 * 86_400),
            max_subscriptions: 1000,
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map_err(serde::de::Error::custom)
}

/// A list of CIDR blocks (`10.0.0.0/8`) or single addresses (`::1`), as
/// a TOML array or a comma-separated string.
fn ip_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    let items = match List::deserialize(d)? {
        List::One(s) => s.split(',').map(str::to_string).collect(),
        List::Many(v) => v,
    };
    items
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "trusted_proxies: '{s}' is not an address or CIDR block (e.g. 127.0.0.1/32)"
                    ))
                })
        })
        .collect()
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

const SECTIONS: [&str; 6] = ["server", "store", "delivery", "jobs", "audit", "bc"];

impl Config {
    /// Load the file (if any), then apply `HERALD_<SECTION>__<KEY>` variables
    /// from `env`.
    pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut root = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("HERALD_") else {
                continue;
            };
            let Some((section, name)) = rest.split_once("__") else {
                continue;
            };
            // An empty variable is an unset one (`HERALD_SERVER__X=`).
            if value.is_empty() {
                continue;
            }
            let section = section.to_ascii_lowercase();
            let name = name.to_ascii_lowercase();
            if !SECTIONS.contains(&section.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "{key}: unknown section '{section}' (sections: {})",
                    SECTIONS.join(", ")
                )));
            }
            let entry = root
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let table = entry
                .as_table_mut()
                .ok_or_else(|| ConfigError::Invalid(format!("[{section}] must be a table")))?;
            table.insert(name, env_value(value));
        }
        let config: Config = toml::Value::Table(root)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        Ok(config)
    }

    /// The database URL to use: the configured one or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.store.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                self.server.data_dir.join("herald.db").display()
            ),
        }
    }
}

/// An environment value as TOML: integers and booleans keep their type,
/// everything else is a string.
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_variable_is_unset() {
        let env = vec![(
            "HERALD_SERVER__ALLOW_PRIVATE_TARGETS".to_string(),
            String::new(),
        )];
        let config = Config::load(None, &env).expect("an empty variable is no error");
        assert!(!config.server.allow_private_targets);
    }

    #[test]
    fn env_overrides_file_and_unknown_keys_fail() {
        let dir = std::env::temp_dir().join(format!("herald-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.toml");
        std::fs::write(
            &path,
            "[bc]\nnotification_delay = \"10s\"\n[delivery]\ntimeout = \"5s\"\n",
        )
        .unwrap();
        let env = vec![(
            "HERALD_BC__NOTIFICATION_DELAY".to_string(),
            "1s".to_string(),
        )];
        let c = Config::load(Some(&path), &env).unwrap();
        assert_eq!(c.bc.notification_delay, Duration::from_secs(1));
        assert_eq!(c.delivery.timeout, Duration::from_secs(5));
        assert_eq!(c.jobs.concurrency, 32);

        std::fs::write(&path, "[bc]\nnotification_dely = \"10s\"\n").unwrap();
        let err = Config::load(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("notification_dely"), "{err}");
        let env = vec![("HERALD_DELIVERY__TIMEOUT".to_string(), "soon".to_string())];
        assert!(Config::load(None, &env).is_err());
    }

    #[test]
    fn tls_and_trusted_proxies_load_from_file_and_env() {
        let c = Config::load(None, &[]).unwrap();
        assert!(!c.server.serves_tls());
        assert!(c.server.trusted_proxies.is_empty());
        let dir = std::env::temp_dir().join(format!("herald-cfg-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.toml");
        std::fs::write(
            &path,
            "[server]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), &[]).unwrap();
        assert!(c.server.serves_tls());
        assert_eq!(c.server.tls_cert.as_deref(), Some(Path::new("c.pem")));
        let nets: Vec<String> = c
            .server
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["127.0.0.1/32", "::1/128"]);
        let env = vec![
            (
                "HERALD_SERVER__TRUSTED_PROXIES".to_string(),
                "10.0.0.0/8, 192.0.2.7".to_string(),
            ),
            (
                "HERALD_SERVER__TLS_SELF_SIGNED".to_string(),
                "true".to_string(),
            ),
        ];
        let c = Config::load(None, &env).unwrap();
        assert!(c.server.tls_self_signed);
        assert_eq!(c.server.trusted_proxies.len(), 2);
        let env = vec![(
            "HERALD_SERVER__TRUSTED_PROXIES".to_string(),
            "proxy.example".to_string(),
        )];
        let err = Config::load(None, &env).unwrap_err().to_string();
        assert!(err.contains("proxy.example"), "{err}");
    }

    #[test]
    fn retention_interval_defaults_to_a_tenth_of_retention_and_can_be_set() {
        let c = Config::load(None, &[]).unwrap();
        assert_eq!(c.jobs.retention_interval, None);
        assert_eq!(
            c.jobs.retention_every(),
            Duration::from_secs(3600),
            "7 d / 10, at most 1 h"
        );
        let env = vec![("HERALD_JOBS__RETENTION".to_string(), "2m".to_string())];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(
            c.jobs.retention_every(),
            Duration::from_secs(60),
            "at least 1 min"
        );
        let env = vec![(
            "HERALD_JOBS__RETENTION_INTERVAL".to_string(),
            "250ms".to_string(),
        )];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.jobs.retention_interval, Some(Duration::from_millis(250)));
        assert_eq!(c.jobs.retention_every(), Duration::from_millis(250));
        let env = vec![(
            "HERALD_JOBS__RETENTION_INTERVAL".to_string(),
            "often".to_string(),
        )];
        assert!(Config::load(None, &env).is_err());
    }

    #[test]
    fn audit_retention_defaults_to_90_days_and_is_set_by_the_environment() {
        let c = Config::load(None, &[]).unwrap();
        assert_eq!(c.audit.retention, Duration::from_secs(90 * 86_400));
        assert_eq!(c.audit.retention_every(), Duration::from_secs(3600));
        let env = vec![
            ("HERALD_AUDIT__RETENTION".to_string(), "30d".to_string()),
            (
                "HERALD_AUDIT__RETENTION_INTERVAL".to_string(),
                "5m".to_string(),
            ),
        ];
        let c = Config::load(None, &env).unwrap();
        assert_eq!(c.audit.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(c.audit.retention_every(), Duration::from_secs(300));
    }
}
