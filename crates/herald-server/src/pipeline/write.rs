//! The single write path: an [`Operation`] run inside a store transaction —
//! resolve the row and preconditions → stage 10 → validate → stage 20 →
//! write → stage 40 (sync steps delivered, async steps written as System
//! Jobs) → Business Central change rows, and the audit row of an audited
//! table (`crate::audit`) — then commit. Before anything
//! runs, the caller's security roles must allow the write
//! (`crate::security::authorize_write`). [`execute`] is one
//! write in its own transaction; a [`WriteSession`] holds several (a
//! `$batch` change set, a bulk message) that commit together or not at all.

use std::collections::HashMap;

use herald_core::schema::TableKind;
use herald_core::{Schema, Table};
use herald_store::{Record, StoreError, Tx};
use uuid::Uuid;

use super::bulk::{self, BulkMessage, BulkPhase};
use super::error::{PipelineError, PipelineResult};
use super::operation::{Message, Operation, Outcome, Precondition};
use super::{associate, computed, dispatch, event, registrations, validate};
use crate::bc::capture::{self as bc_capture, RowChange};
use crate::jobs::handoff::Reservations;
use crate::state::AppState;

/// Run one operation to commit, in its own transaction.
pub async fn execute(state: &AppState, op: Operation) -> PipelineResult<Outcome> {
    // Refusals that need no row are answered before the store is touched.
    let schema = state.schema();
    let table = table_of(state, &schema, &op)?;
    let dialect = state.store.dialect();
    let alone = (table.is_event_source()
        && state
            .registrations
            .may_call_out(dialect, op.message.name(), &op.table))
        || op.link.as_ref().is_some_and(|l| {
            state.registrations.may_call_out(
                dialect,
                associate::message_of(op.message),
                &l.target.0,
            )
        });
    if alone {
        return execute_in(state, op, true).await;
    }
    // A grouped write that met a row lock (see herald_store's `pg_group`)
    // committed nothing and called no webhook: it runs again, once, in a
    // transaction of its own that waits for the lock as usual.
    match execute_in(state, op.clone(), false).await {
        Err(PipelineError::Store(e)) if e.is_lock_conflict() => {
            tracing::debug!(error = %e, "a grouped write met a row lock; running it alone");
            execute_in(state, op, true).await
        }
        other => other,
    }
}

/// [`execute`] in one transaction: `alone`, or shared with the writes
/// around it (`Store::begin_grouped`).
async fn execute_in(state: &AppState, op: Operation, alone: bool) -> PipelineResult<Outcome> {
    let mut session = WriteSession::begin_with(state, alone).await?;
    let outcome = session.execute(op).await?;
    session.commit().await?;
    Ok(outcome)
}

/// One store transaction holding one or more writes — a single write, a
/// `$batch` change set, a bulk message: all of them commit together, or
/// none does (dropping the session rolls it back). Each write runs its
/// steps exactly as a single write does; sync steps are delivered inside
/// the shared transaction, and the System Jobs of all of them are handed
/// to this node's workers once the whole session commits.
pub struct WriteSession<'a> {
    state: &'a AppState,
    tx: Tx,
    direct: Reservations<'a>,
    /// Whether any write enqueued System Jobs.
    jobs: bool,
    /// A write failed: its partial work is in the transaction, which may
    /// only be rolled back.
    failed: bool,
    /// The audit rows' `transactionid`.
    transaction: Uuid,
    /// Rows read ahead for the writes to come ([`WriteSession::prefetch`]):
    /// (table, id) → the row, or None when it does not exist. A write
    /// takes its entry; one without an entry reads its row itself.
    known: Known,
}

type Known = HashMap<(String, Uuid), Option<Record>>;

