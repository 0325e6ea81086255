//! `FROM t [alias] [JOIN u [alias] ON …]…`: the primary table and its joins
//! as [`Link`]s (nested under the table each `ON` joins to, as FetchXML's
//! `<link-entity>` nest), and the resolution of column names — `column`,
//! `alias.column` or `table.column` — against them.

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart,
    TableFactor, TableWithJoins,
};

use super::refuse;
use crate::error::QueryError;
use crate::query::{ColumnRef, Link};
use crate::schema::{Column, Schema, Table};

/// One table of the `FROM` clause.
struct Source<'s> {
    table: &'s Table,
    /// The name SQL uses for it: its alias, or the table's name.
    name: String,
    /// `None` for the primary table, else the link's alias.
    link_alias: Option<String>,
}

/// A join, before the links are nested.
struct Join {
    link: Link,
    /// Index in `Scope::sources` of the table its `ON` joins to.
    parent: usize,
}

/// The tables a statement reads and its joins.
pub(super) struct Scope<'s> {
    pub(super) schema: &'s Schema,
    sources: Vec<Source<'s>>,
    joins: Vec<Join>,
}

/// A column as resolved: where it is and what it is.
pub(super) struct Resolved<'s> {
    pub(super) column_ref: ColumnRef,
    pub(super) column: &'s Column,
    /// Index of its table in the scope (0 is the primary table).
    pub(super) source: usize,
}

