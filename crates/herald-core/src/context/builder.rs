//! Build the context of one step execution together with its
//! `ParentContext`, the way seed 000 shows them.
//!
//! The seed (Update of a contact, async PostOperation step) has two levels:
//!
//! - the step's context (Stage = the step's stage, Mode = the step's mode):
//!   `InputParameters` = `Target` as the pipeline completed it (the changed
//!   columns plus what the server set: `fullname`, `modifiedon`,
//!   `modifiedby`, …), the step's images, `SharedVariables` `[]`;
//! - its `ParentContext`, the main operation (Stage 30, same Mode, Depth,
//!   ids and `OwningExtension`): `InputParameters` = `Target` as the caller
//!   sent it (changed columns + primary id) followed by the request's
//!   options (`SuppressDuplicateDetection`), no images, `ParentContext`
//!   null, and `SharedVariables` = `ChangedEntityTypes` (the tables written,
//!   each with its message).
//!
//! herald always produces that two-level shape, for every stage.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::execution::{
    ExecutionContext, ISOLATION_MODE, MODE_SYNCHRONOUS, STAGE_MAIN_OPERATION, STAGE_PRE_VALIDATION,
};
use super::value::{AttributeValue, Entity, EntityReference, ParamValue};

/// The `Target` input parameter: an entity (Create, Update) or a reference
/// (Delete, Assign, …). Serialized with its `__type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Entity(Entity),
    Reference(EntityReference),
}

impl Target {
    pub fn logical_name(&self) -> &str {
        match self {
            Target::Entity(e) => &e.logical_name,
            Target::Reference(r) => &r.logical_name,
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Target::Entity(e) => e.id,
            Target::Reference(r) => r.id,
        }
    }

    pub fn to_param(&self) -> ParamValue {
        match self {
            Target::Entity(e) => AttributeValue::Entity(Box::new(e.clone())),
            Target::Reference(r) => AttributeValue::EntityReference(r.clone()),
        }
    }
}

/// Everything the pipeline knows about one step execution. Fill the fields
/// (`..Default::default()` for the rest) and call [`ContextBuilder::build`].
#[derive(Debug, Clone, Default)]
pub struct ContextBuilder {
    /// `Create`, `Update`, `Delete`, …
    pub message_name: String,
    /// The step's stage (10, 20 or 40).
    pub stage: i32,
    /// The step's mode (0 sync, 1 async).
    pub mode: i32,
    pub depth: i32,
    pub correlation_id: Uuid,
    /// For async steps the System Job (asyncoperation) id.
    pub operation_id: Uuid,
    pub operation_created_on: DateTime<Utc>,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub business_unit_id: Uuid,
    /// The user the step runs as (impersonating user or caller).
    pub user_id: Uuid,
    /// The caller.
    pub initiating_user_id: Uuid,
    pub request_id: Option<Uuid>,
    /// The `sdkmessageprocessingstep` id (`OwningExtension`).
    pub owning_step_id: Uuid,
    /// Defaults to the target's logical name when empty.
    pub primary_entity_name: String,
    /// Defaults to the target's id when nil.
    pub primary_entity_id: Uuid,
    /// `Target` of the step's context (as the pipeline completed it).
    pub target: Option<Target>,
    /// `Target` of the parent context (as the caller sent it, with the
    /// primary id); defaults to `target`.
    pub request_target: Option<Target>,
    /// Other message parameters (e.g. `Assignee`, `State`, `Status`), after
    /// `Target` in both contexts.
    pub input_parameters: Vec<(String, ParamValue)>,
    /// Request options (e.g. `SuppressDuplicateDetection`: false), only in
    /// the parent context, after the message parameters.
    pub request_options: Vec<(String, ParamValue)>,
    /// `(entityalias, image)` pairs.
    pub pre_images: Vec<(String, Entity)>,
    pub post_images: Vec<(String, Entity)>,
    /// E.g. Create's `("id", Guid)` at PostOperation; in both contexts.
    pub output_parameters: Vec<(String, ParamValue)>,
    /// `(table, message)` pairs written by the operation; the parent's
    /// `ChangedEntityTypes` shared variable (omitted when empty).
    pub changed_entity_types: Vec<(String, String)>,
}

impl ContextBuilder {
    /// The step's context with its `ParentContext`.
    ///
    /// `IsInTransaction` is true for synchronous steps except PreValidation
    /// (async steps run after the commit: false, as in the seed); the parent
    /// carries the same value.
    pub fn build(&self) -> ExecutionContext {
        let primary_entity_name = match (&self.target, self.primary_entity_name.is_empty()) {
            (Some(t), true) => t.logical_name().to_string(),
            _ => self.primary_entity_name.clone(),
        };
        let primary_entity_id = match (&self.target, self.primary_entity_id.is_nil()) {
            (Some(t), true) => t.id(),
            _ => self.primary_entity_id,
        };
        let is_in_transaction = self.mode == MODE_SYNCHRONOUS && self.stage != STAGE_PRE_VALIDATION;

        let mut input_parameters = Vec::new();
        if let Some(t) = &self.target {
            input_parameters.push(("Target".to_string(), t.to_param()));
        }
        input_parameters.extend(self.input_parameters.iter().cloned());

        let mut parent_input = Vec::new();
        if let Some(t) = self.request_target.as_ref().or(self.target.as_ref()) {
            parent_input.push(("Target".to_string(), t.to_param()));
        }
        parent_input.extend(self.input_parameters.iter().cloned());
        parent_input.extend(self.request_options.iter().cloned());

        let mut parent_shared = Vec::new();
        if !self.changed_entity_types.is_empty() {
            parent_shared.push((
                "ChangedEntityTypes".to_string(),
                AttributeValue::KeyValuePairs(self.changed_entity_types.clone()),
            ));
        }

        let owning_extension =
            EntityReference::new("sdkmessageprocessingstep", self.owning_step_id);
        let base = ExecutionContext {
            business_unit_id: self.business_unit_id,
            correlation_id: self.correlation_id,
            depth: self.depth,
            initiating_user_id: self.initiating_user_id,
            input_parameters: parent_input,
            is_executing_offline: false,
            is_in_transaction,
            is_offline_playback: false,
            isolation_mode: ISOLATION_MODE,
            message_name: self.message_name.clone(),
            mode: self.mode,
            operation_created_on: self.operation_created_on,
            operation_id: self.operation_id,
            organization_id: self.organization_id,
            organization_name: self.organization_name.clone(),
            output_parameters: self.output_parameters.clone(),
            owning_extension,
            parent_context: None,
            post_entity_images: Vec::new(),
            pre_entity_images: Vec::new(),
            primary_entity_id,
            primary_entity_name,
            request_id: self.request_id,
            secondary_entity_name: "none".to_string(),
            shared_variables: parent_shared,
            stage: STAGE_MAIN_OPERATION,
            user_id: self.user_id,
        };
        ExecutionContext {
            input_parameters,
            post_entity_images: self.post_images.clone(),
            pre_entity_images: self.pre_images.clone(),
            shared_variables: Vec::new(),
            stage: self.stage,
            parent_context: Some(Box::new(base.clone())),
            ..base
        }
    }
}
