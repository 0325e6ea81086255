//! Document lines: BC entities that live inside a document of another
//! entity — `salesInvoices(<id>)/salesInvoiceLines` — each tied to its
//! document by a GUID field (`documentId`) and ordered by `sequence`.
//! They are not among the 22 entities with webhook support (seed 004: BC
//! serves them from a temporary table, which webhooks cannot watch); a
//! change to a line changes its document's totals, and that Update of the
//! document is what subscribers of the document's entity are notified of.
//!
//! The fields are the v2.0 reference's
//! (`api-reference/v2.0/resources/dynamics_salesinvoiceline.md`); the
//! amounts it marks read-only are computed ([`super::amounts`]).

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

/// The document lines herald holds.
pub const BC_LINES: &[BcLines] = &[BcLines {
    entity: BcEntity {
        name: "salesInvoiceLines",
        type_name: "salesInvoiceLine",
        logical: "bc_salesinvoiceline",
        fields: &[
            ("documentId", G),
            ("sequence", I),
            ("itemId", G),
            ("accountId", G),
            ("lineType", T(20)),
            ("lineObjectNumber", T(20)),
            ("description", T(100)),
            ("unitOfMeasureId", G),
            ("unitOfMeasureCode", T(10)),
            ("unitPrice", N),
            ("quantity", N),
            ("discountAmount", N),
            ("discountPercent", N),
            ("discountAppliedBeforeTax", B),
            ("amountExcludingTax", N),
            ("taxCode", T(20)),
            ("taxPercent", N),
            ("totalTaxAmount", N),
            ("amountIncludingTax", N),
            ("invoiceDiscountAllocation", N),
            ("netAmount", N),
            ("netTaxAmount", N),
            ("netAmountIncludingTax", N),
            ("shipmentDate", D),
            ("itemVariantId", G),
        ],
        navigation: &[
            BcNavigation::to("salesInvoice", "salesInvoices").by_id("documentId"),
            BcNavigation::to("item", "items").by_id("itemId"),
            BcNavigation::to("account", "accounts").by_id("accountId"),
            BcNavigation::to("unitOfMeasure", "unitsOfMeasure")
                .by_id("unitOfMeasureId")
                .by_code("unitOfMeasureCode", "code"),
        ],
        number_series: None,
        defaults: &[],
    },
    document: "salesInvoices",
    document_field: "documentId",
}];

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
