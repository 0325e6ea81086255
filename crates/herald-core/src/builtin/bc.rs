//! Business Central (SPEC §5, seed 004): the 22 BC API entities with webhook
//! support ([`BC_ENTITIES`]), their field types ([`BcField`]), and the
//! built-in tables that hold them ([`bc_tables`]): `bc_company` and one
//! table per entity, each row tied to its company.

use super::columns::{boolean, dec, dt, guid, int, lookup, s};
use super::table::table;
use crate::schema::{Column, Table, TableKind};

/// The type of a Business Central API field, and how it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BcField {
    /// Text up to this many characters.
    Text(usize),
    /// `Edm.Date` (`2019-01-31`), stored as midnight UTC.
    Date,
    DateTime,
    Decimal,
    Int,
    Bool,
    Guid,
}

/// One entity of the Business Central API (`/api/v2.0/companies(<id>)/<name>`)
/// and the built-in table that holds it. Field names are the API's
/// camelCase; each is stored in the column of the same name in lower case
/// ([`bc_column`]). Every entity also has `id` (the primary key),
/// `lastModifiedDateTime` (`modifiedon`) and a `companyid` lookup.
#[derive(Debug, Clone, Copy)]
pub struct BcEntity {
    /// The entity set as the BC API names it (`customers`).
    pub name: &'static str,
    /// herald's table (`bc_customer`; entity set `bc_customers`).
    pub logical: &'static str,
    pub fields: &'static [(&'static str, BcField)],
}

/// The table of Business Central companies.
pub const BC_COMPANY: &str = "bc_company";
/// The lookup every BC entity table has to its company.
pub const BC_COMPANY_COLUMN: &str = "companyid";

/// The column a BC camelCase field is stored in.
pub fn bc_column(field: &str) -> String {
    field.to_ascii_lowercase()
}

/// The BC entity stored in `logical`, if it is one.
pub fn bc_entity_of(logical: &str) -> Option<&'static BcEntity> {
    BC_ENTITIES.iter().find(|e| e.logical == logical)
}

use BcField::{Bool as B, Date as D, Decimal as N, Guid as G, Int as I, Text as T};

const DOC_TOTALS: [(&str, BcField); 3] = [
    ("currencyCode", T(10)),
    ("totalAmountExcludingTax", N),
    ("totalAmountIncludingTax", N),
];

