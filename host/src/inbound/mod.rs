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
use crate::store::{Effects, InboundState, Lookup, NewInbound, OutboxRow, Seen, Store};

mod authenticity;
pub(crate) mod classify;
pub(crate) mod imap;
pub(crate) mod mailbox;
mod matching;
mod quoted;
pub(crate) mod read;
mod reply;

use classify::{Bounce, Kind};
use matching::Evidence;
pub(crate) use matching::verp;
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
    /// What the reader read a reply to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<crate::reading::Reading>,
}

/// What the inbound door works with: the store, the config and the plugin
/// that reads replies.
pub(crate) struct Intake<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub reader: &'a crate::sandbox::Plugin,
}

/// Takes one raw message in through `door` (`file`, `api`, `imap`).
pub(crate) async fn receive(
    intake: &Intake<'_>,
    raw: &[u8],
    door: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Handled> {
    Ok(receive_all(intake, &[raw], door, now).await?.pop().unwrap_or_else(|| duplicate(None)))
}

/// Messages a transaction keeps at most, taken in together.
const TOGETHER: usize = 100;

/// Takes messages in through `door`, in order, with what many of them do
/// written in one transaction (the rows of a hundred messages in one commit,
/// not a hundred commits); each is still kept once, with its effects.
pub(crate) async fn receive_all(
    intake: &Intake<'_>,
    messages: &[&[u8]],
    door: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Handled>> {
    let mut handled = Vec::with_capacity(messages.len());
    for group in messages.chunks(TOGETHER) {
        let arrived: Vec<Arrived> = group.iter().map(|raw| Arrived::read(raw)).collect();
        let seen = intake.store.seen(&Arrived::lookup(&arrived, now)).await?;
        let mut ready: Vec<Ready> = vec![];
        let mut order: Vec<Result<usize, Handled>> = vec![];
        let mut senders = std::collections::HashMap::new();
        for message in arrived {
            match prepare(intake, message, (&seen, &mut senders), (door, now)).await? {
                Prepared::Duplicate(h) => order.push(Err(h)),
                Prepared::Ready(r) => {
                    order.push(Ok(ready.len()));
                    ready.push(*r);
                }
            }
        }
        let rows: Vec<(NewInbound<'_>, Effects)> = ready.iter_mut().map(Ready::row).collect();
        let kept = intake.store.keep_inbound_all(rows, now).await?;
        let mut outcomes: Vec<Option<Handled>> = ready
            .into_iter()
            .zip(kept)
            .map(|(r, kept)| Some(if kept { r.handled() } else { duplicate(r.message_id) }))
            .collect();
        for place in order {
            handled.push(match place {
                Err(h) => h,
                Ok(i) => outcomes[i].take().unwrap_or_else(|| duplicate(None)),
            });
        }
    }
    Ok(handled)
}

/// A message read and planned, not yet kept.
enum Prepared {
    Duplicate(Handled),
    Ready(Box<Ready>),
}

/// What keeping a message writes, owned until the transaction that writes it.
struct Ready {
    door: String,
    digest: String,
    message_id: Option<String>,
    size: usize,
    raw: Vec<u8>,
    sender: Option<String>,
    subject: String,
    reason: String,
    text: String,
    plan: Plan,
}

impl Ready {
    /// The row and the effects (taken: they are written once).
    fn row(&mut self) -> (NewInbound<'_>, Effects) {
        let effects = std::mem::take(&mut self.plan.effects);
        let new = NewInbound {
            door: &self.door,
            digest: &self.digest,
            message_id: self.message_id.as_deref(),
            size: self.size,
            raw: &self.raw,
            sender: self.sender.as_deref(),
            subject: &self.subject,
            kind: &self.plan.kind,
            state: self.plan.state,
            reason: &self.reason,
            customer_id: self.plan.customer.as_deref(),
            invoice_id: self.plan.invoices.first().map(String::as_str),
            outbox_id: self.plan.outbox_id,
            text: &self.text,
            intent: self.plan.reading.as_ref().map(crate::reading::Reading::intent),
        };
        (new, effects)
    }

    fn handled(self) -> Handled {
        let plan = self.plan;
        Handled {
            message_id: self.message_id,
            kind: plan.kind,
            state: Some(plan.state),
            reason: plan.reason,
            customer: plan.customer,
            invoices: plan.invoices,
            reading: plan.reading,
        }
    }
}

/// A message as it arrived, read (nothing looked up yet).
struct Arrived<'r> {
    raw: &'r [u8],
    digest: String,
    mail: Result<Mail, Unreadable>,
}

impl<'r> Arrived<'r> {
    fn read(raw: &'r [u8]) -> Arrived<'r> {
        Arrived { raw, digest: hex::encode(sha2::Sha256::digest(raw)), mail: read::read(raw) }
    }

    /// What a batch of messages is looked up by in the store.
    fn lookup<'a>(batch: &'a [Arrived<'_>], now: DateTime<Utc>) -> Lookup<'a> {
        let mails = || batch.iter().filter_map(|a| a.mail.as_ref().ok());
        let mut keys = Lookup { since: now.timestamp() - 3600, ..Lookup::default() };
        keys.digests = batch.iter().map(|a| a.digest.as_str()).collect();
        keys.message_ids = mails().filter_map(|m| m.message_id.as_deref()).collect();
        keys.senders = mails().filter_map(|m| m.from.as_deref()).collect();
        for mail in mails() {
            let returned = mail.original.as_ref().and_then(|o| o.message_id.as_deref());
            keys.answers.extend(mail.answers.iter().take(50).map(String::as_str).chain(returned));
        }
        // A key with a NUL byte matches nothing we keep or send, and PostgreSQL refuses it as text.
        for list in [&mut keys.message_ids, &mut keys.senders, &mut keys.answers] {
            list.retain(|key| !key.contains('\0'));
        }
        keys
    }
}

/// Reads, classifies and matches a message, deciding what it does; writes nothing.
/// `unwritten` counts each sender's messages in this batch.
async fn prepare(
    intake: &Intake<'_>,
    Arrived { raw, digest, mail }: Arrived<'_>,
    (seen, unwritten): (&Seen, &mut std::collections::HashMap<String, i64>),
    (door, now): (&str, DateTime<Utc>),
) -> anyhow::Result<Prepared> {
    let config = intake.config;
    // A Message-ID with a NUL byte is no id (PostgreSQL's text takes none): the digest keeps it once.
    let message_id = mail.as_ref().ok().and_then(|m| m.message_id.clone()).filter(|id| !id.contains('\0'));
    if seen.kept(&digest, message_id.as_deref()) {
        return Ok(Prepared::Duplicate(duplicate(message_id)));
    }
    let (plan, mail) = match mail {
        Ok(mail) => {
            let kind = classify::classify(&mail);
            if flooding(&config.inbound, (&mail, &kind), seen, unwritten) {
                let limit = config.inbound.max_per_sender_hour;
                let why = format!("more than {limit} messages from this sender in an hour: kept unread");
                (Plan::kept("flood", InboundState::Quarantined, why), mail)
            } else {
                (plan(intake, seen, (&mail, kind), now).await?, mail)
            }
        }
        Err(why) => (Plan::quarantine(&why), Mail::default()),
    };
    // PostgreSQL's text takes no NUL: what a message says is kept without them.
    let clean = |t: &str| t.replace('\0', "");
    Ok(Prepared::Ready(Box::new(Ready {
        door: door.to_string(),
        digest,
        message_id,
        size: raw.len(),
        raw: raw[..raw.len().min(KEPT_BYTES)].to_vec(),
        sender: mail.from.as_deref().map(clean),
        subject: clean(&mail.subject),
        reason: clean(&plan.reason),
        text: clean(plan.text.as_deref().unwrap_or_default()),
        plan,
    })))
}

/// Whether the sender already sent the hour's share: an auto-responder in a
/// loop or a flood is kept, unread, rather than acted on message by message.
/// `unwritten` counts the sender's messages taken in with this one, not yet in the store.
fn flooding(
    rules: &Inbound,
    (mail, kind): (&Mail, &Kind),
    seen: &Seen,
    unwritten: &mut std::collections::HashMap<String, i64>,
) -> bool {
    // Bounces all come from a mailer daemon: a batch of them is no flood.
    if !matches!(kind, Kind::Reply | Kind::AutoReply) {
        return false;
    }
    let Some(sender) = &mail.from else { return false };
    let together = unwritten.entry(sender.clone()).or_default();
    *together += 1;
    seen.sent_by(sender) + *together > i64::from(rules.max_per_sender_hour)
}

fn duplicate(message_id: Option<String>) -> Handled {
    Handled {
        message_id,
        kind: "duplicate".into(),
        state: None,
        reason: "handled before: nothing done again".into(),
        customer: None,
        invoices: vec![],
        reading: None,
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
    reading: Option<crate::reading::Reading>,
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
            reading: None,
        }
    }
}

/// What a message is sent back about: the messages it names, and their customer.
struct Matched {
    rows: Vec<OutboxRow>,
    customer: Customer,
    /// How it was matched.
    evidence: Evidence,
}

async fn plan(
    intake: &Intake<'_>,
    seen: &Seen,
    (mail, kind): (&Mail, Kind),
    now: DateTime<Utc>,
) -> anyhow::Result<Plan> {
    let (store, config) = (intake.store, intake.config);
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
    let Some(matched) = matching::match_message((store, seen), mail, &kind, (about.as_deref(), return_path)).await?
    else {
        let reason = match &about {
            Some(a) => format!("matches no message we sent and no customer's address ({a})"),
            None => "matches no message we sent, and names no address".into(),
        };
        return Ok(Plan::kept(name, InboundState::Quarantined, reason));
    };
    let mut plan = Plan::kept(name, InboundState::Applied, String::new());
    plan.customer = Some(matched.customer.id.clone());
    plan.invoices = matched.rows.iter().map(|r| r.invoice_id.clone()).collect();
    plan.invoices.sort();
    plan.invoices.dedup();
    plan.outbox_id = matched.rows.first().map(|r| r.id);
    let own = quoted::own_words(&mail.text);
    plan.text = Some(own.clone());
    let trusted = about.as_deref().is_some_and(|a| matching::belongs_to(&matched.customer, a, &kind));
    // Anyone can write a bounce naming an address: one that names no message of ours is for a person.
    let weak = matched.evidence == Evidence::Address && matches!(kind, Kind::Bounce(_) | Kind::Complaint { .. });
    // A From the operator's own mail server found forged (DMARC, SPF without DKIM) acts on nothing.
    let forged = match kind {
        Kind::Reply | Kind::AutoReply => authenticity::failed(mail, config.inbound.authserv_id.as_deref()),
        _ => None,
    };
    if !trusted || weak || forged.is_some() {
        let from = about.unwrap_or_else(|| "an unknown sender".into());
        plan.state = InboundState::Task;
        plan.reason = match (weak, forged) {
            (true, _) => format!("names {from} but no message we sent: nothing changed, a task opened"),
            (_, Some(checks)) => {
                format!("{from} failed the mail server's checks ({checks}): nothing changed, a task opened")
            }
            _ => format!("{from} is not {}'s address: nothing changed, a task opened", matched.customer.name),
        };
        plan.effects.task = Some(task(&matched, mail, &own, &plan.reason));
        return Ok(plan);
    }
    if let Kind::Bounce(b) = &kind
        && !b.permanent
        && let Some(id) = plan.outbox_id
        && store.soft_bounce_counted(id).await?
    {
        // Mailers repeat a delay report every day: one message counts once.
        plan.state = InboundState::Recorded;
        plan.reason = "another delay report of a message already counted".into();
        return Ok(plan);
    }
    if kind == Kind::Reply {
        let reading = reply::read(intake.reader, &matched.customer, (mail, &own), now);
        reply::effects(&mut plan, &matched, (mail, &own), reading, (&config.inbound, now));
    } else {
        effects(&mut plan, kind, &matched);
    }
    Ok(plan)
}

/// What a trusted, matched report or automatic reply does, as events and rows.
fn effects(plan: &mut Plan, kind: Kind, matched: &Matched) {
    let invoices = plan.invoices.clone();
    let how = matched.evidence.words();
    // What happens to the customer (an address, an opt-out) is written once, whatever the message carried.
    let once = |event: Event| invoices.first().map(|i| (i.clone(), event)).into_iter().collect::<Vec<_>>();
    match kind {
        Kind::Bounce(b) => {
            let code = if b.status.is_empty() { String::new() } else { format!(" ({})", b.status) };
            if b.permanent {
                let reason = format!("bounced{code}: {}", b.diagnostic);
                plan.effects.bounced =
                    matched.rows.iter().map(|r| (r.id, reason.trim_end_matches(": ").into())).collect();
            }
            // Only the email address's own record: a PEC address that bounced fails its message, no more.
            let address = b.recipient.unwrap_or_default();
            if matched.customer.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(&address)) {
                plan.effects.events = once(Event::Bounced { address, permanent: b.permanent, status: b.status });
            }
            plan.reason = format!("matched by {how}: a bounce{code}");
        }
        Kind::Complaint { .. } => {
            let channel = matched.rows.first().and_then(|r| r.channel.clone()).unwrap_or_else(|| "email".into());
            plan.effects.events = once(Event::OptOut { channel: channel.clone() });
            plan.reason = format!("matched by {how}: marked as spam, opted out of {channel}");
        }
        Kind::AutoReply => {
            plan.effects.events = invoices.iter().map(|i| (i.clone(), Event::AutoReplied)).collect();
            plan.reason = format!("matched by {how}: an automatic reply, nothing held");
        }
        Kind::Reply | Kind::DeliveryReport => {}
    }
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
    fn a_pause_counts_working_days() {
        let friday = NaiveDate::from_ymd_opt(2026, 10, 9).unwrap();
        assert_eq!(working_days_after(friday, 3), NaiveDate::from_ymd_opt(2026, 10, 14).unwrap());
        let monday = NaiveDate::from_ymd_opt(2026, 10, 12).unwrap();
        assert_eq!(working_days_after(monday, 3), NaiveDate::from_ymd_opt(2026, 10, 15).unwrap());
        assert_eq!(working_days_after(monday, 0), monday);
    }
}
