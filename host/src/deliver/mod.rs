//! One tick, delivery half. Due messages are read a page at a time, customer
//! by customer, and checked (status, sending window, weekly cap, one per
//! invoice per tick). Each is claimed right before it is handed to its
//! channel adapter, checked once more against its invoice as it is then, and
//! its outcome written as soon as the adapter answers: a crash leaves only the
//! messages in flight uncertain, at most `[sending] concurrency` per channel,
//! and the operator's `[sending] uncertain` decides what becomes of them.

mod actions;
mod alerts;
mod compose;
mod handover;
pub mod mail;
mod outcome;
mod report;
mod worker;

use outcome::{Outcome, Wait, outcome_of, record_unclaimed, tally};
pub(crate) use report::DeliverReport;
pub(crate) use worker::Worker;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::guardrails::{self, Block, Request};
use crate::invoice::{Customer, Invoice};
use crate::plan::{Instalment, Standing};
use crate::render::Renderer;
use crate::sandbox::{Capture, Captured, Grants, Plugin};
use crate::store::{IN_THE_MESSAGE_OF, OutboxKind, OutboxRow, Payload, Settle, Store};

/// Everything delivery needs, built once per run.
pub(crate) struct Delivery {
    /// The runtime's config, read here for the sending rules, the sender and escalations.
    pub config: Arc<Config>,
    pub renderer: Renderer,
    /// Channels by name: the adapter, what it was granted, its settings.
    /// Swapped whole when an operator activates a new adapter version.
    pub channels: std::sync::RwLock<Arc<HashMap<String, Channel>>>,
    /// The payment adapter (`[payments]`), if any: payment retries go through it.
    pub payments: Option<Channel>,
    /// Where collections hand-over files are written.
    pub handover_dir: std::path::PathBuf,
    /// This process as the holder of claims on messages in flight.
    pub worker: Worker,
    /// The sender of emails (name, address), checked when the config was read.
    pub sender: (String, String),
    /// Set on SIGTERM: nothing more is handed over, what is in flight finishes.
    pub stopping: std::sync::atomic::AtomicBool,
    /// In a simulation: where what would have left is kept instead.
    pub capture: Option<Arc<Capture>>,
    /// The customer's page (`[portal]`): each message carries a signed link to it.
    pub links: Option<Arc<crate::portal::Links>>,
}

/// A channel (or the payment adapter) as configured: its adapter and the capabilities it may use.
#[derive(Clone)]
pub struct Channel {
    pub adapter: Arc<Plugin>,
    pub grants: Grants,
    pub settings: Vec<crate::decision::Setting>,
}

/// Separates customer and channel in the key of a consolidated message (ids hold no control characters).
const COMPANIONS: char = '\u{1f}';

/// Due messages read at once; a customer's messages always come in the same page.
const PAGE: i64 = 500;

/// Customers whose messages are worked on at once: memory stays flat whatever the number due.
const CUSTOMERS_AT_ONCE: usize = 64;

/// Tries of one message before a transient failure counts as permanent.
const MAX_ATTEMPTS: i64 = 6;

/// How long a message waits after the operator's setup failed (the relay
/// down, say), by the faults so far: a minute, doubling up to an hour.
fn setup_backoff(faults: i64) -> i64 {
    (60 * 2i64.pow(faults.clamp(0, 6) as u32)).min(3600)
}

/// How long a transient failure waits before the next try, by attempt.
fn backoff(attempt: i64) -> i64 {
    (300 * 2i64.pow(attempt.clamp(0, 6) as u32)).min(6 * 3600)
}

/// A message that passed its checks, to be composed and handed to its adapter.
pub(super) struct ReadyMessage {
    row: OutboxRow,
    channel: String,
    invoice: Invoice,
    customer: Customer,
    /// For an instalment reminder: the instalment and what is left on it.
    instalment: Option<(Instalment, i64)>,
    /// For a plan offer: the instalments offered.
    offered: Vec<Instalment>,
    /// The customer's other reminders on this channel in this tick, sent in the same message.
    companions: Vec<(OutboxRow, Invoice)>,
    /// For a statement of account: the customer's other open invoices.
    account: Vec<Invoice>,
}

enum Prepared {
    Done(Outcome),
    Ready(Box<ReadyMessage>),
}

