//! The single write path: one [`Operation`] run to commit in one
//! transaction — resolve the row and preconditions → stage 10 → validate →
//! stage 20 → write → stage 40 (sync steps delivered, async steps written as
//! System Jobs) → Business Central change rows → commit.

use herald_core::Table;
use herald_store::{Record, StoreError};
use uuid::Uuid;

use super::error::{PipelineError, PipelineResult};
use super::operation::{Message, Operation, Outcome, Precondition};
use super::{computed, dispatch, event, registrations, validate};
use crate::bc::capture::{self as bc_capture, RowChange};
use crate::state::AppState;

/// Run one operation to commit.
pub async fn execute(state: &AppState, op: Operation) -> PipelineResult<Outcome> {
    let schema = state.schema.clone();
    let table = schema
        .table(&op.table)
        .ok_or_else(|| PipelineError::Unknown(format!("Unknown table '{}'", op.table)))?;
    if table.kind == herald_core::schema::TableKind::System {
        return Err(PipelineError::Forbidden(format!(
            "The table '{}' is maintained by herald and cannot be written through the API",
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
    let mut tx = state.store.begin().await?;
    let existing = match op.id {
        Some(id) => tx.get(table, id).await?,
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

    let now = state.clock.now();
    let id = op.id.unwrap_or_else(Uuid::new_v4);
    let (correlation_id, depth) = op.correlation.unwrap_or_else(|| (Uuid::new_v4(), 1));
    let steps = if table.is_event_source() {
        state
            .registrations
            .steps(&mut tx, message.name(), &table.logical_name)
            .await?
    } else {
        Default::default()
    };
    if registrations::REGISTRATION_TABLES.contains(&table.logical_name.as_str()) {
        state.registrations.changed(&mut tx).await?;
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
    dispatch::run_stage(state, &mut tx, &event, &steps, 10).await?;
    let mut jobs = false;
    let mut derived: Vec<(event::Derived, registrations::Steps)> = Vec::new();
    let record = match message {
        Message::Create => {
            let mut values = validate::checked_values(table, &op.values, true)?;
            validate::lookups_exist(&mut tx, &state.schema, table, &values).await?;
            validate::registration_rules(&mut tx, state, table, None, &mut values).await?;
            event.request = values
                .iter()
                .filter(|(c, _)| c != &table.primary_id)
                .cloned()
                .collect();
            dispatch::run_stage(state, &mut tx, &event, &steps, 20).await?;
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
            validate::lookups_exist(&mut tx, &state.schema, table, &values).await?;
            validate::registration_rules(&mut tx, state, table, Some(before), &mut values).await?;
            event.request = values
                .iter()
                .filter(|(c, _)| c != &table.primary_id)
                .cloned()
                .collect();
            dispatch::run_stage(state, &mut tx, &event, &steps, 20).await?;
            // An owner change is also an Assign, a state change a SetState:
            // their stage 10 and 20 steps run here, after the Update's.
            if table.is_event_source() {
                for d in event::Derived::of_update(&values, Some(before)) {
                    let d_steps = state
                        .registrations
                        .steps(&mut tx, d.name(), &table.logical_name)
                        .await?;
                    if !d_steps.is_empty() {
                        let view = event.as_derived(d);
                        dispatch::run_stage(state, &mut tx, &view, &d_steps, 10).await?;
                        dispatch::run_stage(state, &mut tx, &view, &d_steps, 20).await?;
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
            dispatch::run_stage(state, &mut tx, &event, &steps, 20).await?;
            validate::before_delete(&mut tx, state, table, id).await?;
            tx.delete(table, id).await?;
            None
        }
    };
    event.after = record.clone().map(|values| Record { values });
    let mut direct = state.handoff.reservations();
    if !steps.is_empty() {
        dispatch::run_post_operation(state, &mut tx, &event, &steps, &mut direct).await?;
        jobs = steps.iter().any(|s| s.is_async());
    }
    for (d, d_steps) in &derived {
        let view = event.as_derived(*d);
        dispatch::run_post_operation(state, &mut tx, &view, d_steps, &mut direct).await?;
        jobs |= d_steps.iter().any(|s| s.is_async());
    }
    bc_capture::capture(
        &mut tx,
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
    tx.commit().await?;
    if direct.hand_over() && jobs {
        state.jobs_wake.notify_one();
    }
    Ok(Outcome {
        id,
        message,
        record: record.map(|values| Record { values }),
    })
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
