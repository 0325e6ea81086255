//! `herald webhook add|update|list|show|remove`: the Plug-in Registration
//! tool's "Register New Web Hook", over the Web API (`update` in
//! [`update`]).
//!
//! A webhook is a `serviceendpoints` row with contract 8 (Webhook), a url,
//! and one authentication type: HttpHeader (5) and HttpQueryString (6)
//! store their pairs as Dataverse's `<settings><setting name="K" value="V"
//! /></settings>`, WebhookKey (4) the plain key (sent as `?code=<key>`).
//! The authvalue is write-only; the server reports `isauthvalueset`.

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use herald_core::authvalue::{
    settings_xml, AUTHTYPE_HTTP_HEADER, AUTHTYPE_HTTP_QUERY_STRING, AUTHTYPE_WEBHOOK_KEY,
};
use serde_json::{json, Value};

mod update;

use super::client::Client;
use super::output::{print_list, print_outcome, print_record, OutputArgs};
use super::registration::{id_and_name, id_of, resolve_webhook, step_rows, webhook_rows};

#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Register a webhook (a service endpoint, contract 8) and print its id.
    ///
    /// Example: herald webhook add --name requestbin --url https://example.com/hook
    ///          --auth header 'X-Test1: test1' --auth header 'X-Test2: test2'
    Add(AddArgs),
    /// Change a webhook's name, URL, auth, description or signing secret; its steps stay.
    ///
    /// Example: herald webhook update requestbin --url https://example.com/new-hook
    Update(update::UpdateArgs),
    /// List the registered webhooks.
    List(ListArgs),
    /// Show one webhook and its steps.
    Show(ShowArgs),
    /// Delete a webhook (remove its steps first).
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
struct AddArgs {
    /// A unique name for the webhook.
    #[arg(long)]
    name: String,
    /// Endpoint URL: where herald POSTs the execution context.
    #[arg(long, value_name = "URL")]
    url: String,
    /// Authentication, one kind per webhook: `header 'Key: Value'` (HttpHeader,
    /// repeatable), `query Key=Value` (HttpQueryString, repeatable) or
    /// `webhookkey KEY` (WebhookKey, sent as ?code=KEY).
    #[arg(long, num_args = 2, value_names = ["KIND", "VALUE"], required = true, allow_hyphen_values = true)]
    auth: Vec<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Also sign every request the Standard Webhooks way (webhook-id,
    /// webhook-timestamp, webhook-signature). Give a `whsec_…` secret, or
    /// `generate` to have one made (it is printed once: on stderr, or as
    /// `signingsecret` with --output json).
    #[arg(long, value_name = "whsec_…|generate")]
    signing_secret: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The webhook's name or id.
    #[arg(value_name = "NAME|ID")]
    webhook: String,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// The webhook's name or id.
    #[arg(value_name = "NAME|ID")]
    webhook: String,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn run(client: &Client, args: WebhookArgs) -> Result<()> {
    match args.command {
        WebhookCommand::Add(a) => add(client, a).await,
        WebhookCommand::Update(a) => update::update(client, a).await,
        WebhookCommand::List(a) => list(client, a).await,
        WebhookCommand::Show(a) => show(client, a).await,
        WebhookCommand::Remove(a) => remove(client, a).await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Header,
    Query,
    WebhookKey,
}

impl AuthKind {
    fn parse(s: &str) -> Result<AuthKind> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "header" | "httpheader" => Ok(AuthKind::Header),
            "query" | "querystring" | "httpquerystring" => Ok(AuthKind::Query),
            "webhookkey" | "key" | "code" => Ok(AuthKind::WebhookKey),
            _ => bail!("unknown --auth kind '{s}': use header 'Key: Value', query Key=Value or webhookkey KEY"),
        }
    }

    fn flag(self) -> &'static str {
        match self {
            AuthKind::Header => "header",
            AuthKind::Query => "query",
            AuthKind::WebhookKey => "webhookkey",
        }
    }
}