/// What one run shares between the customers it works on.
struct Lanes {
    channels: Arc<HashMap<String, Channel>>,
    /// Adapter calls in flight at once, per channel.
    limits: HashMap<String, Arc<Semaphore>>,
    /// A channel whose relay failed on the operator's setup in this run: the
    /// rest of its messages wait without knocking again.
    setup_fault: Mutex<HashMap<String, String>>,
}

impl Delivery {
    pub(crate) fn channels(&self) -> Arc<HashMap<String, Channel>> {
        self.channels.read().expect("channels lock").clone()
    }

    /// Puts a new adapter behind a channel, keeping its grants and settings.
    pub(crate) fn swap_adapter(&self, channel: &str, adapter: Arc<Plugin>) -> bool {
        let mut current = self.channels.write().expect("channels lock");
        let mut next = (**current).clone();
        let Some(route) = next.get_mut(channel) else { return false };
        route.adapter = adapter;
        *current = Arc::new(next);
        true
    }

    /// Delivers every message due at `now`: first decides what stopped
    /// workers left in flight, then goes through the due messages page by
    /// page, customers side by side. With `dry_run`, counts what would
    /// happen and neither claims, sends nor writes.
    pub(crate) async fn run(&self, store: &Store, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<DeliverReport> {
        let mut report = DeliverReport::default();
        if !dry_run {
            self.take_back_uncertain(store, now, &mut report).await?;
        }
        // The adapters of this run: a swap during it applies from the next one.
        let channels = self.channels();
        let concurrency = self.config.sending.concurrency;
        let limits = channels.keys().map(|c| (c.clone(), Arc::new(Semaphore::new(concurrency)))).collect();
        let lanes = Lanes { channels, limits, setup_fault: Mutex::default() };
        let mut working = FuturesUnordered::new();
        let mut after = String::new();
        while !self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            // The customers in progress are driven while the page is read: they
            // may hold the connection the read is waiting for.
            let page = {
                let read = store.due_messages(now.timestamp(), &after, PAGE);
                tokio::pin!(read);
                loop {
                    tokio::select! {
                        page = &mut read => break page?,
                        Some(done) = working.next(), if !working.is_empty() => report.merge(done?),
                    }
                }
            };
            let Some(last) = page.last() else { break };
            after = last.customer_id.clone();
            for rows in page.chunk_by(|a, b| a.customer_id == b.customer_id) {
                while working.len() >= CUSTOMERS_AT_ONCE
                    && let Some(done) = working.next().await
                {
                    report.merge(done?);
                }
                working.push(self.deliver_to_customer(store, &lanes, rows.to_vec(), now, dry_run));
            }
        }
        while let Some(done) = working.next().await {
            report.merge(done?);
        }
        drop(working);
        let faults = std::mem::take(&mut *lanes.setup_fault.lock().expect("setup faults"));
        for (channel, reason) in faults {
            tracing::error!(%channel, "the {channel} relay failed on the operator's setup, its messages wait: {reason}");
        }
        Ok(report)
    }

