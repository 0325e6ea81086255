//! The console tests' browser: a reqwest client that keeps cookies and
//! does not follow redirects (so tests see each 303), a fetched [`Page`]
//! with what the tests read off it (CSRF token, linked ids, rel links),
//! and signing in with the admin key.

use reqwest::StatusCode;

use crate::common::TestServer;

/// A browser-like client: keeps cookies, does not follow redirects (so
/// tests see each 303).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One fetched page: status, headers and the HTML.
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in {}", self.html))
            + marker.len();
        self.html[start..].split('"').next().unwrap().to_string()
    }

    /// Distinct ids linked as `<prefix><uuid>`, in page order.
    pub fn linked_ids(&self, prefix: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for part in self.html.split(&format!("href=\"{prefix}")).skip(1) {
            let id: String = part.chars().take(36).collect();
            if uuid::Uuid::parse_str(&id).is_ok() && !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }

    /// The href of the link with this rel (`prev` / `next`), unescaped.
    pub fn rel(&self, rel: &str) -> Option<String> {
        let tag_end = self.html.find(&format!("rel=\"{rel}\""))?;
        let before = &self.html[..tag_end];
        let href_start = before.rfind("href=\"")? + 6;
        Some(
            before[href_start..]
                .split('"')
                .next()?
                .replace("&amp;", "&"),
        )
    }
}

pub async fn get(c: &reqwest::Client, s: &TestServer, path: &str) -> Page {
    let resp = c.get(format!("{}{path}", s.base)).send().await.unwrap();
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

pub async fn post(c: &reqwest::Client, s: &TestServer, path: &str, form: &[(&str, &str)]) -> Page {
    let resp = c
        .post(format!("{}{path}", s.base))
        .form(form)
        .send()
        .await
        .unwrap();
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

/// Sign in with the admin key; returns the client and the CSRF token.
pub async fn signed_in(s: &TestServer) -> (reqwest::Client, String) {
    let c = browser();
    let p = post(&c, s, "/console/login", &[("key", &s.key)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let jobs = get(&c, s, "/console/jobs").await;
    assert_eq!(jobs.status, StatusCode::OK, "{}", jobs.html);
    let token = jobs.csrf();
    (c, token)
}

/// Minimal HTML unescaping for assertions on text content.
pub fn text(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
