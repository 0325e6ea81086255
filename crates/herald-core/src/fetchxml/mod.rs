//! FetchXML (`GET /<set>?fetchXml=…`): parsing a `<fetch>` document into a
//! bound [`Query`], including `<link-entity>` joins.
//!
//! Supported (SPEC §2): `<fetch top count page distinct
//! returntotalrecordcount>`, one `<entity name>`, `<attribute name alias>`,
//! `<all-attributes/>`, `<order attribute descending>`, nested `<filter
//! type="and|or">`, `<condition attribute operator value entityname>` and
//! `<link-entity name from to link-type="inner|outer" alias>` (nested, with
//! their own attributes, filters, orders and links).
//!
//! Names follow FetchXML, not the Web API: lookups are named without the
//! `_x_value` wrapping (`owningextensionid`) and compared with GUIDs;
//! write-only columns (`authvalue`) do not exist for it. An `<attribute>`
//! whose name is `<column>name`, where `<column>` is a lookup, choice or
//! boolean (e.g. `asyncautodeletename`), is the formatted-value attribute
//! of that column: it selects the column itself, whose formatted value the
//! Web API returns as an annotation.
//!
//! Defaults, as in Dataverse: an `<entity>` without `<attribute>` or
//! `<all-attributes/>` returns only its primary key; a `<link-entity>`
//! without them returns no columns; a link without `alias` is aliased by its
//! table name (`name1`, `name2`… if that is taken). `count` alone means the
//! first page of that size; `page` alone uses pages of [`MAX_TOP`] rows;
//! `top` and `count` are capped to [`MAX_TOP`].
//!
//! Not supported (clear errors): aggregates and grouping, `valueof`, link
//! types other than inner/outer, `alias` on attributes of a `<link-entity>`,
//! and operators not listed in [`parse_fetchxml`].
//!
//! Error positions are 0-based character offsets in the XML text.

mod nesting;
#[cfg(test)]
mod tests;

use chrono::{DateTime, TimeDelta, Utc};
use roxmltree::{Document, Node};

use crate::error::QueryError;
use crate::query::{escape_like, ColumnRef, CompareOp, Condition, Link, Order, Query};
use crate::schema::{Column, ColumnType, Schema, Table};
use crate::value::{parse_datetime, parse_guid, Value};

use nesting::{char_offset_of_text_pos, check_nesting};

pub use crate::odata::MAX_TOP;

/// How deeply `<filter>` and `<link-entity>` elements may nest.
pub const MAX_FETCH_DEPTH: usize = 50;

/// Parse a FetchXML document against the schema.
///
/// Condition operators: `eq ne lt le gt ge`, `like not-like` (pattern with
/// SQL `%`/`_` wildcards, used as given; a `\` escapes the next character as
/// in [`Condition::Like`]), `begins-with not-begin-with
/// ends-with not-end-with`, `in not-in` (`<value>` children), `null
/// not-null`, `between not-between` (two `<value>`s), and for date-times
/// `on`, `on-or-after`, `on-or-before` (with a date-only value, `on-or-before`
/// includes that whole day). A `like`/`not-like` value ending in a lone `\`
/// matches a literal backslash there. Values may not contain U+0000.
pub fn parse_fetchxml(schema: &Schema, xml: &str) -> Result<Query, QueryError> {
    check_nesting(xml)?;
    let doc = Document::parse(xml).map_err(|e| {
        let pos = char_offset_of_text_pos(xml, e.pos().row, e.pos().col);
        QueryError::at(
            format!("Invalid FetchXML: {e} (at position {pos} in fetchXml)"),
            pos,
        )
    })?;
    let mut parser = Parser {
        schema,
        xml,
        link_aliases: Vec::new(),
    };
    parser.parse_fetch(doc.root_element())
}

/// What `<entity>` and `<link-entity>` contain.
#[derive(Default)]
struct Body {
    select: Vec<String>,
    select_aliases: Vec<(String, String)>,
    all_attributes: bool,
    order: Vec<Order>,
    filters: Vec<Condition>,
    links: Vec<Link>,
}

struct Parser<'s> {
    schema: &'s Schema,
    xml: &'s str,
    /// Every link alias seen so far, with its table's logical name, for
    /// uniqueness and for `<condition entityname>`.
    link_aliases: Vec<(String, String)>,
}

