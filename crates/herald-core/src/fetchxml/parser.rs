//! The FetchXML parser's state and what every element's parsing shares:
//! character positions and positioned errors, reading XML attributes
//! (required ones, booleans, numbers, unsupported ones), and resolving
//! column names and `entityname` link aliases against the schema.

use roxmltree::Node;

use crate::error::QueryError;
use crate::query::{AggregateColumn, AliasOrder, ColumnRef, Condition};
use crate::schema::{Column, Schema, Table};

/// One parse of one FetchXML document against the schema.
pub(super) struct Parser<'s> {
    pub(super) schema: &'s Schema,
    pub(super) xml: &'s str,
    /// Every link alias seen so far, with its table's logical name, for
    /// uniqueness and for `<condition entityname>`.
    pub(super) link_aliases: Vec<(String, String)>,
    /// `<fetch aggregate="true">`: attributes are groupings or aggregates.
    pub(super) aggregate: bool,
    /// An aggregate query's outputs and orders, from every entity and link.
    pub(super) aggregates: Vec<AggregateColumn>,
    pub(super) alias_orders: Vec<AliasOrder>,
}

impl<'s> Parser<'s> {
    pub(super) fn new(schema: &'s Schema, xml: &'s str) -> Self {
        Parser {
            schema,
            xml,
            link_aliases: Vec::new(),
            aggregate: false,
            aggregates: Vec::new(),
            alias_orders: Vec::new(),
        }
    }

    // ---- positions and errors ----

    fn char_pos(&self, byte: usize) -> usize {
        self.xml.get(..byte).map_or(0, |s| s.chars().count())
    }

    pub(super) fn node_pos(&self, node: Node) -> usize {
        self.char_pos(node.range().start)
    }

    /// Position of an XML attribute's value, or of its element.
    pub(super) fn attr_pos(&self, node: Node, name: &str) -> usize {
        match node.attribute_node(name) {
            Some(a) => self.char_pos(a.range_value().start),
            None => self.node_pos(node),
        }
    }

    pub(super) fn error(&self, pos: usize, msg: impl std::fmt::Display) -> QueryError {
        QueryError::at(format!("{msg} (at position {pos} in fetchXml)"), pos)
    }

    pub(super) fn required<'n>(
        &self,
        node: Node<'n, '_>,
        attr: &str,
    ) -> Result<&'n str, QueryError> {
        node.attribute(attr).ok_or_else(|| {
            self.error(
                self.node_pos(node),
                format!("<{}> needs a '{attr}' attribute", node.tag_name().name()),
            )
        })
    }

    /// Reject XML attributes that ask for features herald does not have.
    pub(super) fn reject_attributes(
        &self,
        node: Node,
        unsupported: &[&str],
    ) -> Result<(), QueryError> {
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

    pub(super) fn parse_bool(&self, node: Node, attr: &str) -> Result<bool, QueryError> {
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

    pub(super) fn parse_number(&self, node: Node, attr: &str) -> Result<Option<u64>, QueryError> {
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

    pub(super) fn unknown_element(&self, node: Node, parent: &str) -> QueryError {
        self.error(
            self.node_pos(node),
            format!(
                "Unknown or unsupported element <{}> inside <{parent}>",
                node.tag_name().name()
            ),
        )
    }

    pub(super) fn unknown_attribute(
        &self,
        node: Node,
        attr: &str,
        name: &str,
        table: &Table,
    ) -> QueryError {
        self.error(
            self.attr_pos(node, attr),
            format!(
                "The attribute '{name}' does not exist on entity '{}'",
                table.logical_name
            ),
        )
    }

    /// The table named by the `name` attribute of `<entity>` or
    /// `<link-entity>`.
    pub(super) fn table_named(&self, node: Node) -> Result<&'s Table, QueryError> {
        let name = self.required(node, "name")?;
        self.schema.table(name).ok_or_else(|| {
            self.error(
                self.attr_pos(node, "name"),
                format!("The entity '{name}' does not exist"),
            )
        })
    }

    /// A readable column of `table` by its FetchXML name.
    pub(super) fn column<'t>(
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
    pub(super) fn target<'t>(
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
}

pub(super) fn column_ref(alias: Option<&str>, column: &str) -> ColumnRef {
    match alias {
        Some(a) => ColumnRef::linked(a, column),
        None => ColumnRef::new(column),
    }
}

/// No condition → `None`; one → itself; several → joined.
pub(super) fn join(
    mut items: Vec<Condition>,
    joiner: fn(Vec<Condition>) -> Condition,
) -> Option<Condition> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(joiner(items)),
    }
}
