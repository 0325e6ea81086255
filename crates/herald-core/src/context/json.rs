//! The JSON form of the execution context, as Dataverse's
//! `DataContractJsonSerializer` writes it: `__type` hints on values whose
//! declared type is `object`, `[{"key":…,"value":…}]` collections,
//! `\/Date(…)\/` dates and `/` escaped as `\/` on the wire.
//!
//! Where the seed shows it, `__type` is written for entities and references
//! held in `object` slots (parameters, attribute values) and *not* for
//! those whose declared type is already `Entity` / `EntityReference`
//! (pre/post images, `OwningExtension`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

use super::execution::ExecutionContext;
use super::value::{
    AttributeValue, Entity, EntityReference, ParamValue, ENTITY_COLLECTION_TYPE,
    ENTITY_REFERENCE_TYPE, ENTITY_TYPE, KEY_VALUE_PAIR_TYPE, MONEY_TYPE, OPTION_SET_VALUE_TYPE,
    RELATIONSHIP_TYPE,
};

/// Compact JSON text with every `/` written as `\/`, as Dataverse's
/// serializer does (`"\/Date(1506384247000)\/"`,
/// `"Entity:http:\/\/schemas.microsoft.com\/…"`). A plain replace is exact:
/// outside strings JSON text never contains `/`, and serde_json never
/// escapes it inside strings, so each `/` becomes the valid escape `\/`.
pub fn to_wire_string(json: &Json) -> String {
    serde_json::to_string(json)
        .expect("a serde_json::Value always serializes")
        .replace('/', "\\/")
}

/// Milliseconds since the epoch at Dataverse's date precision, whole
/// seconds: every date in seed 000 ends in `000`, and the same column read
/// through the Web API (`…T08:20:21Z`) shows the same instant.
fn whole_second_millis(t: &DateTime<Utc>) -> i64 {
    t.timestamp() * 1000
}

/// `/Date(<ms>)/` (the value of a UTC `DateTime`, whole seconds; `\/` once
/// on the wire).
pub fn date_json(t: &DateTime<Utc>) -> Json {
    Json::String(format!("/Date({})/", whole_second_millis(t)))
}

/// `/Date(<ms>+0000)/`: the offset style of `OperationCreatedOn`. Dataverse
/// writes the server's local offset (seed: `-0700`); herald runs in UTC.
pub fn offset_date_json(t: &DateTime<Utc>) -> Json {
    Json::String(format!("/Date({}+0000)/", whole_second_millis(t)))
}

/// A decimal as a JSON number: whole values without a fraction (`1500`, as
/// a .NET `decimal` of scale 0 is written), others as the shortest float.
pub fn number_json(f: f64) -> Json {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        Json::from(f as i64)
    } else {
        serde_json::Number::from_f64(f)
            .map(Json::Number)
            .unwrap_or(Json::Null)
    }
}

fn guid_json(g: &uuid::Uuid) -> Json {
    // `Uuid`'s Display is lower-case hyphenated.
    Json::String(g.to_string())
}

fn typed_value(type_name: &str, value: Json) -> Json {
    let mut m = Map::new();
    m.insert("__type".into(), Json::from(type_name));
    m.insert("Value".into(), value);
    Json::Object(m)
}

/// `[{"key":…,"value":…}]`
pub fn collection_json<'a, T: 'a>(
    items: impl IntoIterator<Item = &'a (String, T)>,
    value: impl Fn(&T) -> Json,
) -> Json {
    Json::Array(
        items
            .into_iter()
            .map(|(k, v)| {
                let mut m = Map::new();
                m.insert("key".into(), Json::String(k.clone()));
                m.insert("value".into(), value(v));
                Json::Object(m)
            })
            .collect(),
    )
}

