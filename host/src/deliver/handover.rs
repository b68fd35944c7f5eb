//! A hand-over to collections: what an agency needs to take the debt on,
//! written as JSON and CSV to the configured folder (and posted, signed, to an
//! endpoint if one is set): the debtor, the invoice and its amounts, and the
//! whole correspondence log, every message and event with its outcome.

use chrono::{DateTime, Utc};

use super::Delivery;
use super::actions::{ActionOutcome, Posted};
use crate::invoice::{Customer, Invoice};
use crate::store::{OutboxRow, Store};

/// One line of the correspondence log.
#[derive(serde::Serialize)]
struct Entry {
    at: String,
    what: String,
    step: String,
    channel: String,
    detail: String,
    outcome: String,
    /// A message the debtor was sent (its outbox state), not read back from `outcome`'s words.
    #[serde(skip)]
    sent: bool,
}

fn when(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map_or(ts.to_string(), |t| t.to_rfc3339())
}

/// An id as a file name: anything but letters, digits, `-`, `_` and `.` becomes `_`.
fn file_stem(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

impl Delivery {
    pub(super) async fn hand_over(
        &self,
        store: &Store,
        row: &OutboxRow,
        invoice: &Invoice,
        customer: &Customer,
        reason: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ActionOutcome> {
        let log = correspondence(store, &invoice.id).await?;
        // What reached the debtor, when and how: an agency (and a court) asks first.
        let delivered: Vec<&Entry> = log.iter().filter(|e| e.sent).collect();
        let reason = match delivered.last() {
            Some(last) => format!("{reason}; last message delivered: {} by {} on {}", last.step, last.channel, last.at),
            None => format!("{reason}; no message was delivered"),
        };
        let delivered: Vec<serde_json::Value> = delivered
            .iter()
            .map(|e| serde_json::json!({ "step": e.step, "channel": e.channel, "at": e.at, "receipt": e.outcome }))
            .collect();
        let document = serde_json::json!({
            "handed_over_at": now.to_rfc3339(),
            "reason": reason,
            "delivered": delivered,
            "creditor": { "name": self.config.business.name, "email": self.config.business.email },
            "debtor": {
                "id": customer.id, "name": customer.name, "email": customer.email, "pec": customer.pec,
                "phone": customer.phone,
                "postal_address": customer.postal_address, "business": customer.business, "locale": customer.locale,
            },
            "invoices": [{
                "id": invoice.id, "number": invoice.number, "currency": invoice.currency,
                "issued": invoice.issued, "due": invoice.due,
                "amount_due": invoice.money(invoice.amount_due), "amount_paid": invoice.money(invoice.amount_paid),
                "outstanding": invoice.money(invoice.outstanding()), "outstanding_minor": invoice.outstanding(),
            }],
            "correspondence": log,
        });
        let mut csv = csv::Writer::from_writer(vec![]);
        csv.write_record([
            "debtor_id",
            "debtor_name",
            "invoice_number",
            "currency",
            "outstanding",
            "at",
            "what",
            "step",
            "channel",
            "detail",
            "outcome",
        ])?;
        let outstanding = invoice.money(invoice.outstanding());
        for e in &log {
            csv.write_record([
                &customer.id,
                &customer.name,
                &invoice.number,
                &invoice.currency,
                &outstanding,
                &e.at,
                &e.what,
                &e.step,
                &e.channel,
                &e.detail,
                &e.outcome,
            ])?;
        }
        let csv = csv.into_inner()?;
        // Posted first (when an endpoint is set): files in the folder mean it was handed over.
        let escalations = &self.config.escalations;
        let mut posted = None;
        if let Some(url) = &escalations.handover_url {
            match self.post_signed(url, &escalations.handover_secret, &document, &row.key(), now).await {
                Posted::Acknowledged(answer) => posted = Some(answer),
                other => return Ok(other.result(row, now)),
            }
        }
        let stem = format!("handover-{}", file_stem(&invoice.id));
        let dir = &self.handover_dir;
        let written = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(format!("{stem}.json")), serde_json::to_vec_pretty(&document)?))
            .and_then(|_| std::fs::write(dir.join(format!("{stem}.csv")), &csv));
        if let Err(e) = written {
            return Ok(ActionOutcome::Fail(format!("writing the hand-over to {}: {e}", dir.display())));
        }
        let mut receipt = dir.join(format!("{stem}.json")).display().to_string();
        if let Some(answer) = posted {
            receipt = format!("{receipt}; {answer}");
        }
        Ok(ActionOutcome::Done(receipt))
    }
}

/// The invoice's record and every step taken on it, oldest first: what an
/// agency is handed with the debt.
async fn correspondence(store: &Store, invoice_id: &str) -> anyhow::Result<Vec<Entry>> {
    let mut log: Vec<(i64, Entry)> = vec![];
    for e in store.events_of(invoice_id).await? {
        let entry = Entry {
            at: when(e.at),
            what: "event".into(),
            step: String::new(),
            channel: String::new(),
            detail: e.kind.to_string(),
            outcome: e.detail,
            sent: false,
        };
        log.push((e.at, entry));
    }
    for o in store.outbox_of(invoice_id).await? {
        let at = o.done_at.unwrap_or(o.created_at);
        let detail = [o.template.clone(), o.tone.map(|t| t.name().to_string())]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        let outcome = [Some(o.state.to_string()), o.reason.clone(), o.receipt.clone()].into_iter().flatten();
        let sent = o.state == crate::store::OutboxState::Sent && o.channel.is_some();
        let entry = Entry {
            sent,
            at: when(at),
            what: o.kind.to_string(),
            step: o.step,
            channel: o.channel.unwrap_or_default(),
            detail,
            outcome: outcome.collect::<Vec<_>>().join(": "),
        };
        log.push((at, entry));
    }
    log.sort_by_key(|(at, _)| *at);
    Ok(log.into_iter().map(|(_, e)| e).collect())
}
