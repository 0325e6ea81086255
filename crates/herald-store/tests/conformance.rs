//! One conformance suite, run against both backends: SQLite on a temp file
//! and PostgreSQL on a fresh database (skipped, loudly, without
//! `HERALD_TEST_DATABASE_URL`).

use std::sync::Arc;

use herald_core::query::{ColumnRef, CompareOp, Condition, Link, Order};
use herald_core::{Query, Schema, Value};
use herald_store::{testing, Store, StoreError, StoreOptions};
use uuid::Uuid;

async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::build(&[]).unwrap());
    let store = Store::connect(
        &testing::sqlite_url(dir.path()),
        schema,
        StoreOptions::default(),
    )
    .await
    .unwrap();
    (store, dir)
}

async fn postgres(test: &str) -> Option<Store> {
    let url = testing::fresh_postgres_url(test).await?;
    let schema = Arc::new(Schema::build(&[]).unwrap());
    Some(
        Store::connect(&url, schema, StoreOptions::default())
            .await
            .unwrap(),
    )
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $name() { let (s, _d) = super::sqlite().await; super::$name(s).await; })*
        }
        mod on_postgres {
            $(#[tokio::test] async fn $name() {
                if let Some(s) = super::postgres(concat!("store::", stringify!($name))).await { super::$name(s).await; }
            })*
        }
    };
}

conformance!(
    insert_get_update_delete,
    filters_and_orders,
    duplicate_ids_are_reported,
    a_refused_insert_leaves_the_transaction_usable,
    links_join_tables,
    rollback_discards_writes,
    migrate_twice_is_harmless,
    unstorable_text_is_a_data_exception,
    fetchxml_queries_give_the_expected_rows,
    api_keys_are_listed_without_the_key,
    api_keys_can_be_removed,
    strings_compare_case_insensitively,
    case_insensitive_lookups_keep_their_indexes,
    endpoint_names_are_unique_regardless_of_case,
);

fn v(s: &str) -> Value {
    Value::String(s.to_string())
}

