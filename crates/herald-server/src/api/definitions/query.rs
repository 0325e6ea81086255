//! `$select`, `$filter` and `$expand` over metadata objects, which are JSON
//! built in memory rather than rows in SQL.
//!
//! Each metadata type (EntityMetadata, StringAttributeMetadata, …) is
//! described by a [`Shape`]: its properties and their kinds. The shape
//! becomes a synthetic [`Table`] (one column per property), so herald-core's
//! own OData parser binds `$select` and `$filter` exactly as it does for
//! data, with the same error messages; the bound [`Condition`] is then
//! evaluated here over the JSON objects. Dataverse's enum literals
//! (`Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'`) are read as
//! strings. `$expand` items are split here and handed back to the caller,
//! which knows what each navigation property leads to.

use std::cmp::Ordering;

use herald_core::odata::parse_options;
use herald_core::query::{CompareOp, Condition};
use herald_core::schema::{Column, ColumnType, Table, TableKind};
use herald_core::value::parse_guid;
use herald_core::{Schema, Value};
use serde_json::{Map, Value as Json};

use super::error::{DefinitionError, DefinitionResult};

/// How a property can be used in `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An enumeration (`AttributeType`, `OwnershipType`): compared as text.
    Enum,
    Bool,
    Int,
    Number,
    Guid,
    /// A complex value (`Label`, managed property, list): selectable only.
    Complex,
}

/// The properties of one metadata type, and its navigation properties
/// (what `$expand` may name).
#[derive(Debug, Clone)]
pub struct Shape {
    /// `EntityMetadata`, `StringAttributeMetadata`, …
    pub type_name: &'static str,
    pub properties: Vec<(&'static str, Kind)>,
    pub navigations: &'static [&'static str],
}

impl Shape {
    /// The shape as a table whose columns are the properties, for the parser.
    fn as_table(&self) -> Table {
        let columns = self
            .properties
            .iter()
            .map(|(name, kind)| {
                let ty = match kind {
                    Kind::Text | Kind::Enum => ColumnType::String { max_length: 4000 },
                    Kind::Bool => ColumnType::Boolean,
                    Kind::Int => ColumnType::Integer,
                    Kind::Number => ColumnType::Decimal,
                    Kind::Guid => ColumnType::UniqueIdentifier,
                    Kind::Complex => ColumnType::Memo { max_length: 0 },
                };
                Column::new(name, ty)
            })
            .collect();
        Table {
            logical_name: self.type_name.to_string(),
            entity_set: self.type_name.to_string(),
            primary_id: "MetadataId".to_string(),
            primary_name: None,
            kind: TableKind::System,
            columns,
            object_type_code: 0,
            details: Default::default(),
        }
    }

    fn kind_of(&self, property: &str) -> Option<Kind> {
        self.properties
            .iter()
            .find(|(n, _)| *n == property)
            .map(|(_, k)| *k)
    }
}

/// One `$expand` item: the navigation property and its nested options.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    pub navigation: String,
    pub options: Vec<(String, String)>,
}

/// The bound options of one metadata request (or of one expanded level).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub select: Vec<String>,
    pub filter: Option<Condition>,
    pub expand: Vec<ExpandItem>,
}

/// Options Dataverse's metadata API does not take.
const NOT_ON_METADATA: [&str; 7] = [
    "$top",
    "$orderby",
    "$count",
    "$skip",
    "$skiptoken",
    "$search",
    "$apply",
];

impl Options {
    /// Bind the query options of a request to `shape`. `$select` and
    /// `$filter` go through herald-core's parser; parameter aliases
    /// (`@p1=…`) are passed on to it.
    pub fn parse(
        schema: &Schema,
        shape: &Shape,
        options: &[(String, String)],
    ) -> DefinitionResult<Options> {
        let mut for_parser: Vec<(String, String)> = Vec::new();
        let mut expand = None;
        for (key, value) in options {
            if !key.starts_with('$') {
                for_parser.push((key.clone(), value.clone()));
                continue;
            }
            match key.to_ascii_lowercase().as_str() {
                "$select" => for_parser.push((key.clone(), value.clone())),
                "$filter" => for_parser.push((key.clone(), read_enum_literals(value))),
                "$expand" if expand.is_some() => {
                    return Err(DefinitionError::Invalid(format!(
                        "The query option '{key}' is specified more than once"
                    )))
                }
                "$expand" => expand = Some(parse_expand(shape, value)?),
                other if NOT_ON_METADATA.contains(&other) => {
                    return Err(DefinitionError::Unsupported(format!(
                        "The query parameter {key} is not supported on table definitions: use $select, $filter and $expand"
                    )))
                }
                _ => {
                    return Err(DefinitionError::Unsupported(format!(
                        "Unknown query option '{key}' (table definitions support $select, $filter and $expand)"
                    )))
                }
            }
        }
        let table = shape.as_table();
        let query = parse_options(schema, &table, &for_parser)?;
        if let Some(filter) = &query.filter {
            reject_complex(shape, filter)?;
        }
        Ok(Options {
            select: query.select,
            filter: query.filter,
            expand: expand.unwrap_or_default(),
        })
    }

