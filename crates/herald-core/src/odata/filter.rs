//! The `$filter` parser: OData v4 boolean expressions (the SPEC §2 subset)
//! bound to a table's columns and typed into [`Condition`]s.
//!
//! Grammar (precedence from loosest to tightest: `or`, `and`, `not`,
//! comparison):
//!
//! ```text
//! or_expr    := and_expr ( "or" and_expr )*
//! and_expr   := unary ( "and" unary )*
//! unary      := "not" unary | primary
//! primary    := "(" or_expr ")"
//!             | ("contains" | "startswith" | "endswith") "(" property "," value ")"
//!             | property ("eq"|"ne"|"gt"|"ge"|"lt"|"le") value
//!             | property "in" "(" value ( "," value )* ")"
//! value      := 'string' | integer | decimal | true | false | null
//!             | GUID | date | date-time | @alias
//! ```
//!
//! `not` applies to the condition that follows it (`not name eq 'x'` is
//! `not (name eq 'x')`), which is what Dataverse clients mean by it.
//! Keywords and function names are matched case-insensitively.

use std::collections::BTreeMap;

use crate::error::QueryError;
use crate::query::{escape_like, ColumnRef, CompareOp, Condition};
use crate::schema::{Column, ColumnType, Table};

use super::context::Ctx;
use super::lexer::{tokenize, Tok, Token};
use super::literal::{bind_literal, classify_word, Literal};
use super::names::resolve_property;

/// How deeply parentheses and `not` may nest, so hostile input cannot
/// exhaust the stack.
pub const MAX_FILTER_DEPTH: usize = 100;

/// Parse and bind a `$filter` expression against `table`. `aliases` are the
/// parameter aliases of the request (names without `@`).
pub(crate) fn parse_filter(
    table: &Table,
    text: &str,
    aliases: &BTreeMap<String, String>,
    ctx: &Ctx,
) -> Result<Condition, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let tokens = tokenize(&chars, ctx)?;
    let eof = Token {
        tok: Tok::Eof,
        pos: chars.len(),
    };
    let mut parser = Parser {
        tokens,
        idx: 0,
        eof,
        table,
        aliases,
        ctx,
        depth: 0,
    };
    let cond = parser.parse_or()?;
    let next = parser.peek();
    if next.tok != Tok::Eof {
        return Err(ctx.syntax(
            next.pos,
            format!(
                "expected 'and', 'or' or the end of the expression but found {}",
                next.tok.describe()
            ),
        ));
    }
    Ok(cond)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    idx: usize,
    /// Returned by `peek`/`next` past the end (the token list also ends
    /// with an `Eof`, this just avoids indexing).
    eof: Token,
    table: &'a Table,
    aliases: &'a BTreeMap<String, String>,
    ctx: &'a Ctx<'a>,
    depth: usize,
}

