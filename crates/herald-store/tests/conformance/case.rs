//! Case-insensitive text (as under SQL Server's default collation), and
//! the indexes herald's own lookups keep with it.

use super::*;

conformance!(
    strings_compare_case_insensitively,
    case_insensitive_lookups_keep_their_indexes,
    endpoint_names_are_unique_regardless_of_case,
);

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