    /// Whether `object` passes `$filter`.
    pub fn matches(&self, object: &Map<String, Json>) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|condition| evaluate(condition, object))
    }

    /// `object` cut down to `$select` (annotations such as `@odata.type`
    /// always stay).
    pub fn project(&self, object: Map<String, Json>) -> Map<String, Json> {
        if self.select.is_empty() {
            return object;
        }
        object
            .into_iter()
            .filter(|(k, _)| k.starts_with('@') || self.select.iter().any(|s| s == k))
            .collect()
    }

    /// The `(…)` part of a context URL: selected properties, then each
    /// expansion with its own selection (`(LogicalName,Attributes(LogicalName))`).
    pub fn context_suffix(&self) -> String {
        let mut parts: Vec<String> = self.select.clone();
        if parts.is_empty() && !self.expand.is_empty() {
            parts.push("*".to_string());
        }
        for item in &self.expand {
            let nested = item
                .options
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
                .map(|(_, v)| v.split(',').map(str::trim).collect::<Vec<_>>().join(","))
                .unwrap_or_default();
            parts.push(format!("{}({nested})", item.navigation));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("({})", parts.join(","))
        }
    }
}

/// `$filter` may compare only simple values; a `Label` or managed
/// property is an object (Dataverse wants `IsCustomizable/Value`, which
/// herald does not offer).
fn reject_complex(shape: &Shape, condition: &Condition) -> DefinitionResult<()> {
    let column = match condition {
        Condition::And(items) | Condition::Or(items) => {
            return items.iter().try_for_each(|c| reject_complex(shape, c))
        }
        Condition::Not(inner) => return reject_complex(shape, inner),
        Condition::Compare { column, .. }
        | Condition::Null { column, .. }
        | Condition::Like { column, .. }
        | Condition::In { column, .. } => &column.column,
    };
    if shape.kind_of(column) == Some(Kind::Complex) {
        return Err(DefinitionError::Unsupported(format!(
            "The property '{column}' of 'Microsoft.Dynamics.CRM.{}' is not a simple value and cannot be used in $filter",
            shape.type_name
        )));
    }
    Ok(())
}

/// Rewrite enum literals (`Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'`)
/// to plain string literals (`'UserOwned'`), leaving quoted text alone.
pub fn read_enum_literals(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len());
    let mut in_string = false;
    for c in filter.chars() {
        if in_string {
            in_string = c != '\'';
        } else if c == '\'' {
            in_string = true;
            let word_start = out
                .char_indices()
                .rev()
                .take_while(|(_, ch)| ch.is_ascii_alphanumeric() || *ch == '.' || *ch == '_')
                .last()
                .map(|(i, _)| i);
            if let Some(start) = word_start {
                if out[start..].contains('.') {
                    out.truncate(start);
                }
            }
        }
        out.push(c);
    }
    out
}