    /// A customer's due messages, in order: checked, grouped, handed over one by one.
    async fn deliver_to_customer(
        &self,
        store: &Store,
        lanes: &Lanes,
        rows: Vec<OutboxRow>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> anyhow::Result<DeliverReport> {
        let mut report = DeliverReport::default();
        let customer = rows[0].customer_id.clone();
        if !dry_run {
            let until = Utc::now().timestamp() + self.config.sending.claim_seconds as i64;
            if !store.lease_customer(&customer, &self.worker.id, until, |w| self.worker.is_gone(w)).await? {
                return Ok(report); // another worker is delivering to them
            }
        }
        let delivered = self.deliver_leased(store, lanes, rows, now, dry_run, &mut report).await;
        if !dry_run {
            store.release_customer(&customer, &self.worker.id).await?;
        }
        delivered.map(|()| report)
    }

    async fn deliver_leased(
        &self,
        store: &Store,
        lanes: &Lanes,
        rows: Vec<OutboxRow>,
        now: DateTime<Utc>,
        dry_run: bool,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        let mut reminded: HashSet<String> = HashSet::new();
        let mut planned: HashMap<String, Vec<i64>> = HashMap::new();
        let mut sends = vec![];
        for row in rows {
            match self.prepare(store, &lanes.channels, &row, now, &mut reminded, &mut planned).await? {
                Prepared::Done(outcome) => record_unclaimed(store, &row, outcome, now, dry_run, report).await?,
                Prepared::Ready(_) if dry_run => tally(report, &row, &Outcome::Sent("dry run".into())),
                Prepared::Ready(send) => sends.push(*send),
            }
        }
        for send in compose::consolidate(sends, &self.config.sending.consolidate) {
            self.send_one(store, lanes, send, now, report).await?;
        }
        Ok(())
    }

    /// One message: claimed, checked once more, rendered, handed to its
    /// adapter, and its outcome written at once. The invoices that go in the
    /// same message share its fate.
    async fn send_one(
        &self,
        store: &Store,
        lanes: &Lanes,
        send: ReadyMessage,
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        let channel = send.channel.clone();
        let _permit = lanes.limits[&channel].clone().acquire_owned().await?;
        if self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(()); // still pending, for the next start
        }
        let fault = lanes.setup_fault.lock().expect("setup faults").get(&channel).cloned();
        if let Some(reason) = fault {
            for row in std::iter::once(&send.row).chain(send.companions.iter().map(|(r, _)| r)) {
                let until = now + chrono::Duration::seconds(setup_backoff(row.setup_faults));
                let outcome = Outcome::Wait(until, format!("the relay's setup: {reason}"), Wait::Setup);
                record_unclaimed(store, row, outcome, now, false, report).await?;
            }
            return Ok(());
        }
        let ids: Vec<i64> = std::iter::once(send.row.id).chain(send.companions.iter().map(|(r, _)| r.id)).collect();
        let lease = Utc::now().timestamp() + self.config.sending.claim_seconds as i64;
        let claimed = store.claim(&ids, &self.worker.id, lease).await?;
        let Some(send) = self.recheck(store, send, &claimed, now, report).await? else { return Ok(()) };
        // Sent on another channel than the decision named: the history says which.
        let rerouted = send.row.channel.as_deref() != Some(channel.as_str());
        if rerouted {
            for id in std::iter::once(send.row.id).chain(send.companions.iter().map(|(r, _)| r.id)) {
                store.reroute(id, &channel).await?;
            }
        }
        let message = match self.compose(&send, now) {
            Ok(message) => message,
            Err(e) => {
                let reason = format!("cannot render: {e}");
                for row in std::iter::once(&send.row).chain(send.companions.iter().map(|(r, _)| r)) {
                    self.settle(store, row, (Outcome::Fail(reason.clone()), None, None), now, report).await?;
                }
                return Ok(());
            }
        };
        if let Some(capture) = &self.capture {
            let key = send.row.key();
            let (at, subject, text) = (now.timestamp(), message.subject.clone(), message.text.clone());
            capture.keep(Captured { key, channel: channel.clone(), at, subject, text });
        }
        let rendered = format!("{}\n\n{}", message.subject, message.text);
        let route = &lanes.channels[&channel];
        let (adapter, settings) = (route.adapter.clone(), route.settings.clone());
        let mut grants = route.grants.clone();
        // Each call its own task inbox, so a task belongs to the message that opened it.
        let inbox = grants.tasks.as_ref().map(|_| Arc::new(Mutex::new(vec![])));
        grants.tasks = inbox.clone();
        let setup = Arc::new(Mutex::new(None));
        grants.setup_fault = Some(setup.clone());
        let sent_mail = Arc::new(Mutex::new(None));
        grants.sent_mail = Some(sent_mail.clone());
        // A PEC provider wants its own mailbox as the envelope sender: the return path is email's.
        grants.return_path = (channel == "email")
            .then_some(self.config.email.return_path.as_deref())
            .flatten()
            .map(|t| crate::inbound::verp(t, &send.row.key()));
        let ts = now.timestamp();
        let result =
            tokio::task::spawn_blocking(move || adapter.deliver_message(&settings, &message, ts, grants)).await?;
        let opened = inbox.map(|i| std::mem::take(&mut *i.lock().expect("task inbox"))).unwrap_or_default();
        // Tasks the adapter opened count only if the delivery went through.
        if matches!(result, Ok(Ok(_))) && !opened.is_empty() {
            store.open_tasks(&send.row.invoice_id, &opened, ts).await?;
        }
        let setup = setup.lock().expect("setup fault").take();
        if let Some(reason) = &setup {
            lanes.setup_fault.lock().expect("setup faults").entry(channel.clone()).or_insert_with(|| reason.clone());
        }
        let outcome = match outcome_of(result, &send.row, now, setup) {
            Outcome::Sent(receipt) if rerouted => Outcome::Sent(format!("{REROUTED}{receipt}")),
            other => other,
        };
        let message_id = sent_mail.lock().expect("sent mail").take();
        self.settled_as_sent(store, &send, (outcome, &rendered, message_id.as_deref()), now, report).await
    }