impl<'a> WriteSession<'a> {
    /// A session that may deliver sync steps: it begins alone (see
    /// [`herald_store::Store::begin_alone`]).
    pub async fn begin(state: &'a AppState) -> PipelineResult<WriteSession<'a>> {
        WriteSession::begin_with(state, true).await
    }

    /// `alone`: the session may hold its transaction open across an HTTP
    /// call (a sync step), so the SQLite writes before it commit first;
    /// otherwise it shares their commit.
    async fn begin_with(state: &'a AppState, alone: bool) -> PipelineResult<WriteSession<'a>> {
        let tx = if alone {
            state.store.begin_alone().await?
        } else {
            state.store.begin_grouped().await?
        };
        Ok(WriteSession {
            state,
            tx,
            direct: state.handoff.reservations(),
            jobs: false,
            failed: false,
            transaction: Uuid::new_v4(),
            known: HashMap::new(),
        })
    }

    /// Run one more write inside the session. After an error the session
    /// can only be dropped (rolled back): `commit` refuses.
    pub async fn execute(&mut self, op: Operation) -> PipelineResult<Outcome> {
        if self.failed {
            return Err(PipelineError::internal(
                "a write of this transaction already failed; it can only be rolled back",
            ));
        }
        let result = run(
            self.state,
            &mut self.tx,
            &mut self.direct,
            &mut self.jobs,
            self.transaction,
            &mut self.known,
            op,
        )
        .await;
        self.failed = result.is_err();
        result
    }

    /// Read the rows of `ids` in `table` in a few queries, for the writes
    /// of them that follow (a bulk message's records) instead of one read
    /// per write. Each is used by the next write of that row only, so a
    /// row written twice is read again; [`WriteSession::forget_prefetched`]
    /// drops what is left.
    pub async fn prefetch(&mut self, table: &str, ids: &[Uuid]) -> PipelineResult<()> {
        if self.failed {
            return Err(PipelineError::internal(
                "a write of this transaction already failed; it can only be rolled back",
            ));
        }
        let schema = self.state.schema();
        let Some(t) = schema.table(table) else {
            return Ok(());
        };
        let mut rows = self.tx.get_many(t, ids).await?;
        for id in ids {
            self.known
                .insert((t.logical_name.clone(), *id), rows.remove(id));
        }
        Ok(())
    }

    /// Drop the rows [`WriteSession::prefetch`] read that no write used.
    pub fn forget_prefetched(&mut self) {
        self.known.clear();
    }

    /// Run the steps registered on a bulk message itself (once for all its
    /// records, their context carrying `Targets`), in this transaction:
    /// [`BulkPhase::Before`] before the records' writes, [`BulkPhase::After`]
    /// after them. A failure poisons the session like a failed write.
    pub async fn run_message_steps(
        &mut self,
        message: &BulkMessage,
        phase: BulkPhase,
    ) -> PipelineResult<()> {
        if self.failed {
            return Err(PipelineError::internal(
                "a write of this transaction already failed; it can only be rolled back",
            ));
        }
        let result = bulk::run(
            self.state,
            &mut self.tx,
            &mut self.direct,
            &mut self.jobs,
            message,
            phase,
        )
        .await;
        self.failed = result.is_err();
        result
    }

    /// Read a row inside the session's transaction and hold it against
    /// concurrent writers until the session ends
    /// ([`herald_store::Tx::get_locked`]): what a write computed from other
    /// rows (a BC document's totals from its lines) reads first. A system
    /// read: the caller's privileges are checked by the writes that follow.
    pub async fn get_locked(&mut self, table: &Table, id: Uuid) -> PipelineResult<Option<Record>> {
        Ok(self.tx.get_locked(table, id).await?)
    }

    /// Run a query inside the session's transaction (it sees the session's
    /// own writes). A system read, like [`WriteSession::get_locked`].
    pub async fn fetch(&mut self, query: &herald_core::Query) -> PipelineResult<Vec<Record>> {
        Ok(self.tx.fetch(query, None, 0).await?)
    }

    /// Commit every write of the session, then hand their System Jobs over.
    pub async fn commit(self) -> PipelineResult<()> {
        if self.failed {
            return Err(PipelineError::internal(
                "a write of this transaction failed; it was rolled back",
            ));
        }
        self.tx.commit().await?;
        if self.direct.hand_over() && self.jobs {
            self.state.jobs_wake.notify_one();
        }
        Ok(())
    }
}

/// The table `op` writes, or why it cannot be written at all.
fn table_of<'s>(state: &AppState, schema: &'s Schema, op: &Operation) -> PipelineResult<&'s Table> {
    let table = schema
        .table(&op.table)
        .ok_or_else(|| PipelineError::Unknown(format!("Unknown table '{}'", op.table)))?;
    if table.kind == TableKind::System {
        return Err(PipelineError::Forbidden(format!(
            "The table '{}' is maintained by herald and cannot be written through the API",
            table.logical_name
        )));
    }
    if table.kind == TableKind::Intersect && op.link.is_none() {
        return Err(PipelineError::Forbidden(format!(
            "The rows of '{}' link two rows of a many-to-many relationship: associate them with POST <set>(<id>)/<navigation>/$ref, disassociate with DELETE <set>(<id>)/<navigation>(<other id>)/$ref",
            table.logical_name
        )));
    }
    if let Some((_, depth)) = op.correlation {
        if depth > state.config.delivery.max_depth {
            return Err(PipelineError::LoopDetected {
                depth,
                max: state.config.delivery.max_depth,
            });
        }
    }
    Ok(table)
}

