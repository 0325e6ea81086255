//! The JSON form of the execution context, as Dataverse's
//! `DataContractJsonSerializer` writes it: `__type` hints on values whose
//! declared type is `object`, `[{"key":…,"value":…}]` collections,
//! `\/Date(…)\/` dates and `/` escaped as `\/` on the wire.
//!
//! Where the seed shows it, `__type` is written for entities and references
//! held in `object` slots (parameters, attribute values) and *not* for
//! those whose declared type is already `Entity` / `EntityReference`
//! (pre/post images, `OwningExtension`).
//!
//! One `serde::Serialize` implementation per shape is the single source of
//! both forms: [`ExecutionContext::to_json_string`] streams it straight to
//! text through [`WireFormatter`] (every System Job and every delivery
//! serializes a ~5 KB context, so no `serde_json::Value` tree is built on
//! that path), and the `to_json` methods collect the same keys, in the same
//! order, into a `Value` (serde_json's `preserve_order`) for tests and
//! callers that edit it.

use std::io;

use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::Value as Json;

use super::delivery::TRIMMED_PROPERTIES;
use super::execution::ExecutionContext;
use super::value::{
    AttributeValue, Entity, EntityReference, ENTITY_COLLECTION_TYPE, ENTITY_REFERENCE_TYPE,
    ENTITY_TYPE, KEY_VALUE_PAIR_TYPE, MONEY_TYPE, OPTION_SET_VALUE_TYPE, RELATIONSHIP_TYPE,
};

/// serde_json's compact output with every `/` inside a string written as
/// `\/`, as Dataverse's serializer does (`"\/Date(1506384247000)\/"`,
/// `"Entity:http:\/\/schemas.microsoft.com\/…"`). serde_json never escapes
/// `/` itself and JSON text has no `/` outside strings, so this is exactly
/// the compact text with each `/` replaced.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireFormatter;

impl serde_json::ser::Formatter for WireFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find('/') {
            writer.write_all(&rest.as_bytes()[..at])?;
            writer.write_all(b"\\/")?;
            rest = &rest[at + 1..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// `value` as wire text (compact, `/` escaped as `\/`).
pub fn to_wire_text<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, WireFormatter);
    // Neither the shapes here nor a `Value` can fail to serialize: every
    // map key is a string and writing to a Vec cannot fail.
    value
        .serialize(&mut ser)
        .expect("JSON shapes serialize into memory");
    // serde_json writes only valid UTF-8.
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A `serde_json::Value` in the wire form (see [`WireFormatter`]).
pub fn to_wire_string(json: &Json) -> String {
    to_wire_text(json)
}

/// `value` collected into a `serde_json::Value`, keys in serialization order.
fn to_value<T: Serialize>(value: &T) -> Json {
    serde_json::to_value(value).expect("JSON shapes have string keys")
}

/// Milliseconds since the epoch at Dataverse's date precision, whole
/// seconds: every date in seed 000 ends in `000`, and the same column read
/// through the Web API (`…T08:20:21Z`) shows the same instant.
fn whole_second_millis(t: &DateTime<Utc>) -> i64 {
    t.timestamp() * 1000
}

/// `/Date(<ms>)/` (a UTC `DateTime`, whole seconds; `\/` once on the wire),
/// or with `+0000`: the offset style of `OperationCreatedOn`. Dataverse
/// writes the server's local offset (seed: `-0700`); herald runs in UTC.
struct DateJson<'a> {
    at: &'a DateTime<Utc>,
    offset: bool,
}

impl Serialize for DateJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = whole_second_millis(self.at);
        if self.offset {
            s.collect_str(&format_args!("/Date({ms}+0000)/"))
        } else {
            s.collect_str(&format_args!("/Date({ms})/"))
        }
    }
}

/// A decimal as a JSON number: whole values without a fraction (`1500`, as
/// a .NET `decimal` of scale 0 is written), others as the shortest float;
/// NaN and infinities as `null`.
struct NumberJson(f64);

impl Serialize for NumberJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
            s.serialize_i64(f as i64)
        } else if f.is_finite() {
            s.serialize_f64(f)
        } else {
            s.serialize_unit()
        }
    }
}

/// A GUID lower-case and hyphenated.
struct GuidJson<'a>(&'a uuid::Uuid);

impl Serialize for GuidJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = uuid::Uuid::encode_buffer();
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

/// `{"__type":…,"Value":…}`
struct TypedValue<'a, V> {
    type_name: &'a str,
    value: V,
}

impl<V: Serialize> Serialize for TypedValue<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("__type", self.type_name)?;
        m.serialize_entry("Value", &self.value)?;
        m.end()
    }
}

/// `[{"key":…,"value":…}]`
struct KeyValues<'a, V>(&'a [(String, V)]);

impl<V: Serialize> Serialize for KeyValues<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&KeyValue { key, value })?;
        }
        seq.end()
    }
}

