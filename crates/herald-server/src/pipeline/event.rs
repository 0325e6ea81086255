//! One write seen as a server event: what the caller sent, what the server
//! completed, the row before and after — and the `RemoteExecutionContext`
//! each matching step receives, built from it.

use chrono::{DateTime, Utc};
use herald_core::context::{
    entity_from_values, image_from_values, AttributeValue, ContextBuilder, Entity, EntityReference,
    ExecutionContext, Target,
};
use herald_core::matching::{image_columns, StepDef};
use herald_core::{Table, Value};
use herald_store::Record;
use uuid::Uuid;

use super::Message;
use crate::state::AppState;

/// A message Dataverse raises for an Update that changes the owner
/// (`Assign`) or the state (`SetState`), run besides the Update's steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Derived {
    Assign { assignee: Uuid },
    SetState { state: i64, status: i64 },
}

impl Derived {
    pub fn name(self) -> &'static str {
        match self {
            Derived::Assign { .. } => "Assign",
            Derived::SetState { .. } => "SetState",
        }
    }

    /// The messages an Update with these changes also raises.
    pub fn of_update(changes: &[(String, Value)], after: Option<&Record>) -> Vec<Derived> {
        let mut out = Vec::new();
        if let Some(assignee) = changes
            .iter()
            .find(|(c, _)| c == "ownerid")
            .and_then(|(_, v)| v.as_guid())
        {
            out.push(Derived::Assign { assignee });
        }
        if changes
            .iter()
            .any(|(c, _)| c == "statecode" || c == "statuscode")
        {
            let get = |c: &str| {
                changes
                    .iter()
                    .find(|(n, _)| n == c)
                    .and_then(|(_, v)| v.as_int())
                    .or_else(|| after.and_then(|a| a.int(c)))
            };
            if let (Some(state), Some(status)) = (get("statecode"), get("statuscode")) {
                out.push(Derived::SetState { state, status });
            }
        }
        out
    }
}

#[derive(Clone)]
pub struct Event<'a> {
    pub message: Message,
    /// Set for the Assign / SetState view of an Update.
    pub derived: Option<Derived>,
    pub table: &'a Table,
    pub id: Uuid,
    /// Column values as the caller sent them (checked).
    pub request: Vec<(String, Value)>,
    /// What the write changed, as completed by the server (computed names,
    /// modifiedon, …); empty before the write.
    pub completed: Vec<(String, Value)>,
    pub before: Option<Record>,
    pub after: Option<Record>,
    pub caller: Uuid,
    pub correlation_id: Uuid,
    pub depth: i64,
    pub now: DateTime<Utc>,
}