impl AttributeValue {
    /// The JSON of this value in an `object` slot (with `__type` hints).
    pub fn to_json(&self) -> Json {
        match self {
            AttributeValue::Null => Json::Null,
            AttributeValue::String(s) => Json::String(s.clone()),
            AttributeValue::Int(i) => Json::from(*i),
            AttributeValue::Decimal(d) => number_json(*d),
            AttributeValue::Bool(b) => Json::Bool(*b),
            AttributeValue::DateTime(t) => date_json(t),
            AttributeValue::Guid(g) => guid_json(g),
            AttributeValue::EntityReference(r) => r.to_typed_json(),
            AttributeValue::OptionSetValue(v) => typed_value(OPTION_SET_VALUE_TYPE, Json::from(*v)),
            AttributeValue::Money(v) => typed_value(MONEY_TYPE, number_json(*v)),
            AttributeValue::Entity(e) => e.to_typed_json(),
            AttributeValue::KeyValuePairs(pairs) => Json::Array(
                pairs
                    .iter()
                    .map(|(k, v)| {
                        let mut m = Map::new();
                        m.insert("__type".into(), Json::from(KEY_VALUE_PAIR_TYPE));
                        m.insert("key".into(), Json::String(k.clone()));
                        m.insert("value".into(), Json::String(v.clone()));
                        Json::Object(m)
                    })
                    .collect(),
            ),
            AttributeValue::Relationship { schema_name } => {
                let mut m = Map::new();
                m.insert("__type".into(), Json::from(RELATIONSHIP_TYPE));
                m.insert("PrimaryEntityRole".into(), Json::Null);
                m.insert("SchemaName".into(), Json::String(schema_name.clone()));
                Json::Object(m)
            }
            AttributeValue::EntityReferenceCollection(refs) => {
                Json::Array(refs.iter().map(EntityReference::to_typed_json).collect())
            }
            AttributeValue::EntityCollection {
                entity_name,
                entities,
            } => {
                let mut m = Map::new();
                m.insert("__type".into(), Json::from(ENTITY_COLLECTION_TYPE));
                m.insert(
                    "Entities".into(),
                    Json::Array(entities.iter().map(Entity::to_json).collect()),
                );
                m.insert("EntityName".into(), Json::String(entity_name.clone()));
                m.insert("MinActiveRowVersion".into(), Json::from("-1"));
                m.insert("MoreRecords".into(), Json::Bool(false));
                m.insert("PagingCookie".into(), Json::Null);
                m.insert("TotalRecordCount".into(), Json::from(-1));
                m.insert("TotalRecordCountLimitExceeded".into(), Json::Bool(false));
                Json::Object(m)
            }
        }
    }
}

impl EntityReference {
    /// Without `__type` (declared `EntityReference`, e.g. `OwningExtension`).
    pub fn to_json(&self) -> Json {
        Json::Object(self.fields(None))
    }

    /// With `__type` first (in an `object` slot, e.g. a lookup attribute).
    pub fn to_typed_json(&self) -> Json {
        Json::Object(self.fields(Some(ENTITY_REFERENCE_TYPE)))
    }

    fn fields(&self, type_name: Option<&str>) -> Map<String, Json> {
        let mut m = Map::new();
        if let Some(t) = type_name {
            m.insert("__type".into(), Json::from(t));
        }
        m.insert("Id".into(), guid_json(&self.id));
        m.insert("KeyAttributes".into(), Json::Array(vec![]));
        m.insert(
            "LogicalName".into(),
            Json::String(self.logical_name.clone()),
        );
        m.insert(
            "Name".into(),
            self.name.clone().map(Json::String).unwrap_or(Json::Null),
        );
        m.insert("RowVersion".into(), Json::Null);
        m
    }
}

impl Entity {
    /// Without `__type` (declared `Entity`: pre/post images).
    pub fn to_json(&self) -> Json {
        Json::Object(self.fields(None))
    }

    /// With `__type` first (in an `object` slot, e.g. `Target`).
    pub fn to_typed_json(&self) -> Json {
        Json::Object(self.fields(Some(ENTITY_TYPE)))
    }