struct KeyValue<'a, V> {
    key: &'a str,
    value: &'a V,
}

impl<V: Serialize> Serialize for KeyValue<'_, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("key", self.key)?;
        m.serialize_entry("value", self.value)?;
        m.end()
    }
}

/// `[{"__type":"KeyValuePairOfstringstring:…","key":…,"value":…}]`
struct StringPairs<'a>(&'a [(String, String)]);

impl Serialize for StringPairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&StringPair { key, value })?;
        }
        seq.end()
    }
}

struct StringPair<'a> {
    key: &'a str,
    value: &'a str,
}

impl Serialize for StringPair<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("__type", KEY_VALUE_PAIR_TYPE)?;
        m.serialize_entry("key", self.key)?;
        m.serialize_entry("value", self.value)?;
        m.end()
    }
}

/// An empty JSON array (`KeyAttributes`, `RelatedEntities`).
const NONE: [(); 0] = [];

/// A JSON object that begins with `__type` when `type_name` is given (an
/// entity or reference held in an `object` slot).
fn typed_map<S: Serializer>(s: S, type_name: Option<&str>) -> Result<S::SerializeMap, S::Error> {
    let mut m = s.serialize_map(None)?;
    if let Some(t) = type_name {
        m.serialize_entry("__type", t)?;
    }
    Ok(m)
}

/// An entity or entity reference, with `__type` first when held in an
/// `object` slot.
struct Typed<'a, T> {
    value: &'a T,
    type_name: Option<&'static str>,
}

impl Serialize for Typed<'_, EntityReference> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.value;
        let mut m = typed_map(s, self.type_name)?;
        m.serialize_entry("Id", &GuidJson(&r.id))?;
        m.serialize_entry("KeyAttributes", &NONE)?;
        m.serialize_entry("LogicalName", &r.logical_name)?;
        m.serialize_entry("Name", &r.name)?;
        m.serialize_entry("RowVersion", &())?;
        m.end()
    }
}

impl Serialize for Typed<'_, Entity> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.value;
        let mut m = typed_map(s, self.type_name)?;
        m.serialize_entry("Attributes", &KeyValues(&e.attributes))?;
        m.serialize_entry("EntityState", &())?;
        m.serialize_entry("FormattedValues", &KeyValues(&e.formatted_values))?;
        m.serialize_entry("Id", &GuidJson(&e.id))?;
        m.serialize_entry("KeyAttributes", &NONE)?;
        m.serialize_entry("LogicalName", &e.logical_name)?;
        m.serialize_entry("RelatedEntities", &NONE)?;
        m.serialize_entry("RowVersion", &())?;
        m.end()
    }
}

/// Declared `EntityReference` (`OwningExtension`): no `__type`.
impl Serialize for EntityReference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Typed {
            value: self,
            type_name: None,
        }
        .serialize(s)
    }
}

/// Declared `Entity` (pre/post images): no `__type`.
impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Typed {
            value: self,
            type_name: None,
        }
        .serialize(s)
    }
}

/// A value in an `object` slot: entities and references carry `__type`.
impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttributeValue::Null => s.serialize_unit(),
            AttributeValue::String(v) => s.serialize_str(v),
            AttributeValue::Int(i) => s.serialize_i64(*i),
            AttributeValue::Decimal(d) => NumberJson(*d).serialize(s),
            AttributeValue::Bool(b) => s.serialize_bool(*b),
            AttributeValue::DateTime(t) => DateJson {
                at: t,
                offset: false,
            }
            .serialize(s),
            AttributeValue::Guid(g) => GuidJson(g).serialize(s),
            AttributeValue::EntityReference(r) => Typed {
                value: r,
                type_name: Some(ENTITY_REFERENCE_TYPE),
            }
            .serialize(s),
            AttributeValue::OptionSetValue(v) => TypedValue {
                type_name: OPTION_SET_VALUE_TYPE,
                value: *v,
            }
            .serialize(s),
            AttributeValue::Money(v) => TypedValue {
                type_name: MONEY_TYPE,
                value: NumberJson(*v),
            }
            .serialize(s),
            AttributeValue::Entity(e) => Typed {
                value: &**e,
                type_name: Some(ENTITY_TYPE),
            }
            .serialize(s),
            AttributeValue::KeyValuePairs(pairs) => StringPairs(pairs).serialize(s),
            AttributeValue::Relationship { schema_name } => {
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("__type", RELATIONSHIP_TYPE)?;
                m.serialize_entry("PrimaryEntityRole", &())?;
                m.serialize_entry("SchemaName", schema_name)?;
                m.end()
            }
            AttributeValue::EntityReferenceCollection(refs) => {
                let mut seq = s.serialize_seq(Some(refs.len()))?;
                for reference in refs {
                    seq.serialize_element(&Typed {
                        value: reference,
                        type_name: Some(ENTITY_REFERENCE_TYPE),
                    })?;
                }
                seq.end()
            }
            AttributeValue::EntityCollection {
                entity_name,
                entities,
            } => {
                let mut m = s.serialize_map(Some(8))?;
                m.serialize_entry("__type", ENTITY_COLLECTION_TYPE)?;
                m.serialize_entry("Entities", entities)?;
                m.serialize_entry("EntityName", entity_name)?;
                m.serialize_entry("MinActiveRowVersion", "-1")?;
                m.serialize_entry("MoreRecords", &false)?;
                m.serialize_entry("PagingCookie", &())?;
                m.serialize_entry("TotalRecordCount", &-1)?;
                m.serialize_entry("TotalRecordCountLimitExceeded", &false)?;
                m.end()
            }
        }
    }
}

