//! Tests of the whole OData option pipeline: the seeds' URLs, precedence,
//! aliases, error positions, and robustness against garbage input.

use uuid::Uuid;

use super::*;
use crate::query::{ColumnRef, CompareOp, Condition, ExpandKind, Order, Query};
use crate::schema::Schema;
use crate::value::Value;
use crate::QueryError;

const ID: &str = "6d81597f-0f9f-e711-8122-000d3aa2331c";

fn schema() -> Schema {
    Schema::build(&[]).expect("built-in schema")
}

/// Parse the query part of a URL against the table of `set`.
fn parse(set: &str, raw_query: &str) -> Result<Query, QueryError> {
    let schema = schema();
    let table = schema.table_by_set(set).expect("entity set");
    parse_options(&schema, table, &split_query_string(raw_query))
}

fn filter(set: &str, f: &str) -> Result<Condition, QueryError> {
    let q = parse(
        set,
        &format!("$filter={}", f.replace('&', "%26").replace('+', "%2B")),
    )?;
    Ok(q.filter.expect("a filter"))
}

fn cmp(col: &str, op: CompareOp, value: Value) -> Condition {
    Condition::Compare {
        column: ColumnRef::new(col),
        op,
        value,
    }
}

fn guid(s: &str) -> Value {
    Value::Guid(Uuid::parse_str(s).expect("guid"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---- the seeds' URLs, exactly as printed (with <id> replaced) ----

#[test]
fn seed_query_webhook_registrations() {
    let q = parse(
        "serviceendpoints",
        "$filter=contract eq 8&$select= serviceendpointid,name,authtype,url",
    )
    .unwrap();
    assert_eq!(q.table, "serviceendpoint");
    assert_eq!(
        q.select,
        strings(&["serviceendpointid", "name", "authtype", "url"])
    );
    assert_eq!(
        q.filter,
        Some(cmp("contract", CompareOp::Eq, Value::Int(8)))
    );
}

#[test]
fn seed_query_steps_of_endpoint_with_key_alias() {
    let raw = format!(
        "$select=sdkmessageprocessingstepid,name,description,asyncautodelete,filteringattributes,mode,stage?@id={ID}"
    );
    let options = split_query_string(&raw);
    assert_eq!(options[1], ("@id".to_string(), ID.to_string()));
    let aliases = parameter_aliases(&options);
    assert_eq!(resolve_alias("@id", &aliases).unwrap(), ID);
    let q = parse("sdkmessageprocessingsteps", &raw).unwrap();
    assert_eq!(
        q.select,
        strings(&[
            "sdkmessageprocessingstepid",
            "name",
            "description",
            "asyncautodelete",
            "filteringattributes",
            "mode",
            "stage"
        ])
    );
    assert_eq!(q.filter, None);
}

#[test]
fn seed_query_step_details_with_expand() {
    let raw = format!(
        "$select=name,description,filteringattributes,asyncautodelete,mode,stage&$expand=plugintypeid($select=friendlyname),eventhandler_serviceendpoint($select=name),sdkmessagefilterid($select=primaryobjecttypecode),sdkmessageid($select=name)?@id={ID}"
    );
    let q = parse("sdkmessageprocessingsteps", &raw).unwrap();
    let got: Vec<(&str, &ExpandKind, &str, Vec<String>)> = q
        .expand
        .iter()
        .map(|e| {
            (
                e.navigation.as_str(),
                &e.kind,
                e.query.table.as_str(),
                e.query.select.clone(),
            )
        })
        .collect();
    let single = |c: &str| ExpandKind::Single {
        lookup_column: c.to_string(),
    };
    assert_eq!(
        got,
        vec![
            (
                "plugintypeid",
                &single("plugintypeid"),
                "plugintype",
                strings(&["friendlyname"])
            ),
            (
                "eventhandler_serviceendpoint",
                &single("eventhandler"),
                "serviceendpoint",
                strings(&["name"])
            ),
            (
                "sdkmessagefilterid",
                &single("sdkmessagefilterid"),
                "sdkmessagefilter",
                strings(&["primaryobjecttypecode"])
            ),
            (
                "sdkmessageid",
                &single("sdkmessageid"),
                "sdkmessage",
                strings(&["name"])
            ),
        ]
    );
}

#[test]
fn seed_query_failed_jobs_with_filter_alias() {
    let raw = format!(
        "$orderby=completedon desc&$filter=statuscode eq 31 and _owningextensionid_value eq @stepid&$select=name,friendlymessage,errorcode,message,completedon?@stepid={ID}"
    );
    let q = parse("asyncoperations", &raw).unwrap();
    assert_eq!(
        q.order,
        vec![Order {
            column: ColumnRef::new("completedon"),
            descending: true
        }]
    );
    assert_eq!(
        q.filter,
        Some(Condition::And(vec![
            cmp("statuscode", CompareOp::Eq, Value::Int(31)),
            cmp("owningextensionid", CompareOp::Eq, guid(ID)),
        ]))
    );
    assert_eq!(
        q.select,
        strings(&[
            "name",
            "friendlymessage",
            "errorcode",
            "message",
            "completedon"
        ])
    );
}

#[test]
fn seed_urls_percent_encoded_by_a_client() {
    let raw = format!(
        "$orderby=completedon%20desc&$filter=statuscode%20eq%2031%20and%20_owningextensionid_value%20eq%20%40stepid&$select=name?@stepid={ID}"
    );
    let q = parse("asyncoperations", &raw).unwrap();
    assert!(matches!(q.filter, Some(Condition::And(ref v)) if v.len() == 2));
}

// ---- $filter ----

#[test]
fn issue_filter_startswith_and_lookup() {
    let f = filter(
        "contacts",
        &format!("startswith(lastname,'Gl') and _parentcustomerid_value eq {ID}"),
    )
    .unwrap();
    assert_eq!(
        f,
        Condition::And(vec![
            Condition::Like {
                column: ColumnRef::new("lastname"),
                pattern: "Gl%".into(),
                negated: false
            },
            cmp("parentcustomerid", CompareOp::Eq, guid(ID)),
        ])
    );
}

#[test]
fn like_functions_escape_wildcards() {
    let like = |f: &str| match filter("contacts", f).unwrap() {
        Condition::Like { pattern, .. } => pattern,
        other => panic!("not a like: {other:?}"),
    };
    assert_eq!(like("contains(fullname,'50%_off')"), "%50\\%\\_off%");
    assert_eq!(like("endswith(emailaddress1,'@x.com')"), "%@x.com");
    assert_eq!(like("StartsWith(lastname,'O''B')"), "O'B%");
}

#[test]
fn precedence_not_and_or() {
    let a = || cmp("firstname", CompareOp::Eq, Value::String("a".into()));
    let b = || cmp("lastname", CompareOp::Eq, Value::String("b".into()));
    let c = || cmp("jobtitle", CompareOp::Eq, Value::String("c".into()));
    assert_eq!(
        filter(
            "contacts",
            "firstname eq 'a' or lastname eq 'b' and jobtitle eq 'c'"
        )
        .unwrap(),
        Condition::Or(vec![a(), Condition::And(vec![b(), c()])])
    );
    assert_eq!(
        filter(
            "contacts",
            "(firstname eq 'a' or lastname eq 'b') and jobtitle eq 'c'"
        )
        .unwrap(),
        Condition::And(vec![Condition::Or(vec![a(), b()]), c()])
    );
    assert_eq!(
        filter(
            "contacts",
            "not firstname eq 'a' and lastname eq 'b' or jobtitle eq 'c'"
        )
        .unwrap(),
        Condition::Or(vec![
            Condition::And(vec![Condition::Not(Box::new(a())), b()]),
            c()
        ])
    );
    assert_eq!(
        filter("contacts", "not (firstname eq 'a' or lastname eq 'b')").unwrap(),
        Condition::Not(Box::new(Condition::Or(vec![a(), b()])))
    );
    assert_eq!(
        filter(
            "contacts",
            "firstname eq 'a' and lastname eq 'b' and jobtitle eq 'c'"
        )
        .unwrap(),
        Condition::And(vec![a(), b(), c()])
    );
}

#[test]
fn literals_are_typed_by_column() {
    let f = |s: &str| filter("accounts", s);
    assert_eq!(
        f("revenue gt 1000").unwrap(),
        cmp("revenue", CompareOp::Gt, Value::Decimal(1000.0))
    );
    assert_eq!(
        f("revenue le 99.5").unwrap(),
        cmp("revenue", CompareOp::Le, Value::Decimal(99.5))
    );
    assert_eq!(
        f("creditonhold eq false").unwrap(),
        cmp("creditonhold", CompareOp::Eq, Value::Bool(false))
    );
    let t = crate::value::parse_datetime("2024-05-01T10:00:00Z").unwrap();
    assert_eq!(
        f("modifiedon ge 2024-05-01T10:00:00Z").unwrap(),
        cmp("modifiedon", CompareOp::Ge, Value::DateTime(t))
    );
    assert_eq!(
        f("modifiedon ge '2024-05-01T10:00:00Z'").unwrap(),
        cmp("modifiedon", CompareOp::Ge, Value::DateTime(t))
    );
    assert!(matches!(
        f("createdon lt 2024-05-01").unwrap(),
        Condition::Compare {
            value: Value::DateTime(_),
            ..
        }
    ));
    assert_eq!(
        f(&format!("_primarycontactid_value eq '{ID}'")).unwrap(),
        cmp("primarycontactid", CompareOp::Eq, guid(ID))
    );
    assert_eq!(
        f(&format!("accountid ne {ID}")).unwrap(),
        cmp("accountid", CompareOp::Ne, guid(ID))
    );
    assert_eq!(
        f("_parentaccountid_value eq null").unwrap(),
        Condition::Null {
            column: ColumnRef::new("parentaccountid"),
            negated: false
        }
    );
    assert_eq!(
        f("name ne null").unwrap(),
        Condition::Null {
            column: ColumnRef::new("name"),
            negated: true
        }
    );
    assert_eq!(
        f("industrycode in (1, 2,3)").unwrap(),
        Condition::In {
            column: ColumnRef::new("industrycode"),
            values: vec![Value::Int(1), Value::Int(2), Value::Int(3)],
            negated: false
        }
    );
    assert_eq!(
        f("name in ('a','b')").unwrap(),
        Condition::In {
            column: ColumnRef::new("name"),
            values: vec![Value::String("a".into()), Value::String("b".into())],
            negated: false
        }
    );
    assert_eq!(
        f("numberofemployees ge -5").unwrap(),
        cmp("numberofemployees", CompareOp::Ge, Value::Int(-5))
    );
}

#[test]
fn type_mismatches_name_column_literal_and_position() {
    let e = filter("serviceendpoints", "contract eq 'eight'").unwrap_err();
    assert_eq!(e.position, Some(12));
    assert!(
        e.message.contains("'contract'") && e.message.contains("'eight'"),
        "{}",
        e.message
    );
    assert!(e.message.contains("Type mismatch"), "{}", e.message);

    let e = filter("accounts", "name eq 5").unwrap_err();
    assert_eq!(e.position, Some(8));
    assert!(
        e.message.contains("'name'") && e.message.contains("5"),
        "{}",
        e.message
    );

    let e = filter("accounts", "_primarycontactid_value eq 'nope'").unwrap_err();
    assert!(e.message.contains("GUID"), "{}", e.message);
    assert!(filter("accounts", "creditonhold eq 1").is_err());
    assert!(filter("accounts", "numberofemployees eq 1.5").is_err());
    assert!(filter("accounts", "name gt null").is_err());
    assert!(filter("accounts", "name in (null)").is_err());
    assert!(filter("accounts", "contains(revenue,'1')").is_err());
    assert!(filter("accounts", "contains(name,1)").is_err());
}

#[test]
fn aliases_stand_for_literals() {
    let q = parse(
        "contacts",
        "$filter=lastname eq @n and _parentcustomerid_value eq @acc&$top=@t?@n='O''B'?@acc=6d81597f-0f9f-e711-8122-000d3aa2331c?@t=3",
    )
    .unwrap();
    assert_eq!(
        q.filter,
        Some(Condition::And(vec![
            cmp("lastname", CompareOp::Eq, Value::String("O'B".into())),
            cmp("parentcustomerid", CompareOp::Eq, guid(ID)),
        ]))
    );
    assert_eq!(q.top, Some(3));
    assert!(matches!(
        parse("contacts", "$filter=contains(lastname,@p)&@p='x'").unwrap().filter,
        Some(Condition::Like { ref pattern, .. }) if pattern == "%x%"
    ));

    let e = parse("contacts", "$filter=lastname eq @missing").unwrap_err();
    assert_eq!(e.position, Some(12));
    assert!(e.message.contains("'@missing'"), "{}", e.message);
    let e = parse("contacts", "$filter=lastname eq @p&@p=a eq b").unwrap_err();
    assert!(e.message.contains("not a single literal"), "{}", e.message);
    let e = parse("contacts", "$filter=lastname eq @p&@p=5").unwrap_err();
    assert!(e.message.contains("Type mismatch"), "{}", e.message);
}

#[test]
fn syntax_errors_carry_positions() {
    let e = filter("asyncoperations", "statuscode eq ").unwrap_err();
    assert_eq!(
        e.message,
        "Syntax error at position 14 in $filter: expected a value after 'eq'"
    );
    assert_eq!(e.position, Some(14));

    let cases: &[(&str, usize, &str)] = &[
        ("statuscode 31", 11, "expected an operator"),
        ("statuscode eq 31 and", 20, "expected a condition"),
        ("(statuscode eq 31", 17, "expected ')'"),
        ("statuscode eq 31)", 16, "expected 'and', 'or'"),
        (
            "statuscode eq 31 xor name eq 'a'",
            17,
            "expected 'and', 'or'",
        ),
        ("name eq 'abc", 8, "not closed"),
        ("name eq 'é' and é", 16, "unexpected character 'é'"),
        ("name eq name", 8, "comparing two columns"),
        ("nosuch eq 1", 0, "Could not find a property named 'nosuch'"),
        ("tolower(name) eq 'x'", 0, "not supported"),
        ("statuscode in 1", 14, "expected '('"),
        ("statuscode in (1 2)", 17, "expected ',' or ')'"),
        ("createdon gt 2024-13-45", 13, "not a valid date"),
        ("contains(name 'x')", 14, "expected ','"),
        ("", 0, "expected a condition"),
        ("@", 0, "alias name"),
    ];
    for (text, pos, needle) in cases {
        let e = filter("asyncoperations", text).unwrap_err();
        assert_eq!(e.position, Some(*pos), "{text}: {}", e.message);
        assert!(e.message.contains(needle), "{text}: {}", e.message);
        assert!(
            e.message.contains(&format!("position {pos}")),
            "{text}: {}",
            e.message
        );
    }
}

#[test]
fn lookups_and_write_only_columns_in_names() {
    let e = parse("contacts", "$select=fullname,parentcustomerid").unwrap_err();
    assert_eq!(e.position, Some(9));
    assert!(
        e.message.contains("'_parentcustomerid_value'"),
        "{}",
        e.message
    );
    let q = parse(
        "contacts",
        "$select=fullname,_parentcustomerid_value,fullname",
    )
    .unwrap();
    assert_eq!(q.select, strings(&["fullname", "parentcustomerid"]));

    let e = parse("serviceendpoints", "$select=name,authvalue").unwrap_err();
    assert!(
        e.message
            .contains("Could not find a property named 'authvalue'"),
        "{}",
        e.message
    );
    assert!(parse("serviceendpoints", "$filter=authvalue eq 'x'").is_err());
    assert!(parse("serviceendpoints", "$orderby=authvalue").is_err());
    assert_eq!(
        parse("serviceendpoints", "$select=*").unwrap().select,
        Vec::<String>::new()
    );

    let e = parse("contacts", "$select=fullname,,lastname").unwrap_err();
    assert_eq!(e.position, Some(9));
    let e = parse("contacts", "$filter=parentcustomerid_account/name eq 'x'").unwrap_err();
    assert!(e.message.contains("navigation paths"), "{}", e.message);
}

// ---- other options ----

#[test]
fn orderby_top_count() {
    let q = parse(
        "accounts",
        "$orderby=name,revenue desc, createdon ASC&$top=10&$count=true",
    )
    .unwrap();
    assert_eq!(
        q.order,
        vec![
            Order {
                column: ColumnRef::new("name"),
                descending: false
            },
            Order {
                column: ColumnRef::new("revenue"),
                descending: true
            },
            Order {
                column: ColumnRef::new("createdon"),
                descending: false
            },
        ]
    );
    assert_eq!(q.top, Some(10));
    assert!(q.count);
    assert_eq!(parse("accounts", "$top=100000").unwrap().top, Some(MAX_TOP));
    assert_eq!(
        parse("accounts", "$top=99999999999999999999999")
            .unwrap()
            .top,
        Some(MAX_TOP)
    );
    assert_eq!(parse("accounts", "$top=0").unwrap().top, Some(0));
    assert!(parse("accounts", "$top=-1").is_err());
    assert!(parse("accounts", "$top=ten").is_err());
    assert!(!parse("accounts", "$count=false").unwrap().count);
    assert!(parse("accounts", "$count=yes").is_err());

    let e = parse("accounts", "$orderby=name up").unwrap_err();
    assert_eq!(e.position, Some(5));
    let e = parse("accounts", "$orderby=name desc x").unwrap_err();
    assert_eq!(e.position, Some(10));
}

#[test]
fn unsupported_unknown_and_ignored_options() {
    for opt in [
        "$skip=1",
        "$search=x",
        "$format=json",
        "$apply=groupby((name))",
    ] {
        let e = parse("accounts", opt).unwrap_err();
        assert!(e.message.contains("not supported"), "{opt}: {}", e.message);
    }
    let e = parse("accounts", "$xyz=1").unwrap_err();
    assert!(e.message.contains("'$xyz'"), "{}", e.message);
    let e = parse("accounts", "$top=1&$top=2").unwrap_err();
    assert!(e.message.contains("more than once"), "{}", e.message);
    // fetchXml, custom options, aliases and $skiptoken are left to the caller.
    let q = parse(
        "accounts",
        "fetchXml=%3Cfetch%3E&foo=bar&@x=1&$skiptoken=abc",
    )
    .unwrap();
    assert_eq!(q, Query::all("account"));
}

#[test]
fn expand_collections_with_nested_options() {
    let q = parse(
        "accounts",
        "$select=name&$expand=contact_customer_accounts($select=fullname,_parentcustomerid_value;$filter=startswith(lastname,'G;(');$orderby=lastname desc;$top=2),primarycontactid($select=fullname)",
    )
    .unwrap();
    assert_eq!(q.expand.len(), 2);
    let c = &q.expand[0];
    assert_eq!(c.navigation, "contact_customer_accounts");
    assert_eq!(
        c.kind,
        ExpandKind::Collection {
            lookup_column: "parentcustomerid".into()
        }
    );
    assert_eq!(c.query.table, "contact");
    assert_eq!(c.query.select, strings(&["fullname", "parentcustomerid"]));
    assert_eq!(
        c.query.filter,
        Some(Condition::Like {
            column: ColumnRef::new("lastname"),
            pattern: "G;(%".into(),
            negated: false
        })
    );
    assert_eq!(c.query.top, Some(2));
    assert!(c.query.order[0].descending);
    let s = &q.expand[1];
    assert_eq!(
        s.kind,
        ExpandKind::Single {
            lookup_column: "primarycontactid".into()
        }
    );
    assert_eq!(s.query.table, "contact");

    // Expansion by the lookup's navigation name, with no options.
    let q = parse("contacts", "$expand=parentcustomerid_account").unwrap();
    assert_eq!(q.expand[0].query, Query::all("account"));
    let q = parse(
        "serviceendpoints",
        "$expand=serviceendpoint_sdkmessageprocessingstep($select=name)",
    )
    .unwrap();
    assert_eq!(q.expand[0].query.table, "sdkmessageprocessingstep");
}

#[test]
fn expand_errors() {
    let e = parse("accounts", "$expand=nosuch($select=name)").unwrap_err();
    assert!(
        e.message.contains("'nosuch'") && e.position == Some(0),
        "{}",
        e.message
    );
    let e = parse(
        "accounts",
        "$expand=primarycontactid($select=fullname,nope)",
    )
    .unwrap_err();
    assert_eq!(e.position, Some(34));
    assert!(e.message.contains("'nope'"), "{}", e.message);
    let e = parse(
        "accounts",
        "$expand=contact_customer_accounts($filter=lastname eq)",
    )
    .unwrap_err();
    assert_eq!(e.position, Some(45));
    assert!(e.message.contains("in $expand"), "{}", e.message);
    let e = parse(
        "accounts",
        "$expand=primarycontactid($filter=fullname eq 'x')",
    )
    .unwrap_err();
    assert!(e.message.contains("Only $select"), "{}", e.message);
    assert!(parse("accounts", "$expand=primarycontactid($select=fullname").is_err());
    assert!(parse("accounts", "$expand=primarycontactid($select=fullname)x").is_err());
    assert!(parse("accounts", "$expand=primarycontactid,primarycontactid").is_err());
    assert!(parse("accounts", "$expand=contact_customer_accounts($expand=x)").is_err());
    assert!(parse("accounts", "$expand=contact_customer_accounts($skip=1)").is_err());
    assert!(parse("accounts", "$expand=,").is_err());
    assert!(parse("accounts", "$expand=(").is_err());
}

// ---- robustness ----

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for n in [MAX_FILTER_DEPTH + 1, 100_000] {
        let f = format!("{}name eq 'x'{}", "(".repeat(n), ")".repeat(n));
        let e = filter("accounts", &f).unwrap_err();
        assert!(e.message.contains("nested"), "{}", e.message);
        let f = format!("{}name eq 'x'", "not ".repeat(n));
        assert!(filter("accounts", &f).is_err());
    }
    let ok = format!("{}name eq 'x'{}", "(".repeat(50), ")".repeat(50));
    assert!(filter("accounts", &ok).is_ok());
    // Unbalanced or huge $expand input is handled without recursion.
    assert!(parse(
        "accounts",
        &format!("$expand=primarycontactid{}", "(".repeat(100_000))
    )
    .is_err());
}

/// A tiny deterministic PRNG (xorshift64*), so no crate is needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

#[test]
fn garbage_never_panics() {
    let schema = schema();
    let tables: Vec<_> = [
        "accounts",
        "contacts",
        "sdkmessageprocessingsteps",
        "asyncoperations",
    ]
    .iter()
    .map(|s| schema.table_by_set(s).expect("set"))
    .collect();
    let pieces = [
        "name",
        "_parentcustomerid_value",
        "statuscode",
        "createdon",
        "revenue",
        "authvalue",
        " eq ",
        " ne ",
        " gt ",
        " in ",
        " and ",
        " or ",
        "not ",
        "(",
        ")",
        ",",
        ";",
        "'",
        "''",
        "'x'",
        "null",
        "true",
        "1",
        "-",
        "1.5e3",
        "2024-05-01",
        "2024-05-01T10:00:00Z",
        ID,
        "@p",
        "@",
        "?@p=",
        "&",
        "=",
        "$filter=",
        "$select=",
        "$expand=",
        "$orderby=",
        "$top=",
        "contains(",
        "startswith(",
        "primarycontactid(",
        "contact_customer_accounts(",
        "é",
        "日本",
        "\u{0}",
        "%",
        "%C3",
        "%zz",
        "+",
        "?",
        "/",
        " desc",
        "*",
        "\u{1F600}",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..3000 {
        let mut s = String::new();
        if i % 3 == 0 {
            // Random characters, including multi-byte ones.
            let n = rng.next() % 40;
            for _ in 0..n {
                let c = match rng.next() % 4 {
                    0 => char::from_u32((rng.next() % 0x80) as u32),
                    1 => char::from_u32((rng.next() % 0x800) as u32),
                    2 => char::from_u32(0x1F600 + (rng.next() % 50) as u32),
                    _ => Some(
                        ['(', ')', '\'', ',', ';', '@', '$', '=', '&', '?']
                            [(rng.next() % 10) as usize],
                    ),
                };
                s.extend(c);
            }
        } else {
            let n = rng.next() % 16;
            for _ in 0..n {
                s.push_str(rng.pick(&pieces));
            }
        }
        let table = tables[(rng.next() % tables.len() as u64) as usize];
        let _ = parse_options(&schema, table, &split_query_string(&s));
        for key in [
            "$filter", "$select", "$orderby", "$expand", "$top", "$count",
        ] {
            let opts = vec![(key.to_string(), s.clone()), ("@p".to_string(), s.clone())];
            if let Err(e) = parse_options(&schema, table, &opts) {
                // Positions, when given, point into the option's text.
                if let Some(p) = e.position {
                    assert!(p <= s.chars().count(), "{key}={s:?}: {e:?}");
                }
            }
        }
    }
}
