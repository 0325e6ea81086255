//! A service endpoint's authentication applied to one request (SPEC §4):
//! WebhookKey → `?code=<key>` appended; HttpQueryString → each setting
//! appended to the query string (an existing query string is kept);
//! HttpHeader → each setting sent as a header.
//!
//! Query values are form-encoded by `url::Url::query_pairs_mut`, which
//! appends after the existing query text without re-encoding it.

use herald_core::authvalue::WebhookAuth;
use url::Url;

/// Apply `auth` to `url` (query-string forms) or `headers` (header form).
/// Auth headers are appended after the ones already in `headers`.
pub fn apply_auth(url: &mut Url, headers: &mut Vec<(String, String)>, auth: &WebhookAuth) {
    match auth {
        WebhookAuth::WebhookKey(key) => {
            url.query_pairs_mut().append_pair("code", key);
        }
        WebhookAuth::HttpQueryString(pairs) => {
            if !pairs.is_empty() {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
        }
        WebhookAuth::HttpHeader(pairs) => {
            headers.extend(pairs.iter().cloned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(url: &str, auth: WebhookAuth) -> (String, Vec<(String, String)>) {
        let mut u = Url::parse(url).expect("test url");
        let mut h = vec![("content-type".to_string(), "application/json".to_string())];
        apply_auth(&mut u, &mut h, &auth);
        (u.to_string(), h)
    }

    #[test]
    fn webhook_key() {
        let (u, h) = apply(
            "https://fn.example/api/hook",
            WebhookAuth::WebhookKey("abc==".into()),
        );
        assert_eq!(u, "https://fn.example/api/hook?code=abc%3D%3D");
        assert_eq!(h.len(), 1);
        let (u, _) = apply(
            "https://fn.example/api/hook?x=1",
            WebhookAuth::WebhookKey("k".into()),
        );
        assert_eq!(u, "https://fn.example/api/hook?x=1&code=k");
    }

    #[test]
    fn query_string_keeps_existing_query() {
        let (u, h) = apply(
            "https://r.example/in?a=1&b=x%20y#frag",
            WebhookAuth::HttpQueryString(vec![
                ("k1".into(), "v 1".into()),
                ("k&2".into(), "v=2/é".into()),
            ]),
        );
        assert_eq!(
            u,
            "https://r.example/in?a=1&b=x%20y&k1=v+1&k%262=v%3D2%2F%C3%A9#frag"
        );
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn headers_appended() {
        let (u, h) = apply(
            "https://r.example/in",
            WebhookAuth::HttpHeader(vec![
                ("X-Key".into(), "s3cret".into()),
                ("X-Other".into(), "2".into()),
            ]),
        );
        assert_eq!(u, "https://r.example/in");
        assert_eq!(
            h,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("X-Key".to_string(), "s3cret".to_string()),
                ("X-Other".to_string(), "2".to_string()),
            ]
        );
    }
}
