//! The structure of a FetchXML document: `<fetch>` and its one `<entity>`
//! become the [`Query`], `<link-entity>` elements its (nested) [`Link`]s,
//! and the body both share — `<attribute>`, `<all-attributes/>`, `<order>`,
//! `<filter>` — their selects, orders and conditions. Conditions themselves
//! are parsed in the `condition` module.

use roxmltree::Node;

use super::nesting::MAX_FETCH_DEPTH;
use super::parser::{column_ref, join, Parser};
use crate::error::QueryError;
use crate::odata::MAX_TOP;
use crate::query::{Aggregation, Condition, Link, Order, Query};
use crate::schema::{Column, ColumnType, Table};

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

impl Parser<'_> {
    pub(super) fn parse_fetch(&mut self, root: Node) -> Result<Query, QueryError> {
        if root.tag_name().name() != "fetch" {
            return Err(self.error(
                self.node_pos(root),
                format!(
                    "FetchXML must start with <fetch>, not <{}>",
                    root.tag_name().name()
                ),
            ));
        }
        self.reject_attributes(root, &["aggregatelimit"])?;
        self.aggregate = self.parse_bool(root, "aggregate")?;
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
        let table = self.table_named(entity)?;

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
        if self.aggregate {
            query.select.clear();
            query.select_aliases.clear();
            query.aggregate = Some(self.aggregation(root)?);
        }
        Ok(query)
    }

    /// The outputs and orders an aggregate query collected, checked.
    fn aggregation(&mut self, root: Node) -> Result<Aggregation, QueryError> {
        let columns = std::mem::take(&mut self.aggregates);
        let order = std::mem::take(&mut self.alias_orders);
        if !columns
            .iter()
            .any(|c| !matches!(c.kind, crate::query::AggregateKind::GroupBy { .. }))
        {
            return Err(self.error(
                self.node_pos(root),
                "An aggregate query needs at least one <attribute aggregate=…>",
            ));
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|o| o.alias == c.alias) {
                return Err(self.error(
                    self.node_pos(root),
                    format!("The alias '{}' is used twice", c.alias),
                ));
            }
        }
        if let Some(o) = order
            .iter()
            .find(|o| !columns.iter().any(|c| c.alias == o.alias))
        {
            return Err(self.error(
                self.node_pos(root),
                format!(
                    "<order alias='{}'> names no aggregate or groupby alias",
                    o.alias
                ),
            ));
        }
        Ok(Aggregation { columns, order })
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
                "attribute" if self.aggregate => {
                    let output = self.parse_aggregate_attribute(child, table, alias)?;
                    self.aggregates.push(output);
                }
                "all-attributes" if self.aggregate => {
                    return Err(self.error(
                        self.node_pos(child),
                        "<all-attributes/> cannot be used in an aggregate query",
                    ))
                }
                "order" if self.aggregate => {
                    let order = self.parse_alias_order(child)?;
                    self.alias_orders.push(order);
                }
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
        let table = self.table_named(node)?;
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
