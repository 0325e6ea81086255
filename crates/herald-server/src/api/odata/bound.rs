//! herald's bound functions and actions — `<set>(<id>)/<name>` — in one
//! table: which entity set, which method, which name (with or without the
//! `Microsoft.Dynamics.CRM.` namespace, as Dataverse accepts), and what runs.
//! A new bound operation is one row here and one arm in [`run`].

use axum::http::{Method, StatusCode};
use axum::response::Response;
use herald_core::security::Privilege;
use uuid::Uuid;

use super::{odata_json, Request};
use crate::api::error::ApiResult;
use crate::api::{jobs, notify};
use crate::state::AppState;

/// What a bound operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bound {
    /// `GET asyncoperations(<id>)/herald_Attempts`: a System Job's HTTP
    /// attempts.
    Attempts,
    /// `POST asyncoperations(<id>)/herald_Retry`: run a failed or canceled
    /// System Job again.
    Retry,
    /// `POST serviceendpoints(<id>)/herald_Notify`: invoke a webhook
    /// without a step.
    Notify,
}

/// The set of System Jobs, whose PATCH is their control (cancel, pause,
/// resume, retry, postpone), not a pipeline Update.
pub(super) const SYSTEM_JOBS: &str = "asyncoperations";

const NAMESPACE: &str = "Microsoft.Dynamics.CRM.";

/// (entity set, method, name, operation).
static TABLE: [(&str, Method, &str, Bound); 3] = [
    (SYSTEM_JOBS, Method::GET, "herald_Attempts", Bound::Attempts),
    (SYSTEM_JOBS, Method::POST, "herald_Retry", Bound::Retry),
    (
        "serviceendpoints",
        Method::POST,
        notify::ACTION,
        Bound::Notify,
    ),
];

/// The bound operation `method` `set(<id>)/navigation` names, if any.
pub(super) fn find(method: &Method, set: &str, navigation: &str) -> Option<Bound> {
    let name = navigation.strip_prefix(NAMESPACE).unwrap_or(navigation);
    TABLE
        .iter()
        .find(|(s, m, n, _)| *s == set && m == method && *n == name)
        .map(|(_, _, _, op)| *op)
}

/// Every bound operation as (entity set, method, name), for `$metadata`
/// to declare (a GET is a function, anything else an action).
pub(crate) fn operations() -> impl Iterator<Item = (&'static str, &'static Method, &'static str)> {
    TABLE
        .iter()
        .map(|(set, method, name, _)| (*set, method, *name))
}

/// Run a bound operation on the record `id`.
pub(super) async fn run(
    op: Bound,
    state: &AppState,
    req: &Request,
    id: Uuid,
    body: &[u8],
) -> ApiResult<Response> {
    // What each operation takes of the caller's roles: reading the job's
    // attempts is reading the job; retrying is writing it (checked where
    // every job change is, `jobs::control`); invoking a webhook by hand
    // takes the right to change it.
    match op {
        Bound::Attempts => {
            let t = super::table_for(req, SYSTEM_JOBS)?;
            if req.caller.reader(state).get(t, id).await?.is_none() {
                return Err(crate::api::error::ApiError::record_not_found(
                    &t.logical_name,
                    id,
                ));
            }
        }
        Bound::Notify => {
            let t = super::table_for(req, "serviceendpoints")?;
            req.caller.grants.check(t, Privilege::Write)?;
        }
        Bound::Retry => {}
    }
    let value = match op {
        Bound::Attempts => jobs::attempts(state, &req.base, id).await?,
        Bound::Retry => jobs::retry(state, &req.base, id, req.caller.user_id).await?,
        Bound::Notify => notify::notify(state, &req.base, id, body).await?,
    };
    Ok(odata_json(StatusCode::OK, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_or_without_the_namespace() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            find(&get, "asyncoperations", "herald_Attempts"),
            Some(Bound::Attempts)
        );
        assert_eq!(
            find(
                &post,
                "asyncoperations",
                "Microsoft.Dynamics.CRM.herald_Retry"
            ),
            Some(Bound::Retry)
        );
        assert_eq!(
            find(&post, "serviceendpoints", "herald_Notify"),
            Some(Bound::Notify)
        );
        assert_eq!(
            find(&get, "serviceendpoints", "herald_Notify"),
            None,
            "wrong method"
        );
        assert_eq!(find(&post, "accounts", "herald_Retry"), None, "wrong set");
        assert_eq!(find(&get, "accounts", "contact_customer_accounts"), None);
    }
}
