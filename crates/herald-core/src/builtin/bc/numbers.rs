//! Number series: the `number` a create gets when it leaves it out, as BC's
//! No. Series do (`C00010`, `C00020`, …). A series is a prefix, a first
//! number, a step and a width; the counter behind it lives in the store
//! (one row per company and entity, advanced atomically), so two creates
//! never draw the same number, on any node.
//!
//! The series follow BC's demo company (CRONUS): customers `C00010` and
//! vendors `V00010` by tens, items `1000` by ones; documents as the v2.0
//! reference's examples number them (sales orders `101001`, sales invoices
//! `102001`, purchase invoices `108001`, quotes and credit memos `1001`);
//! employees, which CRONUS numbers by initials, `E00010` by tens.

/// How an entity numbers new records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberSeries {
    pub prefix: &'static str,
    /// The first number drawn.
    pub start: i64,
    /// How far each draw moves on.
    pub step: i64,
    /// Digits, zero-padded (`C` + 5 → `C00010`).
    pub width: usize,
}

impl NumberSeries {
    pub const fn new(prefix: &'static str, start: i64, step: i64, width: usize) -> NumberSeries {
        NumberSeries {
            prefix,
            start,
            step,
            width,
        }
    }

    /// The number as BC writes it (`format(10)` → `C00010`).
    pub fn format(&self, n: i64) -> String {
        format!("{}{:0width$}", self.prefix, n, width = self.width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_cronus() {
        let customers = NumberSeries::new("C", 10, 10, 5);
        assert_eq!(customers.format(10), "C00010");
        assert_eq!(customers.format(120), "C00120");
        assert_eq!(NumberSeries::new("", 1000, 1, 4).format(1001), "1001");
    }
}
