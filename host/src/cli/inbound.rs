//! `sollecito inbound`: what came back by email, from files, through the one
//! inbound pipeline; and what of it waits for a person.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::config::Config;
use crate::inbound::{self, Handled};

/// Where the messages come from.
pub(super) enum From {
    Files(Vec<PathBuf>),
    Mailbox,
}

pub(super) async fn run(
    db: &Path,
    (config, catalog): (&Config, &mut crate::catalog::Catalog),
    from: From,
    (now, all): (DateTime<Utc>, bool),
    json: bool,
) -> anyhow::Result<()> {
    let store = crate::runtime::open_store(db, config).await?;
    let reader = match &from {
        From::Files(paths) if paths.is_empty() => None,
        _ => Some(crate::runtime::reader(config, catalog)?),
    };
    let handled: Vec<(String, Handled)> = match from {
        From::Files(paths) if paths.is_empty() => return list(&store, all, json).await,
        From::Files(paths) => {
            // Every file is read before anything is taken in: a path that is not there changes nothing.
            let mut messages = vec![];
            for path in &paths {
                messages.extend(inbound::mailbox::messages(path)?);
            }
            let intake = inbound::Intake { store: &store, config, reader: reader.as_deref().expect("loaded") };
            let raws: Vec<&[u8]> = messages.iter().map(|(_, raw)| raw.as_slice()).collect();
            let handled = inbound::receive_all(&intake, &raws, "file", now).await?;
            messages.into_iter().map(|(name, _)| name).zip(handled).collect()
        }
        From::Mailbox => {
            let intake = inbound::Intake { store: &store, config, reader: reader.as_deref().expect("loaded") };
            let read = inbound::imap::poll(&intake, now).await?;
            read.into_iter().enumerate().map(|(i, h)| (format!("mailbox #{}", i + 1), h)).collect()
        }
    };
    store.close().await;
    if json {
        let rows: Vec<serde_json::Value> = handled
            .iter()
            .map(|(name, h)| {
                let mut v = serde_json::to_value(h).unwrap_or_default();
                v["file"] = name.clone().into();
                v
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if handled.is_empty() {
        out!("nothing new")?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["message", "kind", "became", "invoices", "why"]);
    for (name, h) in &handled {
        let state = h.state.map_or("already handled", |s| s.as_str());
        table.add_row([name.as_str(), &h.kind, state, &h.invoices.join(", "), &h.reason]);
    }
    out!("{table}")?;
    let waiting = handled.iter().filter(|(_, h)| h.state.is_some_and(|s| s.waits_for_a_person())).count();
    if waiting > 0 {
        out!("{waiting} wait for a person: `sollecito inbound` lists them, `sollecito tasks` the tasks")?;
    }
    Ok(())
}

async fn list(store: &crate::store::Store, all: bool, json: bool) -> anyhow::Result<()> {
    let rows = store.inbound(all, 200).await?;
    if json {
        out!("{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    if rows.is_empty() {
        out!("{}", if all { "nothing has come in" } else { "nothing waits for a person" })?;
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(["received", "from", "subject", "kind", "state", "why"]);
    for r in &rows {
        table.add_row([
            crate::store::minute(r.received_at),
            r.sender.clone().unwrap_or_default(),
            r.subject.clone().unwrap_or_default(),
            r.kind.clone(),
            r.state.clone(),
            r.reason.clone(),
        ]);
    }
    out!("{table}")?;
    Ok(())
}
