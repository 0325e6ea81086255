//! `herald bin create|list|show|remove`: request bins, herald's built-in
//! request inspector. `show` prints the captured requests newest first,
//! JSON bodies pretty-printed.

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::Client;
use super::output::{print_list, print_outcome, print_record, Format, OutputArgs};

#[derive(Debug, Args)]
pub struct BinArgs {
    #[command(subcommand)]
    command: BinCommand,
}

#[derive(Debug, Subcommand)]
enum BinCommand {
    /// Create a bin and print its URL (register a webhook with it).
    Create {
        /// A name to recognise it by.
        #[arg(long, default_value = "bin")]
        name: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List bins.
    List {
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show a bin's captured requests, newest first.
    Show {
        id: String,
        /// Show at most this many requests.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Delete a bin and what it captured.
    Remove {
        id: String,
        #[command(flatten)]
        out: OutputArgs,
    },
}

pub async fn run(client: &Client, args: BinArgs) -> Result<()> {
    let root = client.root();
    match args.command {
        BinCommand::Create { name, out } => {
            let bin = client
                .post(&format!("{root}/api/herald/bins"), &json!({"name": name}))
                .await?;
            print_outcome(out.output, &bin, || {
                println!("{}", bin["url"].as_str().unwrap_or_default());
                eprintln!(
                    "bin {} created; see what arrives with: herald bin show {}",
                    bin["id"].as_str().unwrap_or_default(),
                    bin["id"].as_str().unwrap_or_default()
                );
            });
        }
        BinCommand::List { out } => {
            let list = client.get(&format!("{root}/api/herald/bins"), &[]).await?;
            let rows = list["value"].as_array().cloned().unwrap_or_default();
            print_list(
                out.output,
                &["id", "name", "url", "createdon"],
                &rows,
                "no bins",
            );
        }
        BinCommand::Show { id, top, out } => {
            let mut bin = client
                .get(&format!("{root}/api/herald/bins/{id}"), &[])
                .await?;
            if let Some(reqs) = bin.get_mut("requests").and_then(Value::as_array_mut) {
                reqs.truncate(top);
            }
            match out.output {
                Format::Json => print_record(Format::Json, &bin),
                Format::Table => print_requests(&bin),
            }
        }
        BinCommand::Remove { id, out } => {
            client
                .delete(&format!("{root}/api/herald/bins/{id}"))
                .await?;
            print_outcome(out.output, &json!({"id": id, "removed": true}), || {
                eprintln!("bin {id} removed")
            });
        }
    }
    Ok(())
}

fn print_requests(bin: &Value) {
    println!(
        "{}  {}",
        bin["name"].as_str().unwrap_or(""),
        bin["url"].as_str().unwrap_or("")
    );
    let reqs = bin["requests"].as_array().cloned().unwrap_or_default();
    if reqs.is_empty() {
        println!("(no requests yet)");
    }
    for r in reqs {
        println!();
        let query = r["query"]
            .as_str()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        println!(
            "── {} {}{}  at {}  ({} bytes)",
            r["method"].as_str().unwrap_or(""),
            r["path"].as_str().unwrap_or(""),
            query,
            r["receivedon"].as_str().unwrap_or(""),
            r["bodysize"]
        );
        for h in r["headers"].as_array().cloned().unwrap_or_default() {
            println!(
                "{}: {}",
                h[0].as_str().unwrap_or(""),
                h[1].as_str().unwrap_or("")
            );
        }
        println!();
        match r.get("json").filter(|j| !j.is_null()) {
            Some(j) => println!("{}", serde_json::to_string_pretty(j).unwrap_or_default()),
            None => println!("{}", r["body"].as_str().unwrap_or("")),
        }
    }
}
