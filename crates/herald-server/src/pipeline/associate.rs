//! Associate and Disassociate: linking two rows through a many-to-many
//! relationship (creating its intersect row) or unlinking them (deleting
//! it) raises Dataverse's Associate or Disassociate message beside the
//! intersect table's own write. Steps registered on these messages run
//! around that write, in its transaction, like any other step: stages 10
//! and 20 before it, 40 after. Their context is an AssociateRequest's —
//! `Target` (the row the request addressed), `Relationship` (the
//! relationship's schema name) and `RelatedEntities` (the other row) — with
//! the target's table as the primary entity. As in Dataverse, these
//! messages have no per-table filter: a step registered without one runs
//! for every relationship (it tells them apart by `Relationship`).

use chrono::{DateTime, Utc};
use herald_core::context::{AttributeValue, ContextBuilder, EntityReference, ExecutionContext};
use herald_core::matching::StepDef;
use herald_core::Table;
use uuid::Uuid;

use super::dispatch::Raised;
use super::operation::{Link, Message};

/// The message a write of an intersect row raises: Associate for a
/// Create, Disassociate for a Delete.
pub fn message_of(message: Message) -> &'static str {
    match message {
        Message::Delete => "Disassociate",
        _ => "Associate",
    }
}

/// One Associate or Disassociate, as its steps see it.
pub(super) struct LinkEvent<'a> {
    pub link: &'a Link,
    pub message: &'static str,
    /// The target row's table.
    pub table: &'a Table,
    pub caller: Uuid,
    pub correlation_id: Uuid,
    pub depth: i64,
    pub now: DateTime<Utc>,
}

impl Raised for LinkEvent<'_> {
    fn message_name(&self) -> &str {
        self.message
    }
    fn table(&self) -> &Table {
        self.table
    }
    fn changed_columns(&self) -> Vec<String> {
        Vec::new()
    }
    fn regarding(&self) -> Uuid {
        self.link.target.1
    }
    fn correlation_id(&self) -> Uuid {
        self.correlation_id
    }
    fn depth(&self) -> i64 {
        self.depth
    }
    fn caller(&self) -> Uuid {
        self.caller
    }
    fn now(&self) -> DateTime<Utc> {
        self.now
    }
    fn context(
        &self,
        state: &crate::state::AppState,
        step: &StepDef,
        operation_id: Uuid,
        request_id: Option<Uuid>,
    ) -> ExecutionContext {
        let (table, id) = (&self.link.target.0, self.link.target.1);
        let target = EntityReference::new(table, id);
        let related = EntityReference::new(&self.link.related.0, self.link.related.1);
        ContextBuilder {
            message_name: self.message.to_string(),
            stage: step.stage as i32,
            mode: step.mode as i32,
            depth: self.depth as i32,
            correlation_id: self.correlation_id,
            operation_id,
            operation_created_on: self.now,
            organization_id: state.org.organization_id,
            organization_name: state.config.server.organization.clone(),
            business_unit_id: state.org.business_unit_id,
            user_id: step.impersonating_user.unwrap_or(self.caller),
            initiating_user_id: self.caller,
            request_id,
            owning_step_id: step.id,
            primary_entity_name: table.clone(),
            primary_entity_id: id,
            input_parameters: vec![
                (
                    "Target".to_string(),
                    AttributeValue::EntityReference(target),
                ),
                (
                    "Relationship".to_string(),
                    AttributeValue::Relationship {
                        schema_name: self.link.relationship.clone(),
                    },
                ),
                (
                    "RelatedEntities".to_string(),
                    AttributeValue::EntityReferenceCollection(vec![related]),
                ),
            ],
            changed_entity_types: vec![(table.clone(), self.message.to_string())],
            ..ContextBuilder::default()
        }
        .build()
    }
}
