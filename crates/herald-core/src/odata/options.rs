//! The system query options other than `$filter`: `$select`, `$orderby`,
//! `$top`, `$count` and `$expand` (with nested options), and the dispatch of
//! all options of a request into one bound [`Query`].

use std::collections::{BTreeMap, BTreeSet};

use crate::error::QueryError;
use crate::query::{ColumnRef, Expand, ExpandKind, Order, Query};
use crate::schema::{Schema, Table};

use super::aliases::{parameter_aliases, resolve_alias};
use super::context::Ctx;
use super::filter::parse_filter;
use super::names::resolve_property;

/// The largest `$top` (and page size) herald serves; larger values are
/// capped to it.
pub const MAX_TOP: u64 = 5000;

/// Options Dataverse rejects; herald rejects them the same way.
const UNSUPPORTED: &[&str] = &[
    "$skip",
    "$search",
    "$format",
    "$apply",
    "$compute",
    "$levels",
    "$deltatoken",
    "$index",
    "$id",
];

/// Bind the OData query options of a request to `table`.
///
/// `options` are the decoded pairs of [`super::split_query_string`].
/// Handled: `$select`, `$filter`, `$orderby`, `$top` (capped to
/// [`MAX_TOP`]), `$count`, `$expand`, and parameter aliases `@name` (used by
/// `$filter` and `$top`). `$skiptoken` is left to the caller (paging), as are
/// all options not starting with `$` (e.g. `fetchXml`). `$skip`, `$search`,
/// `$format`, `$apply` and unknown `$` options are errors, as is an option
/// given twice.
pub fn parse_options(
    schema: &Schema,
    table: &Table,
    options: &[(String, String)],
) -> Result<Query, QueryError> {
    let aliases = parameter_aliases(options);
    let mut query = Query::all(&table.logical_name);
    let mut seen = BTreeSet::new();
    for (key, value) in options {
        if !key.starts_with('$') {
            continue;
        }
        let lower = key.to_ascii_lowercase();
        if !seen.insert(lower.clone()) {
            return Err(QueryError::new(format!(
                "The query option '{key}' is specified more than once"
            )));
        }
        let ctx = Ctx::new(key);
        match lower.as_str() {
            "$select" => query.select = parse_select(table, value, &ctx)?,
            "$filter" => query.filter = Some(parse_filter(table, value, &aliases, &ctx)?),
            "$orderby" => query.order = parse_orderby(table, value, &ctx)?,
            "$top" => query.top = Some(parse_top(resolve_alias(value, &aliases)?, &ctx)?),
            "$count" => query.count = parse_count(resolve_alias(value, &aliases)?, &ctx)?,
            "$expand" => query.expand = parse_expand(schema, table, value, &aliases, &ctx)?,
            // Paging continuation: the caller decodes its own token.
            "$skiptoken" => {}
            other if UNSUPPORTED.contains(&other) => {
                return Err(QueryError::new(format!(
                    "The query parameter {key} is not supported"
                )))
            }
            _ => {
                return Err(QueryError::new(format!(
                    "Unknown query option '{key}' (supported: $select, $filter, $orderby, $top, $count, $expand)"
                )))
            }
        }
    }
    Ok(query)
}

