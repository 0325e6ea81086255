//! What a caller asks the pipeline to do ([`Operation`]: a Create, Update
//! or Delete of one row, with its preconditions and correlation) and what
//! happened ([`Outcome`]). Plain data, shared by every entry point (Web API,
//! BC API, console, CLI through the API).

use herald_core::Value;
use herald_store::Record;
use uuid::Uuid;

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
    /// Set when the write creates or deletes an intersect row: the
    /// Associate or Disassociate it is, whose steps run around it.
    pub link: Option<Link>,
}

/// Two rows linked or unlinked through a many-to-many relationship
/// (`POST`/`DELETE <set>(id)/<navigation>/$ref`): Dataverse's Associate
/// and Disassociate, with the row addressed as `Target` and the other as
/// `RelatedEntities`.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The relationship's name (`Relationship.SchemaName`).
    pub relationship: String,
    /// The row the request was made on: (table, id).
    pub target: (String, Uuid),
    /// The row linked to it or unlinked from it.
    pub related: (String, Uuid),
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
            link: None,
        }
    }

    /// The Associate or Disassociate this write of an intersect row is.
    pub fn with_link(mut self, link: Link) -> Operation {
        self.link = Some(link);
        self
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
