//! The built-in tables: Dataverse-like business tables (account, contact, …)
//! and the system tables that hold webhook registrations and System Jobs,
//! with the column names and option values Dataverse uses.

use crate::schema::{Column, ColumnType, Table, TableKind};

fn s(name: &str, len: usize) -> Column {
    Column::new(name, ColumnType::String { max_length: len })
}
fn memo(name: &str) -> Column {
    Column::new(
        name,
        ColumnType::Memo {
            max_length: 1_048_576,
        },
    )
}
fn int(name: &str) -> Column {
    Column::new(name, ColumnType::Integer)
}
fn money(name: &str) -> Column {
    Column::new(name, ColumnType::Money)
}
fn dec(name: &str) -> Column {
    Column::new(name, ColumnType::Decimal)
}
fn boolean(name: &str) -> Column {
    Column::new(name, ColumnType::Boolean)
}
fn dt(name: &str) -> Column {
    Column::new(name, ColumnType::DateTime)
}
fn guid(name: &str) -> Column {
    Column::new(name, ColumnType::UniqueIdentifier)
}
fn lookup(name: &str, target: &str) -> Column {
    Column::new(
        name,
        ColumnType::Lookup {
            target: target.to_string(),
        },
    )
}
fn choice(name: &str, options: &[(i64, &str)]) -> Column {
    Column::new(
        name,
        ColumnType::Choice {
            options: options.iter().map(|(v, l)| (*v, l.to_string())).collect(),
        },
    )
}

/// The columns every table has, maintained by the server. Business tables
/// also get an owner and a state/status pair (for Assign and SetState).
pub fn add_system_columns(columns: &mut Vec<Column>, with_state: bool) {
    columns.push(dt("createdon").read_only());
    columns.push(dt("modifiedon").read_only());
    columns.push(
        lookup("createdby", "systemuser")
            .read_only()
            .relationship("lk_createdby"),
    );
    columns.push(
        lookup("modifiedby", "systemuser")
            .read_only()
            .relationship("lk_modifiedby"),
    );
    columns.push(int("versionnumber").read_only());
    if with_state {
        columns.push(lookup("ownerid", "systemuser").relationship("lk_owner"));
        columns.push(choice("statecode", &[(0, "Active"), (1, "Inactive")]));
        columns.push(choice("statuscode", &[(1, "Active"), (2, "Inactive")]));
    }
}

fn table(
    logical: &str,
    set: &str,
    primary_name: Option<&str>,
    kind: TableKind,
    code: i64,
    mut columns: Vec<Column>,
    with_state: bool,
) -> Table {
    let primary_id = format!("{logical}id");
    columns.insert(0, guid(&primary_id));
    add_system_columns(&mut columns, with_state);
    Table {
        logical_name: logical.to_string(),
        entity_set: set.to_string(),
        primary_id,
        primary_name: primary_name.map(str::to_string),
        kind,
        columns,
        object_type_code: code,
    }
}

pub fn builtin_tables() -> Vec<Table> {
    let mut tables = dataverse_tables();
    tables.extend(bc_tables());
    tables
}

