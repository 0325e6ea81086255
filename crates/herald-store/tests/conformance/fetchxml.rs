//! FetchXML, parsed by herald-core and run by the store.

use super::*;

conformance!(fetchxml_queries_give_the_expected_rows,);

fn at(s: &str) -> Value {
    Value::DateTime(herald_core::value::parse_datetime(s).unwrap())
}

/// FetchXML, parsed by herald-core and run by the store: each operator and
/// link shape returns exactly the expected rows, on both stores.
async fn fetchxml_queries_give_the_expected_rows(store: Store) {
    use std::collections::HashMap;
    let mut label: HashMap<Uuid, &str> = HashMap::new();
    let parent = insert(&store, "account", vec![("name", v("Parent Co"))]).await;
    label.insert(parent, "parent");
    let mut accounts = HashMap::new();
    for (name, staff, parent_id) in [
        ("Alpha", 10, Some(parent)),
        ("Beta", 50, None),
        ("Gamma", 100, Some(parent)),
    ] {
        let id = insert(
            &store,
            "account",
            vec![
                ("name", v(name)),
                ("numberofemployees", Value::Int(staff)),
                (
                    "parentaccountid",
                    parent_id.map(Value::Guid).unwrap_or(Value::Null),
                ),
            ],
        )
        .await;
        label.insert(id, name);
        accounts.insert(name, id);
    }
    for (first, last, born, job, account) in [
        (
            "Ann",
            "Glynn",
            Some("1980-02-01T00:00:00Z"),
            Some("Engineer"),
            Some("Alpha"),
        ),
        (
            "Bob",
            "Glass",
            Some("1980-02-01T15:30:00Z"),
            None,
            Some("Alpha"),
        ),
        (
            "Cid",
            "Smith",
            Some("1980-02-02T00:00:00Z"),
            Some("Manager"),
            Some("Beta"),
        ),
        (
            "Dee",
            "Jones",
            Some("1979-12-31T23:59:59Z"),
            Some("Engineer"),
            None,
        ),
        ("Eve", "Smithers", None, Some("Intern"), Some("Gamma")),
    ] {
        let id = insert(
            &store,
            "contact",
            vec![
                ("firstname", v(first)),
                ("lastname", v(last)),
                ("birthdate", born.map(at).unwrap_or(Value::Null)),
                ("jobtitle", job.map(v).unwrap_or(Value::Null)),
                (
                    "parentcustomerid",
                    account
                        .and_then(|a| accounts.get(a).copied())
                        .map(Value::Guid)
                        .unwrap_or(Value::Null),
                ),
            ],
        )
        .await;
        label.insert(id, first);
    }

    let contacts = |filter: &str| {
        format!("<fetch><entity name='contact'><attribute name='fullname'/><filter>{filter}</filter></entity></fetch>")
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "between",
            "<fetch><entity name='account'><filter><condition attribute='numberofemployees' operator='between'><value>10</value><value>50</value></condition></filter></entity></fetch>".into(),
            vec!["Alpha", "Beta"],
        ),
        (
            "on (a date: the whole day)",
            contacts("<condition attribute='birthdate' operator='on' value='1980-02-01'/>"),
            vec!["Ann", "Bob"],
        ),
        (
            "on-or-after",
            contacts("<condition attribute='birthdate' operator='on-or-after' value='1980-02-01'/>"),
            vec!["Ann", "Bob", "Cid"],
        ),
        (
            "on-or-before (a date includes that day)",
            contacts("<condition attribute='birthdate' operator='on-or-before' value='1980-02-01'/>"),
            vec!["Ann", "Bob", "Dee"],
        ),
        (
            "not-like (case-insensitive)",
            contacts("<condition attribute='lastname' operator='not-like' value='%smith%'/>"),
            vec!["Ann", "Bob", "Dee"],
        ),
        (
            "begins-with",
            contacts("<condition attribute='lastname' operator='begins-with' value='GL'/>"),
            vec!["Ann", "Bob"],
        ),
        (
            "ends-with",
            contacts("<condition attribute='lastname' operator='ends-with' value='s'/>"),
            vec!["Bob", "Dee", "Eve"],
        ),
        (
            "not-in",
            contacts("<condition attribute='firstname' operator='not-in'><value>Ann</value><value>Bob</value></condition>"),
            vec!["Cid", "Dee", "Eve"],
        ),
        (
            "null",
            contacts("<condition attribute='jobtitle' operator='null'/>"),
            vec!["Bob"],
        ),
        (
            "not-null, or'ed with a nested and",
            contacts("<filter type='or'><condition attribute='birthdate' operator='null'/><filter><condition attribute='jobtitle' operator='not-null'/><condition attribute='jobtitle' operator='eq' value='Engineer'/></filter></filter>"),
            vec!["Ann", "Dee", "Eve"],
        ),
        (
            "an inner link repeats its parent once per match",
            "<fetch><entity name='account'><attribute name='accountid'/><link-entity name='contact' from='parentcustomerid' to='accountid'/></entity></fetch>".into(),
            vec!["Alpha", "Alpha", "Beta", "Gamma"],
        ),
        (
            "distinct",
            "<fetch distinct='true'><entity name='account'><attribute name='accountid'/><link-entity name='contact' from='parentcustomerid' to='accountid'/></entity></fetch>".into(),
            vec!["Alpha", "Beta", "Gamma"],
        ),
        (
            "nested link-entity with a filter on the innermost",
            "<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid' alias='a'><link-entity name='account' from='accountid' to='parentaccountid' alias='p'><filter><condition attribute='name' operator='eq' value='Parent Co'/></filter></link-entity></link-entity></entity></fetch>".into(),
            vec!["Ann", "Bob", "Eve"],
        ),
        (
            "inner link with its own filter",
            "<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid'><filter><condition attribute='numberofemployees' operator='ge' value='50'/></filter></link-entity></entity></fetch>".into(),
            vec!["Cid", "Eve"],
        ),
        (
            "outer link with its own filter keeps every parent row",
            "<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid' link-type='outer' alias='a'><attribute name='name'/><filter><condition attribute='name' operator='eq' value='Alpha'/></filter></link-entity></entity></fetch>".into(),
            vec!["Ann", "Bob", "Cid", "Dee", "Eve"],
        ),
        (
            "outer link + null on its key: rows without a match",
            "<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid' link-type='outer' alias='a'><filter><condition attribute='name' operator='eq' value='Alpha'/></filter></link-entity><filter><condition entityname='a' attribute='accountid' operator='null'/></filter></entity></fetch>".into(),
            vec!["Cid", "Dee", "Eve"],
        ),
    ];
    let schema = store.schema().clone();
    for (what, xml, expected) in cases {
        let q = herald_core::fetchxml::parse_fetchxml(&schema, &xml)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let pk = schema.table(&q.table).unwrap().primary_id.clone();
        let rows = store
            .fetch(&q, None, 0)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let mut got: Vec<&str> = rows
            .iter()
            .map(|r| {
                r.guid(&pk)
                    .and_then(|id| label.get(&id).copied())
                    .unwrap_or("?")
            })
            .collect();
        got.sort_unstable();
        assert_eq!(got, expected, "{what} ({:?})", store.dialect());
        assert_eq!(
            store.count(&q).await.unwrap(),
            expected.len() as i64,
            "{what}: count"
        );
        // The outer link's columns: the match's name, or null.
        if what.starts_with("outer link with") {
            for r in &rows {
                let name = r.get("a.name").cloned();
                let first = r.guid(&pk).and_then(|id| label.get(&id).copied());
                let want = match first {
                    Some("Ann") | Some("Bob") => v("Alpha"),
                    _ => Value::Null,
                };
                assert_eq!(name, Some(want), "{what}: {first:?}");
            }
        }
    }
}
