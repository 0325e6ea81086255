//! The rows behind a user's security roles, read in one place: the roles a
//! user holds (`systemuserroles`) and the privileges they grant
//! (`roleprivileges` joined to `privilege`), and the version that tells a
//! node its cached copy of them is stale (`herald_setting` `security`,
//! written in every transaction that changes a role, its privileges or
//! who holds it).

use sqlx::Row;
use uuid::Uuid;

use crate::conn::{conn_rows, Conn};
use crate::error::StoreError;
use crate::read::{on_reader, uuid};
use crate::sql::{Param, Sql};
use crate::{Store, Tx};

/// The `herald_setting` that changes with every change of roles.
pub const VERSION_SETTING: &str = "security";

/// A user's roles and the (privilege name, depth mask) pairs they grant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPrivileges {
    pub roles: Vec<Uuid>,
    pub privileges: Vec<(String, i64)>,
}

impl Store {
    pub async fn user_privileges(&self, user: Uuid) -> Result<UserPrivileges, StoreError> {
        on_reader!(self, |c| c.user_privileges(user).await)
    }
}

impl Tx {
    pub async fn user_privileges(&mut self, user: Uuid) -> Result<UserPrivileges, StoreError> {
        self.conn().await?.user_privileges(user).await
    }
}

impl Conn<'_> {
    pub async fn user_privileges(&mut self, user: Uuid) -> Result<UserPrivileges, StoreError> {
        let id = || Param::Text(Some(user.to_string()));
        let mut sql = Sql::default();
        sql.push("SELECT roleid FROM \"systemuserroles\" WHERE systemuserid = ")
            .bind(id())
            .push(" ORDER BY roleid");
        let roles = conn_rows!(self, &sql, |r| uuid(r.try_get(0)?)?);
        let mut sql = Sql::default();
        sql.push(
            "SELECT p.name, rp.privilegedepthmask FROM \"systemuserroles\" ur \
             JOIN \"roleprivileges\" rp ON rp.roleid = ur.roleid \
             JOIN \"privilege\" p ON p.privilegeid = rp.privilegeid \
             WHERE ur.systemuserid = ",
        )
        .bind(id());
        let privileges = conn_rows!(self, &sql, |r| (
            r.try_get::<Option<String>, _>(0)?.unwrap_or_default(),
            r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
        ));
        Ok(UserPrivileges { roles, privileges })
    }
}
