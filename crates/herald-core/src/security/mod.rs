//! Security roles the Dataverse way, as pure data and rules: the
//! privileges (one per table and access right, named as Dataverse names
//! them: `prvCreateAccount`, `prvReadSdkMessageProcessingStep`, …), the
//! built-in roles and what they grant ([`roles`]), the privileges a user
//! holds through its roles and the check of one of them ([`grants`]), and
//! the check of a whole query — its table, link-entities and `$expand`s
//! ([`query`]). The store keeps the rows; the server caches a user's
//! [`Grants`] and enforces them in its one write path and one query path.

pub use crate::schema::Association;

pub mod grants;
pub mod query;
pub mod roles;

pub use grants::{Grants, Missing, Scope};
pub use query::authorize_query;
pub use roles::BuiltinRole;

use crate::fixed_ids::privilege_id;
use crate::schema::Schema;
use uuid::Uuid;

/// The access rights a privilege grants on a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Privilege {
    Create,
    Read,
    Write,
    Delete,
    /// Setting this table's lookups (attaching it to another record).
    Append,
    /// Being the target of another record's lookup.
    AppendTo,
}

impl Privilege {
    pub const ALL: [Privilege; 6] = [
        Privilege::Create,
        Privilege::Read,
        Privilege::Write,
        Privilege::Delete,
        Privilege::Append,
        Privilege::AppendTo,
    ];

    pub fn verb(self) -> &'static str {
        match self {
            Privilege::Create => "Create",
            Privilege::Read => "Read",
            Privilege::Write => "Write",
            Privilege::Delete => "Delete",
            Privilege::Append => "Append",
            Privilege::AppendTo => "AppendTo",
        }
    }

    /// Dataverse's `AccessRights` value (`privilege.accessright`).
    pub fn access_right(self) -> i64 {
        match self {
            Privilege::Read => 1,
            Privilege::Write => 2,
            Privilege::Append => 4,
            Privilege::AppendTo => 16,
            Privilege::Create => 32,
            Privilege::Delete => 65536,
        }
    }
}

/// Privilege depths (`roleprivileges.privilegedepthmask`), as Dataverse's
/// bits. herald has one business unit, so Local, Deep and Global all reach
/// every row; Basic reaches the rows the user owns (or created, on tables
/// without an owner).
pub mod depth {
    pub const BASIC: i64 = 1;
    pub const LOCAL: i64 = 2;
    pub const DEEP: i64 = 4;
    pub const GLOBAL: i64 = 8;
}

/// The metadata "tables" whose privileges guard table and column
/// definitions (`prvCreateEntity`, `prvWriteAttribute`, …).
pub const METADATA_ENTITIES: [&str; 2] = ["Entity", "Attribute"];

/// The name Dataverse uses for a table in its privileges: the schema name
/// of its own tables (`systemuser` is `User`), else the logical name (a
/// custom table's privilege is `prvReadnew_project`).
pub fn entity_name(logical: &str) -> String {
    const NAMES: [(&str, &str); 20] = [
        ("organization", "Organization"),
        ("businessunit", "BusinessUnit"),
        ("systemuser", "User"),
        ("account", "Account"),
        ("contact", "Contact"),
        ("lead", "Lead"),
        ("opportunity", "Opportunity"),
        ("incident", "Incident"),
        ("serviceendpoint", "ServiceEndpoint"),
        ("sdkmessage", "SdkMessage"),
        ("sdkmessagefilter", "SdkMessageFilter"),
        ("plugintype", "PluginType"),
        ("sdkmessageprocessingstep", "SdkMessageProcessingStep"),
        (
            "sdkmessageprocessingstepimage",
            "SdkMessageProcessingStepImage",
        ),
        ("asyncoperation", "AsyncOperation"),
        ("role", "Role"),
        ("privilege", "Privilege"),
        ("roleprivileges", "RolePrivileges"),
        ("systemuserroles", "SystemUserRoles"),
        // Reading audit rows is Dataverse's prvReadAuditSummary.
        ("audit", "AuditSummary"),
    ];
    NAMES
        .iter()
        .find(|(l, _)| *l == logical)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| logical.to_string())
}