/// One write inside `tx`: resolve the row and preconditions → stage 10 →
/// validate → stage 20 → write → stage 40 → BC change rows.
async fn run(
    state: &AppState,
    tx: &mut Tx,
    direct: &mut Reservations<'_>,
    jobs: &mut bool,
    transaction: Uuid,
    known: &mut Known,
    op: Operation,
) -> PipelineResult<Outcome> {
    let schema = state.schema().clone();
    let table = table_of(state, &schema, &op)?;
    // The caller's security roles, as this transaction sees them: the
    // table-wide privilege first (before telling whether a row exists).
    let grants = state.security.in_tx(tx, op.caller).await?;
    grants
        .check(table, crate::security::privilege_of(op.message))
        .map_err(PipelineError::MissingPrivilege)?;
    let existing = match op.id {
        Some(id) => match known.remove(&(table.logical_name.clone(), id)) {
            Some(row) => row,
            None => tx.get(table, id).await?,
        },
        None => None,
    };
    let message = match (op.message, &existing) {
        (Message::Create, Some(_)) => {
            return Err(PipelineError::Store(StoreError::Duplicate(
                op.id.map(|i| i.to_string()).unwrap_or_default(),
            )))
        }
        (Message::Update, None)
            if op.upsert
                && op.precondition != Precondition::MustExist
                && !matches!(op.precondition, Precondition::Version(_)) =>
        {
            Message::Create
        }
        (Message::Update | Message::Delete, None) => {
            return Err(PipelineError::not_found(
                &table.logical_name,
                op.id.map(|i| i.to_string()).unwrap_or_default(),
            ))
        }
        (m, _) => m,
    };
    check_precondition(table, op.precondition, existing.as_ref())?;
    crate::security::authorize_write(
        &grants,
        &schema,
        table,
        message,
        existing.as_ref(),
        &op.values,
    )?;
    if let (Some(id), Some(_)) = (op.id, &existing) {
        validate::not_protected(state, table, id)?;
    }
    if table.kind == TableKind::Security {
        state.security.changed(tx).await?;
    }

    let now = state.clock.now();
    let actor = crate::audit::Actor {
        user: op.caller,
        at: now,
        transaction,
    };
    // New ids are time-ordered (UUIDv7), as Dataverse's own are
    // sequential: rows created together sit together in every index on
    // their id, instead of each insert landing on a random page.
    let id = op.id.unwrap_or_else(Uuid::now_v7);
    let (correlation_id, depth) = op.correlation.unwrap_or_else(|| (Uuid::new_v4(), 1));
    let steps = if table.is_event_source() {
        state
            .registrations
            .steps(tx, message.name(), &table.logical_name)
            .await?
    } else {
        Default::default()
    };
    if registrations::REGISTRATION_TABLES.contains(&table.logical_name.as_str()) {
        state.registrations.changed(tx).await?;
    }
    let mut event = event::Event {
        message,
        derived: None,
        table,
        id,
        request: op
            .values
            .iter()
            .filter(|(c, _)| c != &table.primary_id)
            .cloned()
            .collect(),
        completed: Vec::new(),
        before: existing.clone(),
        after: None,
        caller: op.caller,
        correlation_id,
        depth,
        now,
    };
    dispatch::run_stage(state, tx, &event, &steps, 10).await?;
    // A link or unlink of two rows: its Associate/Disassociate steps.
    let link = match &op.link {
        Some(link) => {
            let name = associate::message_of(message);
            let target = schema.table(&link.target.0).ok_or_else(|| {
                PipelineError::Unknown(format!("Unknown table '{}'", link.target.0))
            })?;
            let link_steps = state.registrations.steps(tx, name, &link.target.0).await?;
            let link_event = associate::LinkEvent {
                link,
                message: name,
                table: target,
                caller: op.caller,
                correlation_id,
                depth,
                now,
            };
            dispatch::run_stage(state, tx, &link_event, &link_steps, 10).await?;
            dispatch::run_stage(state, tx, &link_event, &link_steps, 20).await?;
            Some((link_event, link_steps))
        }
        None => None,
    };
    let mut derived: Vec<(event::Derived, registrations::Steps)> = Vec::new();
    let record = match message {
        Message::Create => {
            let mut values = validate::checked_values(table, &op.values, true)?;
            validate::lookups_exist(tx, &state.schema(), table, &values).await?;
            validate::registration_rules(tx, state, table, None, &mut values).await?;
            event.request = values
                .iter()
                .filter(|(c, _)| c != &table.primary_id)
                .cloned()
                .collect();
            dispatch::run_stage(state, tx, &event, &steps, 20).await?;
            let row = computed::for_create(table, id, values, op.caller, now);
            tx.insert(table, &row).await?;
            event.completed = row.clone();
            Some(row)
        }
        Message::Update => {
            let Some(before) = &existing else {
                return Err(PipelineError::not_found(&table.logical_name, id));
            };
            let mut values = validate::checked_values(table, &op.values, false)?;
            validate::lookups_exist(tx, &state.schema(), table, &values).await?;
            validate::registration_rules(tx, state, table, Some(before), &mut values).await?;
            event.request = values
                .iter()
                .filter(|(c, _)| c != &table.primary_id)
                .cloned()
                .collect();
            dispatch::run_stage(state, tx, &event, &steps, 20).await?;
            // An owner change is also an Assign, a state change a SetState:
            // their stage 10 and 20 steps run here, after the Update's.
            if table.is_event_source() {
                for d in event::Derived::of_update(&values, Some(before)) {
                    let d_steps = state
                        .registrations
                        .steps(tx, d.name(), &table.logical_name)
                        .await?;
                    if !d_steps.is_empty() {
                        let view = event.as_derived(d);
                        dispatch::run_stage(state, tx, &view, &d_steps, 10).await?;
                        dispatch::run_stage(state, tx, &view, &d_steps, 20).await?;
                        derived.push((d, d_steps));
                    }
                }
            }
            let changes = computed::for_update(table, before, values, op.caller, now);
            tx.update(table, id, &changes).await?;
            let mut after = before.values.clone();
            for (k, v) in &changes {
                match after.iter_mut().find(|(c, _)| c == k) {
                    Some(slot) => slot.1 = v.clone(),
                    None => after.push((k.clone(), v.clone())),
                }
            }
            event.completed = changes;
            Some(after)
        }
        Message::Delete => {
            dispatch::run_stage(state, tx, &event, &steps, 20).await?;
            validate::before_delete(tx, state, &actor, table, id).await?;
            tx.delete(table, id).await?;
            unlink(tx, &schema, table, id).await?;
            None
        }
    };
    crate::audit::record_write(
        tx,
        &schema,
        &actor,
        table,
        id,
        existing.as_ref(),
        record.as_deref(),
    )
    .await?;
    event.after = record.clone().map(|values| Record { values });
    if !steps.is_empty() {
        dispatch::run_post_operation(state, tx, &event, &steps, direct).await?;
        *jobs |= steps.iter().any(|s| s.is_async());
    }
    for (d, d_steps) in &derived {
        let view = event.as_derived(*d);
        dispatch::run_post_operation(state, tx, &view, d_steps, direct).await?;
        *jobs |= d_steps.iter().any(|s| s.is_async());
    }
    if let Some((link_event, link_steps)) = &link {
        if !link_steps.is_empty() {
            dispatch::run_post_operation(state, tx, link_event, link_steps, direct).await?;
            *jobs |= link_steps.iter().any(|s| s.is_async());
        }
    }
    bc_capture::capture(
        tx,
        bc_capture::Write {
            table: &table.logical_name,
            id,
            change: match message {
                Message::Create => RowChange::Created,
                Message::Update => RowChange::Updated,
                Message::Delete => RowChange::Deleted,
            },
            before: event.before.as_ref(),
            after: event.after.as_ref(),
            at: now,
        },
    )
    .await?;
    Ok(Outcome {
        id,
        message,
        record: record.map(|values| Record { values }),
    })
}