/// Split `chars[start..end]` at `sep` where it is outside single-quoted
/// strings and parentheses. Returns the pieces as character ranges.
fn split_top_level(chars: &[char], start: usize, end: usize, sep: char) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut piece_start = start;
    for (i, &c) in chars.iter().enumerate().take(end).skip(start) {
        if in_string {
            // A doubled quote ('') inside a string toggles twice: harmless.
            if c == '\'' {
                in_string = false;
            }
            continue;
        }
        match c {
            '\'' => in_string = true,
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == sep && depth == 0 => {
                pieces.push((piece_start, i));
                piece_start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push((piece_start, end));
    pieces
}

/// Narrow a character range to exclude surrounding whitespace.
fn trim_range(chars: &[char], (mut s, mut e): (usize, usize)) -> (usize, usize) {
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    (s, e)
}

fn text(chars: &[char], (s, e): (usize, usize)) -> String {
    chars[s..e].iter().collect()
}

/// `$select=a,_b_value,c` → storage column names (deduplicated). `*` means
/// every readable column (an empty list).
pub(crate) fn parse_select(
    table: &Table,
    value: &str,
    ctx: &Ctx,
) -> Result<Vec<String>, QueryError> {
    let chars: Vec<char> = value.chars().collect();
    let mut columns: Vec<String> = Vec::new();
    let mut all = false;
    for piece in split_top_level(&chars, 0, chars.len(), ',') {
        let range = trim_range(&chars, piece);
        if range.0 == range.1 {
            return Err(ctx.syntax(range.0, "expected a column name"));
        }
        let name = text(&chars, range);
        if name == "*" {
            all = true;
            continue;
        }
        let col = resolve_property(table, &name, range.0, ctx)?;
        if !columns.contains(&col.name) {
            columns.push(col.name.clone());
        }
    }
    if all {
        columns.clear();
    }
    Ok(columns)
}

/// `$orderby=a desc,b` → orders.
pub(crate) fn parse_orderby(
    table: &Table,
    value: &str,
    ctx: &Ctx,
) -> Result<Vec<Order>, QueryError> {
    let chars: Vec<char> = value.chars().collect();
    let mut orders = Vec::new();
    for piece in split_top_level(&chars, 0, chars.len(), ',') {
        let words = words(&chars, piece);
        let Some(&(name_start, name_end)) = words.first() else {
            return Err(ctx.syntax(trim_range(&chars, piece).0, "expected a column name"));
        };
        let name = text(&chars, (name_start, name_end));
        let col = resolve_property(table, &name, name_start, ctx)?;
        let descending = match words.get(1) {
            None => false,
            Some(&range) => match text(&chars, range).to_ascii_lowercase().as_str() {
                "asc" => false,
                "desc" => true,
                other => {
                    return Err(ctx.syntax(
                        range.0,
                        format!("expected 'asc' or 'desc' after '{name}' but found '{other}'"),
                    ))
                }
            },
        };
        if let Some(&(extra, _)) = words.get(2) {
            return Err(ctx.syntax(extra, "expected ',' or the end of $orderby"));
        }
        orders.push(Order {
            column: ColumnRef::new(col.name.clone()),
            descending,
        });
    }
    Ok(orders)
}

/// The whitespace-separated words of a character range.
fn words(chars: &[char], (s, e): (usize, usize)) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = s;
    while i < e {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < e && !chars[i].is_whitespace() {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

/// `$top=n`: a non-negative integer, capped to [`MAX_TOP`].
pub(crate) fn parse_top(value: &str, ctx: &Ctx) -> Result<u64, QueryError> {
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) {
        // All digits: only overflow can fail, and that is above the cap.
        return Ok(trimmed.parse::<u64>().map_or(MAX_TOP, |n| n.min(MAX_TOP)));
    }
    let pos = value.chars().take_while(|c| c.is_whitespace()).count();
    Err(ctx.syntax(
        pos,
        format!("expected a non-negative integer but found '{trimmed}'"),
    ))
}

/// `$count=true|false`.
pub(crate) fn parse_count(value: &str, ctx: &Ctx) -> Result<bool, QueryError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ctx.syntax(
            value.chars().take_while(|c| c.is_whitespace()).count(),
            format!("expected 'true' or 'false' but found '{other}'"),
        )),
    }
}

