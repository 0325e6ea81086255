//! `herald webhook update NAME|ID`: change a registered webhook in place
//! (the Plug-in Registration tool's "Update" on a web hook), with one
//! `PATCH serviceendpoints(<id>)` of only the given fields. Its steps stay
//! registered and follow it: re-pointing a webhook is `--url`, not remove
//! and add.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::{json, Map, Value};

use super::{auth_value, authtype_name, signing_secret};
use crate::cli::client::Client;
use crate::cli::output::{print_outcome, OutputArgs};
use crate::cli::registration::{id_and_name, resolve_webhook};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The webhook's name or id.
    #[arg(value_name = "NAME|ID")]
    webhook: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new endpoint URL (the server's URL goes before the command here, or in HERALD_URL).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// New authentication, replacing the old: `header 'Key: Value'` (repeatable),
    /// `query Key=Value` (repeatable) or `webhookkey KEY`.
    #[arg(long, num_args = 2, value_names = ["KIND", "VALUE"], allow_hyphen_values = true)]
    auth: Vec<String>,
    /// A new description.
    #[arg(long)]
    description: Option<String>,
    /// A new Standard Webhooks signing secret (`whsec_…`, or `generate`); the
    /// old one keeps signing for `delivery.secret_rotation_grace`.
    #[arg(long, value_name = "whsec_…|generate")]
    signing_secret: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
}

pub async fn update(client: &Client, a: UpdateArgs) -> Result<()> {
    let mut changes = Map::new();
    if let Some(n) = &a.name {
        if n.trim().is_empty() {
            bail!("--name must not be empty");
        }
        changes.insert("name".into(), json!(n.trim()));
    }
    if let Some(u) = &a.url {
        changes.insert("url".into(), json!(u.trim()));
    }
    if !a.auth.is_empty() {
        let (authtype, authvalue) = auth_value(&a.auth)?;
        changes.insert("authtype".into(), json!(authtype));
        changes.insert("authvalue".into(), json!(authvalue));
    }
    if let Some(d) = &a.description {
        changes.insert("description".into(), json!(d));
    }
    let generated = match &a.signing_secret {
        Some(s) => {
            let (secret, generated) = signing_secret(s);
            changes.insert("herald_signingsecret".into(), json!(secret));
            generated
        }
        None => None,
    };
    if changes.is_empty() {
        bail!("nothing to change: give --name, --url, --auth, --description or --signing-secret");
    }
    let row = resolve_webhook(client, &a.webhook).await?;
    let (id, name) = id_and_name(&row, "serviceendpointid")?;
    client
        .patch(
            &format!("serviceendpoints({id})"),
            &Value::Object(changes.clone()),
        )
        .await
        .with_context(|| format!("updating webhook '{name}'"))?;
    let mut record = json!({
        "id": id,
        "name": changes.get("name").cloned().unwrap_or(json!(name)),
        "updated": changes.keys().filter(|k| *k != "authvalue").collect::<Vec<_>>(),
    });
    if let Some(t) = changes.get("authtype") {
        record["authtype"] = authtype_name(t);
    }
    if let Some(s) = &generated {
        record["signingsecret"] = json!(s);
    }
    print_outcome(a.out.output, &record, || {
        if let Some(s) = &generated {
            eprintln!("signing secret (shown once; give it to the receiver): {s}");
        }
        eprintln!("updated webhook '{name}' ({id})");
    });
    Ok(())
}