/// `prv<Privilege><Entity>` of a table.
pub fn privilege_name(table: &str, privilege: Privilege) -> String {
    format!("prv{}{}", privilege.verb(), entity_name(table))
}

/// One `privilege` row.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivilegeDef {
    pub id: Uuid,
    pub name: String,
    pub privilege: Privilege,
    /// The table (logical name) it guards; `None` for the metadata ones.
    pub table: Option<String>,
}

/// Every privilege of a schema: six per table, four (no Append/AppendTo)
/// per metadata entity. Ids are derived from the names, so every node and
/// every database agrees on them.
pub fn catalog(schema: &Schema) -> Vec<PrivilegeDef> {
    let mut out = Vec::new();
    for t in schema.tables() {
        for p in Privilege::ALL {
            let name = privilege_name(&t.logical_name, p);
            out.push(PrivilegeDef {
                id: privilege_id(&name),
                name,
                privilege: p,
                table: Some(t.logical_name.clone()),
            });
        }
    }
    for e in METADATA_ENTITIES {
        for p in [
            Privilege::Create,
            Privilege::Read,
            Privilege::Write,
            Privilege::Delete,
        ] {
            let name = format!("prv{}{e}", p.verb());
            out.push(PrivilegeDef {
                id: privilege_id(&name),
                name,
                privilege: p,
                table: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileges_are_named_as_in_dataverse() {
        assert_eq!(
            privilege_name("account", Privilege::Create),
            "prvCreateAccount"
        );
        assert_eq!(privilege_name("systemuser", Privilege::Read), "prvReadUser");
        assert_eq!(
            privilege_name("sdkmessageprocessingstepimage", Privilege::AppendTo),
            "prvAppendToSdkMessageProcessingStepImage"
        );
        assert_eq!(
            privilege_name("new_project", Privilege::Write),
            "prvWritenew_project"
        );
    }

    #[test]
    fn the_catalog_has_distinct_stable_ids() {
        let schema = Schema::build(&[]).unwrap();
        let all = catalog(&schema);
        let ids: std::collections::BTreeSet<_> = all.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), all.len());
        let read_account = all.iter().find(|p| p.name == "prvReadAccount").unwrap();
        assert_eq!(read_account.id, privilege_id("prvReadAccount"));
        assert!(all.iter().any(|p| p.name == "prvCreateEntity"));
    }
}

/// A many-to-many relationship of the security tables: rows of `first`
/// and `second` linked by rows of `intersect` (Dataverse's
/// `systemuserroles_association` and `roleprivileges_association`, the
/// same name seen from either side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManyToMany {
    pub name: &'static str,
    pub intersect: &'static str,
    /// (table, the intersect's lookup column to it)
    pub first: (&'static str, &'static str),
    pub second: (&'static str, &'static str),
}

pub const MANY_TO_MANY: [ManyToMany; 2] = [
    ManyToMany {
        name: "systemuserroles_association",
        intersect: "systemuserroles",
        first: ("systemuser", "systemuserid"),
        second: ("role", "roleid"),
    },
    ManyToMany {
        name: "roleprivileges_association",
        intersect: "roleprivileges",
        first: ("role", "roleid"),
        second: ("privilege", "privilegeid"),
    },
];

/// The many-to-many navigation `navigation` of `table`, if it is one.
pub fn association(table: &str, navigation: &str) -> Option<Association> {
    let m = MANY_TO_MANY.iter().find(|m| m.name == navigation)?;
    let side = |this: (&str, &str), other: (&str, &str), first: bool| Association {
        name: m.name.to_string(),
        intersect: m.intersect.to_string(),
        this_column: this.1.to_string(),
        other_table: other.0.to_string(),
        other_column: other.1.to_string(),
        this_is_first: first,
    };
    if m.first.0 == table {
        Some(side(m.first, m.second, true))
    } else if m.second.0 == table {
        Some(side(m.second, m.first, false))
    } else {
        None
    }
}