#[derive(Clone, Copy)]
enum LikeKind {
    Contains,
    StartsWith,
    EndsWith,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.idx).unwrap_or(&self.eof)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.idx < self.tokens.len() {
            self.idx += 1;
        }
        t
    }

    /// Whether the next token is the keyword `kw` (case-insensitive).
    fn at_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn enter(&mut self, pos: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(self.ctx.error(
                pos,
                format!(
                    "The $filter expression is nested more than {MAX_FILTER_DEPTH} levels deep"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_or(&mut self) -> Result<Condition, QueryError> {
        let mut items = vec![self.parse_and()?];
        while self.at_keyword("or") {
            self.next();
            items.push(self.parse_and()?);
        }
        Ok(combine(items, Condition::Or))
    }

    fn parse_and(&mut self) -> Result<Condition, QueryError> {
        let mut items = vec![self.parse_unary()?];
        while self.at_keyword("and") {
            self.next();
            items.push(self.parse_unary()?);
        }
        Ok(combine(items, Condition::And))
    }

    fn parse_unary(&mut self) -> Result<Condition, QueryError> {
        // `not` followed by an operator would be a column named "not";
        // no table has one, so `not` is always the keyword.
        if self.at_keyword("not") {
            let t = self.next();
            self.enter(t.pos)?;
            let inner = self.parse_unary();
            self.leave();
            return Ok(Condition::Not(Box::new(inner?)));
        }
        self.parse_primary()
    }

    fn parse_primary(&mut self) -> Result<Condition, QueryError> {
        let t = self.next();
        match t.tok {
            Tok::LParen => {
                self.enter(t.pos)?;
                let inner = self.parse_or();
                self.leave();
                let inner = inner?;
                let close = self.next();
                if close.tok != Tok::RParen {
                    return Err(self.ctx.syntax(
                        close.pos,
                        format!(
                            "expected ')' to close the '(' at position {} but found {}",
                            self.ctx.base + t.pos,
                            close.tok.describe()
                        ),
                    ));
                }
                Ok(inner)
            }
            Tok::Word(name) if self.peek().tok == Tok::LParen => self.parse_function(name, t.pos),
            Tok::Word(name) => self.parse_comparison(name, t.pos),
            other => Err(self.ctx.syntax(
                t.pos,
                format!(
                    "expected a condition (a column name, a function or '(') but found {}",
                    other.describe()
                ),
            )),
        }
    }

    /// `property op value` or `property in (values)`.
    fn parse_comparison(&mut self, name: String, pos: usize) -> Result<Condition, QueryError> {
        let col = resolve_property(self.table, &name, pos, self.ctx)?;
        let column = ColumnRef::new(col.name.clone());
        let op_tok = self.next();
        let op_word = match &op_tok.tok {
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => String::new(),
        };
        let op = match op_word.as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            "in" => return self.parse_in(col, &name, column),
            _ => {
                return Err(self.ctx.syntax(
                    op_tok.pos,
                    format!(
                        "expected an operator (eq, ne, gt, ge, lt, le or in) after '{name}' but found {}",
                        op_tok.tok.describe()
                    ),
                ))
            }
        };
        let (lit, lit_pos) = self.parse_value(&op_word)?;
        if lit == Literal::Null {
            return match op {
                CompareOp::Eq => Ok(Condition::Null {
                    column,
                    negated: false,
                }),
                CompareOp::Ne => Ok(Condition::Null {
                    column,
                    negated: true,
                }),
                _ => Err(self.ctx.error(
                    lit_pos,
                    format!("null can only be compared with 'eq' or 'ne', not '{op_word}'"),
                )),
            };
        }
        let value = bind_literal(col, &name, &lit).map_err(|m| self.ctx.error(lit_pos, m))?;
        Ok(Condition::Compare { column, op, value })
    }

    /// After `property in`: `( value, … )`.
    fn parse_in(
        &mut self,
        col: &Column,
        name: &str,
        column: ColumnRef,
    ) -> Result<Condition, QueryError> {
        let open = self.next();
        if open.tok != Tok::LParen {
            return Err(self.ctx.syntax(
                open.pos,
                format!("expected '(' after 'in' but found {}", open.tok.describe()),
            ));
        }
        let mut values = Vec::new();
        let mut after = "(".to_string();
        loop {
            let (lit, lit_pos) = self.parse_value(&after)?;
            if lit == Literal::Null {
                return Err(self.ctx.error(
                    lit_pos,
                    "null is not allowed in an 'in' list; use 'eq null' instead",
                ));
            }
            values.push(bind_literal(col, name, &lit).map_err(|m| self.ctx.error(lit_pos, m))?);
            let sep = self.next();
            match sep.tok {
                Tok::Comma => after = ",".to_string(),
                Tok::RParen => break,
                other => {
                    return Err(self.ctx.syntax(
                        sep.pos,
                        format!(
                            "expected ',' or ')' in the 'in' list but found {}",
                            other.describe()
                        ),
                    ))
                }
            }
        }
        Ok(Condition::In {
            column,
            values,
            negated: false,
        })
    }

    /// `contains(property, 'text')` and friends → a LIKE pattern.
    fn parse_function(&mut self, name: String, pos: usize) -> Result<Condition, QueryError> {
        let kind = match name.to_ascii_lowercase().as_str() {
            "contains" => LikeKind::Contains,
            "startswith" => LikeKind::StartsWith,
            "endswith" => LikeKind::EndsWith,
            _ => {
                return Err(self.ctx.error(
                    pos,
                    format!(
                        "The function '{name}' is not supported in $filter (supported: contains, startswith, endswith)"
                    ),
                ))
            }
        };
        self.next(); // the '(' seen by the caller
        let prop = self.next();
        let prop_name = match prop.tok {
            Tok::Word(w) if classify_word(&w) == Ok(None) => w,
            other => {
                return Err(self.ctx.syntax(
                    prop.pos,
                    format!(
                        "expected a column name after '{name}(' but found {}",
                        other.describe()
                    ),
                ))
            }
        };
        let col = resolve_property(self.table, &prop_name, prop.pos, self.ctx)?;
        if !matches!(col.ty, ColumnType::String { .. } | ColumnType::Memo { .. }) {
            return Err(self.ctx.error(
                prop.pos,
                format!(
                    "The function '{name}' needs a text column, but '{prop_name}' is of type {}",
                    col.ty.name()
                ),
            ));
        }
        let comma = self.next();
        if comma.tok != Tok::Comma {
            return Err(self.ctx.syntax(
                comma.pos,
                format!(
                    "expected ',' after '{prop_name}' but found {}",
                    comma.tok.describe()
                ),
            ));
        }
        let (lit, lit_pos) = self.parse_value(",")?;
        let text = match lit {
            Literal::Str(s) => s,
            other => {
                return Err(self.ctx.error(
                    lit_pos,
                    format!(
                        "The function '{name}' needs a string literal in single quotes, but got {}",
                        other.describe()
                    ),
                ))
            }
        };
        let close = self.next();
        if close.tok != Tok::RParen {
            return Err(self.ctx.syntax(
                close.pos,
                format!(
                    "expected ')' to close '{name}(' but found {}",
                    close.tok.describe()
                ),
            ));
        }
        let escaped = escape_like(&text);
        let pattern = match kind {
            LikeKind::Contains => format!("%{escaped}%"),
            LikeKind::StartsWith => format!("{escaped}%"),
            LikeKind::EndsWith => format!("%{escaped}"),
        };
        Ok(Condition::Like {
            column: ColumnRef::new(col.name.clone()),
            pattern,
            negated: false,
        })
    }

    /// A literal or a parameter alias; `after` names what preceded it, for
    /// the message. Returns the literal and its position.
    fn parse_value(&mut self, after: &str) -> Result<(Literal, usize), QueryError> {
        let t = self.next();
        let lit = match t.tok {
            Tok::Str(s) => Literal::Str(s),
            Tok::Word(w) => match classify_word(&w) {
                Ok(Some(lit)) => lit,
                Ok(None) => {
                    return Err(self.ctx.syntax(
                        t.pos,
                        format!(
                            "expected a value after '{after}' but found '{w}' (comparing two columns is not supported)"
                        ),
                    ))
                }
                Err(m) => return Err(self.ctx.syntax(t.pos, m)),
            },
            Tok::Alias(a) => self.alias_literal(&a, t.pos)?,
            Tok::Eof => {
                return Err(self.ctx.syntax(t.pos, format!("expected a value after '{after}'")));
            }
            other => {
                return Err(self.ctx.syntax(
                    t.pos,
                    format!("expected a value after '{after}' but found {}", other.describe()),
                ))
            }
        };
        Ok((lit, t.pos))
    }

    /// The literal a parameter alias `@name` stands for. The alias value
    /// must itself be a single literal (`@p='x'`, `@id=<guid>`, `@n=3`).
    fn alias_literal(&self, name: &str, pos: usize) -> Result<Literal, QueryError> {
        let raw = self.aliases.get(name).ok_or_else(|| {
            self.ctx.error(
                pos,
                format!("The parameter alias '@{name}' is not defined; add '@{name}=<value>' to the query"),
            )
        })?;
        let not_literal = || {
            self.ctx.error(
                pos,
                format!("The parameter alias '@{name}' has the value '{raw}', which is not a single literal value"),
            )
        };
        if raw.contains('\0') {
            return Err(self.ctx.error(
                pos,
                format!("The parameter alias '@{name}' contains a NUL character (U+0000, %00), which a value cannot contain"),
            ));
        }
        let chars: Vec<char> = raw.chars().collect();
        let tokens = tokenize(&chars, &Ctx::new("the alias")).map_err(|_| not_literal())?;
        match tokens.as_slice() {
            [Token {
                tok: Tok::Str(s), ..
            }, Token { tok: Tok::Eof, .. }] => Ok(Literal::Str(s.clone())),
            [Token {
                tok: Tok::Word(w), ..
            }, Token { tok: Tok::Eof, .. }] => match classify_word(w) {
                Ok(Some(lit)) => Ok(lit),
                Ok(None) => Err(not_literal()),
                Err(m) => Err(self
                    .ctx
                    .error(pos, format!("The parameter alias '@{name}': {m}"))),
            },
            _ => Err(not_literal()),
        }
    }
}

/// One condition stays itself; several are joined with `and`/`or`.
fn combine(mut items: Vec<Condition>, join: fn(Vec<Condition>) -> Condition) -> Condition {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    join(items)
}
