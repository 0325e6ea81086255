//! `GET /<set>?sql=SELECT …` — the Dataverse Web API's read-only SQL, as
//! Microsoft's Python client sends it (`client.query.sql()`), translated
//! into the same bound [`Query`] that OData and FetchXML produce. The user's
//! SQL text never reaches the store: it is parsed with `sqlparser` (T-SQL
//! dialect), checked against the subset below, bound to the schema, and
//! the store renders its own SQL from the query model.
//!
//! The subset (what the client documents): `SELECT [DISTINCT] [TOP n]
//! columns FROM table [alias] [[INNER] JOIN | LEFT [OUTER] JOIN table
//! [alias] ON a.x = b.y]… [WHERE …] [GROUP BY columns] [ORDER BY … [ASC |
//! DESC]] [OFFSET n ROWS [FETCH NEXT m ROWS ONLY]]`, the aggregates
//! `COUNT(*)`, `COUNT([DISTINCT] c)`, `SUM`, `AVG`, `MIN`, `MAX`, and in
//! `WHERE` the comparisons `= <> != < <= > >=` of a column with a literal,
//! `AND OR NOT`, parentheses, `[NOT] IN (…)`, `[NOT] LIKE` (`%` and `_`),
//! `IS [NOT] NULL` and `[NOT] BETWEEN`.
//!
//! Everything else is refused with a [`QueryError`] that says what: more
//! than one statement or any `;`, comments, anything but a `SELECT`
//! (DDL, DML, `EXEC`…), `SELECT *`, subqueries, `WITH`, `UNION`, `HAVING`,
//! other joins, functions outside the aggregates, expressions in the
//! select list, and unknown tables or columns.
//!
//! The parts: `statement` (the statement's shape: only what the subset
//! uses may be present), `scope` (`FROM`/`JOIN` → the table and its
//! [`Link`](crate::query::Link)s, and column names), `condition` (`WHERE`,
//! literals bound to column types) and `projection` (the select list,
//! `GROUP BY`, `ORDER BY`, aggregates).

mod condition;
mod projection;
mod scope;
mod statement;
#[cfg(test)]
mod tests;

use sqlparser::dialect::MsSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

use crate::error::QueryError;
use crate::query::Query;
use crate::schema::Schema;

/// The longest SQL text accepted, in bytes.
pub const MAX_SQL_LEN: usize = 32 * 1024;

/// How deeply expressions may nest (sqlparser refuses deeper ones).
const MAX_DEPTH: usize = 50;

/// Translate one read-only `SELECT` into a bound [`Query`].
pub fn parse_sql(schema: &Schema, sql: &str) -> Result<Query, QueryError> {
    if sql.len() > MAX_SQL_LEN {
        return Err(refuse(format!(
            "The SQL text is longer than {MAX_SQL_LEN} bytes"
        )));
    }
    if sql.trim().is_empty() {
        return Err(refuse("The SQL text is empty"));
    }
    let dialect = MsSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| refuse(format!("The SQL text could not be read: {e}")))?;
    for token in &tokens {
        match token {
            Token::Whitespace(
                Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
            ) => return Err(refuse("Comments are not supported in ?sql=")),
            Token::SemiColon => {
                return Err(refuse(
                    "Only one SELECT statement is supported in ?sql=: remove the ';'",
                ))
            }
            _ => {}
        }
    }
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(MAX_DEPTH)
        .with_tokens(tokens)
        .parse_statements()
        .map_err(|e| refuse(format!("The SQL text is not valid: {e}")))?;
    let statement = match (statements.pop(), statements.is_empty()) {
        (Some(s), true) => s,
        _ => return Err(refuse("Exactly one SELECT statement is supported in ?sql=")),
    };
    statement::translate(schema, &statement)
}

/// A refusal, worded for the client.
fn refuse(message: impl Into<String>) -> QueryError {
    QueryError::new(message)
}
