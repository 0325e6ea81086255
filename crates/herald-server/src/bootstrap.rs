//! First-start setup, idempotent and safe for several nodes starting at once:
//! the organization, root business unit and admin user rows, the admin API
//! key, and the fixed registration rows (sdkmessage, sdkmessagefilter,
//! plugintype), the security catalog (privileges, built-in roles, the
//! admin user as System Administrator). Fixed rows get name-derived ids, so every node and every
//! database agrees on them.

use std::collections::HashSet;
use std::path::Path;

use herald_core::{Schema, Table, Value};
use herald_store::{Store, StoreError, Tx};
use uuid::Uuid;

use herald_core::fixed_ids::{
    admin_user_id, message_filter_id, message_id, organization_id, plugin_type_id,
    root_business_unit_id, MESSAGES, SERVICE_ENDPOINT_PLUGIN,
};

use crate::auth::{generate_key, hash_key};
use crate::state::Org;

async fn ensure(
    tx: &mut Tx,
    table: &Table,
    id: Uuid,
    mut values: Vec<(String, Value)>,
    now: Value,
    user: Uuid,
) -> Result<(), StoreError> {
    if tx.get(table, id).await?.is_some() {
        return Ok(());
    }
    values.insert(0, (table.primary_id.clone(), Value::Guid(id)));
    values.push(("createdon".into(), now.clone()));
    values.push(("modifiedon".into(), now));
    values.push(("createdby".into(), Value::Guid(user)));
    values.push(("modifiedby".into(), Value::Guid(user)));
    values.push(("versionnumber".into(), Value::Int(1)));
    tx.insert(table, &values).await
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

/// Create what must exist, and return the ids of the singleton rows.
pub async fn bootstrap(
    store: &Store,
    schema: &Schema,
    organization: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Org, StoreError> {
    let now = Value::DateTime(now);
    let mut tx = store.begin().await?;
    if store.dialect() == herald_store::Dialect::Postgres {
        tx.conn()
            .await?
            .execute_raw("SELECT pg_advisory_xact_lock(7368002)")
            .await?;
    }
    let org = Org {
        organization_id: organization_id(),
        business_unit_id: root_business_unit_id(),
        admin_user_id: admin_user_id(),
    };
    let admin = org.admin_user_id;
    let t = |n: &str| {
        schema
            .table(n)
            .ok_or_else(|| StoreError::Invalid(format!("missing table {n}")))
    };
    ensure(
        &mut tx,
        t("organization")?,
        org.organization_id,
        vec![("name".into(), s(organization))],
        now.clone(),
        admin,
    )
    .await?;
    ensure(
        &mut tx,
        t("businessunit")?,
        org.business_unit_id,
        vec![("name".into(), s(organization))],
        now.clone(),
        admin,
    )
    .await?;
    ensure(
        &mut tx,
        t("systemuser")?,
        admin,
        vec![
            ("firstname".into(), s("herald")),
            ("lastname".into(), s("admin")),
            ("fullname".into(), s("herald admin")),
            ("domainname".into(), s("admin@herald.local")),
            ("businessunitid".into(), Value::Guid(org.business_unit_id)),
            ("isdisabled".into(), Value::Bool(false)),
        ],
        now.clone(),
        admin,
    )
    .await?;
    ensure(
        &mut tx,
        t("plugintype")?,
        plugin_type_id(),
        vec![
            ("name".into(), s(SERVICE_ENDPOINT_PLUGIN)),
            ("friendlyname".into(), s(SERVICE_ENDPOINT_PLUGIN)),
            ("typename".into(), s(SERVICE_ENDPOINT_PLUGIN)),
        ],
        now.clone(),
        admin,
    )
    .await?;
    // The Business Central API's default company (SPEC §5).
    ensure(
        &mut tx,
        t(herald_core::builtin::BC_COMPANY)?,
        herald_core::fixed_ids::default_company_id(),
        vec![
            ("name".into(), s(organization)),
            ("displayname".into(), s(organization)),
        ],
        now.clone(),
        admin,
    )
    .await?;
    let msg_table = t("sdkmessage")?;
    let filter_table = t("sdkmessagefilter")?;
    for m in MESSAGES {
        ensure(
            &mut tx,
            msg_table,
            message_id(m),
            vec![
                ("name".into(), s(m)),
                ("categoryname".into(), s("Standard")),
                ("isprivate".into(), Value::Bool(false)),
            ],
            now.clone(),
            admin,
        )
        .await?;
        for table in schema.tables() {
            if table.supports_message(m) {
                ensure_filter(&mut tx, filter_table, m, table, now.clone(), admin).await?;
            }
        }
    }
    security_rows(&mut tx, schema, &now, admin).await?;
    tx.commit().await?;
    Ok(org)
}

/// The ids already in `table` (one query, its primary key only).
async fn ids_of(tx: &mut Tx, table: &Table) -> Result<HashSet<Uuid>, StoreError> {
    let mut q = herald_core::Query::all(&table.logical_name);
    q.select = vec![table.primary_id.clone()];
    Ok(tx
        .fetch(&q, None, 0)
        .await?
        .iter()
        .filter_map(|r| r.guid(&table.primary_id))
        .collect())
}

/// Insert a fixed row unless `existing` has its id.
async fn insert_missing(
    tx: &mut Tx,
    table: &Table,
    existing: &HashSet<Uuid>,
    id: Uuid,
    mut values: Vec<(String, Value)>,
    now: &Value,
    user: Uuid,
) -> Result<(), StoreError> {
    if existing.contains(&id) {
        return Ok(());
    }
    values.insert(0, (table.primary_id.clone(), Value::Guid(id)));
    values.push(("createdon".into(), now.clone()));
    values.push(("modifiedon".into(), now.clone()));
    values.push(("createdby".into(), Value::Guid(user)));
    values.push(("modifiedby".into(), Value::Guid(user)));
    values.push(("versionnumber".into(), Value::Int(1)));
    tx.insert(table, &values).await
}

/// The security catalog: a `privilege` row per table and access right,
/// the built-in roles with their privileges, the admin user as a System
/// Administrator — and, once, Basic User for the users that held an API
/// key before roles existed (so their keys keep working). Tables added
/// to the config later get their privileges at the next start.
pub(crate) async fn security_rows(
    tx: &mut Tx,
    schema: &Schema,
    now: &Value,
    admin: Uuid,
) -> Result<(), StoreError> {
    use herald_core::fixed_ids::{role_privilege_id, user_role_id};
    use herald_core::security::{catalog, depth, BuiltinRole};
    let t = |n: &str| {
        schema
            .table(n)
            .ok_or_else(|| StoreError::Invalid(format!("missing table {n}")))
    };
    let (privileges, roles, links, users) = (
        t("privilege")?,
        t("role")?,
        t("roleprivileges")?,
        t("systemuserroles")?,
    );
    let all = catalog(schema);
    let have = ids_of(tx, privileges).await?;
    let mut added = have.len() != all.len();
    for p in &all {
        let all_depths = p.table.is_some();
        insert_missing(
            tx,
            privileges,
            &have,
            p.id,
            vec![
                ("name".into(), s(&p.name)),
                ("accessright".into(), Value::Int(p.privilege.access_right())),
                ("canbebasic".into(), Value::Bool(all_depths)),
                ("canbelocal".into(), Value::Bool(all_depths)),
                ("canbedeep".into(), Value::Bool(all_depths)),
                ("canbeglobal".into(), Value::Bool(true)),
            ],
            now,
            admin,
        )
        .await?;
    }
    let have = ids_of(tx, roles).await?;
    for role in BuiltinRole::ALL {
        added |= !have.contains(&role.id());
        insert_missing(
            tx,
            roles,
            &have,
            role.id(),
            vec![
                ("name".into(), s(role.name())),
                ("description".into(), s(role.description())),
                (
                    "businessunitid".into(),
                    Value::Guid(herald_core::fixed_ids::root_business_unit_id()),
                ),
                ("ismanaged".into(), Value::Bool(true)),
            ],
            now,
            admin,
        )
        .await?;
    }
    if !added {
        return Ok(());
    }
    let have = ids_of(tx, links).await?;
    for role in BuiltinRole::ALL {
        for p in &all {
            let granted = match &p.table {
                Some(name) => schema
                    .table(name)
                    .and_then(|table| role.grants(table, p.privilege)),
                None => role.grants_metadata(p.privilege).then_some(depth::GLOBAL),
            };
            let Some(mask) = granted else { continue };
            insert_missing(
                tx,
                links,
                &have,
                role_privilege_id(role.id(), p.id),
                vec![
                    ("roleid".into(), Value::Guid(role.id())),
                    ("privilegeid".into(), Value::Guid(p.id)),
                    ("privilegedepthmask".into(), Value::Int(mask)),
                ],
                now,
                admin,
            )
            .await?;
        }
    }
    let have = ids_of(tx, users).await?;
    let mut holders = vec![(admin, BuiltinRole::SystemAdministrator)];
    if have.is_empty() {
        // First start with roles: users that already had keys keep them
        // working as Basic Users.
        for k in tx.api_key_users().await? {
            if k != admin && !holders.iter().any(|(u, _)| *u == k) {
                holders.push((k, BuiltinRole::BasicUser));
            }
        }
    }
    for (user, role) in holders {
        insert_missing(
            tx,
            users,
            &have,
            user_role_id(user, role.id()),
            vec![
                ("systemuserid".into(), Value::Guid(user)),
                ("roleid".into(), Value::Guid(role.id())),
            ],
            now,
            admin,
        )
        .await?;
    }
    tx.put_setting(
        herald_store::security::VERSION_SETTING,
        &Uuid::new_v4().simple().to_string(),
    )
    .await
}

/// The `sdkmessagefilter` row of message `m` on `table`.
async fn ensure_filter(
    tx: &mut Tx,
    filter_table: &Table,
    m: &str,
    table: &Table,
    now: Value,
    user: Uuid,
) -> Result<(), StoreError> {
    ensure(
        tx,
        filter_table,
        message_filter_id(m, &table.logical_name),
        vec![
            ("name".into(), s(&format!("{m} of {}", table.logical_name))),
            ("sdkmessageid".into(), Value::Guid(message_id(m))),
            ("primaryobjecttypecode".into(), s(&table.logical_name)),
            ("secondaryobjecttypecode".into(), s("none")),
            ("iscustomprocessingstepallowed".into(), Value::Bool(true)),
            ("isvisible".into(), Value::Bool(true)),
        ],
        now,
        user,
    )
    .await
}

/// The `sdkmessagefilter` rows of a table created at run time (as
/// [`bootstrap`] writes them for the tables known at start), so steps can
/// be registered on it.
pub async fn ensure_message_filters(
    tx: &mut Tx,
    schema: &Schema,
    table: &Table,
    now: chrono::DateTime<chrono::Utc>,
    user: Uuid,
) -> Result<(), StoreError> {
    let filter_table = schema
        .table("sdkmessagefilter")
        .ok_or_else(|| StoreError::Invalid("missing table sdkmessagefilter".into()))?;
    for m in MESSAGES {
        if table.supports_message(m) {
            ensure_filter(tx, filter_table, m, table, Value::DateTime(now), user).await?;
        }
    }
    Ok(())
}

/// Where the admin key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    File,
    Generated,
}

/// The admin key a server so configured starts with, if there is one yet:
/// the configured key (config/env), else the one in `<data_dir>/admin.key`.
pub fn existing_admin_key(
    configured: Option<&str>,
    data_dir: &Path,
) -> Option<(String, KeySource)> {
    if let Some(k) = configured.filter(|k| !k.is_empty()) {
        return Some((k.to_string(), KeySource::Configured));
    }
    std::fs::read_to_string(data_dir.join("admin.key"))
        .ok()
        .map(|k| (k.trim().to_string(), KeySource::File))
}

/// Resolve the admin key (config/env, else `<data_dir>/admin.key`, else a new
/// one written there with mode 0600) and register its hash.
pub async fn admin_key(
    store: &Store,
    org: &Org,
    configured: Option<&str>,
    data_dir: &Path,
    now_ms: i64,
) -> Result<(String, KeySource), std::io::Error> {
    let (key, source) = match existing_admin_key(configured, data_dir) {
        Some(found) => found,
        None => {
            let k = generate_key();
            std::fs::create_dir_all(data_dir)?;
            write_private(&data_dir.join("admin.key"), &k)?;
            (k, KeySource::Generated)
        }
    };
    let mut tx = store.begin().await.map_err(std::io::Error::other)?;
    tx.put_api_key(&hash_key(&key), org.admin_user_id, "admin", now_ms)
        .await
        .map_err(std::io::Error::other)?;
    tx.commit().await.map_err(std::io::Error::other)?;
    Ok((key, source))
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")
}