/// Split `$expand=A($select=x;$filter=y),B` into items; each name must be
/// a navigation property of `shape`.
fn parse_expand(shape: &Shape, value: &str) -> DefinitionResult<Vec<ExpandItem>> {
    let mut items: Vec<ExpandItem> = Vec::new();
    for piece in split_outside(value, ',') {
        let piece = piece.trim();
        let (name, inner) = match piece.find('(') {
            None => (piece, None),
            Some(open) if piece.ends_with(')') => (
                piece[..open].trim(),
                Some(&piece[open + 1..piece.len() - 1]),
            ),
            Some(_) => {
                return Err(DefinitionError::Invalid(format!(
                    "The $expand item '{piece}' has a '(' that is not closed at its end"
                )))
            }
        };
        if !shape.navigations.contains(&name) {
            return Err(DefinitionError::Invalid(format!(
                "Could not find a navigation property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'{}",
                shape.type_name,
                if shape.navigations.is_empty() {
                    String::new()
                } else {
                    format!(" (it has: {})", shape.navigations.join(", "))
                }
            )));
        }
        if items.iter().any(|i| i.navigation == name) {
            return Err(DefinitionError::Invalid(format!(
                "The navigation property '{name}' is expanded twice"
            )));
        }
        let mut options = Vec::new();
        for option in inner.map(|i| split_outside(i, ';')).unwrap_or_default() {
            let option = option.trim();
            if option.is_empty() {
                continue;
            }
            let (k, v) = option.split_once('=').ok_or_else(|| {
                DefinitionError::Invalid(format!(
                    "expected '<option>=<value>' in the options of '{name}', found '{option}'"
                ))
            })?;
            options.push((k.trim().to_string(), v.to_string()));
        }
        items.push(ExpandItem {
            navigation: name.to_string(),
            options,
        });
    }
    Ok(items)
}