impl<'s> Scope<'s> {
    pub(super) fn from_clause(
        schema: &'s Schema,
        from: &[TableWithJoins],
    ) -> Result<Scope<'s>, QueryError> {
        let [from] = from else {
            return Err(refuse(if from.is_empty() {
                "A FROM clause is needed"
            } else {
                "Only one table may follow FROM (comma joins are not supported): use JOIN … ON"
            }));
        };
        let mut scope = Scope {
            schema,
            sources: Vec::new(),
            joins: Vec::new(),
        };
        let (table, name) = scope.table_factor(&from.relation)?;
        scope.sources.push(Source {
            table,
            name,
            link_alias: None,
        });
        for join in &from.joins {
            if join.global {
                return Err(refuse("GLOBAL JOIN is not supported"));
            }
            let (outer, constraint) = match &join.join_operator {
                JoinOperator::Join(c) | JoinOperator::Inner(c) => (false, c),
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (true, c),
                other => {
                    return Err(refuse(format!(
                        "Only INNER JOIN and LEFT JOIN are supported, not {}",
                        join_name(other)
                    )))
                }
            };
            let JoinConstraint::On(on) = constraint else {
                return Err(refuse("A JOIN needs ON a.column = b.column"));
            };
            let (table, name) = scope.table_factor(&join.relation)?;
            if scope.sources.iter().any(|s| s.name == name) {
                return Err(refuse(format!(
                    "The table name or alias '{name}' is used twice: give each table its own alias"
                )));
            }
            let index = scope.sources.len();
            scope.sources.push(Source {
                table,
                name: name.clone(),
                link_alias: Some(name.clone()),
            });
            let (from_column, parent, to_column) = scope.join_columns(on, index)?;
            scope.joins.push(Join {
                link: Link {
                    table: table.logical_name.clone(),
                    from: from_column,
                    to: to_column,
                    alias: name,
                    outer,
                    select: Vec::new(),
                    filter: None,
                    order: Vec::new(),
                    links: Vec::new(),
                },
                parent,
            });
        }
        Ok(scope)
    }

    /// The primary table.
    pub(super) fn table(&self) -> &'s Table {
        self.sources[0].table
    }

    /// The joins as nested links; `select` adds each link's selected
    /// columns (by index of its table in the scope).
    pub(super) fn links(&self, mut select: impl FnMut(usize) -> Vec<String>) -> Vec<Link> {
        let mut built: Vec<Option<Link>> = self
            .joins
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let mut link = j.link.clone();
                link.select = select(i + 1);
                Some(link)
            })
            .collect();
        // A join's parent always comes before it: attach from the last.
        for i in (0..built.len()).rev() {
            let parent = self.joins[i].parent;
            if parent > 0 {
                if let Some(child) = built[i].take() {
                    if let Some(Some(p)) = built.get_mut(parent - 1) {
                        p.links.insert(0, child);
                    }
                }
            }
        }
        built.into_iter().flatten().collect()
    }

    /// A column named by `column`, `alias.column` or `table.column`.
    pub(super) fn column(&self, expr: &Expr) -> Result<Resolved<'s>, QueryError> {
        let (qualifier, name) = match expr {
            Expr::Identifier(id) => (None, id),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, c] => (Some(q), c),
                _ => {
                    return Err(refuse(format!(
                        "'{expr}' is not a column: use column or alias.column"
                    )))
                }
            },
            _ => {
                return Err(refuse(format!(
                    "'{expr}' is not supported here: name a column"
                )))
            }
        };
        let name = lower(name);
        let readable = |s: &Source<'s>| s.table.column(&name).filter(|c| c.readable());
        let found: Vec<(usize, &'s Column)> = match qualifier {
            Some(q) => {
                let q = lower(q);
                let (index, source) = self
                    .sources
                    .iter()
                    .enumerate()
                    .find(|(_, s)| s.name == q)
                    .ok_or_else(|| {
                        refuse(format!(
                            "'{q}' does not name a table or alias of the FROM clause"
                        ))
                    })?;
                readable(source).map(|c| (index, c)).into_iter().collect()
            }
            None => self
                .sources
                .iter()
                .enumerate()
                .filter_map(|(i, s)| readable(s).map(|c| (i, c)))
                .collect(),
        };
        match found.as_slice() {
            [(source, column)] => Ok(Resolved {
                column_ref: match &self.sources[*source].link_alias {
                    Some(a) => ColumnRef::linked(a.clone(), column.name.clone()),
                    None => ColumnRef::new(column.name.clone()),
                },
                column,
                source: *source,
            }),
            [] => Err(refuse(format!(
                "The column '{expr}' does not exist on {}",
                match qualifier {
                    Some(q) => format!("'{}'", lower(q)),
                    None => self
                        .sources
                        .iter()
                        .map(|s| format!("'{}'", s.table.logical_name))
                        .collect::<Vec<_>>()
                        .join(" or "),
                }
            ))),
            _ => Err(refuse(format!(
                "The column '{name}' is ambiguous: qualify it with a table alias"
            ))),
        }
    }

    fn table_factor(&self, factor: &TableFactor) -> Result<(&'s Table, String), QueryError> {
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            with_ordinality,
            partitions,
            json_path,
            sample,
            index_directives,
            inheritance,
        } = factor
        else {
            return Err(refuse(match factor {
                TableFactor::Derived { .. } => "Subqueries are not supported in ?sql=",
                _ => "Only tables may follow FROM and JOIN",
            }));
        };
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || *with_ordinality
            || !partitions.is_empty()
            || json_path.is_some()
            || sample.is_some()
            || !index_directives.is_empty()
            || inheritance.is_some()
        {
            return Err(refuse(format!(
                "Table functions and table hints are not supported ('{name}')"
            )));
        }
        let logical = table_name(name)?;
        let table = self
            .schema
            .table(&logical)
            .ok_or_else(|| refuse(format!("The table '{logical}' does not exist")))?;
        let sql_name = match alias {
            None => logical,
            Some(a) => {
                if !a.columns.is_empty() {
                    return Err(refuse("Column aliases on a table are not supported"));
                }
                lower(&a.name)
            }
        };
        Ok((table, sql_name))
    }

    /// `ON a.x = b.y`: one side a column of the table being joined (index
    /// `joined`), the other of a table before it. Returns (column of the
    /// joined table, index of the parent, column of the parent).
    fn join_columns(
        &self,
        on: &Expr,
        joined: usize,
    ) -> Result<(String, usize, String), QueryError> {
        let on = strip_nested(on);
        let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = on
        else {
            return Err(refuse(format!(
                "JOIN … ON supports one equality of two columns, not '{on}'"
            )));
        };
        let (l, r) = (self.column(left)?, self.column(right)?);
        let (mine, theirs) = match (l.source == joined, r.source == joined) {
            (true, false) => (l, r),
            (false, true) => (r, l),
            _ => {
                return Err(refuse(format!(
                    "JOIN … ON must compare a column of the joined table with one of a table before it: '{on}'"
                )))
            }
        };
        if theirs.source > joined {
            return Err(refuse(format!("'{on}' names a table joined later")));
        }
        Ok((
            mine.column.name.clone(),
            theirs.source,
            theirs.column.name.clone(),
        ))
    }
}

fn strip_nested(mut e: &Expr) -> &Expr {
    while let Expr::Nested(inner) = e {
        e = inner;
    }
    e
}

/// A table's logical name from `name` or `schema.name` (only `dbo`).
fn table_name(name: &ObjectName) -> Result<String, QueryError> {
    let parts: Vec<&Ident> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(id) => Ok(id),
            ObjectNamePart::Function(_) => Err(refuse(format!("'{name}' is not a table name"))),
        })
        .collect::<Result<_, _>>()?;
    match parts.as_slice() {
        [t] => Ok(lower(t)),
        [s, t] if lower(s) == "dbo" => Ok(lower(t)),
        _ => Err(refuse(format!("'{name}' is not a table name"))),
    }
}

/// SQL names are case-insensitive; the schema's are lower case.
pub(super) fn lower(id: &Ident) -> String {
    id.value.to_ascii_lowercase()
}

fn join_name(op: &JoinOperator) -> &'static str {
    match op {
        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => "RIGHT JOIN",
        JoinOperator::FullOuter(_) => "FULL OUTER JOIN",
        JoinOperator::CrossJoin(_) => "CROSS JOIN",
        JoinOperator::CrossApply | JoinOperator::OuterApply => "APPLY",
        _ => "this join",
    }
}
