//! The inbound door: what comes back by email (a reply, a bounce, an
//! out-of-office, a complaint), whichever way it came in (a file, a mailbox,
//! the API). One pipeline: keep the raw message once, read it, classify it,
//! match it to the message it answers, and apply what it means as events
//! through the one write path, in the transaction that keeps it.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::Serialize;
use sha2::Digest;

use crate::config::{Config, Inbound};
use crate::event::Event;
use crate::invoice::Customer;
use crate::outgoing::Task;
use crate::store::{Effects, InboundState, NewInbound, OutboxRow, Store};

pub(crate) mod classify;
pub(crate) mod imap;
pub(crate) mod mailbox;
mod quoted;
pub(crate) mod read;

use classify::{Bounce, Kind};
use read::{Mail, Unreadable};

/// What of a message is kept: enough for a person to read it and its headers.
const KEPT_BYTES: usize = 256 * 1024;

/// What became of one message.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Handled {
    pub message_id: Option<String>,
    /// `reply`, `bounce`, `soft-bounce`, `auto-reply`, `complaint`, `delivery-report`, `unreadable`.
    pub kind: String,
    /// `None`: it was handled before, and nothing was done again.
    pub state: Option<InboundState>,
    pub reason: String,
    pub customer: Option<String>,
    pub invoices: Vec<String>,
}

