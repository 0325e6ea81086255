//! Queries: filters, orderings and links (joins) of the query model.

use super::*;

conformance!(filters_and_orders, links_join_tables,);

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