/// A value of a condition with its position in the XML.
struct RawValue {
    text: String,
    pos: usize,
}

impl<'s> Parser<'s> {
    // ---- positions and errors ----

    fn char_pos(&self, byte: usize) -> usize {
        self.xml.get(..byte).map_or(0, |s| s.chars().count())
    }

    fn node_pos(&self, node: Node) -> usize {
        self.char_pos(node.range().start)
    }

    /// Position of an XML attribute's value, or of its element.
    fn attr_pos(&self, node: Node, name: &str) -> usize {
        match node.attribute_node(name) {
            Some(a) => self.char_pos(a.range_value().start),
            None => self.node_pos(node),
        }
    }

    fn error(&self, pos: usize, msg: impl std::fmt::Display) -> QueryError {
        QueryError::at(format!("{msg} (at position {pos} in fetchXml)"), pos)
    }

    fn required<'n>(&self, node: Node<'n, '_>, attr: &str) -> Result<&'n str, QueryError> {
        node.attribute(attr).ok_or_else(|| {
            self.error(
                self.node_pos(node),
                format!("<{}> needs a '{attr}' attribute", node.tag_name().name()),
            )
        })
    }

    /// Reject XML attributes that ask for features herald does not have.
    fn reject_attributes(&self, node: Node, unsupported: &[&str]) -> Result<(), QueryError> {
        for a in node.attributes() {
            if unsupported.contains(&a.name()) {
                return Err(self.error(
                    self.char_pos(a.range_qname().start),
                    format!(
                        "The FetchXML attribute '{}' on <{}> is not supported",
                        a.name(),
                        node.tag_name().name()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn parse_bool(&self, node: Node, attr: &str) -> Result<bool, QueryError> {
        match node.attribute(attr).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if v == "true" || v == "1" => Ok(true),
            Some(v) if v == "false" || v == "0" => Ok(false),
            Some(v) => Err(self.error(
                self.attr_pos(node, attr),
                format!("'{attr}' must be true or false, not '{v}'"),
            )),
        }
    }

    fn parse_number(&self, node: Node, attr: &str) -> Result<Option<u64>, QueryError> {
        match node.attribute(attr) {
            None => Ok(None),
            Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                self.error(
                    self.attr_pos(node, attr),
                    format!("'{attr}' must be a non-negative integer, not '{v}'"),
                )
            }),
        }
    }

    // ---- elements ----

    fn parse_fetch(&mut self, root: Node) -> Result<Query, QueryError> {
        if root.tag_name().name() != "fetch" {
            return Err(self.error(
                self.node_pos(root),
                format!(
                    "FetchXML must start with <fetch>, not <{}>",
                    root.tag_name().name()
                ),
            ));
        }
        self.reject_attributes(root, &["aggregate", "aggregatelimit"])?;
        let mut entities = root.children().filter(Node::is_element);
        let entity = entities
            .next()
            .ok_or_else(|| self.error(self.node_pos(root), "<fetch> needs an <entity> element"))?;
        if entity.tag_name().name() != "entity" {
            return Err(self.unknown_element(entity, "fetch"));
        }
        if let Some(extra) = entities.next() {
            return Err(self.error(
                self.node_pos(extra),
                format!(
                    "<fetch> must contain exactly one <entity>, found <{}>",
                    extra.tag_name().name()
                ),
            ));
        }
        let name = self.required(entity, "name")?;
        let table = self.schema.table(name).ok_or_else(|| {
            self.error(
                self.attr_pos(entity, "name"),
                format!("The entity '{name}' does not exist"),
            )
        })?;

        let mut query = Query::all(&table.logical_name);
        query.top = self.parse_number(root, "top")?.map(|t| t.min(MAX_TOP));
        let count = self.parse_number(root, "count")?.map(|c| c.min(MAX_TOP));
        let page = self.parse_number(root, "page")?;
        if page == Some(0) {
            return Err(self.error(self.attr_pos(root, "page"), "'page' starts at 1"));
        }
        if count.is_some() || page.is_some() {
            query.page_size = Some(count.unwrap_or(MAX_TOP));
            query.page = Some(page.unwrap_or(1));
        }
        query.distinct = self.parse_bool(root, "distinct")?;
        query.count = self.parse_bool(root, "returntotalrecordcount")?;

        let body = self.parse_body(entity, table, None, 0)?;
        query.select = if body.all_attributes {
            Vec::new()
        } else if body.select.is_empty() && body.select_aliases.is_empty() {
            vec![table.primary_id.clone()]
        } else {
            body.select
        };
        query.select_aliases = body.select_aliases;
        query.order = body.order;
        query.filter = join(body.filters, Condition::And);
        query.links = body.links;
        Ok(query)
    }

    fn unknown_element(&self, node: Node, parent: &str) -> QueryError {
        self.error(
            self.node_pos(node),
            format!(
                "Unknown or unsupported element <{}> inside <{parent}>",
                node.tag_name().name()
            ),
        )
    }

    /// The children of `<entity>` (alias `None`) or `<link-entity>`.
    fn parse_body(
        &mut self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
        depth: usize,
    ) -> Result<Body, QueryError> {
        let parent = node.tag_name().name();
        let mut body = Body::default();
        // Links first, so that conditions may name them with `entityname`
        // wherever they appear.
        for child in node.children().filter(Node::is_element) {
            if child.tag_name().name() == "link-entity" {
                body.links.push(self.parse_link(child, table, depth + 1)?);
            }
        }
        for child in node.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "link-entity" => {}
                "attribute" => {
                    self.reject_attributes(
                        child,
                        &["aggregate", "groupby", "dategrouping", "rowaggregate"],
                    )?;
                    let name = self.required(child, "name")?;
                    let col = select_column(table, name)
                        .ok_or_else(|| self.unknown_attribute(child, "name", name, table))?;
                    if !body.select.contains(&col.name) {
                        body.select.push(col.name.clone());
                    }
                    if let Some(a) = child.attribute("alias") {
                        if alias.is_some() {
                            return Err(self.error(
                                self.attr_pos(child, "alias"),
                                "An alias on an <attribute> of a <link-entity> is not supported; its columns are returned as '<link alias>.<column>'",
                            ));
                        }
                        body.select_aliases.push((col.name.clone(), a.to_string()));
                    }
                }
                "all-attributes" => body.all_attributes = true,
                "order" => body.order.push(self.parse_order(child, table, alias)?),
                "filter" => {
                    if let Some(c) = self.parse_filter(child, table, alias, depth + 1)? {
                        body.filters.push(c);
                    }
                }
                _ => return Err(self.unknown_element(child, parent)),
            }
        }
        Ok(body)
    }

    fn unknown_attribute(&self, node: Node, attr: &str, name: &str, table: &Table) -> QueryError {
        self.error(
            self.attr_pos(node, attr),
            format!(
                "The attribute '{name}' does not exist on entity '{}'",
                table.logical_name
            ),
        )
    }

    /// A readable column of `table` by its FetchXML name.
    fn column<'t>(
        &self,
        node: Node,
        attr: &str,
        table: &'t Table,
    ) -> Result<&'t Column, QueryError> {
        let name = self.required(node, attr)?;
        table
            .column(name)
            .filter(|c| c.readable())
            .ok_or_else(|| self.unknown_attribute(node, attr, name, table))
    }

    /// The table and alias a `<condition>`/`<order>` refers to: its own, or
    /// the link named by `entityname`.
    fn target<'t>(
        &self,
        node: Node,
        table: &'t Table,
        alias: Option<&str>,
    ) -> Result<(&'t Table, Option<String>), QueryError>
    where
        's: 't,
    {
        match node.attribute("entityname") {
            None => Ok((table, alias.map(str::to_string))),
            Some(name) => {
                let linked = self
                    .link_aliases
                    .iter()
                    .find(|(a, _)| a == name)
                    .and_then(|(a, t)| self.schema.table(t).map(|t| (t, a.clone())));
                match linked {
                    Some((t, a)) => Ok((t, Some(a))),
                    None => Err(self.error(
                        self.attr_pos(node, "entityname"),
                        format!("entityname '{name}' does not name a <link-entity> alias"),
                    )),
                }
            }
        }
    }

    fn parse_order(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
    ) -> Result<Order, QueryError> {
        if node.attribute("attribute").is_none() && node.attribute("alias").is_some() {
            return Err(self.error(
                self.attr_pos(node, "alias"),
                "Ordering by an aggregate alias is not supported",
            ));
        }
        let (table, alias) = self.target(node, table, alias)?;
        let col = self.column(node, "attribute", table)?;
        Ok(Order {
            column: column_ref(alias.as_deref(), &col.name),
            descending: self.parse_bool(node, "descending")?,
        })
    }

    fn parse_link(&mut self, node: Node, parent: &Table, depth: usize) -> Result<Link, QueryError> {
        if depth > MAX_FETCH_DEPTH {
            return Err(self.error(
                self.node_pos(node),
                format!(
                    "<link-entity> elements are nested more than {MAX_FETCH_DEPTH} levels deep"
                ),
            ));
        }
        let name = self.required(node, "name")?;
        let table = self.schema.table(name).ok_or_else(|| {
            self.error(
                self.attr_pos(node, "name"),
                format!("The entity '{name}' does not exist"),
            )
        })?;
        let from = self.column(node, "from", table)?;
        let to = self.column(node, "to", parent)?;
        let outer = match node.attribute("link-type").map(str::trim) {
            None | Some("inner") => false,
            Some("outer") => true,
            Some(other) => {
                return Err(self.error(
                    self.attr_pos(node, "link-type"),
                    format!("The link-type '{other}' is not supported (use inner or outer)"),
                ))
            }
        };
        let alias = match node.attribute("alias") {
            Some(a) => {
                if a.is_empty() || self.link_aliases.iter().any(|(x, _)| x == a) {
                    return Err(self.error(
                        self.attr_pos(node, "alias"),
                        format!("The link-entity alias '{a}' is empty or used twice"),
                    ));
                }
                a.to_string()
            }
            None => {
                let taken = |c: &str| self.link_aliases.iter().any(|(x, _)| x == c);
                let mut candidate = table.logical_name.clone();
                let mut n = 1;
                while taken(&candidate) {
                    candidate = format!("{}{n}", table.logical_name);
                    n += 1;
                }
                candidate
            }
        };
        self.link_aliases
            .push((alias.clone(), table.logical_name.clone()));
        let body = self.parse_body(node, table, Some(&alias), depth)?;
        let select = if body.all_attributes {
            table.readable_columns().map(|c| c.name.clone()).collect()
        } else {
            body.select
        };
        Ok(Link {
            table: table.logical_name.clone(),
            from: from.name.clone(),
            to: to.name.clone(),
            alias,
            outer,
            select,
            filter: join(body.filters, Condition::And),
            order: body.order,
            links: body.links,
        })
    }

    fn parse_filter(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
        depth: usize,
    ) -> Result<Option<Condition>, QueryError> {
        if depth > MAX_FETCH_DEPTH {
            return Err(self.error(
                self.node_pos(node),
                format!("<filter> elements are nested more than {MAX_FETCH_DEPTH} levels deep"),
            ));
        }
        let or = match node
            .attribute("type")
            .map(|t| t.trim().to_ascii_lowercase())
        {
            None => false,
            Some(t) if t == "and" => false,
            Some(t) if t == "or" => true,
            Some(t) => {
                return Err(self.error(
                    self.attr_pos(node, "type"),
                    format!("The filter type '{t}' is not valid (use and or or)"),
                ))
            }
        };
        let mut items = Vec::new();
        for child in node.children().filter(Node::is_element) {
            match child.tag_name().name() {
                "condition" => items.push(self.parse_condition(child, table, alias)?),
                "filter" => {
                    if let Some(c) = self.parse_filter(child, table, alias, depth + 1)? {
                        items.push(c);
                    }
                }
                _ => return Err(self.unknown_element(child, "filter")),
            }
        }
        Ok(join(items, if or { Condition::Or } else { Condition::And }))
    }

    fn parse_condition(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
    ) -> Result<Condition, QueryError> {
        self.reject_attributes(node, &["valueof"])?;
        let (table, alias) = self.target(node, table, alias)?;
        let col = self.column(node, "attribute", table)?;
        let column = column_ref(alias.as_deref(), &col.name);
        let operator = self.required(node, "operator")?;
        let op_pos = self.attr_pos(node, "operator");

        let mut values = Vec::new();
        if let Some(v) = node.attribute("value") {
            values.push(RawValue {
                text: v.to_string(),
                pos: self.attr_pos(node, "value"),
            });
        }
        for child in node.children().filter(Node::is_element) {
            if child.tag_name().name() != "value" {
                return Err(self.unknown_element(child, "condition"));
            }
            values.push(RawValue {
                text: child.text().unwrap_or("").to_string(),
                pos: self.node_pos(child),
            });
        }
        // XML cannot carry U+0000 (the XML parser refuses it), but check
        // here too: no store can keep it in text.
        if let Some(v) = values.iter().find(|v| v.text.contains('\0')) {
            return Err(self.error(
                v.pos,
                "A condition value cannot contain a NUL character (U+0000)",
            ));
        }
        let count_error = |wanted: &str| {
            self.error(
                op_pos,
                format!(
                    "The operator '{operator}' needs {wanted}, but the condition on '{}' has {}",
                    col.name,
                    values.len()
                ),
            )
        };
        let one = |values: &[RawValue]| -> Result<Value, QueryError> {
            match values {
                [v] => self.value(col, v),
                _ => Err(count_error("exactly one value")),
            }
        };
        let compare = |op, value| Condition::Compare {
            column: column.clone(),
            op,
            value,
        };
        let like = |pattern: String, negated| -> Result<Condition, QueryError> {
            if !is_text(col) {
                return Err(self.error(
                    op_pos,
                    format!(
                        "The operator '{operator}' needs a text column, but '{}' is of type {}",
                        col.name,
                        col.ty.name()
                    ),
                ));
            }
            Ok(Condition::Like {
                column: column.clone(),
                pattern,
                negated,
            })
        };
        let single_text = |values: &[RawValue]| -> Result<String, QueryError> {
            match values {
                [v] => Ok(v.text.clone()),
                _ => Err(count_error("exactly one value")),
            }
        };

        let cond = match operator.trim() {
            "eq" => compare(CompareOp::Eq, one(&values)?),
            "ne" | "neq" => compare(CompareOp::Ne, one(&values)?),
            "lt" => compare(CompareOp::Lt, one(&values)?),
            "le" => compare(CompareOp::Le, one(&values)?),
            "gt" => compare(CompareOp::Gt, one(&values)?),
            "ge" => compare(CompareOp::Ge, one(&values)?),
            "like" => like(single_text(&values)?, false)?,
            "not-like" => like(single_text(&values)?, true)?,
            "begins-with" => like(format!("{}%", escape_like(&single_text(&values)?)), false)?,
            "not-begin-with" => like(format!("{}%", escape_like(&single_text(&values)?)), true)?,
            "ends-with" => like(format!("%{}", escape_like(&single_text(&values)?)), false)?,
            "not-end-with" => like(format!("%{}", escape_like(&single_text(&values)?)), true)?,
            op @ ("in" | "not-in") => {
                if values.is_empty() {
                    return Err(count_error("at least one <value>"));
                }
                let vals = values
                    .iter()
                    .map(|v| self.value(col, v))
                    .collect::<Result<Vec<_>, _>>()?;
                Condition::In {
                    column: column.clone(),
                    values: vals,
                    negated: op == "not-in",
                }
            }
            op @ ("null" | "not-null") => {
                if !values.is_empty() {
                    return Err(count_error("no value"));
                }
                Condition::Null {
                    column: column.clone(),
                    negated: op == "not-null",
                }
            }
            op @ ("between" | "not-between") => {
                let [low, high] = values.as_slice() else {
                    return Err(count_error("exactly two <value> elements"));
                };
                let (low, high) = (self.value(col, low)?, self.value(col, high)?);
                if op == "between" {
                    Condition::And(vec![
                        compare(CompareOp::Ge, low),
                        compare(CompareOp::Le, high),
                    ])
                } else {
                    Condition::Or(vec![
                        compare(CompareOp::Lt, low),
                        compare(CompareOp::Gt, high),
                    ])
                }
            }
            op @ ("on" | "on-or-after" | "on-or-before") => {
                if col.ty != ColumnType::DateTime {
                    return Err(self.error(
                        op_pos,
                        format!(
                            "The operator '{op}' needs a date-time column, but '{}' is of type {}",
                            col.name,
                            col.ty.name()
                        ),
                    ));
                }
                let [v] = values.as_slice() else {
                    return Err(count_error("exactly one value"));
                };
                let start = self.datetime(col, v)?;
                // A date without a time means the whole day.
                let whole_day = v.text.trim().len() == 10;
                let next_day = || {
                    start
                        .checked_add_signed(TimeDelta::days(1))
                        .map(Value::DateTime)
                        .ok_or_else(|| self.error(v.pos, "The date is out of range"))
                };
                match (op, whole_day) {
                    ("on-or-after", _) => compare(CompareOp::Ge, Value::DateTime(start)),
                    ("on-or-before", true) => compare(CompareOp::Lt, next_day()?),
                    ("on-or-before", false) => compare(CompareOp::Le, Value::DateTime(start)),
                    (_, true) => Condition::And(vec![
                        compare(CompareOp::Ge, Value::DateTime(start)),
                        compare(CompareOp::Lt, next_day()?),
                    ]),
                    (_, false) => compare(CompareOp::Eq, Value::DateTime(start)),
                }
            }
            other => {
                return Err(self.error(
                    op_pos,
                    format!("The condition operator '{other}' is not supported"),
                ))
            }
        };
        Ok(cond)
    }

    fn datetime(&self, col: &Column, v: &RawValue) -> Result<DateTime<Utc>, QueryError> {
        match self.value(col, v)? {
            Value::DateTime(t) => Ok(t),
            _ => Err(self.error(v.pos, "expected a date-time")),
        }
    }

    /// Convert a condition value (text) to the column's type.
    fn value(&self, col: &Column, v: &RawValue) -> Result<Value, QueryError> {
        let t = v.text.trim();
        let (value, expected) = match &col.ty {
            ColumnType::String { .. } | ColumnType::Memo { .. } => {
                (Some(Value::String(v.text.clone())), "text")
            }
            ColumnType::Integer | ColumnType::Choice { .. } => {
                (t.parse::<i64>().ok().map(Value::Int), "an integer")
            }
            ColumnType::Decimal | ColumnType::Money => (
                t.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Value::Decimal),
                "a number",
            ),
            ColumnType::Boolean => (
                match t.to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(Value::Bool(true)),
                    "false" | "0" => Some(Value::Bool(false)),
                    _ => None,
                },
                "true/false or 1/0",
            ),
            ColumnType::DateTime => (
                parse_datetime(t).map(Value::DateTime),
                "a date or date-time",
            ),
            ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => {
                (parse_guid(t).map(Value::Guid), "a GUID")
            }
        };
        value.ok_or_else(|| {
            self.error(
                v.pos,
                format!(
                    "The value '{}' is not valid for '{}' of type {}: expected {expected}",
                    v.text,
                    col.name,
                    col.ty.name()
                ),
            )
        })
    }
}

/// An `<attribute>` name: a readable column, or `<column>name`, the
/// formatted-value attribute of a lookup, choice or boolean column.
fn select_column<'t>(table: &'t Table, name: &str) -> Option<&'t Column> {
    table.column(name).filter(|c| c.readable()).or_else(|| {
        name.strip_suffix("name")
            .and_then(|stem| table.column(stem))
            .filter(|c| {
                c.readable()
                    && matches!(
                        c.ty,
                        ColumnType::Lookup { .. } | ColumnType::Choice { .. } | ColumnType::Boolean
                    )
            })
    })
}

fn is_text(col: &Column) -> bool {
    matches!(col.ty, ColumnType::String { .. } | ColumnType::Memo { .. })
}

fn column_ref(alias: Option<&str>, column: &str) -> ColumnRef {
    match alias {
        Some(a) => ColumnRef::linked(a, column),
        None => ColumnRef::new(column),
    }
}

/// No condition → `None`; one → itself; several → joined.
fn join(mut items: Vec<Condition>, joiner: fn(Vec<Condition>) -> Condition) -> Option<Condition> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(joiner(items)),
    }
}