    fn fields(&self, type_name: Option<&str>) -> Map<String, Json> {
        let mut m = Map::new();
        if let Some(t) = type_name {
            m.insert("__type".into(), Json::from(t));
        }
        m.insert(
            "Attributes".into(),
            collection_json(&self.attributes, AttributeValue::to_json),
        );
        m.insert("EntityState".into(), Json::Null);
        m.insert(
            "FormattedValues".into(),
            collection_json(&self.formatted_values, |s: &String| Json::String(s.clone())),
        );
        m.insert("Id".into(), guid_json(&self.id));
        m.insert("KeyAttributes".into(), Json::Array(vec![]));
        m.insert(
            "LogicalName".into(),
            Json::String(self.logical_name.clone()),
        );
        m.insert("RelatedEntities".into(), Json::Array(vec![]));
        m.insert("RowVersion".into(), Json::Null);
        m
    }
}

fn params_json(items: &[(String, ParamValue)]) -> Json {
    collection_json(items, ParamValue::to_json)
}

fn images_json(items: &[(String, Entity)]) -> Json {
    collection_json(items, Entity::to_json)
}

impl ExecutionContext {
    /// The context as a JSON object whose keys iterate in Dataverse's
    /// property order (serde_json `preserve_order`). Strings hold plain
    /// `/`; use [`ExecutionContext::to_json_string`] for the wire form.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("BusinessUnitId".into(), guid_json(&self.business_unit_id));
        m.insert("CorrelationId".into(), guid_json(&self.correlation_id));
        m.insert("Depth".into(), Json::from(self.depth));
        m.insert(
            "InitiatingUserId".into(),
            guid_json(&self.initiating_user_id),
        );
        m.insert(
            "InputParameters".into(),
            params_json(&self.input_parameters),
        );
        m.insert(
            "IsExecutingOffline".into(),
            Json::Bool(self.is_executing_offline),
        );
        m.insert("IsInTransaction".into(), Json::Bool(self.is_in_transaction));
        m.insert(
            "IsOfflinePlayback".into(),
            Json::Bool(self.is_offline_playback),
        );
        m.insert("IsolationMode".into(), Json::from(self.isolation_mode));
        m.insert(
            "MessageName".into(),
            Json::String(self.message_name.clone()),
        );
        m.insert("Mode".into(), Json::from(self.mode));
        m.insert(
            "OperationCreatedOn".into(),
            offset_date_json(&self.operation_created_on),
        );
        m.insert("OperationId".into(), guid_json(&self.operation_id));
        m.insert("OrganizationId".into(), guid_json(&self.organization_id));
        m.insert(
            "OrganizationName".into(),
            Json::String(self.organization_name.clone()),
        );
        m.insert(
            "OutputParameters".into(),
            params_json(&self.output_parameters),
        );
        m.insert("OwningExtension".into(), self.owning_extension.to_json());
        m.insert(
            "ParentContext".into(),
            self.parent_context
                .as_ref()
                .map(|p| p.to_json())
                .unwrap_or(Json::Null),
        );
        m.insert(
            "PostEntityImages".into(),
            images_json(&self.post_entity_images),
        );
        m.insert(
            "PreEntityImages".into(),
            images_json(&self.pre_entity_images),
        );
        m.insert("PrimaryEntityId".into(), guid_json(&self.primary_entity_id));
        m.insert(
            "PrimaryEntityName".into(),
            Json::String(self.primary_entity_name.clone()),
        );
        m.insert(
            "RequestId".into(),
            self.request_id
                .as_ref()
                .map(guid_json)
                .unwrap_or(Json::Null),
        );
        m.insert(
            "SecondaryEntityName".into(),
            Json::String(self.secondary_entity_name.clone()),
        );
        m.insert(
            "SharedVariables".into(),
            params_json(&self.shared_variables),
        );
        m.insert("Stage".into(), Json::from(self.stage));
        m.insert("UserId".into(), guid_json(&self.user_id));
        Json::Object(m)
    }

    /// The exact wire form: compact JSON with `/` escaped as `\/`.
    pub fn to_json_string(&self) -> String {
        to_wire_string(&self.to_json())
    }
}