/// `$expand=nav1($select=a;$filter=…),nav2`.
///
/// A single-valued navigation property (a lookup, by its navigation name or
/// column name) allows a nested `$select`; a one-to-many relationship also
/// allows nested `$filter`, `$orderby` and `$top`. Nested `$expand` is not
/// supported.
pub(crate) fn parse_expand(
    schema: &Schema,
    table: &Table,
    value: &str,
    aliases: &BTreeMap<String, String>,
    ctx: &Ctx,
) -> Result<Vec<Expand>, QueryError> {
    let chars: Vec<char> = value.chars().collect();
    let mut expands: Vec<Expand> = Vec::new();
    for piece in split_top_level(&chars, 0, chars.len(), ',') {
        let (s, e) = trim_range(&chars, piece);
        if s == e {
            return Err(ctx.syntax(s, "expected a navigation property name"));
        }
        // The name runs up to the first '(' (or the end of the item).
        let open = (s..e).find(|&i| chars[i] == '(');
        let name_range = trim_range(&chars, (s, open.unwrap_or(e)));
        if name_range.0 == name_range.1 {
            return Err(ctx.syntax(s, "expected a navigation property name"));
        }
        let name = text(&chars, name_range);
        let inner = match open {
            None => None,
            Some(open) => {
                let close = matching_paren(&chars, open, e).ok_or_else(|| {
                    ctx.syntax(open, format!("the '(' after '{name}' is not closed"))
                })?;
                if close + 1 != e {
                    return Err(ctx.syntax(
                        close + 1,
                        format!("unexpected text after the options of '{name}'"),
                    ));
                }
                Some((open + 1, close))
            }
        };
        if expands.iter().any(|x| x.navigation == name) {
            return Err(ctx.error(
                name_range.0,
                format!("The navigation property '{name}' is expanded twice"),
            ));
        }
        let (kind, target) = if let Some(col) = table.lookup_by_navigation(&name) {
            let target = col.lookup_target().and_then(|t| schema.table(t));
            (
                ExpandKind::Single {
                    lookup_column: col.name.clone(),
                },
                target,
            )
        } else if let Some(rel) = schema.relationship_from(&table.logical_name, &name) {
            (
                ExpandKind::Collection {
                    lookup_column: rel.lookup_column.clone(),
                },
                schema.table(&rel.many_table),
            )
        } else if let Some(a) = schema.association(&table.logical_name, &name) {
            (
                ExpandKind::ManyToMany {
                    intersect: a.intersect,
                    this_column: a.this_column,
                    other_column: a.other_column,
                },
                schema.table(&a.other_table),
            )
        } else {
            return Err(ctx.error(
                name_range.0,
                format!(
                    "Could not find a navigation property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'",
                    table.logical_name
                ),
            ));
        };
        let target = target.ok_or_else(|| {
            ctx.error(
                name_range.0,
                format!("The navigation property '{name}' leads to an unknown table"),
            )
        })?;
        let mut query = Query::all(&target.logical_name);
        if let Some(range) = inner {
            let single = matches!(kind, ExpandKind::Single { .. });
            parse_nested(
                target, &chars, range, &name, single, aliases, ctx, &mut query,
            )?;
        }
        expands.push(Expand {
            navigation: name,
            kind,
            query,
        });
    }
    Ok(expands)
}

/// The index of the `)` matching the `(` at `open`, before `end`, skipping
/// quoted strings.
fn matching_paren(chars: &[char], open: usize, end: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    for (i, &c) in chars.iter().enumerate().take(end).skip(open) {
        if in_string {
            in_string = c != '\'';
            continue;
        }
        match c {
            '\'' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The options inside `nav( … )`, separated by `;`.
#[allow(clippy::too_many_arguments)]
fn parse_nested(
    target: &Table,
    chars: &[char],
    (start, end): (usize, usize),
    nav: &str,
    single: bool,
    aliases: &BTreeMap<String, String>,
    ctx: &Ctx,
    query: &mut Query,
) -> Result<(), QueryError> {
    let mut seen = BTreeSet::new();
    for piece in split_top_level(chars, start, end, ';') {
        let (s, e) = trim_range(chars, piece);
        if s == e {
            // Tolerate `nav()` and a trailing ';'.
            continue;
        }
        let eq = (s..e).find(|&i| chars[i] == '=').ok_or_else(|| {
            ctx.syntax(
                s,
                format!("expected '<option>=<value>' in the options of '{nav}'"),
            )
        })?;
        let key = text(chars, trim_range(chars, (s, eq)));
        let lower = key.to_ascii_lowercase();
        let value = text(chars, (eq + 1, e));
        let vctx = ctx.shifted(eq + 1);
        if !seen.insert(lower.clone()) {
            return Err(ctx.error(s, format!("The option '{key}' is given twice for '{nav}'")));
        }
        if single && lower != "$select" {
            return Err(ctx.error(
                s,
                format!("Only $select is supported when expanding the single-valued navigation property '{nav}', not '{key}'"),
            ));
        }
        match lower.as_str() {
            "$select" => query.select = parse_select(target, &value, &vctx)?,
            "$filter" => query.filter = Some(parse_filter(target, &value, aliases, &vctx)?),
            "$orderby" => query.order = parse_orderby(target, &value, &vctx)?,
            "$top" => query.top = Some(parse_top(resolve_alias(&value, aliases)?, &vctx)?),
            "$expand" => {
                return Err(ctx.error(s, format!("Nested $expand (inside '{nav}') is not supported")))
            }
            _ => {
                return Err(ctx.error(
                    s,
                    format!("The option '{key}' is not supported inside $expand (supported: $select, $filter, $orderby, $top)"),
                ))
            }
        }
    }
    Ok(())
}
