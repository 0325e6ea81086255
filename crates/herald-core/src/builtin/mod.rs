//! The built-in tables: Dataverse-like business tables (account, contact, …),
//! the system tables that hold webhook registrations and System Jobs
//! (`dataverse`), the security tables (`security`: roles, privileges and
//! their links) and the Business Central tables (`bc`), with the column
//! names and option values Dataverse and Business Central use.
//!
//! [`Schema::build`], the schema herald serves, is defined here rather than
//! in `schema`: it is "the built-in tables plus the config's user tables",
//! so it depends on this module, while `schema` (the metadata types and the
//! checks of [`Schema::from_tables`]) depends on nothing here.

mod audit;
mod bc;
mod columns;
mod dataverse;
mod security;
mod table;

use crate::error::SchemaError;
use crate::schema::{Schema, Table, UserTableConfig};

pub use self::bc::{
    amounts as bc_amounts, bc_column, bc_entity_named, bc_entity_of, bc_lines_named, bc_lines_of,
    bc_lines_of_table, bc_tables, BcEntity, BcField, BcLines, BcNavigation, NumberSeries,
    BC_COMPANY, BC_COMPANY_COLUMN, BC_ENTITIES, BC_LINES, COMPUTED_LINE_FIELDS,
};
pub use crate::schema::add_system_columns;

/// Every built-in table: the Dataverse-like ones, then Business Central's.
pub fn builtin_tables() -> Vec<Table> {
    let mut tables = dataverse::dataverse_tables();
    tables.extend(security::security_tables());
    tables.push(audit::audit_table());
    tables.extend(bc_tables());
    tables
}

/// The object type code of the first user table; the next ones count up.
const FIRST_USER_TABLE_CODE: i64 = 10_000;

/// Lives here, not in `schema`, so that `schema` needs nothing from the
/// built-in tables (see the module doc).
impl Schema {
    /// Built-in and system tables plus the user tables of the config.
    pub fn build(user_tables: &[UserTableConfig]) -> Result<Schema, SchemaError> {
        let user = (FIRST_USER_TABLE_CODE..)
            .zip(user_tables)
            .map(|(code, cfg)| cfg.to_table(code));
        Schema::from_results(builtin_tables().into_iter().map(Ok).chain(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_relationships_exist() {
        let schema = Schema::build(&[]).unwrap();
        assert!(schema
            .relationship_from("account", "contact_customer_accounts")
            .is_some());
        assert!(schema
            .relationship_from(
                "serviceendpoint",
                "serviceendpoint_sdkmessageprocessingstep"
            )
            .is_some());
    }
}
