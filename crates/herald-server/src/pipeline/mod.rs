//! The single write path. Every change — Web API, CLI, BC API, a receiver
//! calling back — is an [`Operation`] run here, in one transaction:
//! resolve the row and preconditions → stage 10 → validate → stage 20 →
//! write → stage 40 (sync steps) → outbox rows for async work → commit.
//!
//! Webhook steps hook into the stages (see `steps`); this module owns the
//! order and the transaction.

mod computed;
pub mod depth;
pub mod dispatch;
pub mod event;
pub mod registrations;
pub mod steps;
mod validate;

use herald_core::query::{ColumnRef, CompareOp, Condition};
use herald_core::{Query, Table, Value};
use herald_store::{Record, Tx};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The messages the pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Create,
    Update,
    Delete,
}

impl Message {
    pub fn name(self) -> &'static str {
        match self {
            Message::Create => "Create",
            Message::Update => "Update",
            Message::Delete => "Delete",
        }
    }
}

/// What the caller requires of the existing row (If-Match / If-None-Match).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: *` — update only.
    MustExist,
    /// `If-None-Match: *` — create only.
    MustNotExist,
    /// `If-Match: W/"n"` — optimistic concurrency on versionnumber.
    Version(i64),
}

/// A requested change.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Create, Update or Delete. An Update with `upsert` creates the row when
    /// it does not exist.
    pub message: Message,
    pub table: String,
    pub id: Option<Uuid>,
    /// Client-supplied column values (already typed and checked against the
    /// column types).
    pub values: Vec<(String, Value)>,
    pub caller: Uuid,
    pub precondition: Precondition,
    pub upsert: bool,
    /// Correlation id and depth when this write happens while handling an
    /// event (infinite-loop prevention).
    pub correlation: Option<(Uuid, i64)>,
}

impl Operation {
    /// A change by `caller`; no precondition, no upsert, no correlation.
    pub fn new(
        message: Message,
        table: &str,
        id: Option<Uuid>,
        values: Vec<(String, Value)>,
        caller: Uuid,
    ) -> Operation {
        Operation {
            message,
            table: table.to_string(),
            id,
            values,
            caller,
            precondition: Precondition::None,
            upsert: false,
            correlation: None,
        }
    }

    pub fn with_precondition(mut self, precondition: Precondition) -> Operation {
        self.precondition = precondition;
        self
    }

    /// An Update that creates the row when it does not exist (PATCH).
    pub fn upsert(mut self) -> Operation {
        self.upsert = true;
        self
    }

    pub fn with_correlation(mut self, correlation: Option<(Uuid, i64)>) -> Operation {
        self.correlation = correlation;
        self
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: Uuid,
    pub message: Message,
    /// The row after the write (None after Delete).
    pub record: Option<Record>,
}

/// Run one operation to commit.
pub async fn execute(state: &AppState, op: Operation) -> ApiResult<Outcome> {
    let schema = state.schema.clone();
    let table = schema
        .table(&op.table)
        .ok_or_else(|| ApiError::bad_request(format!("Unknown table '{}'", op.table)))?;
    if table.kind == herald_core::schema::TableKind::System {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            crate::error::codes::FORBIDDEN,
            format!(
                "The table '{}' is maintained by herald and cannot be written through the API",
                table.logical_name
            ),
        ));
    }
    if let Some((_, depth)) = op.correlation {
        if depth > state.config.delivery.max_depth {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                crate::error::codes::LOOP_DETECTED,
                format!(
                    "This write was refused to prevent an infinite loop: depth {depth} exceeds the maximum of {} within one correlation",
                    state.config.delivery.max_depth
                ),
            ));
        }
    }
    let mut tx = state.store.begin().await?;
    let existing = match op.id {
        Some(id) => tx.get(table, id).await?,
        None => None,
    };
    let message = match (op.message, &existing) {
        (Message::Create, Some(_)) => {
            return Err(ApiError::from(herald_store::StoreError::Duplicate(
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
            return Err(ApiError::record_not_found(
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
                return Err(ApiError::record_not_found(&table.logical_name, id));
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
    crate::bc::capture::capture(&mut tx, &event).await?;
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
) -> ApiResult<()> {
    match (pre, existing) {
        (Precondition::MustNotExist, Some(_)) => Err(ApiError::new(
            axum::http::StatusCode::PRECONDITION_FAILED,
            crate::error::codes::DUPLICATE,
            format!(
                "A record with matching key values already exists in '{}' (If-None-Match: *)",
                table.logical_name
            ),
        )),
        (Precondition::Version(v), Some(row)) => {
            let current = row.int("versionnumber").unwrap_or(0);
            if current == v {
                Ok(())
            } else {
                Err(ApiError::precondition(format!(
                    "The version of the existing record doesn't match the If-Match header (record has W/\"{current}\", request sent W/\"{v}\")"
                )))
            }
        }
        _ => Ok(()),
    }
}

/// The depth reached so far under a correlation id (0 if unknown).
pub fn depth_of(state: &AppState, correlation: Uuid) -> i64 {
    state.depths.depth(correlation)
}

/// A query for the rows of `table` whose `column` equals `value`.
pub fn rows_where(table: &str, column: &str, value: Value) -> Query {
    let mut q = Query::all(table);
    q.filter = Some(Condition::Compare {
        column: ColumnRef::new(column),
        op: CompareOp::Eq,
        value,
    });
    q
}

/// Read rows inside the write transaction.
pub async fn fetch_in(tx: &mut Tx, query: &Query) -> ApiResult<Vec<Record>> {
    Ok(tx.fetch(query, None, 0).await?)
}
