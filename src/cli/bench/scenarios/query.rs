//! `query`: the list query of issue #4 — a filtered, ordered, expanded
//! page of 1 000 contacts out of N — timed through the Web API, with the
//! plan the store uses for it (printed on stderr and kept in the report),
//! so a slow figure comes with its explanation.

use anyhow::{anyhow, bail};
use herald_core::Value as HValue;
use hyper::Method;
use serde_json::json;

use crate::cli::bench::herald::{Herald, StoreKind, Target};
use crate::cli::bench::load::HttpConn;
use crate::cli::bench::report::{Outcome, Unit};
use crate::cli::bench::stats::{now_ns, Lat};
use crate::cli::progress::ProgressHandle;

/// The list query of issue #4: contacts of one account (1 000 of N), newest
/// first, with the account's name expanded — through the Web API, R times.
const QUERY_PATH: &str = "contacts?$select=fullname,lastname,createdon&$filter=_parentcustomerid_value eq {account} and statecode eq 0&$orderby=createdon desc&$top=1000&$expand=parentcustomerid_account($select=name)";

/// `query`: load `n` contacts over `n / 1000` accounts, then time
/// [`QUERY_PATH`] for one account.
pub async fn query(target: &Target, n: usize) -> anyhow::Result<Outcome> {
    let h = Herald::started(target).await?;
    let result = async {
        let schema = h.state.schema().clone();
        let accounts = schema
            .table("account")
            .ok_or_else(|| anyhow!("no account table"))?;
        let contacts = schema
            .table("contact")
            .ok_or_else(|| anyhow!("no contact table"))?;
        let per_account = 1000usize;
        let n_accounts = n.div_ceil(per_account).max(1);
        let user = h.state.org.admin_user_id;
        let now = chrono::Utc::now();
        let p = ProgressHandle::start(
            &format!("query: loading {n} contacts over {n_accounts} accounts"),
            n as u64,
        );
        let mut account_ids = Vec::with_capacity(n_accounts);
        let mut tx = h.state.store.begin().await?;
        for i in 0..n_accounts {
            let id = uuid::Uuid::new_v4();
            tx.insert(
                accounts,
                &[
                    ("accountid".into(), HValue::Guid(id)),
                    ("name".into(), HValue::String(format!("Account {i:05}"))),
                    ("versionnumber".into(), HValue::Int(1)),
                    ("statecode".into(), HValue::Int(0)),
                ],
            )
            .await?;
            account_ids.push(id);
        }
        for i in 0..n {
            tx.insert(
                contacts,
                &[
                    ("contactid".into(), HValue::Guid(uuid::Uuid::new_v4())),
                    ("firstname".into(), HValue::String(format!("First{i}"))),
                    (
                        "lastname".into(),
                        HValue::String(format!("Family{:02}", i % 97)),
                    ),
                    (
                        "fullname".into(),
                        HValue::String(format!("First{i} Family{:02}", i % 97)),
                    ),
                    (
                        "parentcustomerid".into(),
                        HValue::Guid(account_ids[i % n_accounts]),
                    ),
                    ("statecode".into(), HValue::Int(0)),
                    ("statuscode".into(), HValue::Int(1)),
                    (
                        "createdon".into(),
                        HValue::DateTime(now - chrono::Duration::seconds(i as i64)),
                    ),
                    ("createdby".into(), HValue::Guid(user)),
                    ("versionnumber".into(), HValue::Int(1)),
                ],
            )
            .await?;
            if i % 10_000 == 9_999 {
                tx.commit().await?;
                tx = h.state.store.begin().await?;
                p.set((i + 1) as u64);
            }
        }
        tx.commit().await?;
        p.finish();
        let account = account_ids[n_accounts / 2];
        let path = QUERY_PATH
            .replace("{account}", &account.to_string())
            .replace(' ', "%20");
        let api = h.api()?;
        let mut conn = HttpConn::open(h.addr).await?;
        let (_, first) = api.call(&mut conn, Method::GET, &path, None).await?;
        let rows = first["value"].as_array().map(Vec::len).unwrap_or(0);
        if rows != per_account.min(n) {
            bail!(
                "the query returned {rows} rows, expected {}",
                per_account.min(n)
            );
        }
        let runs = 30;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = now_ns();
            api.call(&mut conn, Method::GET, &path, None).await?;
            times.push(now_ns() - t);
        }
        let times = Lat::of(times);
        // The plan the store uses for the main query (the expansion is a second, by-key query).
        let options = herald_core::odata::split_query_string(
            &QUERY_PATH.replace("{account}", &account.to_string())["contacts?".len()..],
        );
        let q = herald_core::odata::parse_options(&schema, contacts, &options)
            .map_err(|e| anyhow!("{e}"))?;
        let plan = h.state.store.explain(&q, Some(1000)).await?;
        eprintln!(
            "query plan ({}):",
            if target.kind == StoreKind::Sqlite {
                "EXPLAIN QUERY PLAN"
            } else {
                "EXPLAIN"
            }
        );
        for line in &plan {
            eprintln!("  {line}");
        }
        Ok::<_, anyhow::Error>(
            Outcome::new(
                "query",
                json!({"n": n, "rows": rows, "runs": runs, "plan": plan}),
            )
            .metric("query_p50_ms", "1 000 of N, p50", times.p50, Unit::Ms)
            .metric("query_p99_ms", "1 000 of N, p99", times.p99, Unit::Ms),
        )
    }
    .await;
    h.stop().await;
    result
}
