//! The `audit` table (entity set `audits`, object type code 4567, as in
//! Dataverse): one row per audited change of a webhook, step, step image,
//! role, role privilege, user role, user or API key — who (`userid`,
//! `callinguserid`), when (`createdon`), what (`operation`, `action`,
//! `objectid` + `objecttypecode`) and the old and new values
//! (`attributemask`, `changedata`). Only the server writes it (a system
//! table); the rows and their codes are built in [`crate::audit`].
//!
//! Dataverse's `objectid` is a lookup to any table; herald has no
//! polymorphic lookups, so it is a plain uniqueidentifier beside
//! `objecttypecode` (the table's logical name), as `asyncoperation`'s
//! `regardingobjectid` is.

use super::columns::{choice, dt, guid, lookup, memo, s};
use crate::audit::{AuditAction, AuditOperation};
use crate::schema::{Table, TableKind};

pub(super) fn audit_table() -> Table {
    let operations: Vec<(i64, &str)> = AuditOperation::ALL
        .iter()
        .map(|o| (o.code(), o.label()))
        .collect();
    let actions: Vec<(i64, &str)> = AuditAction::ALL
        .iter()
        .map(|a| (a.code(), a.label()))
        .collect();
    let columns = vec![
        guid("auditid"),
        dt("createdon").read_only(),
        choice("operation", &operations),
        choice("action", &actions),
        guid("objectid"),
        s("objecttypecode", 64),
        lookup("userid", "systemuser").relationship("lk_audit_userid"),
        lookup("callinguserid", "systemuser").relationship("lk_audit_callinguserid"),
        s("attributemask", 4000),
        memo("changedata"),
        guid("transactionid"),
    ];
    Table {
        logical_name: "audit".into(),
        entity_set: "audits".into(),
        primary_id: "auditid".into(),
        primary_name: None,
        kind: TableKind::System,
        columns,
        object_type_code: 4567,
        details: Default::default(),
    }
}