impl Event<'_> {
    /// The message steps are registered for: Create, Update, Delete, or
    /// Assign / SetState for the derived view of an Update.
    pub fn message_name(&self) -> &'static str {
        match self.derived {
            Some(d) => d.name(),
            None => self.message.name(),
        }
    }

    /// This event seen as a derived message.
    pub fn as_derived(&self, derived: Derived) -> Self {
        Event {
            derived: Some(derived),
            ..self.clone()
        }
    }

    /// Names of the columns the caller changed (for filtering attributes).
    pub fn changed_columns(&self) -> Vec<String> {
        self.request.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The caller's columns followed by the primary id.
    fn with_primary_id(&self, values: &[(String, Value)]) -> Vec<(String, Value)> {
        let mut v: Vec<(String, Value)> = values
            .iter()
            .filter(|(c, _)| c != &self.table.primary_id)
            .cloned()
            .collect();
        v.push((self.table.primary_id.clone(), Value::Guid(self.id)));
        v
    }

    /// The Target as the caller sent it: changed columns, then the primary id.
    fn request_target(&self) -> Target {
        match self.message {
            Message::Delete => {
                Target::Reference(EntityReference::new(&self.table.logical_name, self.id))
            }
            _ => Target::Entity(entity_from_values(
                self.table,
                self.id,
                &self.with_primary_id(&self.request),
            )),
        }
    }

    /// The Target as the pipeline completed it (PostOperation): the caller's
    /// columns, the primary id, then what the server set.
    fn completed_target(&self) -> Target {
        match self.message {
            Message::Delete => self.request_target(),
            Message::Create => {
                let mut values = self.with_primary_id(&self.request);
                for (c, v) in &self.completed {
                    if !v.is_null() && !values.iter().any(|(n, _)| n == c) && c != "versionnumber" {
                        values.push((c.clone(), v.clone()));
                    }
                }
                Target::Entity(entity_from_values(self.table, self.id, &values))
            }
            Message::Update => {
                let mut values = self.with_primary_id(&self.request);
                for (c, v) in &self.completed {
                    if !values.iter().any(|(n, _)| n == c) && c != "versionnumber" {
                        values.push((c.clone(), v.clone()));
                    }
                }
                let mut e: Entity = entity_from_values(self.table, self.id, &values);
                e.set("modifiedonbehalfby", AttributeValue::Null);
                Target::Entity(e)
            }
        }
    }

    /// The context one step receives.
    pub fn context(
        &self,
        state: &AppState,
        step: &StepDef,
        operation_id: Uuid,
        request_id: Option<Uuid>,
    ) -> ExecutionContext {
        let post = step.stage == 40;
        let mut builder = ContextBuilder {
            message_name: self.message_name().to_string(),
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
            primary_entity_name: self.table.logical_name.clone(),
            primary_entity_id: self.id,
            target: Some(if post {
                self.completed_target()
            } else {
                self.request_target()
            }),
            request_target: Some(self.request_target()),
            request_options: if self.message == Message::Delete {
                Vec::new()
            } else {
                vec![(
                    "SuppressDuplicateDetection".to_string(),
                    AttributeValue::Bool(false),
                )]
            },
            changed_entity_types: vec![(
                self.table.logical_name.clone(),
                self.message_name().to_string(),
            )],
            ..ContextBuilder::default()
        };
        let reference = EntityReference::new(&self.table.logical_name, self.id);
        match self.derived {
            // AssignRequest: Target (reference) and Assignee.
            Some(Derived::Assign { assignee }) => {
                builder.target = Some(Target::Reference(reference.clone()));
                builder.request_target = Some(Target::Reference(reference));
                builder.input_parameters = vec![(
                    "Assignee".to_string(),
                    AttributeValue::EntityReference(EntityReference::new("systemuser", assignee)),
                )];
                builder.request_options.clear();
            }
            // SetStateRequest: EntityMoniker, State, Status (no Target).
            Some(Derived::SetState { state, status }) => {
                builder.target = None;
                builder.request_target = None;
                builder.input_parameters = vec![
                    (
                        "EntityMoniker".to_string(),
                        AttributeValue::EntityReference(reference),
                    ),
                    ("State".to_string(), AttributeValue::OptionSetValue(state)),
                    ("Status".to_string(), AttributeValue::OptionSetValue(status)),
                ];
                builder.request_options.clear();
            }
            None => {}
        }
        if post && self.message == Message::Create {
            builder.output_parameters = vec![("id".to_string(), AttributeValue::Guid(self.id))];
        }
        for image in &step.images {
            if image.is_pre() && self.message != Message::Create {
                if let Some(before) = &self.before {
                    let cols =
                        image_columns(&before.values, &image.attributes, &self.table.primary_id);
                    builder.pre_images.push((
                        image.entityalias.clone(),
                        image_from_values(self.table, self.id, &cols),
                    ));
                }
            }
            if image.is_post() && post && self.message != Message::Delete {
                if let Some(after) = &self.after {
                    let cols =
                        image_columns(&after.values, &image.attributes, &self.table.primary_id);
                    builder.post_images.push((
                        image.entityalias.clone(),
                        image_from_values(self.table, self.id, &cols),
                    ));
                }
            }
        }
        if let Some(image) = self.asynchronous_step_primary_name(step, post) {
            builder
                .post_images
                .push((ASYNC_PRIMARY_NAME_IMAGE.to_string(), image));
        }
        builder.build()
    }

    /// Dataverse adds, by itself, a post image `AsynchronousStepPrimaryName`
    /// (the record's primary name column and primary id) to the context of
    /// every asynchronous PostOperation step of a message with a post state
    /// (Create, Update, …; not Delete), whether or not images were
    /// registered — unless the step registers an image of that name itself.
    fn asynchronous_step_primary_name(&self, step: &StepDef, post: bool) -> Option<Entity> {
        if !post || !step.is_async() || self.message == Message::Delete {
            return None;
        }
        if step
            .images
            .iter()
            .any(|i| i.is_post() && i.entityalias == ASYNC_PRIMARY_NAME_IMAGE)
        {
            return None;
        }
        let after = self.after.as_ref()?;
        let columns: Vec<String> = self
            .table
            .primary_name
            .iter()
            .cloned()
            .chain([self.table.primary_id.clone()])
            .collect();
        let cols = image_columns(&after.values, &columns, &self.table.primary_id);
        Some(image_from_values(self.table, self.id, &cols))
    }
}

impl super::dispatch::Raised for Event<'_> {
    fn message_name(&self) -> &str {
        Event::message_name(self)
    }
    fn table(&self) -> &Table {
        self.table
    }
    fn changed_columns(&self) -> Vec<String> {
        Event::changed_columns(self)
    }
    fn regarding(&self) -> Uuid {
        self.id
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
        state: &AppState,
        step: &StepDef,
        operation_id: Uuid,
        request_id: Option<Uuid>,
    ) -> ExecutionContext {
        Event::context(self, state, step, operation_id, request_id)
    }
}

/// The post image Dataverse adds to every asynchronous step's context.
pub const ASYNC_PRIMARY_NAME_IMAGE: &str = "AsynchronousStepPrimaryName";