async fn add_contact(store: &Store, first: &str, last: &str, account: Option<Uuid>) -> Uuid {
    let schema = store.schema().clone();
    let t = schema.table("contact").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(
        t,
        &[
            ("contactid".into(), Value::Guid(id)),
            ("firstname".into(), v(first)),
            ("lastname".into(), v(last)),
            (
                "parentcustomerid".into(),
                account.map(Value::Guid).unwrap_or(Value::Null),
            ),
            ("versionnumber".into(), Value::Int(1)),
            ("donotemail".into(), Value::Bool(false)),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn insert_get_update_delete(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("contact").unwrap();
    let id = add_contact(&store, "Jim", "Glynn", None).await;
    let r = store.get(t, id).await.unwrap().unwrap();
    assert_eq!(r.string("firstname"), Some("Jim"));
    assert_eq!(r.get("donotemail"), Some(&Value::Bool(false)));
    assert_eq!(r.get("birthdate"), Some(&Value::Null));

    let when = herald_core::value::parse_datetime("2024-05-01T10:00:00Z").unwrap();
    let mut tx = store.begin().await.unwrap();
    let n = tx
        .update(
            t,
            id,
            &[
                ("firstname".into(), v("James")),
                ("birthdate".into(), Value::DateTime(when)),
                ("creditlimit".into(), Value::Decimal(12.5)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    let r = store.get(t, id).await.unwrap().unwrap();
    assert_eq!(r.string("firstname"), Some("James"));
    assert_eq!(r.get("birthdate"), Some(&Value::DateTime(when)));
    assert_eq!(r.get("creditlimit"), Some(&Value::Decimal(12.5)));

    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.delete(t, id).await.unwrap(), 1);
    assert_eq!(tx.delete(t, id).await.unwrap(), 0);
    tx.commit().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_none());
}

async fn filters_and_orders(store: Store) {
    for (f, l) in [
        ("Ann", "Glynn"),
        ("bob", "gladstone"),
        ("Cid", "Smith"),
        ("Dee", "O'Hara"),
        ("Eve", "100%_sure"),
    ] {
        add_contact(&store, f, l, None).await;
    }
    let run = |filter: Condition| {
        let store = store.clone();
        async move {
            let mut q = Query::all("contact");
            q.select = vec!["firstname".into()];
            q.filter = Some(filter);
            q.order = vec![Order {
                column: ColumnRef::new("firstname"),
                descending: false,
            }];
            store
                .fetch(&q, None, 0)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.string("firstname").unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    // startswith is case-insensitive on both stores, like Dataverse.
    let like = |p: &str| Condition::Like {
        column: ColumnRef::new("lastname"),
        pattern: p.into(),
        negated: false,
    };
    assert_eq!(run(like("gl%")).await, vec!["Ann", "bob"]);
    assert_eq!(run(like("%o'h%")).await, vec!["Dee"]);
    assert_eq!(
        run(like(&format!(
            "{}%",
            herald_core::query::escape_like("100%_")
        )))
        .await,
        vec!["Eve"]
    );
    assert_eq!(
        run(like(&format!(
            "{}%",
            herald_core::query::escape_like("10%")
        )))
        .await,
        Vec::<String>::new()
    );
    let eq = Condition::Compare {
        column: ColumnRef::new("firstname"),
        op: CompareOp::Eq,
        value: v("Cid"),
    };
    assert_eq!(run(eq.clone()).await, vec!["Cid"]);
    // Ordered case-insensitively, like Dataverse.
    assert_eq!(
        run(Condition::Not(Box::new(eq))).await,
        vec!["Ann", "bob", "Dee", "Eve"]
    );
    let inn = Condition::In {
        column: ColumnRef::new("firstname"),
        values: vec![v("Ann"), v("Eve")],
        negated: false,
    };
    assert_eq!(run(inn).await, vec!["Ann", "Eve"]);
    let ne = Condition::Compare {
        column: ColumnRef::new("jobtitle"),
        op: CompareOp::Ne,
        value: v("x"),
    };
    assert_eq!(run(ne).await.len(), 5, "ne matches nulls");

    let mut q = Query::all("contact");
    q.order = vec![Order {
        column: ColumnRef::new("lastname"),
        descending: true,
    }];
    assert_eq!(store.count(&q).await.unwrap(), 5);
    let page = store.fetch(&q, Some(2), 1).await.unwrap();
    assert_eq!(page.len(), 2);
}

async fn duplicate_ids_are_reported(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let id = Uuid::new_v4();
    let row = vec![
        ("accountid".to_string(), Value::Guid(id)),
        ("name".to_string(), v("A")),
    ];
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &row).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    // On SQLite inserts are batched: the error surfaces at the next flush.
    let inserted = match tx.insert(t, &row).await {
        Ok(()) => tx.flush().await,
        e => e,
    };
    match inserted {
        Err(StoreError::Duplicate(d)) => assert_eq!(d, id.to_string()),
        other => panic!("expected Duplicate, got {other:?}"),
    }
}

async fn links_join_tables(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let acc = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(
        t,
        &[
            ("accountid".into(), Value::Guid(acc)),
            ("name".into(), v("Fabrikam")),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    add_contact(&store, "Ann", "Glynn", Some(acc)).await;
    add_contact(&store, "Bob", "Loner", None).await;
    let mut q = Query::all("contact");
    q.select = vec!["firstname".into()];
    q.order = vec![Order {
        column: ColumnRef::new("firstname"),
        descending: false,
    }];
    let link = |outer| Link {
        table: "account".into(),
        from: "accountid".into(),
        to: "parentcustomerid".into(),
        alias: "acc".into(),
        outer,
        select: vec!["name".into()],
        filter: None,
        order: vec![],
        links: vec![],
    };
    q.links = vec![link(false)];
    let rows = store.fetch(&q, None, 0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].string("acc.name"), Some("Fabrikam"));
    q.links = vec![link(true)];
    let rows = store.fetch(&q, None, 0).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get("acc.name"), Some(&Value::Null));
    assert_eq!(store.count(&q).await.unwrap(), 2);
}

async fn rollback_discards_writes(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let id = Uuid::new_v4();
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &[("accountid".into(), Value::Guid(id))])
        .await
        .unwrap();
    assert!(
        tx.get(t, id).await.unwrap().is_some(),
        "visible inside its transaction"
    );
    tx.rollback().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_none());
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &[("accountid".into(), Value::Guid(id))])
        .await
        .unwrap();
    drop(tx);
    assert!(
        store.get(t, id).await.unwrap().is_none(),
        "dropping a transaction rolls back"
    );
}

async fn migrate_twice_is_harmless(store: Store) {
    let mut tx = store.begin().await.unwrap();
    tx.put_setting("k", "1").await.unwrap();
    tx.put_setting("k", "2").await.unwrap();
    assert_eq!(tx.setting("k").await.unwrap().as_deref(), Some("2"));
    tx.commit().await.unwrap();
}

/// PostgreSQL refuses U+0000 in text with SQLSTATE 22021 (class 22, a data
/// exception, which the API answers with 400); SQLite stores it. The
/// parsers refuse it before it gets here; this is the safety net's signal.
async fn unstorable_text_is_a_data_exception(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let mut tx = store.begin().await.unwrap();
    let r = tx
        .insert(
            t,
            &[
                ("accountid".into(), Value::Guid(Uuid::new_v4())),
                ("name".into(), v("a\0b")),
            ],
        )
        .await;
    match (store.dialect(), r) {
        (herald_store::Dialect::Postgres, Err(e)) => {
            assert!(e.data_exception().is_some(), "{e}")
        }
        (herald_store::Dialect::Sqlite, Ok(())) => {}
        (d, r) => panic!("{d:?}: unexpected {r:?}"),
    }
    drop(tx);
    let mut tx = store.begin().await.unwrap();
    let dup = Uuid::new_v4();
    let row = [("accountid".to_string(), Value::Guid(dup))];
    tx.insert(t, &row).await.unwrap();
    let e = match tx.insert(t, &row).await {
        Ok(()) => tx.flush().await.unwrap_err(),
        Err(e) => e,
    };
    assert!(
        e.data_exception().is_none(),
        "a duplicate is not a data exception"
    );
}

/// Insert a row of `table` with the given values (plus its id) and return the id.
async fn insert(store: &Store, table: &str, values: Vec<(&str, Value)>) -> Uuid {
    let schema = store.schema().clone();
    let t = schema.table(table).unwrap();
    let id = Uuid::new_v4();
    let mut row = vec![(t.primary_id.clone(), Value::Guid(id))];
    row.extend(values.into_iter().map(|(k, v)| (k.to_string(), v)));
    let mut tx = store.begin().await.unwrap();
    tx.insert(t, &row).await.unwrap();
    tx.commit().await.unwrap();
    id
}

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

async fn api_keys_are_listed_without_the_key(store: Store) {
    let (admin, dana) = (Uuid::new_v4(), Uuid::new_v4());
    let mut tx = store.begin().await.unwrap();
    tx.put_api_key("hash-a", admin, "admin", 1_000)
        .await
        .unwrap();
    tx.put_api_key("hash-b", dana, "ci", 2_000).await.unwrap();
    tx.put_api_key("hash-b", admin, "again", 3_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let keys = store.api_keys().await.unwrap();
    let got: Vec<(&str, Uuid, i64)> = keys
        .iter()
        .map(|k| (k.name.as_str(), k.user, k.created_ms))
        .collect();
    assert_eq!(got, vec![("admin", admin, 1_000), ("ci", dana, 2_000)]);
    assert_eq!(store.api_key_user("hash-b").await.unwrap(), Some(dana));
}

async fn api_keys_can_be_removed(store: Store) {
    let (admin, dana) = (Uuid::new_v4(), Uuid::new_v4());
    let a = "a".repeat(64);
    let b = format!("{}{}", "b".repeat(12), "c".repeat(52));
    let mut tx = store.begin().await.unwrap();
    tx.put_api_key(&a, admin, "admin", 1_000).await.unwrap();
    tx.put_api_key(&b, dana, "ci", 2_000).await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<String> = store
        .api_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.id().to_string())
        .collect();
    assert_eq!(ids, vec!["a".repeat(12), "b".repeat(12)]);

    assert!(store.remove_api_key(&b).await.unwrap());
    assert_eq!(
        store.api_key_user(&b).await.unwrap(),
        None,
        "refused at once"
    );
    assert!(!store.remove_api_key(&b).await.unwrap(), "already gone");
    assert!(!store.remove_api_key("unknown").await.unwrap());
    let left: Vec<String> = store
        .api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(left, vec!["admin"]);
    assert_eq!(store.api_key_user(&a).await.unwrap(), Some(admin));
}

/// Labels (first names) of the contacts an OData query string returns, in
/// the store's order.
async fn odata_labels(store: &Store, options: &str) -> Vec<String> {
    let schema = store.schema().clone();
    let t = schema.table("contact").unwrap();
    let opts = herald_core::odata::split_query_string(options);
    let q = herald_core::odata::parse_options(&schema, t, &opts)
        .unwrap_or_else(|e| panic!("{options}: {e}"));
    store
        .fetch(&q, None, 0)
        .await
        .unwrap_or_else(|e| panic!("{options}: {e}"))
        .iter()
        .map(|r| r.string("firstname").unwrap_or("?").to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort_unstable();
    v
}

/// Text compares as under SQL Server's default collation: ASCII case is
/// ignored by every operator on string and memo columns, and by ordering;
/// other letters keep their case. Same rows, same order, on both stores.
async fn strings_compare_case_insensitively(store: Store) {
    let acme = insert(&store, "account", vec![("name", v("Acme Corp"))]).await;
    for (first, last, description) in [
        ("A", Some("Glynn"), Some("Big Client")),
        ("B", Some("glynn"), Some("big client")),
        ("C", Some("GLYNN"), None),
        ("D", Some("apple"), None),
        ("E", Some("Apple"), None),
        ("F", Some("Zed"), None),
        ("G", Some("Émile"), None),
        ("H", Some("émile"), None),
        ("I", None, None),
    ] {
        insert(
            &store,
            "contact",
            vec![
                ("firstname", v(first)),
                ("lastname", last.map(v).unwrap_or(Value::Null)),
                ("description", description.map(v).unwrap_or(Value::Null)),
                (
                    "parentcustomerid",
                    if first == "A" || first == "D" {
                        Value::Guid(acme)
                    } else {
                        Value::Null
                    },
                ),
            ],
        )
        .await;
    }
    let dialect = store.dialect();
    for (filter, expected) in [
        ("lastname eq 'glynn'", "ABC"),
        ("lastname eq 'GLYNN' and firstname eq 'a'", "A"),
        ("lastname ne 'GLYNN'", "DEFGHI"),
        // Case-sensitively 'GLYNN' and 'Zed' sort before 'b'.
        ("lastname lt 'b'", "DE"),
        ("lastname le 'APPLE'", "DE"),
        ("lastname gt 'glynn'", "FGH"),
        ("lastname ge 'ZED'", "FGH"),
        ("contains(lastname,'LYN')", "ABC"),
        ("startswith(lastname,'APP')", "DE"),
        ("endswith(lastname,'Nn')", "ABC"),
        ("not contains(lastname,'lYn')", "DEFGH"),
        ("lastname in ('APPLE','zed')", "DEF"),
        ("not (lastname in ('APPLE','zed'))", "ABCGH"),
        ("description eq 'BIG CLIENT'", "AB"),
        ("contains(description,'g c')", "AB"),
        // Only A–Z fold: 'É' and 'é' stay different, on both stores.
        ("lastname eq 'émile'", "H"),
        ("startswith(lastname,'É')", "G"),
    ] {
        let got =
            sorted(odata_labels(&store, &format!("$select=firstname&$filter={filter}")).await);
        let want: Vec<String> = expected.chars().map(String::from).collect();
        assert_eq!(got, want, "$filter={filter} ({dialect:?})");
    }

    // $orderby: ties in case are broken by the primary key, so compare the
    // folded names; nulls first ascending, last descending.
    let fold = |labels: Vec<String>| -> Vec<&'static str> {
        labels
            .iter()
            .map(|l| match l.as_str() {
                "A" | "B" | "C" => "glynn",
                "D" | "E" => "apple",
                "F" => "zed",
                "G" => "Émile",
                "H" => "émile",
                _ => "null",
            })
            .collect()
    };
    let ascending = vec![
        "null", "apple", "apple", "glynn", "glynn", "glynn", "zed", "Émile", "émile",
    ];
    assert_eq!(
        fold(odata_labels(&store, "$select=firstname&$orderby=lastname").await),
        ascending,
        "{dialect:?}"
    );
    let mut descending = ascending.clone();
    descending.reverse();
    assert_eq!(
        fold(odata_labels(&store, "$select=firstname&$orderby=lastname desc").await),
        descending,
        "{dialect:?}"
    );
    // Case ties under the next order key: the same on both stores.
    assert_eq!(
        odata_labels(
            &store,
            "$select=firstname&$filter=lastname eq 'glynn'&$orderby=lastname,firstname desc"
        )
        .await,
        vec!["C", "B", "A"]
    );

    // FetchXML.
    let schema = store.schema().clone();
    let fetch = |body: &str| {
        format!(
            "<fetch><entity name='contact'><attribute name='firstname'/>{body}</entity></fetch>"
        )
    };
    let cond = |c: &str| fetch(&format!("<filter>{c}</filter>"));
    for (what, xml, expected) in [
        ("eq", cond("<condition attribute='lastname' operator='eq' value='GLYNN'/>"), "ABC"),
        ("ne", cond("<condition attribute='lastname' operator='ne' value='glynn'/>"), "DEFGHI"),
        ("like", cond("<condition attribute='lastname' operator='like' value='%LY%'/>"), "ABC"),
        ("not-like", cond("<condition attribute='lastname' operator='not-like' value='%LY%'/>"), "DEFGHI"),
        ("begins-with", cond("<condition attribute='lastname' operator='begins-with' value='gLy'/>"), "ABC"),
        ("ends-with", cond("<condition attribute='lastname' operator='ends-with' value='PLE'/>"), "DE"),
        ("in", cond("<condition attribute='lastname' operator='in'><value>GLYNN</value><value>ZED</value></condition>"), "ABCF"),
        ("not-in", cond("<condition attribute='lastname' operator='not-in'><value>glynn</value></condition>"), "DEFGHI"),
        ("memo eq", cond("<condition attribute='description' operator='eq' value='big CLIENT'/>"), "AB"),
        ("lt", cond("<condition attribute='lastname' operator='lt' value='B'/>"), "DE"),
        // Link-entity conditions fold too.
        (
            "a link's condition",
            fetch("<link-entity name='account' from='accountid' to='parentcustomerid'><filter><condition attribute='name' operator='eq' value='ACME corp'/></filter></link-entity>"),
            "AD",
        ),
    ] {
        let q = herald_core::fetchxml::parse_fetchxml(&schema, &xml)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let rows = store.fetch(&q, None, 0).await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = sorted(
            rows.iter()
                .map(|r| r.string("firstname").unwrap_or("?").to_string())
                .collect(),
        );
        let want: Vec<String> = expected.chars().map(String::from).collect();
        assert_eq!(got, want, "FetchXML {what} ({dialect:?})");
        assert_eq!(store.count(&q).await.unwrap(), want.len() as i64, "{what}: count");
    }
    // distinct + order on a string column (PostgreSQL wants what it sorts
    // by returned): every spelling is its own value, ordered folded.
    let xml = "<fetch distinct='true'><entity name='contact'><attribute name='lastname'/><order attribute='lastname' descending='true'/></entity></fetch>";
    let q = herald_core::fetchxml::parse_fetchxml(&schema, xml).unwrap();
    let rows = store.fetch(&q, None, 0).await.unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.string("lastname").unwrap_or("null").to_ascii_lowercase())
        .collect();
    assert_eq!(
        names,
        vec!["émile", "Émile", "zed", "glynn", "glynn", "glynn", "apple", "apple", "null"]
            .into_iter()
            .map(|n| n.to_ascii_lowercase())
            .collect::<Vec<_>>(),
        "{dialect:?}"
    );
    assert!(
        rows.iter().all(|r| r
            .values
            .iter()
            .all(|(k, _)| k == "lastname" || k == "contactid")),
        "only the selected columns come back: {rows:?}"
    );
    assert_eq!(store.count(&q).await.unwrap(), 9);
}

/// Fill `table` with `n` rows in one statement (both stores).
async fn bulk(store: &Store, table: &str, columns: &str, values: &str, n: u32) {
    let mut tx = store.begin().await.unwrap();
    tx.conn()
        .await
        .unwrap()
        .execute_raw(&format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) \
             INSERT INTO {table} ({columns}) SELECT {values} FROM g"
        ))
        .await
        .unwrap();
    tx.conn()
        .await
        .unwrap()
        .execute_raw("ANALYZE")
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn uses_index(store: &Store, plan: &[String], index: &str) -> bool {
    match store.dialect() {
        herald_store::Dialect::Sqlite => plan.iter().any(|l| {
            l.contains(&format!("USING INDEX {index}"))
                || l.contains(&format!("USING COVERING INDEX {index}"))
        }),
        herald_store::Dialect::Postgres => plan.iter().any(|l| {
            l.contains(&format!(" using {index} on "))
                || l.contains(&format!("Index Scan on {index} "))
        }),
    }
}

