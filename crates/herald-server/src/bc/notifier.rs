//! The notifier: turns captured changes into notifications and delivers
//! them. [`tick`] does everything due at `state.clock.now()` — the
//! background task ([`spawn_notifier`]) calls it about once a second, and
//! tests call it directly with a manual clock.
//!
//! 1. **Expiry.** Subscriptions past their `expirationDateTime` are
//!    removed with whatever they had pending; they get nothing.
//! 2. **Windows.** A stream (one table of one company) whose oldest
//!    pending change is `bc.notification_delay` old is closed: its changes
//!    are taken (deleted) and coalesced per record; each subscription to
//!    the stream gets one notification per record — or, past
//!    `bc.collection_threshold` records, one `collection` notification
//!    filtered on the window's start. One transaction per stream, so
//!    nodes never take the same changes twice.
//! 3. **Delivery.** Each notification URL with pending notifications is
//!    claimed with a lease; everything pending for it (every subscription
//!    using that URL) goes in one POST `{"value":[…]}` with an
//!    `x-ms-correlation-id`, timeout `bc.notification_timeout`. 2xx
//!    forgets the batch; no answer, 408, 429 and 5xx retry per
//!    [`super::schedule`]; giving up (36 h) or any other status deletes
//!    the batch's subscriptions.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_core::builtin::bc_entity_of;
use herald_core::value::format_datetime;
use herald_delivery::Bytes;
use herald_store::bc::{BcNotification, BcSubscription, BcTarget};
use herald_store::StoreError;
use rand::Rng;
use serde_json::{json, Value as Json};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{info, warn};
use uuid::Uuid;

use super::coalesce::{coalesce, ChangeType};
use super::entity::timestamp;
use super::path::{collection_resource, record_resource, window_start};
use super::schedule;
use crate::state::{AppState, SharedState};

/// Most entries in one POST; more waits for the next POST in the same tick.
pub const MAX_BATCH: i64 = 5_000;
/// URLs one node sends to at once.
const CONCURRENCY: usize = 32;

/// What one [`tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Subscriptions removed because they expired.
    pub expired: usize,
    /// Streams whose window closed.
    pub windows: usize,
    /// Notifications queued from those windows.
    pub queued: usize,
    /// POSTs made.
    pub posts: usize,
    /// Notification entries delivered (2xx).
    pub delivered: usize,
    /// POSTs that failed and will be retried.
    pub retrying: usize,
    /// Subscriptions deleted because delivery failed for good.
    pub removed: usize,
}

impl TickReport {
    fn add(&mut self, o: &TickReport) {
        self.expired += o.expired;
        self.windows += o.windows;
        self.queued += o.queued;
        self.posts += o.posts;
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.removed += o.removed;
    }
}