    /// Writes a message's outcome, and its companions' (who went in it).
    async fn settled_as_sent(
        &self,
        store: &Store,
        send: &ReadyMessage,
        (outcome, rendered, message_id): (Outcome, &str, Option<&str>),
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        if matches!(outcome, Outcome::Sent(_)) {
            *report.messages.entry(send.channel.clone()).or_default() += 1;
        }
        let key = send.row.key();
        for (row, _) in &send.companions {
            let theirs = match &outcome {
                Outcome::Sent(receipt) => Outcome::Sent(format!("{IN_THE_MESSAGE_OF}{key}: {receipt}")),
                other => other.clone(),
            };
            self.settle(store, row, (theirs, None, message_id), now, report).await?;
        }
        self.settle(store, &send.row, (outcome, Some(rendered), message_id), now, report).await
    }

    /// The last look before the hand-over, at the invoices as they are now: one
    /// paid, disputed, promised or stopped a moment ago is cancelled. What is
    /// left goes as one message, led by the first left if the lead was stopped.
    /// Rows another worker claimed first are its own.
    async fn recheck(
        &self,
        store: &Store,
        send: ReadyMessage,
        claimed: &[i64],
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<Option<ReadyMessage>> {
        let ReadyMessage { row, channel, instalment, offered, companions, .. } = send;
        let lead = row.id;
        let mut kept: Vec<(OutboxRow, Invoice, Customer)> = vec![];
        for row in std::iter::once(row).chain(companions.into_iter().map(|(r, _)| r)) {
            if !claimed.contains(&row.id) {
                continue;
            }
            let verdict = match store.invoice(&row.invoice_id).await? {
                None => Err("the invoice no longer exists".to_string()),
                Some((invoice, customer)) => {
                    let request = Request {
                        of_plan: row.kind == OutboxKind::Instalment,
                        asked: row.kind == OutboxKind::Statement,
                        ..Request::message(&row.step, &channel)
                    };
                    match guardrails::check(&request, &invoice, &customer, [], false, now) {
                        Ok(()) => Ok((invoice, customer)),
                        Err(block) => Err(block.to_string()),
                    }
                }
            };
            match verdict {
                Ok((invoice, customer)) => kept.push((row, invoice, customer)),
                Err(reason) => self.settle(store, &row, (Outcome::Cancel(reason), None, None), now, report).await?,
            }
        }
        let mut members = kept.into_iter();
        let Some((row, invoice, customer)) = members.next() else { return Ok(None) };
        let led = row.id == lead;
        // A statement (asked for, or a policy's reminder with that template) lists the whole account.
        let account = match row.template.as_deref() {
            Some("statement") => {
                store.open_invoices_of(&customer.id).await?.into_iter().filter(|i| i.id != invoice.id).collect()
            }
            _ => vec![],
        };
        Ok(Some(ReadyMessage {
            account,
            row,
            channel,
            invoice,
            customer,
            instalment: if led { instalment } else { None },
            offered: if led { offered } else { vec![] },
            companions: members.map(|(r, i, _)| (r, i)).collect(),
        }))
    }

    /// Writes the outcome of a message this worker holds in flight.
    async fn settle(
        &self,
        store: &Store,
        row: &OutboxRow,
        (outcome, rendered, message_id): (Outcome, Option<&str>, Option<&str>),
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        tally(report, row, &outcome);
        let settle = match &outcome {
            Outcome::Sent(receipt) => Settle::Sent { receipt, rendered, message_id },
            Outcome::Wait(until, reason, Wait::Setup) => Settle::SetupFault { not_before: until.timestamp(), reason },
            Outcome::Wait(until, reason, _) => Settle::Retry { not_before: until.timestamp(), reason },
            Outcome::Cancel(reason) => Settle::Cancelled(reason),
            Outcome::Fail(reason) => Settle::Failed(reason),
        };
        store.settle_message(row.id, &self.worker.id, settle, now.timestamp()).await
    }

    /// Messages left in flight by workers that stopped (known gone on this
    /// machine, or their lease ran out) are sent again or held, as the operator chose.
    async fn take_back_uncertain(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        let choice = self.config.sending.uncertain;
        let wall = Utc::now().timestamp();
        // Known stopped before their claims are read: a stopped worker claims
        // nothing more, so every claim it left is in the list read next, and
        // its lock file can go once they are taken back.
        let stopped = self.worker.stopped_here();
        for holder in store.customer_lease_holders(&self.worker.id).await? {
            if self.worker.is_gone(&holder) {
                store.release_customers_of(&holder).await?;
            }
        }
        let mut gone: HashMap<String, bool> = HashMap::new();
        // This worker's own claims too, once their lease ran out: a tick of
        // `serve` that failed left them, and no one else may be running.
        for row in store.in_flight().await? {
            let holder = row.claimed_by.clone().unwrap_or_default();
            let expired = row.claim_until.is_none_or(|until| until < wall);
            let stopped =
                holder != self.worker.id && *gone.entry(holder.clone()).or_insert_with(|| self.worker.is_gone(&holder));
            if !(expired || stopped) || !store.release_uncertain(&row, choice, now.timestamp()).await? {
                continue;
            }
            tracing::warn!(
                invoice = %row.invoice_id, step = %row.step, worker = %holder,
                "a message was in flight when its worker stopped: {}",
                if choice == crate::config::Uncertain::Hold { "held for a person" } else { "sent again with the same key" }
            );
            let result = match choice {
                crate::config::Uncertain::Resend => {
                    report.uncertain_resent += 1;
                    "uncertain-resent"
                }
                crate::config::Uncertain::Hold => {
                    report.uncertain_held += 1;
                    "uncertain-held"
                }
            };
            report.count_message(row.channel.as_deref().unwrap_or_default(), result);
        }
        // The invoices they were deciding too, if they stopped after this tick's decisions began.
        for holder in &stopped {
            store.release_reviews_of(holder).await?;
        }
        self.worker.forget(&stopped);
        Ok(())
    }

    /// The checks right before a message leaves, then the rendering.
    async fn prepare(
        &self,
        store: &Store,
        channels: &HashMap<String, Channel>,
        row: &OutboxRow,
        now: DateTime<Utc>,
        reminded: &mut HashSet<String>,
        planned: &mut HashMap<String, Vec<i64>>,
    ) -> anyhow::Result<Prepared> {
        let done = |o: Outcome| Ok(Prepared::Done(o));
        let Some((invoice, customer)) = store.invoice(&row.invoice_id).await? else {
            return done(Outcome::Cancel("the invoice no longer exists".into()));
        };
        let channel = formal_route(row.channel.clone().unwrap_or_default(), &customer, channels);
        // A plan's own instalments: only while the plan is kept and the instalment unpaid.
        let instalment = match row.kind {
            OutboxKind::Instalment => match plan_instalment(row, &invoice, &customer, now) {
                Ok(i) => Some(i),
                Err(why) => return done(Outcome::Cancel(why)),
            },
            _ => None,
        };
        let offered: Vec<Instalment> = match &row.payload {
            Payload::OfferPlan(offer) => offer.instalments.clone(),
            _ => vec![],
        };
        // The status is checked again right before the message leaves.
        let asked = row.kind == OutboxKind::Statement;
        let request = Request { of_plan: instalment.is_some(), asked, ..Request::message(&row.step, &channel) };
        match guardrails::check(&request, &invoice, &customer, [], reminded.contains(&invoice.id), now) {
            Ok(()) => {}
            Err(Block::OnePerTick) => {
                let next_tick = now + chrono::Duration::seconds(1);
                return done(Outcome::Wait(next_tick, Block::OnePerTick.to_string(), Wait::Tick));
            }
            // The customer replied after it was decided: it waits for the reply to be read.
            Err(block @ (Block::Answered(until) | Block::TransferToConfirm(until))) => {
                let after = guardrails::day_after(until, customer.timezone);
                return done(Outcome::Wait(after.max(now), block.to_string(), Wait::Tick));
            }
            Err(block) => return done(Outcome::Cancel(block.to_string())),
        }
        let window = self.config.sending.window(&channel);
        let opens = guardrails::next_in_window(&window, customer.timezone, now);
        // What the customer asked for goes now, whatever the hour or the week's count.
        if opens > now && !asked {
            let local = opens.with_timezone(&customer.timezone);
            let reason = format!(
                "outside the sending window; waits until {} ({})",
                local.format("%Y-%m-%d %H:%M"),
                customer.timezone
            );
            return done(Outcome::Wait(opens, reason, Wait::Window(customer.timezone)));
        }
        // A reminder joining a message already leaving in this tick adds no contact.
        let together = row.kind == OutboxKind::Remind && self.config.sending.consolidate.contains(&channel);
        let group = format!("{}{COMPANIONS}{channel}{COMPANIONS}{}", customer.id, invoice.currency);
        let joins = together && reminded.contains(&group);
        let week_ago = now.timestamp() - 7 * 86_400;
        let mut recent = store.sent_to_customer_since(&customer.id, week_ago).await?;
        // Messages already planned in this tick count too.
        recent.extend(planned.get(&customer.id).into_iter().flatten());
        recent.sort_unstable();
        if !joins
            && !asked
            && let Some(until) = guardrails::cap_wait(&recent, self.config.sending.cap_per_week, now)
        {
            let reason =
                format!("{} contacts in 7 days already; waits until {until}", self.config.sending.cap_per_week);
            return done(Outcome::Wait(until, reason, Wait::Cap));
        }
        if !channels.contains_key(&channel) {
            return done(Outcome::Fail(format!(
                "no channel {channel:?} is configured (add [channels.{channel}] to the config)"
            )));
        }
        reminded.insert(invoice.id.clone());
        // Reminders that go out together in one message are one contact for the weekly cap.
        if !together || reminded.insert(group) {
            planned.entry(customer.id.clone()).or_default().push(now.timestamp());
        }
        let send = ReadyMessage {
            row: row.clone(),
            channel,
            invoice,
            customer,
            instalment,
            offered,
            companions: vec![],
            account: vec![],
        };
        Ok(Prepared::Ready(Box::new(send)))
    }
}

/// How a formal notice sent by PEC that had to go as a registered letter says so.
const REROUTED: &str = "as a registered letter (no PEC address for the customer, or no PEC relay set up): ";

/// A message asked by PEC goes as a registered letter when the customer has
/// no PEC address or no PEC relay is set up (`[channels.pec]`): a formal
/// notice that cannot leave is no notice, and the letter is as traceable.
fn formal_route(asked: String, customer: &crate::invoice::Customer, channels: &HashMap<String, Channel>) -> String {
    match asked.as_str() {
        "pec" if customer.pec.is_none() || !channels.contains_key("pec") => "letter".into(),
        _ => asked,
    }
}

/// The instalment an instalment reminder is about and what is left on it,
/// or why it no longer goes out.
fn plan_instalment(
    row: &OutboxRow,
    invoice: &crate::invoice::Invoice,
    customer: &crate::invoice::Customer,
    now: DateTime<Utc>,
) -> Result<(Instalment, i64), String> {
    let Some(plan) = &invoice.plan else { return Err("the invoice is not on a payment plan".into()) };
    let Payload::Instalment(due) = &row.payload else { return Err("not an instalment's reminder".into()) };
    let number = due.instalment.number;
    let Some(instalment) = plan.instalments.iter().find(|i| i.number == number) else {
        return Err(format!("the plan has no instalment {number}"));
    };
    let today = now.with_timezone(&customer.timezone).date_naive();
    if let Standing::Missed(missed) = plan.standing(invoice.amount_paid, today) {
        return Err(format!(
            "the plan was not kept: instalment {} was due {} and is unpaid",
            missed.number, missed.due
        ));
    }
    match plan.left_on(number, invoice.amount_paid) {
        0 => Err(format!("instalment {number} is paid")),
        left => Ok((instalment.clone(), left)),
    }
}