/// The 22 entities with webhook support (seed 004), in the seed's order.
pub const BC_ENTITIES: &[BcEntity] = &[
    BcEntity {
        name: "accounts",
        logical: "bc_account",
        fields: &[
            ("number", T(20)),
            ("displayName", T(100)),
            ("category", T(30)),
            ("subCategory", T(80)),
            ("blocked", B),
            ("accountType", T(30)),
            ("directPosting", B),
            ("netChange", N),
        ],
    },
    BcEntity {
        name: "companyInformation",
        logical: "bc_companyinformation",
        fields: &[
            ("displayName", T(100)),
            ("addressLine1", T(100)),
            ("addressLine2", T(50)),
            ("city", T(30)),
            ("state", T(30)),
            ("country", T(10)),
            ("postalCode", T(20)),
            ("phoneNumber", T(30)),
            ("email", T(80)),
            ("website", T(80)),
            ("taxRegistrationNumber", T(20)),
            ("currencyCode", T(10)),
        ],
    },
    BcEntity {
        name: "countriesRegions",
        logical: "bc_countryregion",
        fields: &[
            ("code", T(10)),
            ("displayName", T(50)),
            ("addressFormat", T(50)),
        ],
    },
    BcEntity {
        name: "currencies",
        logical: "bc_currency",
        fields: &[
            ("code", T(10)),
            ("displayName", T(30)),
            ("symbol", T(10)),
            ("amountDecimalPlaces", T(5)),
            ("amountRoundingPrecision", N),
        ],
    },
    BcEntity {
        name: "customerPaymentJournals",
        logical: "bc_customerpaymentjournal",
        fields: &[
            ("code", T(10)),
            ("displayName", T(100)),
            ("balancingAccountId", G),
            ("balancingAccountNumber", T(20)),
        ],
    },
    BcEntity {
        name: "customers",
        logical: "bc_customer",
        fields: &[
            ("number", T(20)),
            ("displayName", T(100)),
            ("type", T(20)),
            ("addressLine1", T(100)),
            ("addressLine2", T(50)),
            ("city", T(30)),
            ("state", T(30)),
            ("country", T(10)),
            ("postalCode", T(20)),
            ("phoneNumber", T(30)),
            ("email", T(80)),
            ("website", T(80)),
            ("taxLiable", B),
            ("currencyCode", T(10)),
            ("blocked", T(20)),
            ("balanceDue", N),
            ("creditLimit", N),
        ],
    },
    BcEntity {
        name: "dimensions",
        logical: "bc_dimension",
        fields: &[("code", T(20)), ("displayName", T(30))],
    },
    BcEntity {
        name: "employees",
        logical: "bc_employee",
        fields: &[
            ("number", T(20)),
            ("displayName", T(100)),
            ("givenName", T(30)),
            ("middleName", T(30)),
            ("surname", T(30)),
            ("jobTitle", T(30)),
            ("email", T(80)),
            ("phoneNumber", T(30)),
            ("status", T(20)),
            ("birthDate", D),
        ],
    },
    BcEntity {
        name: "generalLedgerEntries",
        logical: "bc_generalledgerentry",
        fields: &[
            ("entryNumber", I),
            ("postingDate", D),
            ("documentNumber", T(20)),
            ("documentType", T(20)),
            ("accountId", G),
            ("accountNumber", T(20)),
            ("description", T(100)),
            ("debitAmount", N),
            ("creditAmount", N),
        ],
    },
    BcEntity {
        name: "itemCategories",
        logical: "bc_itemcategory",
        fields: &[("code", T(20)), ("displayName", T(100))],
    },
    BcEntity {
        name: "items",
        logical: "bc_item",
        fields: &[
            ("number", T(20)),
            ("displayName", T(100)),
            ("type", T(20)),
            ("itemCategoryCode", T(20)),
            ("blocked", B),
            ("gtin", T(14)),
            ("inventory", N),
            ("unitPrice", N),
            ("unitCost", N),
            ("baseUnitOfMeasureCode", T(10)),
            ("taxGroupCode", T(20)),
        ],
    },
    BcEntity {
        name: "journals",
        logical: "bc_journal",
        fields: &[
            ("code", T(10)),
            ("displayName", T(100)),
            ("templateDisplayName", T(100)),
            ("balancingAccountId", G),
            ("balancingAccountNumber", T(20)),
        ],
    },
    BcEntity {
        name: "paymentMethods",
        logical: "bc_paymentmethod",
        fields: &[("code", T(10)), ("displayName", T(100))],
    },
    BcEntity {
        name: "paymentTerms",
        logical: "bc_paymentterm",
        fields: &[
            ("code", T(10)),
            ("displayName", T(100)),
            ("dueDateCalculation", T(30)),
            ("discountDateCalculation", T(30)),
            ("discountPercent", N),
            ("calculateDiscountOnCreditMemos", B),
        ],
    },
    BcEntity {
        name: "purchaseInvoices",
        logical: "bc_purchaseinvoice",
        fields: &[
            ("number", T(20)),
            ("invoiceDate", D),
            ("dueDate", D),
            ("vendorId", G),
            ("vendorNumber", T(20)),
            ("vendorName", T(100)),
            ("status", T(20)),
            DOC_TOTALS[0],
            DOC_TOTALS[1],
            DOC_TOTALS[2],
        ],
    },
    BcEntity {
        name: "salesCreditMemos",
        logical: "bc_salescreditmemo",
        fields: &[
            ("number", T(20)),
            ("creditMemoDate", D),
            ("dueDate", D),
            ("customerId", G),
            ("customerNumber", T(20)),
            ("customerName", T(100)),
            ("status", T(20)),
            DOC_TOTALS[0],
            DOC_TOTALS[1],
            DOC_TOTALS[2],
        ],
    },
    BcEntity {
        name: "salesInvoices",
        logical: "bc_salesinvoice",
        fields: &[
            ("number", T(20)),
            ("invoiceDate", D),
            ("dueDate", D),
            ("customerId", G),
            ("customerNumber", T(20)),
            ("customerName", T(100)),
            ("status", T(20)),
            DOC_TOTALS[0],
            DOC_TOTALS[1],
            DOC_TOTALS[2],
        ],
    },
    BcEntity {
        name: "salesOrders",
        logical: "bc_salesorder",
        fields: &[
            ("number", T(20)),
            ("orderDate", D),
            ("requestedDeliveryDate", D),
            ("customerId", G),
            ("customerNumber", T(20)),
            ("customerName", T(100)),
            ("status", T(20)),
            DOC_TOTALS[0],
            DOC_TOTALS[1],
            DOC_TOTALS[2],
        ],
    },
    BcEntity {
        name: "salesQuotes",
        logical: "bc_salesquote",
        fields: &[
            ("number", T(20)),
            ("documentDate", D),
            ("validUntilDate", D),
            ("customerId", G),
            ("customerNumber", T(20)),
            ("customerName", T(100)),
            ("status", T(20)),
            DOC_TOTALS[0],
            DOC_TOTALS[1],
            DOC_TOTALS[2],
        ],
    },
    BcEntity {
        name: "shipmentMethods",
        logical: "bc_shipmentmethod",
        fields: &[("code", T(10)), ("displayName", T(100))],
    },
    BcEntity {
        name: "unitsOfMeasure",
        logical: "bc_unitofmeasure",
        fields: &[
            ("code", T(10)),
            ("displayName", T(50)),
            ("internationalStandardCode", T(10)),
        ],
    },
    BcEntity {
        name: "vendors",
        logical: "bc_vendor",
        fields: &[
            ("number", T(20)),
            ("displayName", T(100)),
            ("addressLine1", T(100)),
            ("addressLine2", T(50)),
            ("city", T(30)),
            ("state", T(30)),
            ("country", T(10)),
            ("postalCode", T(20)),
            ("phoneNumber", T(30)),
            ("email", T(80)),
            ("website", T(80)),
            ("taxLiable", B),
            ("currencyCode", T(10)),
            ("blocked", T(20)),
            ("balance", N),
        ],
    },
];