/// Folding text does not cost herald's own lookups their indexes: the
/// webhook-by-name lookup walks the folded unique index, and the shape of
/// `herald bench query` (a lookup, a choice, ordered by a date) its lookup
/// index as before.
async fn case_insensitive_lookups_keep_their_indexes(store: Store) {
    bulk(
        &store,
        "serviceendpoint",
        "serviceendpointid, name",
        "'e-' || n, 'Hook' || n",
        3000,
    )
    .await;
    let account = Uuid::new_v4();
    bulk(
        &store,
        "contact",
        "contactid, lastname, parentcustomerid, statecode, createdon",
        &format!(
            "'c-' || n, 'Name' || n, \
             CASE WHEN n % 100 = 0 THEN '{account}' ELSE 'a-' || (n % 100) END, 0, n * 1000"
        ),
        5000,
    )
    .await;
    let schema = store.schema().clone();
    let endpoints = schema.table("serviceendpoint").unwrap();
    let opts = herald_core::odata::split_query_string("$select=name&$filter=name eq 'HOOK42'");
    let q = herald_core::odata::parse_options(&schema, endpoints, &opts).unwrap();
    let plan = store.explain(&q, None).await.unwrap();
    assert!(
        uses_index(&store, &plan, "ux_serviceendpoint_name_fold"),
        "{:?}: {plan:#?}",
        store.dialect()
    );
    let rows = store.fetch(&q, None, 0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].string("name"), Some("Hook42"));

    let contacts = schema.table("contact").unwrap();
    let opts = herald_core::odata::split_query_string(&format!(
        "$select=fullname,lastname,createdon&$filter=_parentcustomerid_value eq {account} and statecode eq 0&$orderby=createdon desc&$top=1000"
    ));
    let q = herald_core::odata::parse_options(&schema, contacts, &opts).unwrap();
    let plan = store.explain(&q, Some(1000)).await.unwrap();
    assert!(
        uses_index(&store, &plan, "ix_contact_parentcustomerid"),
        "{:?}: {plan:#?}",
        store.dialect()
    );
    assert_eq!(store.fetch(&q, Some(1000), 0).await.unwrap().len(), 50);
}