/// Split at `sep` outside quotes and parentheses.
fn split_outside(text: &str, sep: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut depth, mut in_string, mut start) = (0usize, false, 0usize);
    for (i, c) in text.char_indices() {
        if in_string {
            in_string = c != '\'';
            continue;
        }
        match c {
            '\'' => in_string = true,
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == sep && depth == 0 => {
                pieces.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    pieces.push(&text[start..]);
    pieces
}

fn evaluate(condition: &Condition, object: &Map<String, Json>) -> bool {
    let field = |name: &str| object.get(name).unwrap_or(&Json::Null);
    match condition {
        Condition::And(items) => items.iter().all(|c| evaluate(c, object)),
        Condition::Or(items) => items.iter().any(|c| evaluate(c, object)),
        Condition::Not(inner) => !evaluate(inner, object),
        Condition::Compare { column, op, value } => {
            let order = compare(field(&column.column), value);
            match op {
                CompareOp::Eq => order == Some(Ordering::Equal),
                CompareOp::Ne => order != Some(Ordering::Equal),
                CompareOp::Lt => order == Some(Ordering::Less),
                CompareOp::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
                CompareOp::Gt => order == Some(Ordering::Greater),
                CompareOp::Ge => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
            }
        }
        Condition::Null { column, negated } => field(&column.column).is_null() != *negated,
        Condition::Like {
            column,
            pattern,
            negated,
        } => match field(&column.column).as_str() {
            Some(text) => like(text, pattern) != *negated,
            None => false,
        },
        Condition::In {
            column,
            values,
            negated,
        } => {
            let json = field(&column.column);
            if json.is_null() {
                return false;
            }
            values
                .iter()
                .any(|v| compare(json, v) == Some(Ordering::Equal))
                != *negated
        }
    }
}

/// Order a JSON value against a bound literal; `None` when they cannot be
/// compared (null, or different kinds).
fn compare(json: &Json, value: &Value) -> Option<Ordering> {
    match (json, value) {
        (Json::String(s), Value::String(v)) => Some(s.as_str().cmp(v.as_str())),
        (Json::String(s), Value::Guid(g)) => parse_guid(s).map(|id| id.cmp(g)),
        (Json::Bool(b), Value::Bool(v)) => Some(b.cmp(v)),
        (Json::Number(n), Value::Int(i)) => n.as_f64()?.partial_cmp(&(*i as f64)),
        (Json::Number(n), Value::Decimal(d)) => n.as_f64()?.partial_cmp(d),
        _ => None,
    }
}

/// Case-insensitive LIKE: `%` any run, `_` one character, `\` escapes.
fn like(text: &str, pattern: &str) -> bool {
    enum Part {
        Any,
        One,
        Char(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '%' => Part::Any,
            '_' => Part::One,
            '\\' => Part::Char(chars.next().unwrap_or('\\')),
            c => Part::Char(c),
        });
    }
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    // reachable[i]: the parts so far can match text[..i].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for part in &parts {
        let mut next = vec![false; text.len() + 1];
        for i in 0..=text.len() {
            if !reachable[i] {
                continue;
            }
            match part {
                Part::Any => next[i..].iter_mut().for_each(|r| *r = true),
                Part::One if i < text.len() => next[i + 1] = true,
                Part::Char(c)
                    if i < text.len() && c.to_lowercase().eq(std::iter::once(text[i])) =>
                {
                    next[i + 1] = true
                }
                _ => {}
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape() -> Shape {
        Shape {
            type_name: "EntityMetadata",
            properties: vec![
                ("LogicalName", Kind::Text),
                ("IsCustomEntity", Kind::Bool),
                ("ObjectTypeCode", Kind::Int),
                ("OwnershipType", Kind::Enum),
                ("MetadataId", Kind::Guid),
                ("DisplayName", Kind::Complex),
            ],
            navigations: &["Attributes"],
        }
    }

    fn opts(pairs: &[(&str, &str)]) -> DefinitionResult<Options> {
        let schema = Schema::build(&[]).expect("schema");
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Options::parse(&schema, &shape(), &pairs)
    }

    fn object(name: &str, custom: bool, code: i64) -> Map<String, Json> {
        json!({"LogicalName": name, "IsCustomEntity": custom, "ObjectTypeCode": code,
               "OwnershipType": "UserOwned", "MetadataId": "6d81597f-0f9f-e711-8122-000d3aa2331c",
               "DisplayName": {"LocalizedLabels": []}})
        .as_object()
        .cloned()
        .expect("object")
    }

    #[test]
    fn filters_with_the_core_parser() {
        let account = object("account", false, 1);
        let project = object("new_project", true, 10_000);
        let cases = [
            ("LogicalName eq 'account'", true, false),
            ("IsCustomEntity eq true", false, true),
            (
                "IsCustomEntity eq false and ObjectTypeCode lt 100",
                true,
                false,
            ),
            (
                "LogicalName eq 'account' or LogicalName eq 'new_project'",
                true,
                true,
            ),
            ("startswith(LogicalName,'NEW_')", false, true),
            ("not contains(LogicalName, 'proj')", true, false),
            ("ObjectTypeCode in (1, 2)", true, false),
            (
                "OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'",
                true,
                true,
            ),
            (
                "MetadataId eq 6d81597f-0f9f-e711-8122-000d3aa2331c",
                true,
                true,
            ),
            ("LogicalName ne null", true, true),
        ];
        for (filter, on_account, on_project) in cases {
            let o = opts(&[("$filter", filter)]).unwrap_or_else(|e| panic!("{filter}: {e}"));
            assert_eq!(o.matches(&account), on_account, "{filter} on account");
            assert_eq!(o.matches(&project), on_project, "{filter} on project");
        }
    }

    #[test]
    fn refuses_what_metadata_does_not_take() {
        let unknown = opts(&[("$filter", "Nope eq 1")]).unwrap_err().to_string();
        assert!(
            unknown.contains("Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'"),
            "{unknown}"
        );
        assert!(opts(&[("$filter", "DisplayName eq 'x'")]).is_err());
        assert!(matches!(
            opts(&[("$top", "1")]),
            Err(DefinitionError::Unsupported(_))
        ));
        assert!(opts(&[("$expand", "Nope")]).is_err());
        assert!(opts(&[("$expand", "Attributes,Attributes")]).is_err());
        assert!(opts(&[("$select", "LogicalName,Nope")]).is_err());
    }

    #[test]
    fn selects_expands_and_names_the_context() {
        let o = opts(&[
            ("$select", "LogicalName"),
            (
                "$expand",
                "Attributes($select=LogicalName,AttributeType;$filter=IsValidForRead eq true)",
            ),
        ])
        .expect("options");
        let projected = o.project(object("account", false, 1));
        assert_eq!(projected.keys().collect::<Vec<_>>(), ["LogicalName"]);
        assert_eq!(o.expand[0].navigation, "Attributes");
        assert_eq!(o.expand[0].options[1].1, "IsValidForRead eq true");
        assert_eq!(
            o.context_suffix(),
            "(LogicalName,Attributes(LogicalName,AttributeType))"
        );
        assert_eq!(opts(&[]).expect("none").context_suffix(), "");
    }

    #[test]
    fn enum_literals_become_strings_outside_quotes() {
        assert_eq!(
            read_enum_literals(
                "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'"
            ),
            "AttributeType eq 'Picklist'"
        );
        assert_eq!(
            read_enum_literals("LogicalName eq 'a.b''c' and X eq 'y'"),
            "LogicalName eq 'a.b''c' and X eq 'y'"
        );
    }

    #[test]
    fn like_matches_case_insensitively() {
        assert!(like("Account", "acc%"));
        assert!(like("account", "%COUNT"));
        assert!(like("a_b", "a\\_b"));
        assert!(!like("axb", "a\\_b"));
        assert!(like("axb", "a_b"));
        assert!(!like("account", "acc"));
    }
}
