//! The security tables, with Dataverse's names: `role` (security roles),
//! `privilege` (one row per table and access right, `prvReadAccount`, …),
//! and the two intersect tables of their many-to-many relationships,
//! `roleprivileges` (`roleprivileges_association`, with the depth) and
//! `systemuserroles` (`systemuserroles_association`). What they grant is
//! decided in [`crate::security`].

use super::columns::{boolean, int, lookup, memo, s};
use super::table::table;
use crate::schema::{Column, Table, TableKind};

pub(super) fn security_tables() -> Vec<Table> {
    vec![
        table(
            "role",
            "roles",
            Some("name"),
            TableKind::Security,
            1036,
            vec![
                s("name", 100).required(),
                memo("description"),
                lookup("businessunitid", "businessunit").relationship("business_unit_roles"),
                boolean("ismanaged").read_only(),
            ],
            false,
        ),
        table(
            "privilege",
            "privileges",
            Some("name"),
            TableKind::System,
            1023,
            vec![
                s("name", 100).required(),
                int("accessright"),
                boolean("canbebasic"),
                boolean("canbelocal"),
                boolean("canbedeep"),
                boolean("canbeglobal"),
            ],
            false,
        ),
        intersect(
            "roleprivileges",
            "roleprivilegescollection",
            "roleprivilegeid",
            12,
            vec![
                lookup("roleid", "role")
                    .required()
                    .relationship("role_roleprivileges"),
                lookup("privilegeid", "privilege")
                    .required()
                    .relationship("privilege_roleprivileges"),
                int("privilegedepthmask"),
            ],
        ),
        intersect(
            "systemuserroles",
            "systemuserrolescollection",
            "systemuserroleid",
            15,
            vec![
                lookup("systemuserid", "systemuser")
                    .required()
                    .relationship("systemuser_systemuserroles"),
                lookup("roleid", "role")
                    .required()
                    .relationship("role_systemuserroles"),
            ],
        ),
    ]
}

/// An intersect table: its primary key is named as Dataverse names it
/// (`systemuserroleid`, not `systemuserrolesid`).
fn intersect(logical: &str, set: &str, primary_id: &str, code: i64, columns: Vec<Column>) -> Table {
    let mut t = table(
        logical,
        set,
        None,
        TableKind::Security,
        code,
        columns,
        false,
    );
    if let Some(c) = t.columns.iter_mut().find(|c| c.name == t.primary_id) {
        c.name = primary_id.to_string();
    }
    t.primary_id = primary_id.to_string();
    t
}
