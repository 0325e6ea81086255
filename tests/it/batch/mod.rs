//! `$batch`: change sets that commit together or not at all (with their
//! steps), `Content-ID` references, `Prefer: odata.continue-on-error`, the
//! Dataverse-shaped `multipart/mixed` answer, and the limits (1000
//! requests, malformed bodies) — on SQLite and PostgreSQL.

mod change_sets;
mod limits;

use reqwest::{Method, StatusCode};

use crate::common::TestServer;

/// An HttpHeader webhook's authvalue (authtype 5).
pub const HEADERS: &str = r#"<settings><setting name="X-Test" value="1" /></settings>"#;

/// One request of a test batch.
pub struct Part<'a> {
    pub content_id: Option<&'a str>,
    pub method: &'a str,
    pub url: String,
    pub body: Option<String>,
}

pub fn part<'a>(
    method: &'a str,
    url: impl Into<String>,
    body: Option<serde_json::Value>,
) -> Part<'a> {
    Part {
        content_id: None,
        method,
        url: url.into(),
        body: body.map(|b| b.to_string()),
    }
}

impl<'a> Part<'a> {
    pub fn id(mut self, content_id: &'a str) -> Self {
        self.content_id = Some(content_id);
        self
    }

    fn write(&self, out: &mut String) {
        out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
        if let Some(id) = self.content_id {
            out.push_str(&format!("Content-ID: {id}\r\n"));
        }
        out.push_str(&format!("\r\n{} {} HTTP/1.1\r\n", self.method, self.url));
        match &self.body {
            Some(b) => out.push_str(&format!("Content-Type: application/json\r\n\r\n{b}\r\n")),
            None => out.push_str("Accept: application/json\r\n\r\n"),
        }
    }
}

/// A top-level item of a test batch.
pub enum Item<'a> {
    One(Part<'a>),
    ChangeSet(Vec<Part<'a>>),
}

pub fn body(items: &[Item<'_>]) -> String {
    let mut out = String::new();
    for (n, item) in items.iter().enumerate() {
        out.push_str("--batch_test\r\n");
        match item {
            Item::One(p) => p.write(&mut out),
            Item::ChangeSet(parts) => {
                let cs = format!("changeset_{n}");
                out.push_str(&format!(
                    "Content-Type: multipart/mixed; boundary={cs}\r\n\r\n"
                ));
                for p in parts {
                    out.push_str(&format!("--{cs}\r\n"));
                    p.write(&mut out);
                }
                out.push_str(&format!("--{cs}--\r\n"));
            }
        }
    }
    out.push_str("--batch_test--\r\n");
    out
}

/// POST a batch; (status, Content-Type, body text).
pub async fn send(
    s: &TestServer,
    body: String,
    prefer: Option<&str>,
) -> (StatusCode, String, String) {
    let mut rb = s
        .request(Method::POST, "$batch")
        .header("Content-Type", "multipart/mixed; boundary=batch_test")
        .body(body);
    if let Some(p) = prefer {
        rb = rb.header("Prefer", p);
    }
    let resp = rb.send().await.expect("batch sent");
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, resp.text().await.expect("body"))
}

/// The status lines of a batch answer, in order.
pub fn statuses(answer: &str) -> Vec<u16> {
    answer
        .lines()
        .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}
