//! A small client for a running herald's Web API, used by the registration
//! commands (`webhook`, `step`, `notify`).
//!
//! Where the server is and which key to use come from the connection
//! options, given before or after the command (`herald --key K webhook
//! list` = `herald webhook list --key K`; `--key` and `--data-dir` are clap
//! `global` options, `--url` is moved before the command by
//! [`super::argv`] because `webhook add --url` is the endpoint):
//! `--url` / `HERALD_URL` (default `http://127.0.0.1:5080`, either the
//! server root or the Web API base `…/api/data/v9.2`), and `--key` /
//! `HERALD_KEY`, else `HERALD_ADMIN_KEY`, else the `admin.key` file in
//! `--data-dir` / `HERALD_DATA_DIR` / `./herald-data`.
//!
//! Over `https://` the CLI trusts the system's roots and, when given,
//! `--ca-cert FILE` / `HERALD_CA_CERT` (a PEM certificate or CA); without
//! one it also trusts the self-signed certificate a server started with
//! `serve --tls-self-signed` made in the data directory
//! (`<data-dir>/tls/self-signed.crt`), so talking to one's own local
//! server just works. Verification is never turned off: a certificate
//! nobody vouches for is an error that says which option fixes it.
//!
//! Every failure becomes a plain sentence: an OData error body
//! `{"error":{"code","message"}}` turns into `server said <status>:
//! <message>` ([`ApiError`], which callers can downcast to look at the
//! status), and a connection failure into `cannot reach herald at <url>: …`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

pub const DEFAULT_URL: &str = "http://127.0.0.1:5080";
const API_PATH: &str = "/api/data/v9.2";

/// Connection options: where the running herald is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// URL of the running herald (server root, or the Web API base …/api/data/v9.2).
    /// Used by webhook, step, notify, job, bin, subscription and key; before or after
    /// the command, except after `webhook add|update`, where --url is the endpoint.
    #[arg(long = "url", env = "HERALD_URL", value_name = "URL", default_value = DEFAULT_URL)]
    pub url: String,
    /// API key for the running herald [default: HERALD_ADMIN_KEY, else <data-dir>/admin.key].
    /// Used by webhook, step, notify, job, bin, subscription and key.
    #[arg(
        long,
        env = "HERALD_KEY",
        value_name = "KEY",
        hide_env_values = true,
        global = true
    )]
    pub key: Option<String>,
    /// Data directory whose admin.key is used when no key is given, and whose
    /// tls/self-signed.crt is trusted over https when no --ca-cert is given
    /// [default: ./herald-data].
    #[arg(long, env = "HERALD_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// PEM certificate (or CA) to trust for an https:// --url, besides the system's roots
    /// [default: <data-dir>/tls/self-signed.crt when it exists].
    #[arg(long, env = "HERALD_CA_CERT", value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
}

/// The certificate an https client trusts besides the system's roots:
/// `--ca-cert`, else the data directory's self-signed one if there is one.
/// An unreadable or invalid `--ca-cert` is an error; a missing self-signed
/// one is simply not added.
fn extra_root(args: &ConnectArgs) -> Result<Option<(PathBuf, Vec<reqwest::Certificate>)>> {
    let (file, explicit) = match &args.ca_cert {
        Some(f) if !f.as_os_str().is_empty() => (f.clone(), true),
        _ => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("herald-data"));
            (herald_server::tls::self_signed::cert_path(&dir), false)
        }
    };
    let pem = match std::fs::read(&file) {
        Ok(p) => p,
        Err(_) if !explicit => return Ok(None),
        Err(e) => anyhow::bail!("cannot read --ca-cert {}: {e}", file.display()),
    };
    let what = if explicit {
        "--ca-cert"
    } else {
        "the self-signed certificate"
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| anyhow!("{what} {} is not a PEM certificate: {e}", file.display()))?;
    if certs.is_empty() {
        anyhow::bail!(
            "{what} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            file.display()
        );
    }
    Ok(Some((file, certs)))
}