/// Takes one raw message in through `door` (`file`, `api`, `imap`).
pub(crate) async fn receive(
    store: &Store,
    config: &Config,
    raw: &[u8],
    door: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Handled> {
    let digest = hex::encode(sha2::Sha256::digest(raw));
    let mail = read::read(raw);
    let message_id = mail.as_ref().ok().and_then(|m| m.message_id.clone());
    if store.inbound_known(&digest, message_id.as_deref()).await? {
        return Ok(duplicate(message_id));
    }
    let (plan, mail) = match mail {
        Ok(mail) if flooding(store, &config.inbound, &mail, now).await? => {
            let limit = config.inbound.max_per_sender_hour;
            let why = format!("more than {limit} messages from this sender in an hour: kept unread");
            (Plan::kept("flood", InboundState::Quarantined, why), mail)
        }
        Ok(mail) => (plan(store, config, &mail, now).await?, mail),
        Err(why) => (Plan::quarantine(&why), Mail::default()),
    };
    let kept = &raw[..raw.len().min(KEPT_BYTES)];
    let text = plan.text.clone().unwrap_or_default();
    let new = NewInbound {
        door,
        digest: &digest,
        message_id: message_id.as_deref(),
        size: raw.len(),
        raw: kept,
        sender: mail.from.as_deref(),
        subject: &mail.subject,
        kind: &plan.kind,
        state: plan.state,
        reason: &plan.reason,
        customer_id: plan.customer.as_deref(),
        invoice_id: plan.invoices.first().map(String::as_str),
        outbox_id: plan.outbox_id,
        text: &text,
    };
    if !store.keep_inbound(new, plan.effects, now).await? {
        return Ok(duplicate(message_id));
    }
    Ok(Handled {
        message_id,
        kind: plan.kind,
        state: Some(plan.state),
        reason: plan.reason,
        customer: plan.customer,
        invoices: plan.invoices,
    })
}

/// Whether the sender already sent the hour's share: an auto-responder in a
/// loop or a flood is kept, unread, rather than acted on message by message.
async fn flooding(store: &Store, rules: &Inbound, mail: &Mail, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let Some(sender) = &mail.from else { return Ok(false) };
    let seen = store.inbound_from(sender, now.timestamp() - 3600).await?;
    Ok(seen >= i64::from(rules.max_per_sender_hour))
}

fn duplicate(message_id: Option<String>) -> Handled {
    Handled {
        message_id,
        kind: "duplicate".into(),
        state: None,
        reason: "handled before: nothing done again".into(),
        customer: None,
        invoices: vec![],
    }
}

/// What a message will do, decided before anything is written.
struct Plan {
    kind: String,
    state: InboundState,
    reason: String,
    customer: Option<String>,
    invoices: Vec<String>,
    outbox_id: Option<i64>,
    text: Option<String>,
    effects: Effects,
}

impl Plan {
    fn quarantine(why: &Unreadable) -> Plan {
        Plan::kept("unreadable", InboundState::Quarantined, why.to_string())
    }

    fn kept(kind: &str, state: InboundState, reason: String) -> Plan {
        Plan {
            kind: kind.into(),
            state,
            reason,
            customer: None,
            invoices: vec![],
            outbox_id: None,
            text: None,
            effects: Effects::default(),
        }
    }
}

/// What a message is sent back about: the messages it names, and their customer.
struct Matched {
    rows: Vec<OutboxRow>,
    customer: Customer,
    /// How it was matched, for the record.
    how: &'static str,
}

async fn plan(store: &Store, config: &Config, mail: &Mail, now: DateTime<Utc>) -> anyhow::Result<Plan> {
    let rules: &Inbound = &config.inbound;
    let kind = classify::classify(mail);
    let name = kind.name();
    // The address the message is about: a report's recipient, else the sender.
    let about = match &kind {
        Kind::Bounce(Bounce { recipient, .. }) | Kind::Complaint { recipient } => recipient.clone(),
        _ => mail.from.clone(),
    };
    if kind == Kind::DeliveryReport {
        return Ok(Plan::kept(name, InboundState::Recorded, "a delivery report: nothing to do".into()));
    }
    let return_path = config.email.return_path.as_deref();
    let Some(matched) = match_message(store, mail, &kind, (about.as_deref(), return_path)).await? else {
        let reason = match &about {
            Some(a) => format!("matches no message we sent and no customer's address ({a})"),
            None => "matches no message we sent, and names no address".into(),
        };
        return Ok(Plan::kept(name, InboundState::Quarantined, reason));
    };
    let trusted = about.as_deref().is_some_and(|a| belongs_to(&matched.customer, a, &kind));
    let mut plan = Plan::kept(name, InboundState::Applied, String::new());
    plan.customer = Some(matched.customer.id.clone());
    plan.invoices = matched.rows.iter().map(|r| r.invoice_id.clone()).collect();
    plan.invoices.dedup();
    plan.outbox_id = matched.rows.first().map(|r| r.id);
    let own = quoted::own_words(&mail.text);
    plan.text = Some(own.clone());
    if !trusted {
        // A forged In-Reply-To, or a colleague writing from elsewhere: a person decides.
        let from = about.unwrap_or_else(|| "an unknown sender".into());
        plan.state = InboundState::Task;
        plan.reason = format!("{from} is not {}'s address: nothing changed, a task opened", matched.customer.name);
        plan.effects.task = Some(task(&matched, mail, &own, &plan.reason));
        return Ok(plan);
    }
    let invoices = plan.invoices.clone();
    match kind {
        Kind::Bounce(b) => {
            let address = b.recipient.clone().unwrap_or_default();
            let code = if b.status.is_empty() { String::new() } else { format!(" ({})", b.status) };
            if b.permanent {
                let reason = format!("bounced{code}: {}", b.diagnostic);
                plan.effects.bounced =
                    matched.rows.iter().map(|r| (r.id, reason.trim_end_matches(": ").into())).collect();
            }
            // The address is the customer's: counted once, whatever the message carried.
            let event = Event::Bounced { address, permanent: b.permanent, status: b.status.clone() };
            plan.effects.events = invoices.first().map(|i| (i.clone(), event)).into_iter().collect();
            plan.reason = format!("matched by {}: a bounce{code}", matched.how);
        }
        Kind::Complaint { .. } => {
            let channel = matched.rows.first().and_then(|r| r.channel.clone()).unwrap_or_else(|| "email".into());
            let event = Event::OptOut { channel: channel.clone() };
            plan.effects.events = invoices.first().map(|i| (i.clone(), event)).into_iter().collect();
            plan.reason = format!("matched by {}: marked as spam, opted out of {channel}", matched.how);
        }
        Kind::AutoReply => {
            plan.effects.events = invoices.iter().map(|i| (i.clone(), Event::AutoReplied)).collect();
            plan.reason = format!("matched by {}: an automatic reply, nothing held", matched.how);
        }
        Kind::Reply => {
            let today = now.with_timezone(&matched.customer.timezone).date_naive();
            let until = working_days_after(today, rules.pause_days);
            plan.effects.events = invoices.iter().map(|i| (i.clone(), Event::Answered { until })).collect();
            plan.reason = format!("matched by {}: reminders wait until {until}, a task opened", matched.how);
            plan.effects.task = Some(task(&matched, mail, &own, &plan.reason));
        }
        Kind::DeliveryReport => unreachable!("handled above"),
    }
    Ok(plan)
}

/// The messages it answers (In-Reply-To, References, the returned message's
/// Message-ID), else the latest email to the customer whose address it is about.
async fn match_message(
    store: &Store,
    mail: &Mail,
    kind: &Kind,
    (about, return_path): (Option<&str>, Option<&str>),
) -> anyhow::Result<Option<Matched>> {
    // A bounce to the return path of one message names that message.
    if let Some(template) = return_path
        && matches!(kind, Kind::Bounce(_) | Kind::Complaint { .. })
        && let Some((invoice, step)) = mail.to.iter().find_map(|to| step_of_verp(template, to))
    {
        let rows = store.sent_step(&invoice, &step).await?;
        if let Some(first) = rows.first()
            && let Some(customer) = store.customer(&first.customer_id).await?
        {
            return Ok(Some(Matched { rows, customer, how: "the return path it came back to" }));
        }
    }
    let mut ids = mail.answers.clone();
    if matches!(kind, Kind::Bounce(_) | Kind::Complaint { .. })
        && let Some(id) = mail.original.as_ref().and_then(|o| o.message_id.clone())
    {
        ids.insert(0, id);
    }
    let rows = store.sent_with_message_ids(&ids).await?;
    if let Some(first) = rows.first() {
        // Every row of one message has the same customer; another customer's row is not this message's.
        let customer_id = first.customer_id.clone();
        let rows: Vec<OutboxRow> = rows.into_iter().filter(|r| r.customer_id == customer_id).collect();
        if let Some(customer) = store.customer(&customer_id).await? {
            return Ok(Some(Matched { rows, customer, how: "the message it answers" }));
        }
    }
    let Some(address) = about else { return Ok(None) };
    // One customer with that address; several share it, and the message cannot say which.
    let customers = store.customers_with_email(address).await?;
    let [customer] = customers.as_slice() else { return Ok(None) };
    let Some(row) = store.last_email_to(&customer.id).await? else { return Ok(None) };
    Ok(Some(Matched { rows: vec![row], customer: customer.clone(), how: "the sender's address" }))
}

/// Whether `address` is the customer's: their email or PEC address, or for a
/// reply a colleague at the same domain. A bounce or a complaint must name
/// the very address the message went to.
fn belongs_to(customer: &Customer, address: &str, kind: &Kind) -> bool {
    let own = [customer.email.as_deref(), customer.pec.as_deref()];
    if own.iter().flatten().any(|a| a.eq_ignore_ascii_case(address)) {
        return true;
    }
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    matches!(kind, Kind::Reply | Kind::AutoReply)
        && domain(address).is_some_and(|d| own.iter().flatten().any(|a| domain(a).as_deref() == Some(d.as_str())))
}

/// A task for a person: read the reply, and act on it.
fn task(matched: &Matched, mail: &Mail, own: &str, why: &str) -> (String, Task) {
    let invoice = matched.rows.first().map(|r| r.invoice_id.clone()).unwrap_or_default();
    let id = mail.message_id.clone().unwrap_or_else(|| format!("{}-{}", invoice, mail.date.unwrap_or_default()));
    let from = mail.from.clone().unwrap_or_default();
    let task = Task {
        key: format!("reply/{id}"),
        title: format!("Reply from {} ({from}): {}", matched.customer.name, mail.subject),
        customer: matched.customer.name.clone(),
        phone: matched.customer.phone.clone(),
        script: format!("{why}\n\n{own}"),
    };
    (invoice, task)
}

/// The return path of one message: `[email] return_path` with the message's
/// key as a local part (`/` as `.`, `%` as `=`: neither is in a key otherwise,
/// so the key reads back).
pub(crate) fn verp(template: &str, key: &str) -> String {
    template.replace("{key}", &key.replace('/', ".").replace('%', "="))
}

/// The (invoice, step) of a return path made by [`verp`], if `address` is one.
fn step_of_verp(template: &str, address: &str) -> Option<(String, String)> {
    let (before, after) = template.split_once("{key}")?;
    let address = address.trim();
    let lower = address.to_ascii_lowercase();
    if address.len() < before.len() + after.len()
        || !lower.starts_with(&before.to_ascii_lowercase())
        || !lower.ends_with(&after.to_ascii_lowercase())
    {
        return None;
    }
    let local = address.get(before.len()..address.len() - after.len())?.replace('=', "%");
    let (invoice, step) = local.split_once('.')?;
    let decode = |part: &str| percent_encoding::percent_decode_str(part).decode_utf8().ok().map(|c| c.into_owned());
    Some((decode(invoice)?, decode(step)?))
}

/// `days` working days (Monday to Friday) after `from`.
fn working_days_after(from: NaiveDate, days: u32) -> NaiveDate {
    let mut d = from;
    let mut left = days;
    while left > 0 {
        d += Duration::days(1);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_path_reads_back_to_its_step() {
        let template = "bounces+{key}@acme.example";
        let key = crate::store::outbox_key("FT 2026/1.a", "overdue-7");
        let address = verp(template, &key);
        assert_eq!(address, "bounces+FT=202026=2F1=2Ea.overdue-7@acme.example");
        assert_eq!(step_of_verp(template, &address), Some(("FT 2026/1.a".into(), "overdue-7".into())));
        assert_eq!(step_of_verp(template, "crediti@acme.example"), None);
        assert_eq!(step_of_verp(template, "bounces+@acme.example"), None);
    }

    #[test]
    fn a_pause_counts_working_days() {
        let friday = NaiveDate::from_ymd_opt(2026, 10, 9).unwrap();
        assert_eq!(working_days_after(friday, 3), NaiveDate::from_ymd_opt(2026, 10, 14).unwrap());
        let monday = NaiveDate::from_ymd_opt(2026, 10, 12).unwrap();
        assert_eq!(working_days_after(monday, 3), NaiveDate::from_ymd_opt(2026, 10, 15).unwrap());
        assert_eq!(working_days_after(monday, 0), monday);
    }
}
