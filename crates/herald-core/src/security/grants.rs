//! What one user may do: the privileges its roles hold ([`Grants`], built
//! from the `systemuserroles` → `roleprivileges` → `privilege` rows), the
//! check of one privilege on one table ([`Grants::check`]) and the refusal
//! it gives ([`Missing`], worded as Dataverse's).

use std::collections::HashMap;
use std::fmt;

use uuid::Uuid;

use super::roles::reserved_to_administrators;
use super::{depth, privilege_name, BuiltinRole, Privilege};
use crate::fixed_ids::privilege_id;
use crate::query::{ColumnRef, CompareOp, Condition};
use crate::schema::Table;
use crate::value::Value;

/// The privileges of one user, through all its roles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    pub user_id: Uuid,
    /// The user's roles.
    pub roles: Vec<Uuid>,
    /// Privilege name → the union of the depth masks its roles grant.
    privileges: HashMap<String, i64>,
}

/// Which rows a granted privilege reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every row (Local, Deep or Global depth: herald has one business unit).
    All,
    /// The rows the user owns (`ownerid`), or created (`createdby`) on a
    /// table without an owner (Basic depth).
    Own,
}

/// A privilege the user lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub user_id: Uuid,
    pub role_count: usize,
    pub privilege_count: usize,
    pub privilege: String,
    pub privilege_id: Uuid,
    pub object_type_code: i64,
    pub table: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Principal user (Id={}, type=8, roleCount={}, privilegeCount={}, accessMode=0), is missing {} privilege (Id={}) on OTC={} for entity '{}'. Consider adding the privilege to one of the user's security roles.",
            self.user_id,
            self.role_count,
            self.privilege_count,
            self.privilege,
            self.privilege_id,
            self.object_type_code,
            self.table
        )
    }
}

impl Grants {
    /// The grants of `user` holding `roles`, from (privilege name, depth
    /// mask) pairs (one per `roleprivileges` row; repeated names add up).
    pub fn new(
        user_id: Uuid,
        roles: Vec<Uuid>,
        privileges: impl IntoIterator<Item = (String, i64)>,
    ) -> Grants {
        let mut map: HashMap<String, i64> = HashMap::new();
        for (name, mask) in privileges {
            *map.entry(name).or_default() |= mask;
        }
        Grants {
            user_id,
            roles,
            privileges: map,
        }
    }

    pub fn is_system_administrator(&self) -> bool {
        self.roles.contains(&BuiltinRole::SystemAdministrator.id())
    }

    pub fn privilege_count(&self) -> usize {
        self.privileges.len()
    }

    /// The depth mask held for a privilege name (0: not held).
    pub fn depth_of(&self, name: &str) -> i64 {
        self.privileges.get(name).copied().unwrap_or(0)
    }

    /// Whether the user holds `privilege` on `table`, and on which rows.
    /// Creating, changing or deleting users, roles and their links takes a
    /// System Administrator, whatever a custom role grants.
    pub fn check(&self, table: &Table, privilege: Privilege) -> Result<Scope, Missing> {
        let name = privilege_name(&table.logical_name, privilege);
        let mask = self.depth_of(&name);
        let reserved = reserved_to_administrators(&table.logical_name)
            && !matches!(privilege, Privilege::Read | Privilege::AppendTo)
            && !self.is_system_administrator();
        if mask == 0 || reserved {
            return Err(self.missing(name, table.object_type_code, &table.logical_name));
        }
        if mask & (depth::LOCAL | depth::DEEP | depth::GLOBAL) != 0 {
            Ok(Scope::All)
        } else {
            Ok(Scope::Own)
        }
    }

    /// A metadata privilege (`prvCreateEntity`, `prvWriteAttribute`, …).
    pub fn check_metadata(&self, entity: &str, privilege: Privilege) -> Result<(), Missing> {
        let name = format!("prv{}{entity}", privilege.verb());
        if self.depth_of(&name) == 0 {
            return Err(self.missing(name, 0, &entity.to_ascii_lowercase()));
        }
        Ok(())
    }

    fn missing(&self, name: String, otc: i64, table: &str) -> Missing {
        Missing {
            user_id: self.user_id,
            role_count: self.roles.len(),
            privilege_count: self.privileges.len(),
            privilege_id: privilege_id(&name),
            privilege: name,
            object_type_code: otc,
            table: table.to_string(),
        }
    }

    /// Whether `row` (its column values) is one of the user's own.
    pub fn owns(&self, table: &Table, get: impl Fn(&str) -> Option<Uuid>) -> bool {
        get(owner_column(table)) == Some(self.user_id)
    }

    /// The condition that keeps a query to the user's own rows.
    pub fn own_rows(&self, table: &Table, alias: Option<&str>) -> Condition {
        let column = owner_column(table);
        Condition::Compare {
            column: match alias {
                Some(a) => ColumnRef::linked(a, column),
                None => ColumnRef::new(column),
            },
            op: CompareOp::Eq,
            value: Value::Guid(self.user_id),
        }
    }
}

/// The column that says whose a row is (an audit row is the acting
/// user's).
fn owner_column(table: &Table) -> &'static str {
    if table.column("ownerid").is_some() {
        "ownerid"
    } else if table.column("createdby").is_none() && table.column("userid").is_some() {
        "userid"
    } else {
        "createdby"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Schema;

    #[test]
    fn a_missing_privilege_reads_as_dataverse_s() {
        let schema = Schema::build(&[]).unwrap();
        let user = Uuid::nil();
        let g = Grants::new(
            user,
            vec![Uuid::from_u128(1)],
            [("prvReadAccount".to_string(), depth::GLOBAL)],
        );
        let account = schema.table("account").unwrap();
        assert_eq!(g.check(account, Privilege::Read), Ok(Scope::All));
        let err = g.check(account, Privilege::Write).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "Principal user (Id=00000000-0000-0000-0000-000000000000, type=8, roleCount=1,"
            ),
            "{text}"
        );
        assert!(
            text.contains("is missing prvWriteAccount privilege (Id="),
            "{text}"
        );
        assert!(text.contains("on OTC=1 for entity 'account'"), "{text}");
    }

    #[test]
    fn users_and_roles_take_an_administrator() {
        let schema = Schema::build(&[]).unwrap();
        let role = schema.table("role").unwrap();
        let custom = Grants::new(
            Uuid::nil(),
            vec![Uuid::from_u128(1)],
            [("prvCreateRole".to_string(), depth::GLOBAL)],
        );
        assert!(custom.check(role, Privilege::Create).is_err());
        let admin = Grants::new(
            Uuid::nil(),
            vec![BuiltinRole::SystemAdministrator.id()],
            [("prvCreateRole".to_string(), depth::GLOBAL)],
        );
        assert_eq!(admin.check(role, Privilege::Create), Ok(Scope::All));
        let basic = Grants::new(
            Uuid::nil(),
            vec![],
            [("prvReadAsyncOperation".to_string(), depth::BASIC)],
        );
        let jobs = schema.table("asyncoperation").unwrap();
        assert_eq!(basic.check(jobs, Privilege::Read), Ok(Scope::Own));
    }
}