/// The store keeps serviceendpoint names unique regardless of case; a
/// database from before, with names differing only in case, still starts
/// (keeping the exact-name unique index) and is upgraded once renamed.
/// Insert a serviceendpoint named `name`: the store's verdict (PostgreSQL
/// refuses a duplicate at the insert, SQLite at the commit).
async fn add_endpoint(store: &Store, name: &str) -> Result<(), StoreError> {
    let schema = store.schema().clone();
    let t = schema.table("serviceendpoint").unwrap();
    let mut tx = store.begin().await?;
    tx.insert(
        t,
        &[
            ("serviceendpointid".into(), Value::Guid(Uuid::new_v4())),
            ("name".into(), v(name)),
        ],
    )
    .await?;
    tx.commit().await
}

async fn endpoint_names_are_unique_regardless_of_case(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("serviceendpoint").unwrap();
    add_endpoint(&store, "Bin").await.unwrap();
    let err = add_endpoint(&store, "BIN")
        .await
        .expect_err("a name differing only in case");
    assert!(matches!(err, StoreError::Duplicate(_)), "{err}");

    // As a database from before folding would be.
    let mut tx = store.begin().await.unwrap();
    for stmt in [
        "DROP INDEX ux_serviceendpoint_name_fold",
        "CREATE UNIQUE INDEX ux_serviceendpoint_name ON serviceendpoint (name)",
    ] {
        tx.conn().await.unwrap().execute_raw(stmt).await.unwrap();
    }
    tx.commit().await.unwrap();
    let other = insert(&store, "serviceendpoint", vec![("name", v("BIN"))]).await;
    store
        .migrate()
        .await
        .expect("starts with names differing only in case");
    assert!(
        matches!(
            add_endpoint(&store, "Bin").await,
            Err(StoreError::Duplicate(_))
        ),
        "exact duplicates are still refused"
    );
    let mut tx = store.begin().await.unwrap();
    tx.update(t, other, &[("name".into(), v("Bin 2"))])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store.migrate().await.unwrap();
    assert!(
        matches!(
            add_endpoint(&store, "bin 2").await,
            Err(StoreError::Duplicate(_))
        ),
        "upgraded to the folded unique index"
    );
    add_endpoint(&store, "bin 3").await.unwrap();
}

/// An insert naming an unknown column is refused and leaves nothing behind
/// in the transaction (on SQLite, nothing half-built in its batch): the
/// next insert and the commit go through.
async fn a_refused_insert_leaves_the_transaction_usable(store: Store) {
    let schema = store.schema().clone();
    let t = schema.table("account").unwrap();
    let mut tx = store.begin().await.unwrap();
    let bad = tx
        .insert(
            t,
            &[
                ("accountid".to_string(), Value::Guid(Uuid::new_v4())),
                ("no_such_column".to_string(), v("x")),
            ],
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    let id = Uuid::new_v4();
    tx.insert(
        t,
        &[
            ("accountid".to_string(), Value::Guid(id)),
            ("name".to_string(), v("ok")),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(store.get(t, id).await.unwrap().is_some());
}