/// Stop the background task from ticking this server: tests that drive
/// [`tick`] themselves with a manual clock call this right after start.
pub fn hold_background(state: &AppState) {
    state.bc_notifier.hold();
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

fn millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Process everything due at `state.clock.now()`.
pub async fn tick(state: &SharedState) -> Result<TickReport, StoreError> {
    let notifier = &state.bc_notifier;
    let _one_tick_at_a_time = notifier.tick.lock().await;
    let owner = &notifier.owner;
    let now = state.clock.now();
    let mut report = TickReport::default();
    let expired = state.store.bc_expire(now.timestamp_millis()).await?;
    if !expired.is_empty() {
        info!(
            count = expired.len(),
            "BC subscriptions expired and were removed"
        );
    }
    report.expired = expired.len();
    close_windows(state, now, &mut report).await?;
    deliver_due(state, owner, now, &mut report).await?;
    Ok(report)
}

/// Step 2: close the windows that are due.
async fn close_windows(
    state: &AppState,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let due = now - chrono_of(state.config.bc.notification_delay);
    let now_ms = now.timestamp_millis();
    let threshold = state.config.bc.collection_threshold;
    for (table, company) in state.store.bc_due_streams(due.timestamp_millis()).await? {
        let mut tx = state.store.begin().await?;
        let changes = tx.bc_take_changes(&table, company, now_ms).await?;
        let Some(entity) = bc_entity_of(&table) else {
            tx.commit().await?;
            continue;
        };
        if changes.is_empty() {
            tx.commit().await?;
            continue;
        }
        let subs: Vec<BcSubscription> = tx
            .bc_stream_subscriptions(&table, company)
            .await?
            .into_iter()
            .filter(|s| s.expires_ms > now_ms)
            .collect();
        let records = coalesce(&changes);
        let first = changes.iter().map(|c| c.at_ms).min().unwrap_or(now_ms);
        let last = changes.iter().map(|c| c.at_ms).max().unwrap_or(now_ms);
        let mut items = Vec::new();
        for sub in &subs {
            if records.len() > threshold {
                items.push(BcNotification {
                    id: Uuid::new_v4().to_string(),
                    subscription_id: sub.id.clone(),
                    resource: collection_resource(
                        &sub.api_version,
                        company,
                        entity,
                        window_start(millis(first)),
                    ),
                    change_type: ChangeType::Collection.as_str().into(),
                    last_modified_ms: last,
                    created_ms: now_ms,
                    seq: 0,
                });
                continue;
            }
            for (seq, r) in records.iter().enumerate() {
                items.push(BcNotification {
                    id: Uuid::new_v4().to_string(),
                    subscription_id: sub.id.clone(),
                    resource: record_resource(&sub.api_version, company, entity, r.record),
                    change_type: r.change_type.as_str().into(),
                    last_modified_ms: r.last_modified_ms,
                    created_ms: now_ms,
                    seq: seq as i64,
                });
            }
        }
        tx.bc_add_notifications(&items).await?;
        tx.commit().await?;
        report.windows += 1;
        report.queued += items.len();
    }
    Ok(())
}

/// Step 3: claim due URLs and deliver to them, until none is due.
async fn deliver_due(
    state: &SharedState,
    owner: &str,
    now: DateTime<Utc>,
    report: &mut TickReport,
) -> Result<(), StoreError> {
    let now_ms = now.timestamp_millis();
    state.store.bc_ensure_targets(now_ms).await?;
    let lease = (state.config.bc.notification_timeout + Duration::from_secs(60)).as_millis() as i64;
    // A URL with more than MAX_BATCH pending is released ready and claimed
    // again; the bound keeps a tick finite whatever happens.
    for _ in 0..64 {
        let targets = state
            .store
            .bc_claim_targets(owner, now_ms, lease, CONCURRENCY as i64)
            .await?;
        if targets.is_empty() {
            break;
        }
        let mut set = JoinSet::new();
        for t in targets {
            let st = state.clone();
            let own = owner.to_string();
            set.spawn(async move { deliver(&st, &own, t, now).await });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Ok(r)) => report.add(&r),
                Ok(Err(e)) => warn!(error = %e, "BC notification delivery failed"),
                Err(e) => warn!(error = %e, "BC notification task failed"),
            }
        }
    }
    Ok(())
}

