//! Standard Webhooks signatures (beyond Dataverse): with a signing secret
//! `whsec_<base64>`, every request also carries `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`
//! (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, space-separated when
//! several secrets are valid, e.g. during a rotation's grace period).
//!
//! `hmac` + `sha2` do the cryptography; the framing is the spec's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";

/// A parsed signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl SigningSecret {
    /// Parse `whsec_<base64>` (24 to 64 bytes of key material).
    pub fn parse(s: &str) -> Result<SigningSecret, String> {
        let b64 = s
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| format!("a signing secret starts with '{PREFIX}' followed by base64"))?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| "the signing secret after 'whsec_' is not valid base64".to_string())?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "a signing secret holds 24 to 64 bytes; this one has {}",
                key.len()
            ));
        }
        Ok(SigningSecret(key))
    }

    /// A new random 32-byte secret, as `whsec_…`.
    pub fn generate() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        format!("{PREFIX}{}", STANDARD.encode(key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for HMAC.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The three Standard Webhooks headers for a body, signed with every secret.
pub fn signature_headers(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    if secrets.is_empty() {
        return Vec::new();
    }
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| s.sign(msg_id, timestamp, body))
        .collect();
    vec![
        ("webhook-id".to_string(), msg_id.to_string()),
        ("webhook-timestamp".to_string(), timestamp.to_string()),
        ("webhook-signature".to_string(), signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_generates_and_signs() {
        let s = SigningSecret::generate();
        assert!(SigningSecret::parse(&s).is_ok());
        assert!(SigningSecret::parse("nope").is_err());
        assert!(SigningSecret::parse("whsec_!!").is_err());
        assert!(SigningSecret::parse("whsec_AAAA").is_err(), "too short");
        // The Standard Webhooks spec's published example.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
