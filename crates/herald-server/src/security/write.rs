//! The check of one write, run by the one write path (`pipeline::write`)
//! before anything is written: Create, Write or Delete on the table (own
//! rows only at Basic depth), Append on it and AppendTo on the target of
//! every lookup the write sets; and the rows of the built-in roles, which
//! nobody changes.

use herald_core::fixed_ids::{admin_user_id, user_role_id};
use herald_core::security::{BuiltinRole, Grants, Privilege, Scope};
use herald_core::{Schema, Table, Value};
use herald_store::Record;

use crate::pipeline::{Message, PipelineError, PipelineResult};

/// The privilege a message needs on its table.
pub fn privilege_of(message: Message) -> Privilege {
    match message {
        Message::Create => Privilege::Create,
        Message::Update => Privilege::Write,
        Message::Delete => Privilege::Delete,
    }
}

/// Whether `grants` allow `message` on `table` (the row `existing`, the
/// values `values`).
pub fn authorize_write(
    grants: &Grants,
    schema: &Schema,
    table: &Table,
    message: Message,
    existing: Option<&Record>,
    values: &[(String, Value)],
) -> PipelineResult<()> {
    let privilege = privilege_of(message);
    let scope = grants
        .check(table, privilege)
        .map_err(PipelineError::MissingPrivilege)?;
    if let (Scope::Own, Some(row)) = (scope, existing) {
        if !grants.owns(table, |c| row.guid(c)) {
            return Err(PipelineError::Forbidden(format!(
                "The user {} may {} only its own '{}' records (its roles grant {} at the user level)",
                grants.user_id,
                privilege.verb().to_ascii_lowercase(),
                table.logical_name,
                herald_core::security::privilege_name(&table.logical_name, privilege)
            )));
        }
    }
    let mut appended = false;
    for (name, v) in values {
        let (Some(col), Some(_)) = (table.column(name), v.as_guid()) else {
            continue;
        };
        let Some(target) = col.lookup_target().and_then(|t| schema.table(t)) else {
            continue;
        };
        if name == &table.primary_id {
            continue;
        }
        if !appended {
            grants
                .check(table, Privilege::Append)
                .map_err(PipelineError::MissingPrivilege)?;
            appended = true;
        }
        grants
            .check(target, Privilege::AppendTo)
            .map_err(PipelineError::MissingPrivilege)?;
    }
    builtin_rows_kept(table, message, existing, values)
}

/// The built-in roles, their privileges and the admin user's System
/// Administrator role are fixed: refused whoever asks.
fn builtin_rows_kept(
    table: &Table,
    message: Message,
    existing: Option<&Record>,
    values: &[(String, Value)],
) -> PipelineResult<()> {
    let value = |c: &str| {
        values
            .iter()
            .find(|(n, _)| n == c)
            .and_then(|(_, v)| v.as_guid())
            .or_else(|| existing.and_then(|r| r.guid(c)))
    };
    match table.logical_name.as_str() {
        "role" if message != Message::Create => {
            if let Some(role) = value("roleid").and_then(BuiltinRole::of_id) {
                return Err(PipelineError::Forbidden(format!(
                    "The built-in role '{}' cannot be changed or deleted; make a custom role instead",
                    role.name()
                )));
            }
        }
        "roleprivileges" => {
            if let Some(role) = value("roleid").and_then(BuiltinRole::of_id) {
                return Err(PipelineError::Forbidden(format!(
                    "The privileges of the built-in role '{}' cannot be changed; make a custom role instead",
                    role.name()
                )));
            }
            if message == Message::Update {
                return Err(intersect_update(table));
            }
        }
        "systemuserroles" => {
            if message == Message::Update {
                return Err(intersect_update(table));
            }
            let admin = user_role_id(admin_user_id(), BuiltinRole::SystemAdministrator.id());
            if existing.and_then(|r| r.guid(&table.primary_id)) == Some(admin) {
                return Err(PipelineError::Forbidden(
                    "herald's admin user keeps the System Administrator role".to_string(),
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

fn intersect_update(table: &Table) -> PipelineError {
    PipelineError::Forbidden(format!(
        "Rows of '{}' link two records and cannot be changed: associate or disassociate instead ($ref)",
        table.logical_name
    ))
}