/// `--auth KIND VALUE …` → (authtype, authvalue).
fn auth_value(raw: &[String]) -> Result<(i64, String)> {
    let mut kind: Option<AuthKind> = None;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut key: Option<String> = None;
    for chunk in raw.chunks(2) {
        let [k, v] = chunk else {
            bail!("--auth takes two values: KIND VALUE");
        };
        let this = AuthKind::parse(k)?;
        if let Some(prev) = kind.filter(|p| *p != this) {
            bail!(
                "cannot mix --auth {} and --auth {}: a webhook has exactly one authentication type",
                prev.flag(),
                this.flag()
            );
        }
        kind = Some(this);
        match this {
            AuthKind::Header => {
                let (name, value) = auth_pair(this, v, ':', "'Name: Value'", "header")?;
                pairs.push((name.to_string(), value.trim().to_string()));
            }
            AuthKind::Query => {
                // A query value is sent as given, spaces and all.
                let (name, value) = auth_pair(this, v, '=', "Name=Value", "parameter")?;
                pairs.push((name.to_string(), value.to_string()));
            }
            AuthKind::WebhookKey => {
                if key.is_some() {
                    bail!("--auth webhookkey given twice: a webhook has one key");
                }
                if v.trim().is_empty() {
                    bail!("--auth webhookkey: the key is empty");
                }
                key = Some(v.trim().to_string());
            }
        }
    }
    match kind {
        Some(AuthKind::Header) => Ok((AUTHTYPE_HTTP_HEADER, settings_xml(&pairs))),
        Some(AuthKind::Query) => Ok((AUTHTYPE_HTTP_QUERY_STRING, settings_xml(&pairs))),
        Some(AuthKind::WebhookKey) => Ok((AUTHTYPE_WEBHOOK_KEY, key.unwrap_or_default())),
        None => bail!("--auth is required: header 'Key: Value', query Key=Value or webhookkey KEY"),
    }
}

/// `--auth KIND 'NAME<separator>VALUE'` → (the trimmed name, the value
/// as given); `shape` and `named` word the errors.
fn auth_pair<'a>(
    kind: AuthKind,
    v: &'a str,
    separator: char,
    shape: &str,
    named: &str,
) -> Result<(&'a str, &'a str)> {
    let flag = kind.flag();
    let (name, value) = v
        .split_once(separator)
        .ok_or_else(|| anyhow!("--auth {flag} '{v}': expected {shape}"))?;
    if name.trim().is_empty() {
        bail!("--auth {flag} '{v}': the {named} name is empty");
    }
    Ok((name.trim(), value))
}

/// `--signing-secret VALUE` → (the secret to send, the generated one when
/// VALUE is `generate`: shown once, the server never returns it).
fn signing_secret(given: &str) -> (String, Option<String>) {
    if given == "generate" {
        let s = herald_delivery::SigningSecret::generate();
        (s.clone(), Some(s))
    } else {
        (given.to_string(), None)
    }
}

/// Dataverse's name for an authtype value.
pub fn authtype_name(v: &Value) -> Value {
    match v.as_i64() {
        Some(AUTHTYPE_WEBHOOK_KEY) => json!("WebhookKey"),
        Some(AUTHTYPE_HTTP_HEADER) => json!("HttpHeader"),
        Some(AUTHTYPE_HTTP_QUERY_STRING) => json!("HttpQueryString"),
        Some(n) => json!(n.to_string()),
        None => Value::Null,
    }
}

async fn add(client: &Client, a: AddArgs) -> Result<()> {
    let (authtype, authvalue) = auth_value(&a.auth)?;
    if a.name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let mut body = json!({
        "name": a.name.trim(),
        "url": a.url.trim(),
        "contract": 8,
        "authtype": authtype,
        "authvalue": authvalue,
        "messageformat": 2,
        "userclaim": 1,
    });
    if let Some(d) = &a.description {
        body["description"] = json!(d);
    }
    let mut generated = None;
    if let Some(given) = &a.signing_secret {
        let (secret, made) = signing_secret(given);
        generated = made;
        body["herald_signingsecret"] = json!(secret);
    }
    let id = client
        .create("serviceendpoints", &body)
        .await
        .with_context(|| format!("registering webhook '{}'", a.name.trim()))?;
    let mut record = json!({
        "id": id,
        "name": a.name.trim(),
        "url": a.url.trim(),
        "authtype": authtype_name(&json!(authtype)),
        "signing": a.signing_secret.is_some(),
    });
    if let Some(s) = &generated {
        // Shown once: the server never returns it.
        record["signingsecret"] = json!(s);
    }
    print_outcome(a.out.output, &record, || {
        if let Some(s) = &generated {
            eprintln!("signing secret (shown once; give it to the receiver): {s}");
        }
        println!("{id}");
    });
    Ok(())
}

