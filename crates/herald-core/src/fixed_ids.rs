//! Ids of the rows herald creates itself (organization, root business unit,
//! admin user, `sdkmessage`, `sdkmessagefilter`, the webhook plug-in type,
//! the default Business Central company, the built-in security roles,
//! privileges and their links): derived from a name (UUID v5 in
//! herald's namespace), so every node, every restart and every database
//! agrees on them without reading anything. Pure, so the pipeline, the
//! bootstrap and the BC API can all compute them without depending on each
//! other.

use uuid::Uuid;

/// The messages herald knows (the `sdkmessage` rows).
pub const MESSAGES: [&str; 12] = [
    "Create",
    "Update",
    "Delete",
    "Retrieve",
    "RetrieveMultiple",
    "Assign",
    "SetState",
    "Associate",
    "Disassociate",
    "CreateMultiple",
    "UpdateMultiple",
    "UpsertMultiple",
];

/// The built-in plug-in type that runs service-endpoint (webhook) steps.
pub const SERVICE_ENDPOINT_PLUGIN: &str = "Microsoft.Crm.ServiceBus.ServiceBusPlugin";

const NAMESPACE: Uuid = Uuid::from_u128(0x6865_7261_6c64_4000_8000_0000_0000_0001);

/// Stable id of a fixed row, derived from its kind and name.
pub fn fixed_id(kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{kind}:{name}").as_bytes())
}

/// The `sdkmessage` row of a message.
pub fn message_id(message: &str) -> Uuid {
    fixed_id("sdkmessage", message)
}

/// The `sdkmessagefilter` row of a message on a table.
pub fn message_filter_id(message: &str, table: &str) -> Uuid {
    fixed_id("sdkmessagefilter", &format!("{message}:{table}"))
}

/// The `plugintype` row webhook steps run under.
pub fn plugin_type_id() -> Uuid {
    fixed_id("plugintype", SERVICE_ENDPOINT_PLUGIN)
}

/// The Business Central company created at first start.
pub fn default_company_id() -> Uuid {
    fixed_id("bc_company", "default")
}

pub fn organization_id() -> Uuid {
    fixed_id("organization", "default")
}

pub fn root_business_unit_id() -> Uuid {
    fixed_id("businessunit", "root")
}

/// The admin user the admin API key acts as.
pub fn admin_user_id() -> Uuid {
    fixed_id("systemuser", "admin")
}

/// A built-in security role (`System Administrator`, …).
pub fn role_id(name: &str) -> Uuid {
    fixed_id("role", name)
}

/// The `privilege` row named `name` (`prvReadAccount`, …).
pub fn privilege_id(name: &str) -> Uuid {
    fixed_id("privilege", name)
}

/// The `roleprivileges` row that links a role and a privilege.
pub fn role_privilege_id(role: Uuid, privilege: Uuid) -> Uuid {
    fixed_id("roleprivileges", &format!("{role}:{privilege}"))
}

/// The `systemuserroles` row that gives a user a role.
pub fn user_role_id(user: Uuid, role: Uuid) -> Uuid {
    fixed_id("systemuserroles", &format!("{user}:{role}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        // Written into every existing database: these must never change.
        assert_eq!(
            message_id("Create").to_string(),
            Uuid::new_v5(&NAMESPACE, b"sdkmessage:Create").to_string()
        );
        assert_ne!(message_id("Create"), message_id("Update"));
        assert_ne!(
            message_filter_id("Create", "account"),
            message_filter_id("Create", "contact")
        );
        assert_eq!(default_company_id(), fixed_id("bc_company", "default"));
    }
}
