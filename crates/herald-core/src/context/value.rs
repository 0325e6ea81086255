//! The values an execution context carries: entities, entity references and
//! the typed attribute / parameter values (`object` in Dataverse's SDK).

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `__type` of an `Entity` written where the declared type is `object`.
pub const ENTITY_TYPE: &str = "Entity:http://schemas.microsoft.com/xrm/2011/Contracts";
/// `__type` of an `EntityReference` written where the declared type is `object`.
pub const ENTITY_REFERENCE_TYPE: &str =
    "EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts";
/// `__type` of an `OptionSetValue`.
pub const OPTION_SET_VALUE_TYPE: &str =
    "OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts";
/// `__type` of a `Money`.
pub const MONEY_TYPE: &str = "Money:http://schemas.microsoft.com/xrm/2011/Contracts";
/// `__type` of each element of a `List<KeyValuePair<string,string>>`
/// (e.g. the `ChangedEntityTypes` shared variable).
pub const ENTITY_COLLECTION_TYPE: &str =
    "EntityCollection:http://schemas.microsoft.com/xrm/2011/Contracts";
/// `__type` of a `Relationship`.
pub const RELATIONSHIP_TYPE: &str = "Relationship:http://schemas.microsoft.com/xrm/2011/Contracts";
pub const KEY_VALUE_PAIR_TYPE: &str = "KeyValuePairOfstringstring:#System.Collections.Generic";

/// A reference to one row: `LogicalName` + `Id` (+ optional `Name`).
#[derive(Debug, Clone, PartialEq)]
pub struct EntityReference {
    pub logical_name: String,
    pub id: Uuid,
    pub name: Option<String>,
}

impl EntityReference {
    pub fn new(logical_name: &str, id: Uuid) -> Self {
        EntityReference {
            logical_name: logical_name.to_string(),
            id,
            name: None,
        }
    }
}

/// One row as Dataverse passes it (`Target`, pre/post images). The
/// always-empty parts (`EntityState`, `KeyAttributes`, `RelatedEntities`,
/// `RowVersion`) are written as `null` / `[]`, as in seed 000.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub logical_name: String,
    pub id: Uuid,
    /// In order: serialized in this order.
    pub attributes: Vec<(String, AttributeValue)>,
    /// Display labels (e.g. of choices), as `FormattedValues`.
    pub formatted_values: Vec<(String, String)>,
}

impl Entity {
    pub fn new(logical_name: &str, id: Uuid) -> Self {
        Entity {
            logical_name: logical_name.to_string(),
            id,
            attributes: Vec::new(),
            formatted_values: Vec::new(),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Set an attribute, keeping its position when it is already present.
    pub fn set(&mut self, name: &str, value: AttributeValue) {
        match self.attributes.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.attributes.push((name.to_string(), value)),
        }
    }

    /// Builder form of [`Entity::set`].
    pub fn with(mut self, name: &str, value: AttributeValue) -> Self {
        self.set(name, value);
        self
    }

    pub fn to_reference(&self) -> EntityReference {
        EntityReference::new(&self.logical_name, self.id)
    }
}

/// A value of an attribute, an input/output parameter or a shared variable
/// — whatever Dataverse declares as `object` — with the JSON shape each
/// .NET type gets (see [`AttributeValue::to_json`]).
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// `null`
    Null,
    /// A JSON string.
    String(String),
    /// Whole number (`int`, `long`): a JSON number.
    Int(i64),
    /// `decimal` / `double`: a JSON number.
    Decimal(f64),
    /// JSON `true` / `false`.
    Bool(bool),
    /// `"\/Date(<ms>)\/"` (milliseconds since the Unix epoch, UTC).
    DateTime(DateTime<Utc>),
    /// A uniqueidentifier: lower-case hyphenated GUID string.
    Guid(Uuid),
    /// `{"__type":"EntityReference:…","Id",…,"KeyAttributes":[],"LogicalName",…,"Name",…,"RowVersion":null}`
    EntityReference(EntityReference),
    /// `{"__type":"OptionSetValue:…","Value":n}`
    OptionSetValue(i64),
    /// `{"__type":"Money:…","Value":n}`
    Money(f64),
    /// An entity with `"__type":"Entity:…"` first (e.g. `Target`).
    Entity(Box<Entity>),
    /// `List<KeyValuePair<string,string>>`: `[{"__type":"KeyValuePairOfstringstring:…","key":…,"value":…}]`
    /// (the `ChangedEntityTypes` shared variable).
    KeyValuePairs(Vec<(String, String)>),
    /// `{"__type":"EntityCollection:…","Entities":[…],"EntityName":…,…}`
    /// (a bulk message's `Targets`).
    EntityCollection {
        entity_name: String,
        entities: Vec<Entity>,
    },
    /// `{"__type":"Relationship:…","PrimaryEntityRole":null,"SchemaName":…}`
    /// (an Associate's or Disassociate's `Relationship`).
    Relationship { schema_name: String },
    /// `[{"__type":"EntityReference:…",…}]`: an `EntityReferenceCollection`
    /// (an Associate's `RelatedEntities`), a collection, so written as an
    /// array of typed references.
    EntityReferenceCollection(Vec<EntityReference>),
}

/// Parameter collections (`InputParameters`, `OutputParameters`,
/// `SharedVariables`) hold the same `object` values as attributes.
pub type ParamValue = AttributeValue;

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::String(s.to_string())
    }
}

impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::String(s)
    }
}

impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

impl From<i64> for AttributeValue {
    fn from(i: i64) -> Self {
        AttributeValue::Int(i)
    }
}

impl From<Uuid> for AttributeValue {
    fn from(g: Uuid) -> Self {
        AttributeValue::Guid(g)
    }
}

impl From<DateTime<Utc>> for AttributeValue {
    fn from(t: DateTime<Utc>) -> Self {
        AttributeValue::DateTime(t)
    }
}

impl From<EntityReference> for AttributeValue {
    fn from(r: EntityReference) -> Self {
        AttributeValue::EntityReference(r)
    }
}

impl From<Entity> for AttributeValue {
    fn from(e: Entity) -> Self {
        AttributeValue::Entity(Box::new(e))
    }
}
