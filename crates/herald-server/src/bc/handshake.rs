//! The validation handshake of subscription create and renew (SPEC §5):
//! POST `notificationUrl?validationToken=<token>` (`&` when the URL already
//! has a query), empty body with `Content-Length: 0`, `ClientState` when
//! one was given, no redirects, `bc.handshake_timeout`. The subscriber
//! must answer 200 with exactly the token as its (plain-text) body.

use herald_delivery::outcome::{fmt_duration, status_text};
use herald_delivery::{Bytes, FailureKind};
use rand::distributions::Alphanumeric;
use rand::Rng;

use crate::state::AppState;

/// A fresh random token.
pub fn new_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// `url` with `validationToken=<token>` appended to its query.
pub fn validation_url(url: &str, token: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    let mut out = format!("{base}{sep}validationToken={token}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Run the handshake; Err says why it failed, in a sentence for the 400.
pub async fn handshake(
    state: &AppState,
    url: &str,
    client_state: Option<&str>,
) -> Result<(), String> {
    let token = new_token();
    let timeout = state.config.bc.handshake_timeout;
    let mut headers = Vec::new();
    if let Some(cs) = client_state {
        headers.push(("ClientState".to_string(), cs.to_string()));
    }
    let target = validation_url(url, &token);
    let prefix = "The notificationUrl did not pass the validation handshake";
    match state.sender.post(&target, &headers, Bytes::new(), timeout).await {
        Err(f) => Err(match f.kind {
            FailureKind::Timeout => format!(
                "{prefix}: no answer within {} (bc.handshake_timeout); answer 200 with the validationToken promptly",
                fmt_duration(timeout)
            ),
            FailureKind::Refused | FailureKind::InvalidUrl => format!("{prefix}: {}", f.message),
            _ => format!("{prefix}: the URL could not be reached: {}", f.message),
        }),
        Ok((200, _, body)) => {
            let got = String::from_utf8_lossy(&body);
            let got = got.trim();
            let got = got.strip_prefix('"').and_then(|g| g.strip_suffix('"')).unwrap_or(got);
            if got == token {
                Ok(())
            } else {
                let shown: String = got.chars().take(80).collect();
                Err(format!(
                    "{prefix}: the answer's body must be the validationToken sent in the query string, but it was '{shown}'"
                ))
            }
        }
        Ok((status, _, _)) => Err(format!(
            "{prefix}: it answered {} instead of 200 with the validationToken (redirects are not followed)",
            status_text(status)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_token() {
        assert_eq!(
            validation_url("https://x/hook", "t"),
            "https://x/hook?validationToken=t"
        );
        assert_eq!(
            validation_url("https://x/hook?a=1", "t"),
            "https://x/hook?a=1&validationToken=t"
        );
        assert_eq!(
            validation_url("https://x/hook?", "t"),
            "https://x/hook?validationToken=t"
        );
        assert_eq!(
            validation_url("https://x/h#f", "t"),
            "https://x/h?validationToken=t#f"
        );
        assert_eq!(new_token().len(), 32);
    }
}