/// A deleted row's links through many-to-many relationships made through
/// the metadata API go with it (as in Dataverse, without a Disassociate).
async fn unlink(tx: &mut Tx, schema: &Schema, table: &Table, id: Uuid) -> PipelineResult<()> {
    use herald_core::query::{ColumnRef, CompareOp, Condition};
    for m in schema
        .many_to_many()
        .filter(|m| m.links(&table.logical_name))
    {
        let Some(intersect) = schema.table(&m.intersect) else {
            continue;
        };
        let mut sides = Vec::new();
        if m.entity1 == table.logical_name {
            sides.push(&m.entity1_attribute);
        }
        if m.entity2 == table.logical_name {
            sides.push(&m.entity2_attribute);
        }
        let mut q = herald_core::Query::all(&m.intersect);
        q.select = vec![intersect.primary_id.clone()];
        q.filter = Some(Condition::Or(
            sides
                .into_iter()
                .map(|c| Condition::Compare {
                    column: ColumnRef::new(c.clone()),
                    op: CompareOp::Eq,
                    value: herald_core::Value::Guid(id),
                })
                .collect(),
        ));
        for row in tx.fetch(&q, None, 0).await? {
            if let Some(link) = row.guid(&intersect.primary_id) {
                tx.delete(intersect, link).await?;
            }
        }
    }
    Ok(())
}

fn check_precondition(
    table: &Table,
    pre: Precondition,
    existing: Option<&Record>,
) -> PipelineResult<()> {
    match (pre, existing) {
        (Precondition::MustNotExist, Some(_)) => Err(PipelineError::Duplicate(format!(
            "A record with matching key values already exists in '{}' (If-None-Match: *)",
            table.logical_name
        ))),
        (Precondition::Version(v), Some(row)) => {
            let current = row.int("versionnumber").unwrap_or(0);
            if current == v {
                Ok(())
            } else {
                Err(PipelineError::Precondition(format!(
                    "The version of the existing record doesn't match the If-Match header (record has W/\"{current}\", request sent W/\"{v}\")"
                )))
            }
        }
        _ => Ok(()),
    }
}
