//! Document lines: BC entities that live inside a document of another
//! entity — `salesInvoices(<id>)/salesInvoiceLines` — each tied to its
//! document by a GUID field (`documentId`) and ordered by `sequence`.
//! They are not among the 22 entities with webhook support (seed 004: BC
//! serves them from a temporary table, which webhooks cannot watch); a
//! change to a line changes its document's totals, and that Update of the
//! document is what subscribers of the document's entity are notified of.
//!
//! The fields are the v2.0 reference's
//! (`api-reference/v2.0/resources/dynamics_sales*line.md`: invoice, order,
//! quote and credit memo lines); the amounts it marks read-only are
//! computed ([`super::amounts`]). `purchaseInvoiceLines`
//! (`dynamics_purchaseinvoiceline.md`) are priced by `unitCost` instead of
//! `unitPrice`, and their item defaults to the item's `unitCost`.

use super::{BcEntity, BcField, BcNavigation};
use BcField::{Bool as B, Date as D, Decimal as N, Guid as G, Int as I, Text as T};

/// The lines of one kind of document.
#[derive(Debug, Clone, Copy)]
pub struct BcLines {
    /// The line entity (`salesInvoiceLines`, type `salesInvoiceLine`).
    pub entity: BcEntity,
    /// The entity set of the document (`salesInvoices`).
    pub document: &'static str,
    /// The field of a line holding its document's `id` (`documentId`).
    pub document_field: &'static str,
    /// The field pricing one unit: `unitPrice` on sales lines, `unitCost`
    /// on purchase lines (an item line defaults it from the item's field
    /// of the same name).
    pub price_field: &'static str,
}

/// Fields a client may not write: BC computes them from the others.
pub const COMPUTED_LINE_FIELDS: &[&str] = &[
    "amountExcludingTax",
    "totalTaxAmount",
    "amountIncludingTax",
    "invoiceDiscountAllocation",
    "netAmount",
    "netTaxAmount",
    "netAmountIncludingTax",
];

/// The fields every document line has, in the reference's order, priced
/// by `$price` (`unitPrice` on sales lines, `unitCost` on purchase lines).
macro_rules! line_fields {
    (price: $price:expr; $($extra:expr),* $(,)?) => {
        &[
            ("documentId", G),
            ("sequence", I),
            ("itemId", G),
            ("accountId", G),
            ("lineType", T(20)),
            ("lineObjectNumber", T(20)),
            ("description", T(100)),
            ("unitOfMeasureId", G),
            ("unitOfMeasureCode", T(10)),
            ($price, N),
            ("quantity", N),
            ("discountAmount", N),
            ("discountPercent", N),
            ("discountAppliedBeforeTax", B),
            ("amountExcludingTax", N),
            ("taxCode", T(20)),
            ("taxPercent", N),
            ("totalTaxAmount", N),
            ("amountIncludingTax", N),
            ("netAmount", N),
            ("netTaxAmount", N),
            ("netAmountIncludingTax", N),
            ("itemVariantId", G),
            $($extra),*
        ]
    };
}

/// The navigation of a sales line: its document (`parent`, in `set`),
/// item, account, unit of measure.
macro_rules! sales_line_navigation {
    ($parent:expr, $set:expr) => {
        &[
            BcNavigation::to($parent, $set).by_id("documentId"),
            BcNavigation::to("item", "items").by_id("itemId"),
            BcNavigation::to("account", "accounts").by_id("accountId"),
            BcNavigation::to("unitOfMeasure", "unitsOfMeasure")
                .by_id("unitOfMeasureId")
                .by_code("unitOfMeasureCode", "code"),
        ]
    };
}

const fn sales_lines(
    name: &'static str,
    type_name: &'static str,
    logical: &'static str,
    fields: &'static [(&'static str, BcField)],
    navigation: &'static [BcNavigation],
    document: &'static str,
) -> BcLines {
    BcLines {
        entity: BcEntity {
            name,
            type_name,
            logical,
            fields,
            navigation,
            number_series: None,
            defaults: &[],
        },
        document,
        document_field: "documentId",
        price_field: "unitPrice",
    }
}

/// The fields of a purchase invoice line, in the reference's order.
const PURCHASE_INVOICE_LINE_FIELDS: &[(&str, BcField)] = line_fields![
    price: "unitCost";
    ("invoiceDiscountAllocation", N),
    ("expectedReceiptDate", D),
    ("locationId", G),
];

/// The document lines herald holds: the four sales documents' and the
/// purchase invoice's.
pub const BC_LINES: &[BcLines] = &[
    sales_lines(
        "salesInvoiceLines",
        "salesInvoiceLine",
        "bc_salesinvoiceline",
        line_fields![price: "unitPrice"; ("invoiceDiscountAllocation", N), ("shipmentDate", D)],
        sales_line_navigation!("salesInvoice", "salesInvoices"),
        "salesInvoices",
    ),
    sales_lines(
        "salesOrderLines",
        "salesOrderLine",
        "bc_salesorderline",
        line_fields![
            price: "unitPrice";
            ("invoiceDiscountAllocation", N),
            ("shipmentDate", D),
            ("shippedQuantity", N),
            ("invoicedQuantity", N),
            ("invoiceQuantity", N),
            ("shipQuantity", N),
        ],
        sales_line_navigation!("salesOrder", "salesOrders"),
        "salesOrders",
    ),
    sales_lines(
        "salesQuoteLines",
        "salesQuoteLine",
        "bc_salesquoteline",
        line_fields![price: "unitPrice";],
        sales_line_navigation!("salesQuote", "salesQuotes"),
        "salesQuotes",
    ),
    sales_lines(
        "salesCreditMemoLines",
        "salesCreditMemoLine",
        "bc_salescreditmemoline",
        line_fields![
            price: "unitPrice";
            ("invoiceDiscountAllocation", N),
            ("shipmentDate", D),
            ("locationId", G),
        ],
        sales_line_navigation!("salesCreditMemo", "salesCreditMemos"),
        "salesCreditMemos",
    ),
    BcLines {
        price_field: "unitCost",
        ..sales_lines(
            "purchaseInvoiceLines",
            "purchaseInvoiceLine",
            "bc_purchaseinvoiceline",
            PURCHASE_INVOICE_LINE_FIELDS,
            sales_line_navigation!("purchaseInvoice", "purchaseInvoices"),
            "purchaseInvoices",
        )
    },
];

/// The lines whose entity set is `name` (case-insensitive, as BC).
pub fn bc_lines_named(name: &str) -> Option<&'static BcLines> {
    BC_LINES
        .iter()
        .find(|l| l.entity.name.eq_ignore_ascii_case(name))
}

/// The lines stored in `logical`, if it holds lines.
pub fn bc_lines_of_table(logical: &str) -> Option<&'static BcLines> {
    BC_LINES.iter().find(|l| l.entity.logical == logical)
}

/// The kinds of lines documents of `document` (an entity set) have.
pub fn bc_lines_of(document: &str) -> impl Iterator<Item = &'static BcLines> + '_ {
    BC_LINES.iter().filter(move |l| l.document == document)
}
