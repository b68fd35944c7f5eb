//! `sollecito bank`: statements in, and the entries a person must match.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use super::exit::BadUsage;
use crate::config::Config;

#[derive(Subcommand)]
pub enum BankCommand {
    /// Record what camt.053 statements or camt.054 notifications pay: each
    /// entry once, however often it arrives; a sure match paid at once, an
    /// unsure one left to a person (a task), the rest listed.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// When it is recorded (default: now).
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
    },
    /// The entries waiting for a person (unsure or unmatched), or all with --all.
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// A person says which invoice an entry pays.
    Confirm {
        /// The entry's key, as `bank list` shows it.
        key: String,
        invoice: String,
        #[arg(long, value_name = "RFC3339")]
        at: Option<DateTime<Utc>>,
    },
}

pub(super) async fn run(db: &Path, config: &Config, what: BankCommand) -> anyhow::Result<()> {
    super::require_database(db)?;
    let store = crate::runtime::open_store(db, config).await?;
    match what {
        BankCommand::Import { files, at, json } => {
            let now = at.unwrap_or_else(Utc::now);
            let mut all = vec![];
            for file in files {
                std::fs::File::open(&file).map_err(|e| BadUsage(format!("{}: {e}", file.display())))?;
                match crate::bank::import(&store, crate::bank::Source::File(file.clone()), now).await? {
                    Ok(done) => all.push((file.display().to_string(), done)),
                    Err(refused) => return Err(BadUsage(format!("{}: refused at {refused}", file.display())).into()),
                }
            }
            if json {
                let out: Vec<_> = all.iter().map(|(f, d)| serde_json::json!({ "file": f, "imported": d })).collect();
                out!("{}", serde_json::to_string_pretty(&out)?)?;
            } else {
                for (file, d) in &all {
                    out!(
                        "{file}: {} {}, {} entries: {} paid, {} for a person, {} unmatched, {} out, {} sent back to us, {} reversed, {} processors' payouts, {} already recorded, {} changed since (see the tasks)",
                        d.kind,
                        d.message_id,
                        d.entries,
                        d.paid,
                        d.unsure,
                        d.unmatched,
                        d.debits,
                        d.returned,
                        d.reversed,
                        d.payouts,
                        d.known,
                        d.changed
                    )?;
                }
            }
        }
        BankCommand::List { all, json } => {
            let rows = store.bank_entries(all, 500).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&rows)?)?;
                return Ok(());
            }
            let mut table = Table::new();
            table
                .load_preset(UTF8_FULL_CONDENSED)
                .set_header(["key", "booked", "amount", "from", "words", "state", "why"]);
            for r in rows {
                table.add_row([
                    r.key,
                    r.booked.unwrap_or_default(),
                    crate::money::format_money(r.amount, &r.currency),
                    r.debtor.unwrap_or_default(),
                    r.remittance,
                    r.state.name().to_string(),
                    r.evidence,
                ]);
            }
            out!("{table}")?;
        }
        BankCommand::Confirm { key, invoice, at } => {
            if store.invoice(&invoice).await?.is_none() {
                return Err(BadUsage(format!("unknown invoice {invoice:?}")).into());
            }
            let (amount, currency) = store
                .confirm_bank_entry(&key, &invoice, at.unwrap_or_else(Utc::now))
                .await
                .map_err(|e| match e.downcast::<crate::store::CannotConfirm>() {
                    Ok(refused) => BadUsage(refused.0).into(),
                    Err(e) => e,
                })?;
            out!("{key}: {} recorded as paid on {invoice}", crate::money::format_money(amount, &currency))?;
        }
    }
    Ok(())
}