async fn list(client: &Client, a: ListArgs) -> Result<()> {
    let rows = webhook_rows(client).await?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| json!({"name": r["name"], "id": r["serviceendpointid"], "authtype": authtype_name(&r["authtype"]), "url": r["url"]}))
        .collect();
    print_list(
        a.out.output,
        &["name", "id", "authtype", "url"],
        &rows,
        "no webhooks registered",
    );
    Ok(())
}

async fn show(client: &Client, a: ShowArgs) -> Result<()> {
    let row = resolve_webhook(client, &a.webhook).await?;
    let id = id_of(&row, "serviceendpointid")?;
    let steps = step_rows(client, Some(&id)).await?;
    let steps: Vec<Value> = steps
        .into_iter()
        .map(|s| json!({"name": s["name"], "id": s["id"], "message": s["message"], "table": s["table"], "stage": s["stage"], "mode": s["mode"], "enabled": s["enabled"]}))
        .collect();
    let record = json!({
        "name": row["name"],
        "id": id,
        "url": row["url"],
        "authtype": authtype_name(&row["authtype"]),
        "authvalueset": row["isauthvalueset"],
        "description": row["description"],
        "createdon": row["createdon"],
        "modifiedon": row["modifiedon"],
        "steps": steps,
    });
    print_record(a.out.output, &record);
    Ok(())
}

async fn remove(client: &Client, a: RemoveArgs) -> Result<()> {
    let row = resolve_webhook(client, &a.webhook).await?;
    let (id, name) = id_and_name(&row, "serviceendpointid")?;
    let steps = step_rows(client, Some(&id)).await?;
    if !steps.is_empty() {
        let names: Vec<String> = steps
            .iter()
            .map(|s| format!("'{}'", s["name"].as_str().unwrap_or("?")))
            .collect();
        bail!(
            "webhook '{name}' still has {} step(s): {}; remove them first with `herald step remove` (to re-point the webhook instead: `herald webhook update {name} --url URL`)",
            steps.len(),
            names.join(", ")
        );
    }
    client
        .delete(&format!("serviceendpoints({id})"))
        .await
        .with_context(|| format!("removing webhook '{name}'"))?;
    print_outcome(
        a.out.output,
        &json!({"id": id, "name": name, "removed": true}),
        || eprintln!("removed webhook '{name}' ({id})"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_become_settings() {
        let (t, xml) =
            auth_value(&v(&["header", "X-Test1: test1", "header", "X-Test2:test2"])).unwrap();
        assert_eq!(t, 5);
        assert_eq!(xml, "<settings><setting name=\"X-Test1\" value=\"test1\" /><setting name=\"X-Test2\" value=\"test2\" /></settings>");
        let (t, xml) = auth_value(&v(&["query", "a=1=2", "query", "b="])).unwrap();
        assert_eq!(t, 6);
        assert_eq!(xml, "<settings><setting name=\"a\" value=\"1=2\" /><setting name=\"b\" value=\"\" /></settings>");
        assert_eq!(
            auth_value(&v(&["webhookkey", "abc"])).unwrap(),
            (4, "abc".to_string())
        );
    }

    #[test]
    fn bad_auth_is_explained() {
        let err = |x: &[&str]| auth_value(&v(x)).unwrap_err().to_string();
        assert!(err(&["header", "a: b", "query", "c=d"])
            .contains("cannot mix --auth header and --auth query"));
        assert!(err(&["header", "nocolon"]).contains("expected 'Name: Value'"));
        assert!(err(&["webhookkey", "a", "webhookkey", "b"]).contains("given twice"));
        assert!(err(&["basic", "x"]).contains("unknown --auth kind 'basic'"));
    }
}
