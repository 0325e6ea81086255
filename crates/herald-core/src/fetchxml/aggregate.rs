//! FetchXML aggregation (`<fetch aggregate="true">`): each `<attribute>`
//! of the entity or of a `<link-entity>` is either a grouping key
//! (`groupby="true"`, with `dategrouping` on date-times) or an aggregate
//! (`aggregate="count|countcolumn|sum|avg|min|max"`, `distinct` for
//! `countcolumn`), always with an `alias`, the key of its value in each
//! returned row; `<order alias>` sorts by one of them.

use roxmltree::Node;

use super::parser::{column_ref, Parser};
use crate::error::QueryError;
use crate::query::{AggregateColumn, AggregateFunction, AggregateKind, AliasOrder, DateGrouping};
use crate::schema::{ColumnType, Table};

impl Parser<'_> {
    /// An `<attribute>` of an aggregate query.
    pub(super) fn parse_aggregate_attribute(
        &self,
        node: Node,
        table: &Table,
        alias: Option<&str>,
    ) -> Result<AggregateColumn, QueryError> {
        self.reject_attributes(node, &["rowaggregate"])?;
        let col = self.column(node, "name", table)?;
        let column = column_ref(alias, &col.name);
        let output = self
            .required(node, "alias")
            .map_err(|_| {
                self.error(
                    self.node_pos(node),
                    "In an aggregate query every <attribute> needs an 'alias'",
                )
            })?
            .to_string();
        if output.is_empty() {
            return Err(self.error(self.attr_pos(node, "alias"), "An alias cannot be empty"));
        }
        let groupby = self.parse_bool(node, "groupby")?;
        let distinct = self.parse_bool(node, "distinct")?;
        let kind = match (node.attribute("aggregate").map(str::trim), groupby) {
            (Some(_), true) => {
                return Err(self.error(
                    self.attr_pos(node, "groupby"),
                    "An <attribute> is either aggregated or grouped by, not both",
                ))
            }
            (None, false) => {
                return Err(self.error(
                    self.node_pos(node),
                    "In an aggregate query every <attribute> needs 'aggregate' or groupby=\"true\"",
                ))
            }
            (None, true) => {
                let date = match node.attribute("dategrouping").map(str::trim) {
                    None => None,
                    Some(g) => {
                        let grouping = DateGrouping::parse(g).ok_or_else(|| {
                            self.error(
                                self.attr_pos(node, "dategrouping"),
                                format!("The dategrouping '{g}' is not supported (use year, quarter, month, week or day)"),
                            )
                        })?;
                        if col.ty != ColumnType::DateTime {
                            return Err(self.error(
                                self.attr_pos(node, "dategrouping"),
                                format!(
                                    "dategrouping needs a date-time column, but '{}' is of type {}",
                                    col.name,
                                    col.ty.name()
                                ),
                            ));
                        }
                        Some(grouping)
                    }
                };
                AggregateKind::GroupBy { column, date }
            }
            (Some(function), false) => {
                let pos = self.attr_pos(node, "aggregate");
                let function = match function {
                    "count" => {
                        return Ok(AggregateColumn {
                            alias: output,
                            kind: AggregateKind::CountRows,
                        })
                    }
                    "countcolumn" => AggregateFunction::Count,
                    "sum" => AggregateFunction::Sum,
                    "avg" => AggregateFunction::Avg,
                    "min" => AggregateFunction::Min,
                    "max" => AggregateFunction::Max,
                    other => {
                        return Err(self.error(
                            pos,
                            format!("The aggregate '{other}' is not supported (use count, countcolumn, sum, avg, min or max)"),
                        ))
                    }
                };
                if !function.applies_to(col) {
                    return Err(self.error(
                        pos,
                        format!(
                            "The aggregate '{}' does not apply to '{}' of type {}",
                            function.name(),
                            col.name,
                            col.ty.name()
                        ),
                    ));
                }
                AggregateKind::Function {
                    function,
                    column,
                    distinct,
                }
            }
        };
        Ok(AggregateColumn {
            alias: output,
            kind,
        })
    }

    /// An `<order>` of an aggregate query: by an output alias.
    pub(super) fn parse_alias_order(&self, node: Node) -> Result<AliasOrder, QueryError> {
        if node.attribute("attribute").is_some() {
            return Err(self.error(
                self.attr_pos(node, "attribute"),
                "In an aggregate query, <order> names an output with 'alias', not an 'attribute'",
            ));
        }
        Ok(AliasOrder {
            alias: self.required(node, "alias")?.to_string(),
            descending: self.parse_bool(node, "descending")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::fetchxml::parse_fetchxml;
    use crate::query::{
        AggregateColumn, AggregateFunction, AggregateKind, AliasOrder, ColumnRef, DateGrouping,
    };
    use crate::Schema;

    fn parse(xml: &str) -> Result<crate::Query, crate::QueryError> {
        let schema = Schema::build(&[]).expect("schema");
        parse_fetchxml(&schema, xml)
    }

    #[test]
    fn groups_and_aggregates_by_alias() {
        let q = parse(
            r#"<fetch aggregate="true" count="2">
  <entity name="contact">
    <attribute name="lastname" groupby="true" alias="last" />
    <attribute name="createdon" groupby="true" dategrouping="month" alias="m" />
    <attribute name="contactid" aggregate="count" alias="n" />
    <attribute name="firstname" aggregate="countcolumn" distinct="true" alias="names" />
    <link-entity name="account" from="accountid" to="parentcustomerid" alias="a">
      <attribute name="name" groupby="true" alias="account" />
    </link-entity>
    <order alias="n" descending="true" />
  </entity>
</fetch>"#,
        )
        .unwrap();
        let a = q.aggregate.expect("aggregate");
        assert_eq!(
            a.columns,
            vec![
                AggregateColumn {
                    alias: "account".into(),
                    kind: AggregateKind::GroupBy {
                        column: ColumnRef::linked("a", "name"),
                        date: None
                    }
                },
                AggregateColumn {
                    alias: "last".into(),
                    kind: AggregateKind::GroupBy {
                        column: ColumnRef::new("lastname"),
                        date: None
                    }
                },
                AggregateColumn {
                    alias: "m".into(),
                    kind: AggregateKind::GroupBy {
                        column: ColumnRef::new("createdon"),
                        date: Some(DateGrouping::Month)
                    }
                },
                AggregateColumn {
                    alias: "n".into(),
                    kind: AggregateKind::CountRows
                },
                AggregateColumn {
                    alias: "names".into(),
                    kind: AggregateKind::Function {
                        function: AggregateFunction::Count,
                        column: ColumnRef::new("firstname"),
                        distinct: true
                    }
                },
            ]
        );
        assert_eq!(
            a.order,
            vec![AliasOrder {
                alias: "n".into(),
                descending: true
            }]
        );
        assert!(q.select.is_empty());
        assert_eq!((q.page, q.page_size), (Some(1), Some(2)));
    }

    #[test]
    fn refuses_what_dataverse_refuses() {
        let bad = [
            // No alias.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count"/></entity></fetch>"#,
            // Neither aggregate nor groupby.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" alias="l"/><attribute name="contactid" aggregate="count" alias="n"/></entity></fetch>"#,
            // Only groupings.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" groupby="true" alias="l"/></entity></fetch>"#,
            // Sum of text.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" aggregate="sum" alias="s"/></entity></fetch>"#,
            // Unknown aggregate.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" aggregate="median" alias="s"/></entity></fetch>"#,
            // dategrouping on text.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" groupby="true" dategrouping="year" alias="y"/><attribute name="contactid" aggregate="count" alias="n"/></entity></fetch>"#,
            // Unknown dategrouping.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="createdon" groupby="true" dategrouping="fortnight" alias="y"/><attribute name="contactid" aggregate="count" alias="n"/></entity></fetch>"#,
            // Alias twice.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="lastname" groupby="true" alias="n"/><attribute name="contactid" aggregate="count" alias="n"/></entity></fetch>"#,
            // Order by an unknown alias, or by an attribute.
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count" alias="n"/><order alias="x"/></entity></fetch>"#,
            r#"<fetch aggregate="true"><entity name="contact"><attribute name="contactid" aggregate="count" alias="n"/><order attribute="lastname"/></entity></fetch>"#,
            r#"<fetch aggregate="true"><entity name="contact"><all-attributes/></entity></fetch>"#,
        ];
        for xml in bad {
            assert!(parse(xml).is_err(), "{xml}");
        }
    }
}