/// One POST of everything pending for `target.url`.
async fn deliver(
    state: &AppState,
    owner: &str,
    target: BcTarget,
    now: DateTime<Utc>,
) -> Result<TickReport, StoreError> {
    let mut report = TickReport::default();
    let url = target.url.clone();
    let batch = state
        .store
        .bc_batch(&url, now.timestamp_millis(), MAX_BATCH)
        .await?;
    if batch.is_empty() {
        state.store.bc_drop_target(&url, owner).await?;
        return Ok(report);
    }
    let ids: Vec<String> = batch.iter().map(|(n, _)| n.id.clone()).collect();
    let mut subs: Vec<String> = batch.iter().map(|(_, s)| s.id.clone()).collect();
    subs.sort();
    subs.dedup();
    let entries = entries(&batch);
    let body = json!({ "value": entries });
    let correlation = Uuid::new_v4().to_string();
    let headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("x-ms-correlation-id".to_string(), correlation.clone()),
    ];
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let result = state
        .sender
        .post(&url, &headers, bytes, state.config.bc.notification_timeout)
        .await;
    let sent = matches!(&result, Ok((status, _, _)) if (200..300).contains(status));
    state
        .metrics
        .bc_notifications
        .get_or_create(&crate::metrics::OutcomeLabels {
            outcome: if sent { "sent" } else { "failed" }.to_string(),
        })
        .inc();
    report.posts = 1;
    let after = state.clock.now();
    let retry_after = match &result {
        Ok((status, _, _)) if (200..300).contains(status) => {
            state
                .store
                .bc_delivered(&url, owner, &ids, after.timestamp_millis())
                .await?;
            report.delivered = entries.len();
            return Ok(report);
        }
        Ok((status, headers, _)) if schedule::retryable(*status) => schedule::retry_after(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            after,
        ),
        Ok((status, _, _)) => {
            warn!(url = %redact(&url), status, subscriptions = subs.len(), "BC notification refused; deleting the subscriptions");
            report.removed = state.store.bc_give_up(&url, &subs).await? as usize;
            return Ok(report);
        }
        Err(_) => None,
    };
    let failures = target.attempts + 1;
    let first = target.first_failure_ms.map(millis).unwrap_or(after);
    let why = match &result {
        Ok((s, _, _)) => herald_delivery::outcome::status_text(*s),
        Err(f) => f.message.clone(),
    };
    let jitter: f64 = rand::thread_rng().gen();
    match schedule::next_attempt(first, after, failures, retry_after, jitter) {
        Some(next) => {
            info!(url = %redact(&url), failures, next = %format_datetime(&next), reason = %why, correlation = %correlation, "BC notification failed; will retry");
            state
                .store
                .bc_retry_later(
                    &url,
                    owner,
                    failures,
                    first.timestamp_millis(),
                    next.timestamp_millis(),
                )
                .await?;
            report.retrying = 1;
        }
        None => {
            warn!(url = %redact(&url), failures, reason = %why, "BC notifications failed for 36 hours; dropping the batch and deleting the subscriptions");
            report.removed = state.store.bc_give_up(&url, &subs).await? as usize;
        }
    }
    Ok(report)
}

/// The URL without its query (which may hold a secret), for logs.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The POST's entries: one per subscription and resource (notifications
/// still pending from earlier windows merge with later ones).
fn entries(batch: &[(BcNotification, BcSubscription)]) -> Vec<Json> {
    let mut order: Vec<(usize, ChangeType, i64)> = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, (n, s)) in batch.iter().enumerate() {
        let ty = ChangeType::parse(&n.change_type).unwrap_or(ChangeType::Updated);
        match index.get(&(s.id.as_str(), n.resource.as_str())) {
            Some(&k) => {
                let e = &mut order[k];
                e.1 = e.1.then(ty);
                e.2 = e.2.max(n.last_modified_ms);
            }
            None => {
                index.insert((s.id.as_str(), n.resource.as_str()), order.len());
                order.push((i, ty, n.last_modified_ms));
            }
        }
    }
    order
        .into_iter()
        .map(|(i, ty, last)| {
            let (n, s) = &batch[i];
            json!({
                "subscriptionId": s.id,
                "clientState": s.client_state.clone().unwrap_or_default(),
                "expirationDateTime": format_datetime(&millis(s.expires_ms)),
                "resource": n.resource,
                "changeType": ty.as_str(),
                "lastModifiedDateTime": timestamp(&millis(last)),
            })
        })
        .collect()
}

/// Run [`tick`] about once a second (more often for short delays) until
/// the task is aborted.
pub fn spawn_notifier(state: SharedState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = (state.config.bc.notification_delay / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            if state.bc_notifier.is_held() {
                tokio::time::sleep(every).await;
                continue;
            }
            match tick(&state).await {
                Ok(r) if r.posts > 0 || r.expired > 0 => tracing::debug!(?r, "BC notifier tick"),
                Ok(_) => {}
                Err(e) => warn!(error = %e, "BC notifier tick failed"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
