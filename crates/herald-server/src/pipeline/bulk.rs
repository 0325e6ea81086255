//! A bulk message — CreateMultiple, UpdateMultiple, UpsertMultiple — seen
//! as ONE server event beside the per-record Create/Update writes it is
//! made of: steps registered on the bulk message itself run once for the
//! whole request, their context carrying `Targets` (an EntityCollection of
//! the records) instead of a `Target`. Stage 10 and 20 steps run before the
//! records are written ([`BulkPhase::Before`]), stage 40 after
//! ([`BulkPhase::After`]), all inside the session's transaction
//! ([`super::WriteSession::run_message_steps`]).

use chrono::{DateTime, Utc};
use herald_core::context::{entity_from_values, AttributeValue, ContextBuilder, ExecutionContext};
use herald_core::matching::StepDef;
use herald_core::{Table, Value};
use herald_store::Tx;
use uuid::Uuid;

use super::dispatch::{self, Raised};
use super::error::{PipelineError, PipelineResult};
use crate::jobs::handoff::Reservations;
use crate::state::AppState;

/// A bulk message as the caller sent it.
#[derive(Debug, Clone)]
pub struct BulkMessage {
    /// `CreateMultiple`, `UpdateMultiple` or `UpsertMultiple`.
    pub message: &'static str,
    pub table: String,
    /// Each record's id and the columns the caller sent.
    pub targets: Vec<(Uuid, Vec<(String, Value)>)>,
    pub caller: Uuid,
    /// Correlation id and depth shared with the per-record writes.
    pub correlation: (Uuid, i64),
}

/// Which stages of the bulk message's own steps run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkPhase {
    /// Stages 10 and 20, before any record is written.
    Before,
    /// Stage 40 (sync steps delivered, async steps as System Jobs), after
    /// every record was written.
    After,
}

struct BulkEvent<'a> {
    message: &'a BulkMessage,
    table: &'a Table,
    now: DateTime<Utc>,
}

/// Run the bulk message's own steps of `phase` inside `tx`; whether any
/// System Job was written goes to `jobs`.
pub(super) async fn run(
    state: &AppState,
    tx: &mut Tx,
    direct: &mut Reservations<'_>,
    jobs: &mut bool,
    message: &BulkMessage,
    phase: BulkPhase,
) -> PipelineResult<()> {
    let schema = state.schema().clone();
    let table = schema
        .table(&message.table)
        .ok_or_else(|| PipelineError::Unknown(format!("Unknown table '{}'", message.table)))?;
    if !table.is_event_source() {
        return Ok(());
    }
    let steps = state
        .registrations
        .steps(tx, message.message, &table.logical_name)
        .await?;
    if steps.is_empty() {
        return Ok(());
    }
    let event = BulkEvent {
        message,
        table,
        now: state.clock.now(),
    };
    match phase {
        BulkPhase::Before => {
            dispatch::run_stage(state, tx, &event, &steps, 10).await?;
            dispatch::run_stage(state, tx, &event, &steps, 20).await
        }
        BulkPhase::After => {
            dispatch::run_post_operation(state, tx, &event, &steps, direct).await?;
            *jobs |= steps.iter().any(|s| s.is_async());
            Ok(())
        }
    }
}

impl Raised for BulkEvent<'_> {
    fn message_name(&self) -> &str {
        self.message.message
    }
    fn table(&self) -> &Table {
        self.table
    }
    fn changed_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        for (_, values) in &self.message.targets {
            for (c, _) in values {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        columns
    }
    /// The first record (a System Job regards one record).
    fn regarding(&self) -> Uuid {
        self.message
            .targets
            .first()
            .map(|(id, _)| *id)
            .unwrap_or_default()
    }
    fn correlation_id(&self) -> Uuid {
        self.message.correlation.0
    }
    fn depth(&self) -> i64 {
        self.message.correlation.1
    }
    fn caller(&self) -> Uuid {
        self.message.caller
    }
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn context(
        &self,
        state: &AppState,
        step: &StepDef,
        operation_id: Uuid,
        request_id: Option<Uuid>,
    ) -> ExecutionContext {
        let table = self.table;
        let entities = self
            .message
            .targets
            .iter()
            .map(|(id, values)| {
                let mut values: Vec<(String, Value)> = values
                    .iter()
                    .filter(|(c, _)| c != &table.primary_id)
                    .cloned()
                    .collect();
                values.push((table.primary_id.clone(), Value::Guid(*id)));
                entity_from_values(table, *id, &values)
            })
            .collect();
        ContextBuilder {
            message_name: self.message.message.to_string(),
            stage: step.stage as i32,
            mode: step.mode as i32,
            depth: self.depth() as i32,
            correlation_id: self.correlation_id(),
            operation_id,
            operation_created_on: self.now,
            organization_id: state.org.organization_id,
            organization_name: state.config.server.organization.clone(),
            business_unit_id: state.org.business_unit_id,
            user_id: step.impersonating_user.unwrap_or(self.message.caller),
            initiating_user_id: self.message.caller,
            request_id,
            owning_step_id: step.id,
            primary_entity_name: table.logical_name.clone(),
            input_parameters: vec![(
                "Targets".to_string(),
                AttributeValue::EntityCollection {
                    entity_name: table.logical_name.clone(),
                    entities,
                },
            )],
            changed_entity_types: vec![(
                table.logical_name.clone(),
                self.message.message.to_string(),
            )],
            ..ContextBuilder::default()
        }
        .build()
    }
}
