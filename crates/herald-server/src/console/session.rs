//! Console sessions: signing in with an API key creates a random session id
//! (256 bits) kept in memory on this node, mapped to the user, the hash of
//! the key used, a per-session CSRF token and an expiry. The browser only
//! ever holds the session id, in a cookie that is `HttpOnly; Secure;
//! SameSite=Strict; Path=/console`; the raw API key is never stored.
//!
//! Every request re-checks that the key behind the session is still valid,
//! so revoking a key ends its console sessions too. Sessions live in this
//! process only: they do not survive a restart and are not shared between
//! the nodes of a multi-node deployment (sign in again, or route a browser
//! to one node).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use rand::RngCore;
use uuid::Uuid;

use herald_core::security::{BuiltinRole, Grants};

use crate::security::Reader;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "herald_console";
/// How long a session lasts after signing in.
pub const LIFETIME: Duration = Duration::from_secs(12 * 60 * 60);
/// Sessions one user keeps at most; past this, that user's oldest session
/// goes (nobody else's: signing in many times with one key cannot end other
/// users' sessions). The table is thus bounded by users × this.
pub const MAX_SESSIONS_PER_USER: usize = 32;

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user_id: Uuid,
    /// The user's full name (shown in the nav bar).
    pub user_name: String,
    /// The token every state-changing form must carry.
    pub csrf: String,
    /// The user's privileges (its security roles), as of this request.
    pub grants: Arc<Grants>,
}

impl Session {
    /// The user's roles for the nav bar: the built-in ones by name, the
    /// others counted.
    pub fn role_names(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        let mut custom = 0;
        for id in &self.grants.roles {
            match BuiltinRole::of_id(*id) {
                Some(r) => names.push(r.name()),
                None => custom += 1,
            }
        }
        let mut out = names.join(", ");
        if custom > 0 {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!(
                "{custom} custom role{}",
                if custom == 1 { "" } else { "s" }
            ));
        }
        out
    }

    /// The store's reads as this session's user may make them.
    pub fn reader<'a>(&'a self, app: &'a AppState) -> Reader<'a> {
        Reader::new(&app.store, app.schema(), &self.grants)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    user_id: Uuid,
    user_name: String,
    keyhash: String,
    csrf: String,
    expires: Instant,
    /// Order of creation (Instants of two sign-ins may be equal).
    created: u64,
}

/// The in-memory session table.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
    created: std::sync::atomic::AtomicU64,
}

/// 32 random bytes, URL-safe base64 (from the OS-seeded CSPRNG).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// Start a session for a user who signed in with the key hashed as `keyhash`.
    pub fn create(&self, user_id: Uuid, user_name: String, keyhash: String) -> Session {
        let id = random_token();
        let csrf = random_token();
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, e| e.expires > now);
        let mine = map.values().filter(|e| e.user_id == user_id).count();
        if mine >= MAX_SESSIONS_PER_USER {
            if let Some(oldest) = map
                .iter()
                .filter(|(_, e)| e.user_id == user_id)
                .min_by_key(|(_, e)| e.created)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let created = self
            .created
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        map.insert(
            id.clone(),
            Entry {
                user_id,
                user_name: user_name.clone(),
                keyhash,
                csrf: csrf.clone(),
                expires: now + LIFETIME,
                created,
            },
        );
        Session {
            id,
            user_id,
            user_name,
            csrf,
            grants: Arc::default(),
        }
    }

    /// The live session with this id, and the hash of its key.
    fn get(&self, id: &str) -> Option<(Session, String)> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = map.get(id)?.clone();
        if e.expires <= Instant::now() {
            map.remove(id);
            return None;
        }
        Some((
            Session {
                id: id.to_string(),
                user_id: e.user_id,
                user_name: e.user_name,
                csrf: e.csrf,
                grants: Arc::default(),
            },
            e.keyhash,
        ))
    }

    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// How many sessions are live (for tests).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|e| e.expires > now)
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The session id the browser sent, if any.
pub fn cookie_id(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(axum::http::header::COOKIE) {
        let Ok(s) = value.to_str() else { continue };
        for pair in s.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == COOKIE && !v.is_empty() {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// The signed-in session of this request: a known, unexpired id whose API
/// key is still valid and whose user is not disabled (disabling a user
/// ends their sessions at their next request).
pub async fn current(app: &AppState, sessions: &Sessions, headers: &HeaderMap) -> Option<Session> {
    let id = cookie_id(headers)?;
    let (session, keyhash) = sessions.get(&id)?;
    match app.store.api_key_caller(&keyhash).await {
        Ok(Some(k)) if k.user_id == session.user_id && !k.disabled => {
            let grants = app
                .security
                .for_request(&app.store, k.user_id, &k.security_version)
                .await;
            match grants {
                Ok(grants) => Some(Session { grants, ..session }),
                Err(e) => {
                    tracing::warn!(error = %e, "console: cannot read the user's roles");
                    None
                }
            }
        }
        Ok(_) => {
            sessions.remove(&id);
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "console: cannot check the session's API key");
            None
        }
    }
}

/// `Set-Cookie` that hands the browser its session id.
pub fn set_cookie(session: &Session) -> HeaderValue {
    let v = format!(
        "{COOKIE}={}; HttpOnly; Secure; SameSite=Strict; Path=/console; Max-Age={}",
        session.id,
        LIFETIME.as_secs()
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that makes the browser forget it.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "herald_console=; HttpOnly; Secure; SameSite=Strict; Path=/console; Max-Age=0",
    )
}

/// Whether a submitted token is the session's CSRF token (constant time).
pub fn csrf_ok(session: &Session, submitted: Option<&str>) -> bool {
    let Some(given) = submitted else { return false };
    let (a, b) = (session.csrf.as_bytes(), given.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_random_and_expire_on_removal() {
        let s = Sessions::default();
        let a = s.create(Uuid::nil(), "n".into(), "h".into());
        let b = s.create(Uuid::nil(), "n".into(), "h".into());
        assert_ne!(a.id, b.id);
        assert_ne!(a.csrf, a.id);
        assert_eq!(a.id.len(), 43);
        assert!(s.get(&a.id).is_some());
        s.remove(&a.id);
        assert!(s.get(&a.id).is_none());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn sessions_are_capped_per_user_not_globally() {
        let sessions = Sessions::default();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let bobs = sessions.create(bob, "Bob".into(), "kb".into());
        let first = sessions.create(alice, "Alice".into(), "ka".into());
        for _ in 0..MAX_SESSIONS_PER_USER {
            sessions.create(alice, "Alice".into(), "ka".into());
        }
        assert!(
            sessions.get(&bobs.id).is_some(),
            "another user's session stays"
        );
        assert!(sessions.get(&first.id).is_none(), "the user's oldest went");
        assert_eq!(sessions.len(), MAX_SESSIONS_PER_USER + 1);
    }

    #[test]
    fn csrf_compare() {
        let s = Session {
            id: "x".into(),
            user_id: Uuid::nil(),
            user_name: "n".into(),
            csrf: "abc".into(),
            grants: Default::default(),
        };
        assert!(csrf_ok(&s, Some("abc")));
        assert!(!csrf_ok(&s, Some("abd")));
        assert!(!csrf_ok(&s, Some("ab")));
        assert!(!csrf_ok(&s, None));
    }

    #[test]
    fn reads_the_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("a=1; herald_console=tok; b=2"),
        );
        assert_eq!(cookie_id(&h).as_deref(), Some("tok"));
    }
}