/// The context in Dataverse's property order; `trimmed` leaves out the
/// [`TRIMMED_PROPERTIES`] (keys and all), every other key in its place.
struct ContextJson<'a> {
    ctx: &'a ExecutionContext,
    trimmed: bool,
}

impl Serialize for ContextJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.ctx;
        let keep = |key: &str| !(self.trimmed && TRIMMED_PROPERTIES.contains(&key));
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("BusinessUnitId", &GuidJson(&c.business_unit_id))?;
        m.serialize_entry("CorrelationId", &GuidJson(&c.correlation_id))?;
        m.serialize_entry("Depth", &c.depth)?;
        m.serialize_entry("InitiatingUserId", &GuidJson(&c.initiating_user_id))?;
        if keep("InputParameters") {
            m.serialize_entry("InputParameters", &KeyValues(&c.input_parameters))?;
        }
        m.serialize_entry("IsExecutingOffline", &c.is_executing_offline)?;
        m.serialize_entry("IsInTransaction", &c.is_in_transaction)?;
        m.serialize_entry("IsOfflinePlayback", &c.is_offline_playback)?;
        m.serialize_entry("IsolationMode", &c.isolation_mode)?;
        m.serialize_entry("MessageName", &c.message_name)?;
        m.serialize_entry("Mode", &c.mode)?;
        m.serialize_entry(
            "OperationCreatedOn",
            &DateJson {
                at: &c.operation_created_on,
                offset: true,
            },
        )?;
        m.serialize_entry("OperationId", &GuidJson(&c.operation_id))?;
        m.serialize_entry("OrganizationId", &GuidJson(&c.organization_id))?;
        m.serialize_entry("OrganizationName", &c.organization_name)?;
        m.serialize_entry("OutputParameters", &KeyValues(&c.output_parameters))?;
        m.serialize_entry("OwningExtension", &c.owning_extension)?;
        if keep("ParentContext") {
            m.serialize_entry("ParentContext", &c.parent_context)?;
        }
        if keep("PostEntityImages") {
            m.serialize_entry("PostEntityImages", &KeyValues(&c.post_entity_images))?;
        }
        if keep("PreEntityImages") {
            m.serialize_entry("PreEntityImages", &KeyValues(&c.pre_entity_images))?;
        }
        m.serialize_entry("PrimaryEntityId", &GuidJson(&c.primary_entity_id))?;
        m.serialize_entry("PrimaryEntityName", &c.primary_entity_name)?;
        m.serialize_entry("RequestId", &c.request_id.as_ref().map(GuidJson))?;
        m.serialize_entry("SecondaryEntityName", &c.secondary_entity_name)?;
        m.serialize_entry("SharedVariables", &KeyValues(&c.shared_variables))?;
        m.serialize_entry("Stage", &c.stage)?;
        m.serialize_entry("UserId", &GuidJson(&c.user_id))?;
        m.end()
    }
}

impl Serialize for ExecutionContext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ContextJson {
            ctx: self,
            trimmed: false,
        }
        .serialize(s)
    }
}

impl AttributeValue {
    /// The JSON of this value in an `object` slot (with `__type` hints).
    pub fn to_json(&self) -> Json {
        to_value(self)
    }
}

impl EntityReference {
    /// Without `__type` (declared `EntityReference`, e.g. `OwningExtension`).
    pub fn to_json(&self) -> Json {
        to_value(self)
    }
}

impl Entity {
    /// Without `__type` (declared `Entity`: pre/post images).
    pub fn to_json(&self) -> Json {
        to_value(self)
    }
}

impl ExecutionContext {
    /// The context as a JSON object whose keys iterate in Dataverse's
    /// property order (serde_json `preserve_order`). Strings hold plain
    /// `/`; use [`ExecutionContext::to_json_string`] for the wire form.
    pub fn to_json(&self) -> Json {
        to_value(self)
    }

    /// The exact wire form: compact JSON with `/` escaped as `\/`.
    pub fn to_json_string(&self) -> String {
        to_wire_text(self)
    }

    /// The wire form without the [`TRIMMED_PROPERTIES`] (the 256 KB rule).
    pub fn to_trimmed_json_string(&self) -> String {
        to_wire_text(&ContextJson {
            ctx: self,
            trimmed: true,
        })
    }
}
