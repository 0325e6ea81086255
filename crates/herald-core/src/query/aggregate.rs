//! Aggregation in the query model: FetchXML `aggregate="true"` and SQL's
//! `GROUP BY` with `COUNT/SUM/AVG/MIN/MAX` both bind to an [`Aggregation`],
//! and the store renders it as one `SELECT … GROUP BY …` whose rows are
//! keyed by each output's alias, as Dataverse returns aggregate results.

use super::ColumnRef;
use crate::schema::{Column, ColumnType};

/// The outputs of an aggregate query, in order, and how its rows are sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Aggregation {
    pub columns: Vec<AggregateColumn>,
    /// Orders by output aliases (each names one of `columns`).
    pub order: Vec<AliasOrder>,
}

/// One returned value of an aggregate row.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateColumn {
    /// The key of the value in each returned row.
    pub alias: String,
    pub kind: AggregateKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AggregateKind {
    /// A grouping key: the column's value, or a part of a date-time.
    GroupBy {
        column: ColumnRef,
        date: Option<DateGrouping>,
    },
    /// The number of rows in the group (`COUNT(*)`, FetchXML `count`).
    CountRows,
    /// `function(column)` over the group's rows; `distinct` uses each
    /// distinct value once (FetchXML `countcolumn` with `distinct`).
    Function {
        function: AggregateFunction,
        column: ColumnRef,
        distinct: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFunction {
    /// Non-null values (FetchXML `countcolumn`, SQL `COUNT(column)`).
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl AggregateFunction {
    pub fn name(self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
        }
    }

    /// Whether the function applies to a column of this type: counting to
    /// any, sums and averages to numbers, minimum and maximum to numbers and
    /// date-times.
    pub fn applies_to(self, column: &Column) -> bool {
        let numeric = matches!(
            column.ty,
            ColumnType::Integer | ColumnType::Decimal | ColumnType::Money
        );
        match self {
            AggregateFunction::Count => true,
            AggregateFunction::Sum | AggregateFunction::Avg => numeric,
            AggregateFunction::Min | AggregateFunction::Max => {
                numeric || column.ty == ColumnType::DateTime
            }
        }
    }
}

/// FetchXML `dategrouping`: a date-time grouped by a part of it (UTC).
/// Each is returned as a number: the year, the quarter 1–4, the month
/// 1–12, the ISO week 1–53, or the day of the month 1–31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateGrouping {
    Year,
    Quarter,
    Month,
    Week,
    Day,
}

impl DateGrouping {
    pub fn parse(s: &str) -> Option<DateGrouping> {
        Some(match s {
            "year" => DateGrouping::Year,
            "quarter" => DateGrouping::Quarter,
            "month" => DateGrouping::Month,
            "week" => DateGrouping::Week,
            "day" => DateGrouping::Day,
            _ => return None,
        })
    }
}

/// `ORDER BY` an output of an aggregate query.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasOrder {
    pub alias: String,
    pub descending: bool,
}
