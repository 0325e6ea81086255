//! Tests of the `?sql=` translation: the subset becomes the query model
//! (columns, joins as links, conditions, aggregates, limits), and
//! everything else is refused.

use super::parse_sql;
use crate::query::{
    AggregateColumn, AggregateFunction, AggregateKind, AliasOrder, ColumnRef, CompareOp, Condition,
    Order,
};
use crate::value::Value;
use crate::{Query, QueryError, Schema};

fn parse(sql: &str) -> Result<Query, QueryError> {
    let schema = Schema::build(&[]).expect("schema");
    parse_sql(&schema, sql)
}

#[test]
fn a_plain_select_with_top_where_and_order() {
    let q = parse(
        "SELECT TOP 10 name, revenue AS r FROM account WHERE name LIKE 'Con%' AND (numberofemployees >= 5 OR revenue IS NULL) AND NOT statecode = 1 ORDER BY name DESC",
    )
    .unwrap();
    assert_eq!(q.table, "account");
    assert_eq!(q.select, ["name", "revenue"]);
    assert_eq!(q.select_aliases, [("revenue".to_string(), "r".to_string())]);
    assert_eq!(q.top, Some(10));
    assert_eq!(
        q.order,
        [Order {
            column: ColumnRef::new("name"),
            descending: true
        }]
    );
    assert_eq!(
        q.filter,
        Some(Condition::And(vec![
            Condition::Like {
                column: ColumnRef::new("name"),
                pattern: "Con%".into(),
                negated: false
            },
            Condition::Or(vec![
                Condition::Compare {
                    column: ColumnRef::new("numberofemployees"),
                    op: CompareOp::Ge,
                    value: Value::Int(5)
                },
                Condition::Null {
                    column: ColumnRef::new("revenue"),
                    negated: false
                },
            ]),
            Condition::Not(Box::new(Condition::Compare {
                column: ColumnRef::new("statecode"),
                op: CompareOp::Eq,
                value: Value::Int(1)
            })),
        ]))
    );
}

#[test]
fn in_between_literals_on_the_left_and_offset_fetch() {
    let q = parse(
        "select distinct a.name from account a where 5 < a.numberofemployees and a.name in ('x', N'y') and a.revenue not between 1 and 2.5 order by a.name offset 20 rows fetch next 10 rows only",
    )
    .unwrap();
    // DISTINCT groups by the selected columns.
    assert!(!q.distinct);
    assert_eq!(
        q.aggregate.map(|a| a.columns),
        Some(vec![AggregateColumn {
            alias: "name".into(),
            kind: AggregateKind::GroupBy {
                column: ColumnRef::new("name"),
                date: None
            }
        }])
    );
    assert_eq!((q.top, q.skip), (Some(10), Some(20)));
    let Some(Condition::And(parts)) = q.filter else {
        panic!("{:?}", q.filter)
    };
    assert_eq!(
        parts[0],
        Condition::Compare {
            column: ColumnRef::new("numberofemployees"),
            op: CompareOp::Gt,
            value: Value::Int(5)
        }
    );
    assert!(matches!(&parts[1], Condition::In { values, .. } if values.len() == 2));
    assert!(matches!(&parts[2], Condition::Or(v) if v.len() == 2));
}

#[test]
fn joins_become_nested_links() {
    let q = parse(
        "SELECT c.fullname, a.name AS account, o.name FROM contact c JOIN account a ON c.parentcustomerid = a.accountid LEFT JOIN opportunity o ON o.parentaccountid = a.accountid WHERE a.name = 'Contoso' ORDER BY a.name",
    )
    .unwrap();
    assert_eq!(q.table, "contact");
    assert_eq!(q.select, ["fullname"]);
    assert_eq!(q.links.len(), 1);
    let a = &q.links[0];
    assert_eq!(
        (
            a.table.as_str(),
            a.from.as_str(),
            a.to.as_str(),
            a.alias.as_str(),
            a.outer
        ),
        ("account", "accountid", "parentcustomerid", "a", false)
    );
    assert_eq!(a.select, ["name"]);
    assert_eq!(a.links.len(), 1);
    let o = &a.links[0];
    assert_eq!(
        (o.table.as_str(), o.from.as_str(), o.to.as_str(), o.outer),
        ("opportunity", "parentaccountid", "accountid", true)
    );
    assert_eq!(
        q.select_aliases,
        [("a.name".to_string(), "account".to_string())]
    );
    assert_eq!(q.order[0].column, ColumnRef::linked("a", "name"));
    assert!(
        matches!(&q.filter, Some(Condition::Compare { column, .. }) if *column == ColumnRef::linked("a", "name"))
    );
}

