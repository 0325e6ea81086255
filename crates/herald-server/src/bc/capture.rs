//! Change capture: the pipeline's hook, run inside every write's
//! transaction just before it commits. A write to a Business Central table
//! that at least one subscription watches (same table, same company) adds
//! one `herald_bc_change` row, so a committed change is never lost to a
//! crash or restart, and a rolled-back one is never notified.
//!
//! Writes to unwatched tables cost one indexed COUNT on the subscription
//! table and write nothing; writes to non-BC tables cost nothing.

use herald_core::builtin::bc_entity_of;
use herald_store::bc::BcChange;
use herald_store::Tx;

use super::coalesce::ChangeType;
use super::entity::company_of;
use crate::error::ApiResult;
use crate::pipeline::event::Event;
use crate::pipeline::Message;

/// Record the write of `event` for the BC notifier, if anyone listens.
pub async fn capture(tx: &mut Tx, event: &Event<'_>) -> ApiResult<()> {
    if bc_entity_of(&event.table.logical_name).is_none() {
        return Ok(());
    }
    let row = event.after.as_ref().or(event.before.as_ref());
    let Some(company) = row.and_then(company_of) else {
        return Ok(());
    };
    if !tx
        .bc_stream_subscribed(&event.table.logical_name, company)
        .await?
    {
        return Ok(());
    }
    let (change_type, version) = match event.message {
        Message::Create => (
            ChangeType::Created,
            event
                .after
                .as_ref()
                .and_then(|r| r.int("versionnumber"))
                .unwrap_or(1),
        ),
        Message::Update => (
            ChangeType::Updated,
            event
                .after
                .as_ref()
                .and_then(|r| r.int("versionnumber"))
                .unwrap_or(0),
        ),
        Message::Delete => (
            ChangeType::Deleted,
            event
                .before
                .as_ref()
                .and_then(|r| r.int("versionnumber"))
                .unwrap_or(0)
                + 1,
        ),
    };
    tx.bc_add_change(&BcChange {
        table: event.table.logical_name.clone(),
        company_id: company,
        record_id: event.id,
        change_type: change_type.as_str().to_string(),
        at_ms: event.now.timestamp_millis(),
        version,
    })
    .await?;
    Ok(())
}
