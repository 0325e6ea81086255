//! The arithmetic of document lines and their roll-up into the document's
//! totals, as Business Central computes them (amounts in the currency's
//! 0.01 precision):
//!
//! - `quantity × unitPrice` is the line's gross amount; the line discount
//!   comes from `discountPercent` (`discountAmount` = gross × % / 100) or,
//!   when the request sets only `discountAmount`, the percent from it;
//! - `amountExcludingTax` = gross − discount; `totalTaxAmount` = that ×
//!   `taxPercent` / 100; `amountIncludingTax` = their sum;
//! - `netAmount` = `amountExcludingTax` − `invoiceDiscountAllocation`, its
//!   tax and total likewise;
//! - the document's `totalAmountExcludingTax`, `totalTaxAmount` and
//!   `totalAmountIncludingTax` are the sums of its lines' net amounts.
//!
//! Not modelled: allocating a document-level invoice discount over the
//! lines (`invoiceDiscountAllocation` stays 0) and prices that include tax.
//! Pure functions, no I/O.

/// What a line's amounts are computed from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineInput {
    pub quantity: f64,
    pub unit_price: f64,
    pub discount_percent: f64,
    pub discount_amount: f64,
    /// The request set `discountAmount` and not `discountPercent`: the
    /// amount decides and the percent follows.
    pub discount_by_amount: bool,
    pub tax_percent: f64,
}

/// A line's computed amounts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LineAmounts {
    pub discount_percent: f64,
    pub discount_amount: f64,
    pub amount_excluding_tax: f64,
    pub total_tax_amount: f64,
    pub amount_including_tax: f64,
    pub invoice_discount_allocation: f64,
    pub net_amount: f64,
    pub net_tax_amount: f64,
    pub net_amount_including_tax: f64,
}

/// A document's totals over its lines.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DocumentTotals {
    pub total_amount_excluding_tax: f64,
    pub total_tax_amount: f64,
    pub total_amount_including_tax: f64,
}

/// Round to the amount precision (0.01), halves away from zero.
pub fn round_amount(x: f64) -> f64 {
    let r = (x * 100.0).round() / 100.0;
    // No "-0" in answers.
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// The amounts of one line.
pub fn line_amounts(input: &LineInput) -> LineAmounts {
    let gross = round_amount(input.quantity * input.unit_price);
    let (discount_percent, discount_amount) = if input.discount_by_amount {
        let pct = if gross != 0.0 {
            ((input.discount_amount / gross * 100.0) * 100_000.0).round() / 100_000.0
        } else {
            0.0
        };
        (pct, round_amount(input.discount_amount))
    } else {
        (
            input.discount_percent,
            round_amount(gross * input.discount_percent / 100.0),
        )
    };
    let amount_excluding_tax = round_amount(gross - discount_amount);
    let total_tax_amount = round_amount(amount_excluding_tax * input.tax_percent / 100.0);
    let invoice_discount_allocation = 0.0;
    let net_amount = round_amount(amount_excluding_tax - invoice_discount_allocation);
    let net_tax_amount = round_amount(net_amount * input.tax_percent / 100.0);
    LineAmounts {
        discount_percent,
        discount_amount,
        amount_excluding_tax,
        total_tax_amount,
        amount_including_tax: round_amount(amount_excluding_tax + total_tax_amount),
        invoice_discount_allocation,
        net_amount,
        net_tax_amount,
        net_amount_including_tax: round_amount(net_amount + net_tax_amount),
    }
}

/// The totals of a document whose lines have these amounts.
pub fn document_totals<'a>(lines: impl IntoIterator<Item = &'a LineAmounts>) -> DocumentTotals {
    let mut t = DocumentTotals::default();
    for l in lines {
        t.total_amount_excluding_tax += l.net_amount;
        t.total_tax_amount += l.net_tax_amount;
        t.total_amount_including_tax += l.net_amount_including_tax;
    }
    DocumentTotals {
        total_amount_excluding_tax: round_amount(t.total_amount_excluding_tax),
        total_tax_amount: round_amount(t.total_tax_amount),
        total_amount_including_tax: round_amount(t.total_amount_including_tax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_with_percent_discount_and_tax() {
        let a = line_amounts(&LineInput {
            quantity: 3.0,
            unit_price: 54.9,
            discount_percent: 10.0,
            tax_percent: 25.0,
            ..Default::default()
        });
        assert_eq!(a.discount_amount, 16.47);
        assert_eq!(a.amount_excluding_tax, 148.23);
        assert_eq!(a.total_tax_amount, 37.06);
        assert_eq!(a.amount_including_tax, 185.29);
        assert_eq!(a.net_amount, 148.23);
        assert_eq!(a.net_amount_including_tax, 185.29);
    }

    #[test]
    fn an_amount_discount_sets_the_percent() {
        let a = line_amounts(&LineInput {
            quantity: 2.0,
            unit_price: 50.0,
            discount_amount: 25.0,
            discount_by_amount: true,
            ..Default::default()
        });
        assert_eq!((a.discount_percent, a.discount_amount), (25.0, 25.0));
        assert_eq!(a.amount_excluding_tax, 75.0);
        let free = line_amounts(&LineInput {
            discount_amount: 5.0,
            discount_by_amount: true,
            ..Default::default()
        });
        assert_eq!(free.discount_percent, 0.0);
    }

    #[test]
    fn totals_sum_the_net_amounts() {
        let lines = [
            line_amounts(&LineInput {
                quantity: 1.0,
                unit_price: 10.0,
                tax_percent: 10.0,
                ..Default::default()
            }),
            line_amounts(&LineInput {
                quantity: 2.0,
                unit_price: 0.1,
                ..Default::default()
            }),
        ];
        let t = document_totals(&lines);
        assert_eq!(t.total_amount_excluding_tax, 10.2);
        assert_eq!(t.total_tax_amount, 1.0);
        assert_eq!(t.total_amount_including_tax, 11.2);
        assert_eq!(document_totals(&[]), DocumentTotals::default());
    }
}