#[test]
fn the_clients_join_with_aggregation() {
    let q = parse(
        "SELECT a.name, COUNT(c.contactid) as cnt FROM account a JOIN contact c ON a.accountid = c.parentcustomerid GROUP BY a.name ORDER BY cnt DESC",
    )
    .unwrap();
    assert_eq!(q.table, "account");
    assert_eq!(q.links[0].alias, "c");
    let a = q.aggregate.expect("aggregate");
    assert_eq!(
        a.columns,
        [
            AggregateColumn {
                alias: "name".into(),
                kind: AggregateKind::GroupBy {
                    column: ColumnRef::new("name"),
                    date: None
                }
            },
            AggregateColumn {
                alias: "cnt".into(),
                kind: AggregateKind::Function {
                    function: AggregateFunction::Count,
                    column: ColumnRef::linked("c", "contactid"),
                    distinct: false
                }
            },
        ]
    );
    assert_eq!(
        a.order,
        [AliasOrder {
            alias: "cnt".into(),
            descending: true
        }]
    );
}

#[test]
fn aggregates_without_group_by_and_default_aliases() {
    let q = parse(
        "SELECT COUNT(*), SUM(revenue), AVG(numberofemployees), MIN(createdon), MAX(revenue), COUNT(DISTINCT name) AS names FROM account",
    )
    .unwrap();
    let aliases: Vec<String> = q
        .aggregate
        .expect("aggregate")
        .columns
        .into_iter()
        .map(|c| c.alias)
        .collect();
    assert_eq!(
        aliases,
        [
            "count",
            "sum_revenue",
            "avg_numberofemployees",
            "min_createdon",
            "max_revenue",
            "names"
        ]
    );
}

#[test]
fn brackets_and_case_do_not_matter() {
    let q = parse("SELECT [Name] FROM [dbo].[Account] WHERE [NAME] = 'x'").unwrap();
    assert_eq!(
        (q.table.as_str(), q.select.as_slice()),
        ("account", &["name".to_string()][..])
    );
}

/// Statements the subset refuses, each with a word its error must
/// contain (`refused.tsv`, shared with the HTTP tests).
pub(crate) fn refused() -> Vec<(&'static str, &'static str)> {
    include_str!("refused.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .collect()
}

#[test]
fn refuses_everything_outside_the_subset() {
    let mut wrong = Vec::new();
    let refused = refused();
    for (sql, word) in &refused {
        match parse(sql) {
            Ok(q) => wrong.push(format!("{sql} was accepted: {q:?}")),
            Err(e) if !e.message.contains(word) => {
                wrong.push(format!("{sql}: '{}' does not say '{word}'", e.message))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(refused.len() >= 50, "{}", refused.len());
    assert!(parse("").is_err_and(|e| e.message.contains("empty")));
}

#[test]
fn garbage_and_deep_nesting_never_panic() {
    let deep = format!(
        "SELECT name FROM account WHERE {}name = 'x'{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(parse(&deep).is_err());
    let deep_not = format!(
        "SELECT name FROM account WHERE {}name = 'x'",
        "NOT ".repeat(5000)
    );
    assert!(parse(&deep_not).is_err());
    for s in [
        "SELECT",
        "SELECT FROM",
        "SELECT name FROM",
        "'",
        "\"",
        "[",
        "SELECT name FROM account WHERE",
        "\0",
        "SELECT name FROM account WHERE name = '\0'",
    ] {
        assert!(parse(s).is_err(), "{s}");
    }
}
