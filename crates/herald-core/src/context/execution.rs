//! The `RemoteExecutionContext` of one step execution, field for field in
//! the property order Dataverse serializes it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::value::{Entity, EntityReference, ParamValue};

/// Stage 10: outside the database transaction, before the main operation.
pub const STAGE_PRE_VALIDATION: i32 = 10;
/// Stage 20: inside the transaction, before the main operation.
pub const STAGE_PRE_OPERATION: i32 = 20;
/// Stage 30: the main operation itself (the stage of a `ParentContext`).
pub const STAGE_MAIN_OPERATION: i32 = 30;
/// Stage 40: after the main operation.
pub const STAGE_POST_OPERATION: i32 = 40;
/// `Mode` 0.
pub const MODE_SYNCHRONOUS: i32 = 0;
/// `Mode` 1.
pub const MODE_ASYNCHRONOUS: i32 = 1;
/// `IsolationMode` as seed 000 shows it for webhooks.
pub const ISOLATION_MODE: i32 = 1;

/// Dataverse's `RemoteExecutionContext`. Field order = JSON property order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionContext {
    pub business_unit_id: Uuid,
    pub correlation_id: Uuid,
    pub depth: i32,
    pub initiating_user_id: Uuid,
    pub input_parameters: Vec<(String, ParamValue)>,
    pub is_executing_offline: bool,
    pub is_in_transaction: bool,
    pub is_offline_playback: bool,
    pub isolation_mode: i32,
    pub message_name: String,
    pub mode: i32,
    /// Written as `"\/Date(<ms>+0000)\/"`.
    pub operation_created_on: DateTime<Utc>,
    pub operation_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub output_parameters: Vec<(String, ParamValue)>,
    /// The step (`sdkmessageprocessingstep`, `Name` null).
    pub owning_extension: EntityReference,
    pub parent_context: Option<Box<ExecutionContext>>,
    pub post_entity_images: Vec<(String, Entity)>,
    pub pre_entity_images: Vec<(String, Entity)>,
    pub primary_entity_id: Uuid,
    pub primary_entity_name: String,
    pub request_id: Option<Uuid>,
    /// `"none"` for every message herald raises.
    pub secondary_entity_name: String,
    pub shared_variables: Vec<(String, ParamValue)>,
    pub stage: i32,
    pub user_id: Uuid,
}

impl ExecutionContext {
    pub fn input_parameter(&self, key: &str) -> Option<&ParamValue> {
        find(&self.input_parameters, key)
    }

    pub fn output_parameter(&self, key: &str) -> Option<&ParamValue> {
        find(&self.output_parameters, key)
    }

    pub fn shared_variable(&self, key: &str) -> Option<&ParamValue> {
        find(&self.shared_variables, key)
    }

    /// The `Target` input parameter (an entity, or a reference for Delete).
    pub fn target(&self) -> Option<&ParamValue> {
        self.input_parameter("Target")
    }
}

fn find<'a>(items: &'a [(String, ParamValue)], key: &str) -> Option<&'a ParamValue> {
    items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}
