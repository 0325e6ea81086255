//! Change capture: the pipeline's hook, run inside every write's
//! transaction just before it commits. A write to a Business Central table
//! that at least one subscription watches (same table, same company) adds
//! one `herald_bc_change` row, so a committed change is never lost to a
//! crash or restart, and a rolled-back one is never notified.
//!
//! Writes to unwatched tables cost one indexed COUNT on the subscription
//! table and write nothing; writes to non-BC tables cost nothing.

use chrono::{DateTime, Utc};
use herald_core::builtin::bc_entity_of;
use herald_store::bc::BcChange;
use herald_store::{Record, StoreError, Tx};
use uuid::Uuid;

use super::coalesce::ChangeType;
use super::entity::company_of;

/// What a write did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    Created,
    Updated,
    Deleted,
}

/// One committed-to-be write, as change capture needs it.
pub struct Write<'a> {
    pub table: &'a str,
    pub id: Uuid,
    pub change: RowChange,
    pub before: Option<&'a Record>,
    pub after: Option<&'a Record>,
    pub at: DateTime<Utc>,
}

/// Record `write` for the BC notifier, if anyone listens.
pub async fn capture(tx: &mut Tx, write: Write<'_>) -> Result<(), StoreError> {
    if bc_entity_of(write.table).is_none() {
        return Ok(());
    }
    let Some(company) = write.after.or(write.before).and_then(company_of) else {
        return Ok(());
    };
    if !tx.bc_stream_subscribed(write.table, company).await? {
        return Ok(());
    }
    let version_of = |r: Option<&Record>| r.and_then(|r| r.int("versionnumber"));
    let (change_type, version) = match write.change {
        RowChange::Created => (ChangeType::Created, version_of(write.after).unwrap_or(1)),
        RowChange::Updated => (ChangeType::Updated, version_of(write.after).unwrap_or(0)),
        RowChange::Deleted => (
            ChangeType::Deleted,
            version_of(write.before).unwrap_or(0) + 1,
        ),
    };
    tx.bc_add_change(&BcChange {
        table: write.table.to_string(),
        company_id: company,
        record_id: write.id,
        change_type: change_type.as_str().to_string(),
        at_ms: write.at.timestamp_millis(),
        version,
    })
    .await?;
    Ok(())
}
