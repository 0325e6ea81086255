//! The inserts a write transaction has not sent yet ([`Batch`], see
//! [`crate::Tx`]), with rows of the same shape merged into multi-row
//! `INSERT`s.
//!
//! A bulk message writes hundreds of rows of the same few shapes (its
//! records, and per record a System Job, its payload and its queue entry).
//! One statement per row costs one statement compilation per row on
//! SQLite (the batch text is new every time, so nothing is cached) and a
//! `WITH` per row on PostgreSQL; here a row whose `INSERT INTO t (cols)
//! VALUES ` head matches an earlier statement of the batch joins it as one
//! more `(…)` row. The order of the rows of different tables changes: no
//! herald table has a foreign key, and every statement of the batch runs
//! before anything reads, so nothing can tell.
//!
//! Each statement keeps its own parameters numbered from `$1`; the batch is
//! numbered once, in text order, when it is sent ([`Batch::take`]), which
//! keeps SQLite's anonymous placeholders ([`Sql::sqlite_text`]) possible.

use std::collections::HashMap;

use crate::sql::Sql;

/// Parameters one merged statement binds at most (SQLite allows 32 766).
const MERGE_PARAMS: usize = 8_000;

/// Inserts waiting to be sent.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    stmts: Vec<Sql>,
    /// Head (`INSERT INTO t (cols) VALUES `) → the statement rows of that
    /// shape join now.
    open: HashMap<String, usize>,
    params: usize,
    text: usize,
}

impl Batch {
    pub(crate) fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// Parameters bound so far.
    pub(crate) fn params(&self) -> usize {
        self.params
    }

    /// Text of the statements so far.
    pub(crate) fn text_len(&self) -> usize {
        self.text
    }

    /// Add one statement (numbered from `$1`); a single-row `INSERT … VALUES
    /// (…)` joins an earlier one of the same head.
    pub(crate) fn push(&mut self, stmt: Sql) {
        self.params += stmt.params.len();
        self.text += stmt.text.len();
        if let Some((head, row)) = split_row(&stmt.text) {
            if let Some(&i) = self.open.get(head) {
                let into = &mut self.stmts[i];
                if into.params.len() + stmt.params.len() <= MERGE_PARAMS {
                    into.text.push_str(", ");
                    push_shifted(&mut into.text, row, into.params.len());
                    into.params.extend(stmt.params);
                    return;
                }
            }
            self.open.insert(head.to_string(), self.stmts.len());
        }
        self.stmts.push(stmt);
    }

    /// The statements as one text, numbered in order: SQLite's separated
    /// by `;`, PostgreSQL's each a `WITH` of one statement ending in `tail`.
    pub(crate) fn take(&mut self, pg: bool, tail: &str) -> Sql {
        joined(self.take_each(), pg, tail)
    }

    /// The statements one by one, each numbered from `$1` (the SQLite
    /// writer runs them as cached prepared statements, `prepared`).
    pub(crate) fn take_each(&mut self) -> Vec<Sql> {
        self.open.clear();
        self.params = 0;
        self.text = 0;
        std::mem::take(&mut self.stmts)
    }
}

/// Statements as one text, numbered in order: SQLite's separated by `;`,
/// PostgreSQL's each a `WITH` of one statement ending in `tail`.
pub(crate) fn joined(stmts: Vec<Sql>, pg: bool, tail: &str) -> Sql {
    let mut out = Sql::default();
    for (i, stmt) in stmts.into_iter().enumerate() {
        if pg {
            out.text
                .push_str(&format!("{}b{i} AS (", if i == 0 { "WITH " } else { ", " }));
        }
        push_shifted(&mut out.text, &stmt.text, out.params.len());
        out.params.extend(stmt.params);
        out.text.push_str(if pg { ")" } else { ";\n" });
    }
    if pg && !out.text.is_empty() {
        out.text.push_str(tail);
    }
    out
}

/// `INSERT INTO t (cols) VALUES ` and `(…)` of a statement that inserts one
/// row and nothing else; None for anything else.
fn split_row(text: &str) -> Option<(&str, &str)> {
    if !text.starts_with("INSERT INTO ") || text.contains('\'') {
        return None;
    }
    let at = text.find(") VALUES (")? + ") VALUES ".len();
    let (head, row) = text.split_at(at);
    // The row is one parenthesised list, closed by its last character.
    let mut depth = 0i32;
    for (i, c) in row.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 != row.len() {
                    return None;
                }
            }
            _ => {}
        }
    }
    (depth == 0 && row.ends_with(')')).then_some((head, row))
}

/// Append `text` with every placeholder `$n` renumbered `$(n + by)`.
fn push_shifted(out: &mut String, text: &str, by: usize) {
    if by == 0 {
        out.push_str(text);
        return;
    }
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                n = n.saturating_mul(10).saturating_add(d as usize);
                chars.next();
            }
            out.push_str(&(n + by).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Param;

    fn insert(table: &str, a: i64, b: i64) -> Sql {
        let mut sql = Sql::default();
        sql.push(&format!("INSERT INTO {table} (a, b) VALUES ("))
            .bind(Param::int(a))
            .push(", ")
            .bind(Param::int(b))
            .push(")");
        sql
    }

    #[test]
    fn rows_of_one_shape_share_a_statement_numbered_in_text_order() {
        let mut batch = Batch::default();
        batch.push(insert("t", 1, 2));
        batch.push(insert("u", 3, 4));
        batch.push(insert("t", 5, 6));
        let mut other = Sql::default();
        other
            .push("INSERT INTO t (a, b) VALUES (")
            .bind(Param::int(7))
            .push(", 0) ON CONFLICT (a) DO NOTHING");
        batch.push(other);
        assert_eq!(batch.params(), 7);
        let sql = batch.take(false, "");
        assert_eq!(
            sql.text,
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4);\n\
             INSERT INTO u (a, b) VALUES ($5, $6);\n\
             INSERT INTO t (a, b) VALUES ($7, 0) ON CONFLICT (a) DO NOTHING;\n"
        );
        let ints: Vec<Param> = [1, 2, 5, 6, 3, 4, 7].into_iter().map(Param::int).collect();
        assert_eq!(sql.params, ints);
        assert_eq!(
            sql.sqlite_text(),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?);\n\
             INSERT INTO u (a, b) VALUES (?, ?);\n\
             INSERT INTO t (a, b) VALUES (?, 0) ON CONFLICT (a) DO NOTHING;\n"
        );
        assert!(batch.is_empty());
    }

    #[test]
    fn postgres_statements_are_withs_ending_in_the_tail() {
        let mut batch = Batch::default();
        batch.push(insert("t", 1, 2));
        batch.push(insert("u", 3, 4));
        batch.push(insert("t", 5, 6));
        let sql = batch.take(true, " SELECT 1");
        assert_eq!(
            sql.text,
            "WITH b0 AS (INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)), \
             b1 AS (INSERT INTO u (a, b) VALUES ($5, $6)) SELECT 1"
        );
        assert_eq!(batch.take(true, " SELECT 1").text, "");
    }

    #[test]
    fn a_full_statement_takes_no_more_rows() {
        let mut batch = Batch::default();
        for i in 0..(MERGE_PARAMS as i64 / 2 + 1) {
            batch.push(insert("t", i, i));
        }
        let sql = batch.take(false, "");
        assert_eq!(sql.text.matches("INSERT INTO").count(), 2);
        assert_eq!(sql.params.len(), MERGE_PARAMS + 2);
    }
}
