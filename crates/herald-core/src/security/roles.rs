//! The built-in security roles and what each grants, per class of table:
//!
//! | class | System Administrator | System Customizer | Basic User |
//! |---|---|---|---|
//! | business and custom tables | all | Read, AppendTo | all |
//! | users, business units, the organization | all | Read, AppendTo | Read, AppendTo |
//! | roles, privileges and their links | all | Read | Read |
//! | registration (webhooks, steps, images, messages, filters, plug-in types) | all | all | none |
//! | System Jobs (`asyncoperation`, `bulkdeleteoperation`) | all | all | Read, own rows only |
//! | table and column definitions (`Entity`, `Attribute`) | all | all | Read |
//! | the audit trail (`audit`, `prvReadAuditSummary`) | all | none | none |
//!
//! Every grant is at the organization (Global) depth except the Basic
//! User's Read of System Jobs, at the user (Basic) depth: the jobs its own
//! writes caused. Whatever a role holds, only a System Administrator
//! changes users, roles and their links ([`super::Grants::check`]). The
//! audit trail says who changed webhooks, roles, users and keys: only a
//! System Administrator reads it (in Dataverse a System Customizer may
//! too; here it would show it the changes of roles and keys it cannot
//! make), unless a custom role grants `prvReadAuditSummary`.

use uuid::Uuid;

use super::{depth, Privilege};
use crate::fixed_ids::role_id;
use crate::schema::{Table, TableKind};

/// The roles every herald has, with fixed ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinRole {
    SystemAdministrator,
    SystemCustomizer,
    BasicUser,
}

/// Which built-in grants a table falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableClass {
    Business,
    Organization,
    Security,
    Registration,
    Jobs,
    Audit,
}

/// The registration and system tables a Basic User cannot see at all.
const REGISTRATION: [&str; 6] = [
    "serviceendpoint",
    "sdkmessageprocessingstep",
    "sdkmessageprocessingstepimage",
    "sdkmessagefilter",
    "sdkmessage",
    "plugintype",
];

pub fn table_class(table: &Table) -> TableClass {
    let name = table.logical_name.as_str();
    match name {
        "systemuser" | "businessunit" | "organization" => TableClass::Organization,
        "asyncoperation" | "bulkdeleteoperation" => TableClass::Jobs,
        "audit" => TableClass::Audit,
        _ if REGISTRATION.contains(&name) => TableClass::Registration,
        _ if table.kind == TableKind::Security || name == "privilege" => TableClass::Security,
        _ => TableClass::Business,
    }
}

/// Tables whose rows only a System Administrator creates, changes or
/// deletes, whatever privileges a custom role holds.
pub fn reserved_to_administrators(table: &str) -> bool {
    matches!(
        table,
        "systemuser"
            | "role"
            | "roleprivileges"
            | "systemuserroles"
            | "businessunit"
            | "organization"
    )
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 3] = [
        BuiltinRole::SystemAdministrator,
        BuiltinRole::SystemCustomizer,
        BuiltinRole::BasicUser,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::SystemAdministrator => "System Administrator",
            BuiltinRole::SystemCustomizer => "System Customizer",
            BuiltinRole::BasicUser => "Basic User",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinRole::SystemAdministrator => "Every privilege on every table.",
            BuiltinRole::SystemCustomizer => {
                "Tables, columns, webhooks, steps, images and System Jobs; reads all data."
            }
            BuiltinRole::BasicUser => {
                "Creates, reads, writes and deletes business and custom records; reads users and its own System Jobs."
            }
        }
    }

    pub fn id(self) -> Uuid {
        role_id(self.name())
    }

    pub fn of_id(id: Uuid) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.id() == id)
    }

    /// The role a name means, case and separators aside (`Basic User`,
    /// `basic-user`, `basicuser`).
    pub fn of_name(name: &str) -> Option<BuiltinRole> {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect()
        };
        let wanted = squash(name);
        BuiltinRole::ALL
            .into_iter()
            .find(|r| squash(r.name()) == wanted)
    }

    /// The depth this role grants `privilege` at on `table`, if at all.
    pub fn grants(self, table: &Table, privilege: Privilege) -> Option<i64> {
        use Privilege::*;
        let class = table_class(table);
        let granted = match self {
            BuiltinRole::SystemAdministrator => true,
            BuiltinRole::SystemCustomizer => match class {
                TableClass::Registration | TableClass::Jobs => true,
                TableClass::Audit => false,
                TableClass::Business | TableClass::Organization => {
                    matches!(privilege, Read | AppendTo)
                }
                TableClass::Security => privilege == Read,
            },
            BuiltinRole::BasicUser => match class {
                TableClass::Business => true,
                TableClass::Organization => matches!(privilege, Read | AppendTo),
                TableClass::Security => privilege == Read,
                TableClass::Registration | TableClass::Audit => false,
                TableClass::Jobs => {
                    return (privilege == Read).then_some(depth::BASIC);
                }
            },
        };
        granted.then_some(depth::GLOBAL)
    }

    /// Whether this role grants a metadata privilege (`prvCreateEntity`, …).
    pub fn grants_metadata(self, privilege: Privilege) -> bool {
        match self {
            BuiltinRole::SystemAdministrator | BuiltinRole::SystemCustomizer => true,
            BuiltinRole::BasicUser => privilege == Privilege::Read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    #[test]
    fn built_in_roles_grant_what_their_table_says() {
        let schema = Schema::build(&[]).unwrap();
        let t = |n: &str| schema.table(n).unwrap();
        use BuiltinRole::*;
        use Privilege::*;
        assert_eq!(BasicUser.grants(t("account"), Delete), Some(depth::GLOBAL));
        assert_eq!(
            BasicUser.grants(t("bc_customer"), Create),
            Some(depth::GLOBAL)
        );
        assert_eq!(BasicUser.grants(t("systemuser"), Read), Some(depth::GLOBAL));
        assert_eq!(BasicUser.grants(t("systemuser"), Write), None);
        assert_eq!(BasicUser.grants(t("serviceendpoint"), Read), None);
        assert_eq!(BasicUser.grants(t("sdkmessagefilter"), Read), None);
        assert_eq!(
            BasicUser.grants(t("asyncoperation"), Read),
            Some(depth::BASIC)
        );
        assert_eq!(BasicUser.grants(t("role"), Create), None);
        assert_eq!(
            SystemCustomizer.grants(t("serviceendpoint"), Create),
            Some(depth::GLOBAL)
        );
        assert_eq!(
            SystemCustomizer.grants(t("account"), Read),
            Some(depth::GLOBAL)
        );
        assert_eq!(SystemCustomizer.grants(t("account"), Write), None);
        assert_eq!(
            SystemAdministrator.grants(t("role"), Delete),
            Some(depth::GLOBAL)
        );
        assert_eq!(
            SystemAdministrator.grants(t("audit"), Read),
            Some(depth::GLOBAL)
        );
        assert_eq!(SystemCustomizer.grants(t("audit"), Read), None);
        assert_eq!(BasicUser.grants(t("audit"), Read), None);
        assert_eq!(BuiltinRole::of_name("basic-user"), Some(BasicUser));
        assert_eq!(
            BuiltinRole::of_id(SystemCustomizer.id()),
            Some(SystemCustomizer)
        );
    }
}
