//! Columns: their Dataverse type ([`ColumnType`]), how each type is kept in
//! SQL ([`Storage`]), who may write them ([`Access`]), the [`Column`] itself
//! with its builder methods, and [`parse_column_type`], the type syntax of
//! user tables in the TOML config.

/// The type of a column, as Dataverse names them. Serialized (tagged by
/// `type`) in the definitions of tables and columns created through the
/// metadata API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ColumnType {
    /// Single line of text with a maximum length in characters.
    String {
        max_length: usize,
    },
    /// Multiple lines of text.
    Memo {
        max_length: usize,
    },
    Integer,
    Decimal,
    Money,
    Boolean,
    DateTime,
    UniqueIdentifier,
    /// Reference to a row of another table (by logical name).
    Lookup {
        target: String,
    },
    /// Option set: an integer among the declared options.
    Choice {
        options: Vec<(i64, String)>,
    },
}

impl ColumnType {
    pub fn name(&self) -> &'static str {
        match self {
            ColumnType::String { .. } => "string",
            ColumnType::Memo { .. } => "memo",
            ColumnType::Integer => "integer",
            ColumnType::Decimal => "decimal",
            ColumnType::Money => "money",
            ColumnType::Boolean => "boolean",
            ColumnType::DateTime => "datetime",
            ColumnType::UniqueIdentifier => "uniqueidentifier",
            ColumnType::Lookup { .. } => "lookup",
            ColumnType::Choice { .. } => "choice",
        }
    }

    /// The storage class used by both SQL backends.
    pub fn storage(&self) -> Storage {
        match self {
            ColumnType::String { .. } | ColumnType::Memo { .. } => Storage::Text,
            ColumnType::UniqueIdentifier | ColumnType::Lookup { .. } => Storage::Text,
            ColumnType::Integer | ColumnType::Choice { .. } => Storage::Integer,
            ColumnType::DateTime => Storage::Integer,
            ColumnType::Decimal | ColumnType::Money => Storage::Real,
            ColumnType::Boolean => Storage::Boolean,
        }
    }
}

/// How a value is kept in SQL. Datetimes are milliseconds since the Unix
/// epoch (UTC) so that ordering and comparison agree on both stores; GUIDs
/// are lower-case hyphenated text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Text,
    Integer,
    Real,
    Boolean,
}

/// Who may write a column through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write.
    ReadWrite,
    /// Maintained by the server (createdon, versionnumber, computed names…).
    ReadOnly,
    /// Can be written but never read, selected or filtered (authvalue).
    WriteOnly,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub access: Access,
    /// For lookups: the single-valued navigation property used with
    /// `@odata.bind` and `$expand` (defaults to the column name).
    pub navigation: Option<String>,
    /// For lookups: the name of the one-to-many relationship seen from the
    /// target table (e.g. `contact_customer_accounts`).
    pub relationship: Option<String>,
    pub required: bool,
    /// The column's `SchemaName` when it differs from its logical name
    /// (columns created through the metadata API keep the client's case).
    pub schema_name: Option<String>,
    /// The column's display name, when one was given (else derived from
    /// the logical name).
    pub label: Option<String>,
    /// Added to its table through the metadata API (so it may be changed
    /// or removed there).
    pub custom: bool,
}

impl Column {
    pub fn new(name: &str, ty: ColumnType) -> Self {
        Column {
            name: name.to_string(),
            ty,
            access: Access::ReadWrite,
            navigation: None,
            relationship: None,
            required: false,
            schema_name: None,
            label: None,
            custom: false,
        }
    }

    pub fn read_only(mut self) -> Self {
        self.access = Access::ReadOnly;
        self
    }

    pub fn write_only(mut self) -> Self {
        self.access = Access::WriteOnly;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn nav(mut self, navigation: &str) -> Self {
        self.navigation = Some(navigation.to_string());
        self
    }

    pub fn relationship(mut self, relationship: &str) -> Self {
        self.relationship = Some(relationship.to_string());
        self
    }

    pub fn is_lookup(&self) -> bool {
        matches!(self.ty, ColumnType::Lookup { .. })
    }

    pub fn lookup_target(&self) -> Option<&str> {
        match &self.ty {
            ColumnType::Lookup { target } => Some(target),
            _ => None,
        }
    }

    /// The single-valued navigation property name of a lookup.
    pub fn navigation_name(&self) -> &str {
        self.navigation.as_deref().unwrap_or(&self.name)
    }

    /// `_<name>_value`, the name a lookup is read and filtered under.
    pub fn value_name(&self) -> String {
        format!("_{}_value", self.name)
    }

    pub fn readable(&self) -> bool {
        self.access != Access::WriteOnly
    }
}

/// Parse a column type as written in the config: `string(100)`, `memo`,
/// `integer`, `decimal`, `money`, `boolean`, `datetime`, `uniqueidentifier`,
/// `lookup(account)`, `choice(1:Red,2:Blue)`.
pub fn parse_column_type(spec: &str) -> Result<ColumnType, String> {
    let spec = spec.trim();
    let (head, arg) = match spec.find('(') {
        Some(i) if spec.ends_with(')') => (&spec[..i], Some(&spec[i + 1..spec.len() - 1])),
        Some(_) => return Err(format!("'{spec}' has an unclosed '('")),
        None => (spec, None),
    };
    let ty = match (head, arg) {
        ("string", None) => ColumnType::String { max_length: 100 },
        ("string", Some(n)) => ColumnType::String {
            max_length: n
                .trim()
                .parse()
                .map_err(|_| format!("'{n}' is not a length"))?,
        },
        ("memo", None) => ColumnType::Memo { max_length: 1_048_576 },
        ("memo", Some(n)) => ColumnType::Memo {
            max_length: n
                .trim()
                .parse()
                .map_err(|_| format!("'{n}' is not a length"))?,
        },
        ("integer", None) => ColumnType::Integer,
        ("decimal", None) => ColumnType::Decimal,
        ("money", None) => ColumnType::Money,
        ("boolean", None) => ColumnType::Boolean,
        ("datetime", None) => ColumnType::DateTime,
        ("uniqueidentifier", None) => ColumnType::UniqueIdentifier,
        ("lookup", Some(t)) => ColumnType::Lookup {
            target: t.trim().to_string(),
        },
        ("choice", Some(opts)) => {
            let mut options = Vec::new();
            for part in opts.split(',') {
                let (v, label) = part
                    .split_once(':')
                    .ok_or_else(|| format!("choice option '{part}' must be value:Label"))?;
                let v: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("choice value '{v}' is not an integer"))?;
                options.push((v, label.trim().to_string()));
            }
            ColumnType::Choice { options }
        }
        _ => {
            return Err(format!(
                "unknown column type '{spec}' (expected string(n), memo, integer, decimal, money, boolean, datetime, uniqueidentifier, lookup(table) or choice(v:Label,…))"
            ))
        }
    };
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_column_types() {
        assert_eq!(
            parse_column_type("string(20)").unwrap(),
            ColumnType::String { max_length: 20 }
        );
        assert_eq!(
            parse_column_type("lookup(account)").unwrap(),
            ColumnType::Lookup {
                target: "account".into()
            }
        );
        assert!(parse_column_type("float").is_err());
        assert!(parse_column_type("string(x)").is_err());
        match parse_column_type("choice(1:Red, 2:Blue)").unwrap() {
            ColumnType::Choice { options } => assert_eq!(options[1], (2, "Blue".to_string())),
            other => panic!("unexpected {other:?}"),
        }
    }
}