fn bc_field_column(name: &str, field: BcField) -> Column {
    let col = bc_column(name);
    match field {
        BcField::Text(n) => s(&col, n),
        BcField::Date | BcField::DateTime => dt(&col),
        BcField::Decimal => dec(&col),
        BcField::Int => int(&col),
        BcField::Bool => boolean(&col),
        BcField::Guid => guid(&col),
    }
}

/// The Business Central tables: `bc_company` and one table per entity of
/// [`BC_ENTITIES`] (entity set `bc_<name in lower case>`), each row tied to
/// its company. They are ordinary data tables, so Dataverse-style steps can
/// be registered on them too.
pub fn bc_tables() -> Vec<Table> {
    let mut out = vec![table(
        BC_COMPANY,
        "bc_companies",
        Some("name"),
        TableKind::Data,
        9100,
        vec![
            s("name", 30).required(),
            s("displayname", 250),
            s("businessprofileid", 250),
        ],
        false,
    )];
    for (i, e) in BC_ENTITIES.iter().enumerate() {
        let mut columns = vec![lookup(BC_COMPANY_COLUMN, BC_COMPANY)
            .required()
            .relationship(&format!("{}_company", e.logical))];
        columns.extend(e.fields.iter().map(|(n, f)| bc_field_column(n, *f)));
        let has = |f: &str| e.fields.iter().any(|(n, _)| *n == f);
        let primary_name = ["displayName", "number", "description"]
            .into_iter()
            .find(|f| has(f))
            .map(bc_column);
        out.push(table(
            e.logical,
            &format!("bc_{}", e.name.to_ascii_lowercase()),
            primary_name.as_deref(),
            TableKind::Data,
            9101 + i as i64,
            columns,
            false,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bc_tables_are_complete_and_distinct() {
        assert_eq!(BC_ENTITIES.len(), 22);
        let tables = bc_tables();
        assert_eq!(tables.len(), 23);
        let schema = crate::Schema::build(&[]).unwrap();
        for e in BC_ENTITIES {
            let t = schema.table(e.logical).unwrap();
            assert!(t.column("companyid").is_some_and(|c| c.required));
            for (f, _) in e.fields {
                assert!(t.column(&bc_column(f)).is_some(), "{}.{f}", e.logical);
            }
            assert!(
                t.primary_name
                    .as_deref()
                    .is_some_and(|p| t.column(p).is_some()),
                "{}",
                e.logical
            );
        }
        assert_eq!(
            schema.table_by_set("bc_customers").unwrap().logical_name,
            "bc_customer"
        );
        assert_eq!(
            bc_entity_of("bc_salesinvoice").unwrap().name,
            "salesInvoices"
        );
    }
}