/// A non-2xx answer from herald.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server said {}: {}", self.status.as_u16(), self.message)?;
        if self.status == StatusCode::UNAUTHORIZED {
            write!(f, " (check --key / HERALD_KEY)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Whether a connection failure's innermost cause is a refused
/// certificate (rustls/webpki say so in their messages).
fn is_certificate_error(cause: &str) -> bool {
    let c = cause.to_ascii_lowercase();
    c.contains("certificate") || c.contains("unknownissuer") || c.contains("unknown issuer")
}

/// The status of an [`ApiError`] anywhere in `err`'s chain.
pub fn api_status(err: &anyhow::Error) -> Option<StatusCode> {
    err.chain()
        .find_map(|e| e.downcast_ref::<ApiError>())
        .map(|e| e.status)
}

pub struct Client {
    http: reqwest::Client,
    /// What the user gave (for messages).
    server: String,
    /// The extra certificate trusted over https, if any (for messages).
    trusted: Option<PathBuf>,
    /// `<root>/api/data/v9.2`, no trailing slash.
    api: String,
    key: String,
}

impl Client {
    pub fn connect(args: &ConnectArgs) -> Result<Client> {
        let server = args.url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&server)
            .map_err(|e| anyhow!("--url '{server}' is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            anyhow::bail!(
                "--url '{server}' must be an http:// or https:// URL of a running herald"
            );
        }
        let api = if server.contains("/api/data/v9.") {
            server.clone()
        } else {
            format!("{server}{API_PATH}")
        };
        let key = match (&args.key, std::env::var("HERALD_ADMIN_KEY")) {
            (Some(k), _) if !k.trim().is_empty() => k.trim().to_string(),
            (_, Ok(k)) if !k.trim().is_empty() => k.trim().to_string(),
            _ => {
                let dir = args
                    .data_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("herald-data"));
                let file = dir.join("admin.key");
                let k = std::fs::read_to_string(&file).map_err(|e| {
                    anyhow!(
                        "no API key: pass --key or set HERALD_KEY (cannot read {}: {e})",
                        file.display()
                    )
                })?;
                let k = k.trim().to_string();
                if k.is_empty() {
                    anyhow::bail!(
                        "no API key: {} is empty; pass --key or set HERALD_KEY",
                        file.display()
                    );
                }
                k
            }
        };
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Long enough for `notify`, which waits for the endpoint (60 s timeout, one retry).
            .timeout(Duration::from_secs(300));
        let mut trusted = None;
        if parsed.scheme() == "https" {
            if let Some((file, certs)) = extra_root(args)? {
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
                trusted = Some(file);
            }
        }
        let http = builder.build().context("cannot create the HTTP client")?;
        Ok(Client {
            http,
            server,
            trusted,
            api,
            key,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/{}", self.api, path.trim_start_matches('/'))
        };
        self.http
            .request(method, url)
            .bearer_auth(&self.key)
            .header("Accept", "application/json")
    }

    /// Send; non-2xx becomes [`ApiError`], no answer becomes "cannot reach herald".
    async fn send(&self, rb: RequestBuilder) -> Result<(HeaderMap, Value)> {
        let resp = rb.send().await.map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(|e| self.unreachable(e))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok((headers, body));
        }
        let message = match &body {
            Value::Object(_) => body["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string()),
            Value::String(s) => shorten(s),
            _ => status
                .canonical_reason()
                .unwrap_or("no details")
                .to_string(),
        };
        Err(ApiError { status, message }.into())
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        let mut cause = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let what = if e.is_timeout() {
            "no answer in time".to_string()
        } else if cause.is_empty() {
            e.to_string()
        } else {
            cause
        };
        if e.is_connect() && is_certificate_error(&what) {
            let trusted = match &self.trusted {
                Some(f) => format!("it is not signed by {} nor a system root", f.display()),
                None => "it is not signed by a system root".to_string(),
            };
            return anyhow!(
                "cannot reach herald at {}: its TLS certificate is not trusted ({what}): {trusted}. \
                 Pass the server's certificate with --ca-cert FILE (or HERALD_CA_CERT); for a server \
                 started with `serve --tls-self-signed` that is <its data dir>/tls/self-signed.crt, \
                 trusted by itself when --data-dir (HERALD_DATA_DIR) names that directory",
                self.server
            );
        }
        anyhow!("cannot reach herald at {}: {what}", self.server)
    }

    /// The server root (`http://host:port`), for herald's own non-OData routes.
    pub fn root(&self) -> String {
        self.api.trim_end_matches("/api/data/v9.2").to_string()
    }

    /// GET one resource or collection page.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        Ok(self
            .send(self.request(Method::GET, path).query(query))
            .await?
            .1)
    }

    /// GET, with 404 as `None`.
    pub async fn get_opt(&self, path: &str, query: &[(&str, &str)]) -> Result<Option<Value>> {
        match self.get(path, query).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if api_status(&e) == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a collection, following `@odata.nextLink` to the end.
    pub async fn get_all(&self, path: &str, query: &[(&str, &str)]) -> Result<Vec<Value>> {
        let mut page = self.get(path, query).await?;
        let mut rows = Vec::new();
        loop {
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => rows.extend(v),
                _ => {
                    return Err(anyhow!(
                        "unexpected answer from herald for {path}: no \"value\" list"
                    ))
                }
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => page = self.get(next, &[]).await?,
                None => return Ok(rows),
            }
        }
    }

    /// POST `body` and return the answer body (`Null` for 204).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        Ok(self
            .send(self.request(Method::POST, path).json(body))
            .await?
            .1)
    }

    /// Create a row in `set` and return its id (from `OData-EntityId`).
    pub async fn create(&self, set: &str, body: &Value) -> Result<String> {
        let (headers, answer) = self
            .send(self.request(Method::POST, set).json(body))
            .await?;
        let entity = headers
            .get("odata-entityid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                answer
                    .get("@odata.id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
        entity
            .as_deref()
            .and_then(|e| e.rsplit_once('('))
            .map(|(_, id)| id.trim_end_matches(')').to_string())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow!("herald created the {set} row but did not say its id (no OData-EntityId header)"))
    }

    /// PATCH an existing row (`If-Match: *`: never creates).
    pub async fn patch(&self, path: &str, body: &Value) -> Result<()> {
        self.send(
            self.request(Method::PATCH, path)
                .header("If-Match", "*")
                .json(body),
        )
        .await?;
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, path)).await?;
        Ok(())
    }

    /// DELETE, returning the body herald answers with.
    pub async fn delete_json(&self, path: &str) -> Result<Value> {
        Ok(self.send(self.request(Method::DELETE, path)).await?.1)
    }

    /// DELETE with `If-Match: *`, for APIs that require a precondition
    /// (Business Central subscriptions).
    pub async fn delete_any_version(&self, path: &str) -> Result<()> {
        self.send(self.request(Method::DELETE, path).header("If-Match", "*"))
            .await?;
        Ok(())
    }
}

/// An OData string literal: `'it''s'`.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `s` as a GUID in canonical form, if it is one.
pub fn as_guid(s: &str) -> Option<String> {
    uuid::Uuid::try_parse(s.trim())
        .ok()
        .map(|u| u.hyphenated().to_string())
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_guids() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(
            as_guid("{6D81597F-0F9F-E711-8122-000D3AA2331C}").as_deref(),
            Some("6d81597f-0f9f-e711-8122-000d3aa2331c")
        );
        assert_eq!(as_guid("my webhook"), None);
    }

    #[test]
    fn api_errors_read_well() {
        let e = ApiError {
            status: StatusCode::BAD_REQUEST,
            message: "stage 7 is not valid".into(),
        };
        assert_eq!(e.to_string(), "server said 400: stage 7 is not valid");
        let e: anyhow::Error = e.into();
        assert_eq!(
            api_status(&e.context("registering the step")),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
