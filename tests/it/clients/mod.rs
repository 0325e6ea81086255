//! herald as real clients see it: HTTPS (its own TLS and behind a reverse
//! proxy), and Microsoft's Python `PowerPlatform-Dataverse-Client` and npm
//! `dynamics-web-api`, installed by `scripts/clients`, run unchanged
//! against a herald on HTTPS: record calls (`records`) and the batch, bulk,
//! SQL, FetchXML paging, `$ref` and BulkDelete calls (`bulk`), the Python
//! client's table calls (`tables`: create, columns, lookup, key,
//! many-to-many, delete), `dynamics-web-api`'s metadata calls (`metadata`);
//! and the
//! Business Central client `pybusinesscentral` on the BC API (`bc`).

mod bc;
mod bulk;
mod harness;
mod https;
mod metadata;
mod records;
mod tables;