fn dataverse_tables() -> Vec<Table> {
    use TableKind::*;
    vec![
        table(
            "organization",
            "organizations",
            Some("name"),
            System,
            1019,
            vec![s("name", 160)],
            false,
        ),
        table(
            "businessunit",
            "businessunits",
            Some("name"),
            Data,
            10,
            vec![
                s("name", 160).required(),
                lookup("parentbusinessunitid", "businessunit")
                    .relationship("business_unit_parent_business_unit"),
                s("divisionname", 100),
                s("emailaddress", 100),
            ],
            false,
        ),
        table(
            "systemuser",
            "systemusers",
            Some("fullname"),
            Data,
            8,
            vec![
                s("firstname", 64),
                s("lastname", 64),
                s("fullname", 200).read_only(),
                s("domainname", 1024),
                s("internalemailaddress", 100),
                lookup("businessunitid", "businessunit").relationship("business_unit_system_users"),
                boolean("isdisabled"),
            ],
            false,
        ),
        table(
            "account",
            "accounts",
            Some("name"),
            Data,
            1,
            vec![
                s("name", 160),
                s("accountnumber", 20),
                s("emailaddress1", 100),
                s("telephone1", 50),
                s("websiteurl", 200),
                s("address1_line1", 250),
                s("address1_city", 80),
                s("address1_postalcode", 20),
                s("address1_country", 80),
                memo("description"),
                money("revenue"),
                int("numberofemployees"),
                money("creditlimit"),
                boolean("creditonhold"),
                choice(
                    "industrycode",
                    &[
                        (1, "Accounting"),
                        (2, "Agriculture"),
                        (3, "Construction"),
                        (4, "Consulting"),
                        (5, "Financial"),
                    ],
                ),
                choice(
                    "accountcategorycode",
                    &[(1, "Preferred Customer"), (2, "Standard")],
                ),
                lookup("parentaccountid", "account").relationship("account_parent_account"),
                lookup("primarycontactid", "contact").relationship("account_primary_contact"),
            ],
            true,
        ),
        table(
            "contact",
            "contacts",
            Some("fullname"),
            Data,
            2,
            vec![
                s("firstname", 50),
                s("lastname", 50),
                s("middlename", 50),
                s("fullname", 160).read_only(),
                s("yomifullname", 450).read_only(),
                s("jobtitle", 100),
                s("emailaddress1", 100),
                s("telephone1", 50),
                s("mobilephone", 50),
                s("address1_line1", 250),
                s("address1_city", 80),
                s("address1_postalcode", 20),
                s("address1_country", 80),
                dt("birthdate"),
                choice("gendercode", &[(1, "Male"), (2, "Female")]),
                money("creditlimit"),
                boolean("donotemail"),
                memo("description"),
                lookup("parentcustomerid", "account")
                    .nav("parentcustomerid_account")
                    .relationship("contact_customer_accounts"),
            ],
            true,
        ),
        table(
            "lead",
            "leads",
            Some("fullname"),
            Data,
            4,
            vec![
                s("subject", 300),
                s("firstname", 50),
                s("lastname", 50),
                s("fullname", 160).read_only(),
                s("companyname", 100),
                s("emailaddress1", 100),
                s("telephone1", 50),
                money("estimatedamount"),
                choice(
                    "leadsourcecode",
                    &[(1, "Advertisement"), (2, "Employee Referral"), (8, "Web")],
                ),
                choice("leadqualitycode", &[(1, "Hot"), (2, "Warm"), (3, "Cold")]),
                memo("description"),
                lookup("parentaccountid", "account").relationship("lead_parent_account"),
                lookup("parentcontactid", "contact").relationship("lead_parent_contact"),
            ],
            true,
        ),
        table(
            "opportunity",
            "opportunities",
            Some("name"),
            Data,
            3,
            vec![
                s("name", 300),
                money("estimatedvalue"),
                money("actualvalue"),
                dt("estimatedclosedate"),
                dt("actualclosedate"),
                int("closeprobability"),
                choice(
                    "opportunityratingcode",
                    &[(1, "Hot"), (2, "Warm"), (3, "Cold")],
                ),
                memo("description"),
                lookup("parentaccountid", "account").relationship("opportunity_parent_account"),
                lookup("parentcontactid", "contact").relationship("opportunity_parent_contact"),
                lookup("customerid", "account")
                    .nav("customerid_account")
                    .relationship("opportunity_customer_accounts"),
            ],
            true,
        ),
        table(
            "incident",
            "incidents",
            Some("title"),
            Data,
            112,
            vec![
                s("title", 200).required(),
                s("ticketnumber", 100),
                memo("description"),
                choice("prioritycode", &[(1, "High"), (2, "Normal"), (3, "Low")]),
                choice("caseorigincode", &[(1, "Phone"), (2, "Email"), (3, "Web")]),
                choice(
                    "casetypecode",
                    &[(1, "Question"), (2, "Problem"), (3, "Request")],
                ),
                dec("customersatisfactioncode"),
                lookup("customerid", "account")
                    .nav("customerid_account")
                    .relationship("incident_customer_accounts"),
                lookup("primarycontactid", "contact").relationship("contact_as_primary_contact"),
            ],
            true,
        ),
        // ---- registration tables (SPEC §3) ----
        table(
            "serviceendpoint",
            "serviceendpoints",
            Some("name"),
            Registration,
            4618,
            vec![
                s("name", 256).required(),
                memo("description"),
                s("url", 2000),
                choice(
                    "contract",
                    &[
                        (1, "OneWay"),
                        (2, "Queue"),
                        (3, "Rest"),
                        (4, "TwoWay"),
                        (5, "Topic"),
                        (6, "Queue (Persistent)"),
                        (7, "Event Hub"),
                        (8, "Webhook"),
                        (9, "Event Grid"),
                    ],
                ),
                choice(
                    "authtype",
                    &[(4, "WebhookKey"), (5, "HttpHeader"), (6, "HttpQueryString")],
                ),
                memo("authvalue").write_only(),
                boolean("isauthvalueset").read_only(),
                choice(
                    "messageformat",
                    &[(1, "BinaryXML"), (2, "Json"), (3, "TextXML")],
                ),
                choice("userclaim", &[(1, "None"), (2, "UserId")]),
                // herald's own: Standard Webhooks signing (write-only secret;
                // the previous one stays valid until its grace period ends).
                s("herald_signingsecret", 200).write_only(),
                boolean("herald_issigningsecretset").read_only(),
                s("herald_previoussigningsecret", 200).write_only(),
                dt("herald_previoussecretexpireson").read_only(),
                s("namespaceaddress", 2000),
                s("path", 160),
                s("solutionnamespace", 160),
            ],
            false,
        ),
        table(
            "sdkmessage",
            "sdkmessages",
            Some("name"),
            System,
            4606,
            vec![
                s("name", 256),
                s("categoryname", 25),
                boolean("isprivate"),
                boolean("customizationlevel"),
            ],
            false,
        ),
        table(
            "sdkmessagefilter",
            "sdkmessagefilters",
            Some("name"),
            System,
            4607,
            vec![
                s("name", 256),
                lookup("sdkmessageid", "sdkmessage").relationship("sdkmessageid_sdkmessagefilter"),
                s("primaryobjecttypecode", 64),
                s("secondaryobjecttypecode", 64),
                boolean("iscustomprocessingstepallowed"),
                boolean("isvisible"),
            ],
            false,
        ),
        table(
            "plugintype",
            "plugintypes",
            Some("name"),
            System,
            4602,
            vec![
                s("name", 256),
                s("friendlyname", 256),
                s("typename", 256),
                memo("description"),
            ],
            false,
        ),
        table(
            "sdkmessageprocessingstep",
            "sdkmessageprocessingsteps",
            Some("name"),
            Registration,
            4608,
            vec![
                s("name", 256),
                memo("description"),
                lookup("sdkmessageid", "sdkmessage")
                    .relationship("sdkmessageid_sdkmessageprocessingstep"),
                lookup("sdkmessagefilterid", "sdkmessagefilter")
                    .relationship("sdkmessagefilterid_sdkmessageprocessingstep"),
                lookup("eventhandler", "serviceendpoint")
                    .nav("eventhandler_serviceendpoint")
                    .relationship("serviceendpoint_sdkmessageprocessingstep"),
                lookup("plugintypeid", "plugintype")
                    .relationship("plugintype_sdkmessageprocessingstep"),
                choice(
                    "stage",
                    &[
                        (10, "Pre-validation"),
                        (20, "Pre-operation"),
                        (40, "Post-operation"),
                    ],
                ),
                choice("mode", &[(0, "Synchronous"), (1, "Asynchronous")]),
                int("rank"),
                s("filteringattributes", 100_000),
                boolean("asyncautodelete"),
                choice(
                    "supporteddeployment",
                    &[
                        (0, "Server Only"),
                        (1, "Microsoft Dynamics 365 Client for Outlook Only"),
                        (2, "Both"),
                    ],
                ),
                lookup("impersonatinguserid", "systemuser")
                    .relationship("impersonatinguserid_sdkmessageprocessingstep"),
                s("configuration", 100_000),
                choice("statecode", &[(0, "Enabled"), (1, "Disabled")]),
                choice("statuscode", &[(1, "Enabled"), (2, "Disabled")]),
            ],
            false,
        ),
        table(
            "sdkmessageprocessingstepimage",
            "sdkmessageprocessingstepimages",
            Some("name"),
            Registration,
            4615,
            vec![
                s("name", 256),
                lookup("sdkmessageprocessingstepid", "sdkmessageprocessingstep")
                    .relationship("sdkmessageprocessingstepid_sdkmessageprocessingstepimage"),
                choice(
                    "imagetype",
                    &[(0, "PreImage"), (1, "PostImage"), (2, "Both")],
                ),
                s("entityalias", 256),
                s("attributes", 100_000),
                s("messagepropertyname", 256),
                memo("description"),
            ],
            false,
        ),
        table(
            "asyncoperation",
            "asyncoperations",
            Some("name"),
            System,
            4700,
            vec![
                s("name", 500),
                choice("operationtype", &[(1, "System Event")]),
                choice(
                    "statecode",
                    &[
                        (0, "Ready"),
                        (1, "Suspended"),
                        (2, "Locked"),
                        (3, "Completed"),
                    ],
                ),
                choice(
                    "statuscode",
                    &[
                        (0, "Waiting For Resources"),
                        (10, "Waiting"),
                        (20, "In Progress"),
                        (21, "Pausing"),
                        (22, "Canceling"),
                        (30, "Succeeded"),
                        (31, "Failed"),
                        (32, "Canceled"),
                    ],
                ),
                lookup("owningextensionid", "sdkmessageprocessingstep")
                    .relationship("sdkmessageprocessingstepid_asyncoperation"),
                s("primaryentitytype", 64),
                s("messagename", 256),
                guid("regardingobjectid"),
                guid("correlationid"),
                guid("requestid"),
                int("depth"),
                memo("message"),
                memo("friendlymessage"),
                int("errorcode"),
                int("retrycount"),
                dt("startedon"),
                dt("completedon"),
                int("executiontimespan"),
                memo("data"),
                dt("postponeuntil"),
            ],
            false,
        ),
    ]
}

// ---- Business Central (SPEC §5, seed 004) ----

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
mod bc_tests {
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
