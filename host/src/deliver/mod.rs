//! One tick, delivery half. Due messages are read a page at a time, customer
//! by customer, and checked (status, sending window, weekly cap, one per
//! invoice per tick). Each is claimed right before it is handed to its
//! channel adapter, checked once more against its invoice as it is then, and
//! its outcome written as soon as the adapter answers: a crash leaves only the
//! messages in flight uncertain, at most `[sending] concurrency` per channel,
//! and the operator's `[sending] uncertain` decides what becomes of them.

mod actions;
mod alerts;
mod commit;
mod compose;
mod handover;
pub mod mail;
mod outcome;
mod prepare;
mod report;
mod worker;

use commit::{Committer, Current};
pub(crate) use compose::Composer;
use outcome::{Outcome, Wait, outcome_of, settled, tally, unclaimed};
use prepare::{Known, REROUTED};
pub(crate) use report::DeliverReport;
pub(crate) use worker::Worker;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::guardrails::{self, Request};
use crate::invoice::{Customer, Invoice};
use crate::plan::Instalment;
use crate::sandbox::{Capture, Captured, Grants, Plugin};
use crate::store::{IN_THE_MESSAGE_OF, OutboxKind, OutboxRow, Store};

/// Everything delivery needs, built once per run.
pub(crate) struct Delivery {
    /// The runtime's config, read here for the sending rules and escalations.
    pub config: Arc<Config>,
    /// Renders each message, in the blocking task that hands it over.
    pub composer: Arc<Composer>,
    /// Channels by name: the adapter, what it was granted, its settings.
    /// Swapped whole when an operator activates a new adapter version.
    pub channels: std::sync::RwLock<Arc<HashMap<String, Channel>>>,
    /// The payment adapter (`[payments]`), if any: payment retries go through it.
    pub payments: Option<Channel>,
    /// Where collections hand-over files are written.
    pub handover_dir: std::path::PathBuf,
    /// This process as the holder of claims on messages in flight.
    pub worker: Worker,
    /// Set on SIGTERM: nothing more is handed over, what is in flight finishes.
    pub stopping: std::sync::atomic::AtomicBool,
    /// In a simulation: where what would have left is kept instead.
    pub capture: Option<Arc<Capture>>,
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
    /// The writer of the run's claims and outcomes; none in a dry run, which writes nothing.
    commit: Option<Committer>,
}

impl Lanes {
    fn commit(&self) -> &Committer {
        self.commit.as_ref().expect("a dry run claims and writes nothing")
    }
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
        let commit = (!dry_run).then(|| {
            let claim_seconds = self.config.sending.claim_seconds as i64;
            Committer::start(store.clone(), self.worker.id.clone(), claim_seconds, now.timestamp())
        });
        let mut lanes = Lanes { channels, limits, setup_fault: Mutex::default(), commit };
        let mut working = FuturesUnordered::new();
        let mut progress = Progress { report, finished: vec![] };
        let mut after = String::new();
        while !self.stopping.load(std::sync::atomic::Ordering::Relaxed) {
            let read = store.due_messages(now.timestamp(), &after, PAGE);
            let page = while_working(read, &mut working, &mut progress).await?;
            let Some(last) = page.last() else { break };
            after = last.customer_id.clone();
            let mut customers: VecDeque<Vec<OutboxRow>> =
                page.chunk_by(|a, b| a.customer_id == b.customer_id).map(<[OutboxRow]>::to_vec).collect();
            while !customers.is_empty() {
                // Leased and read a chunk at a time, the next once half of those in progress are done.
                while working.len() > CUSTOMERS_AT_ONCE / 2
                    && let Some(done) = working.next().await
                {
                    progress.absorb(done?);
                }
                let chunk = customers.drain(..(CUSTOMERS_AT_ONCE - working.len()).min(customers.len())).collect();
                let released = std::mem::take(&mut progress.finished);
                let take = self.take_customers(store, chunk, released, now, dry_run);
                let (chunk, known) = while_working(take, &mut working, &mut progress).await?;
                let known = Arc::new(known);
                for rows in chunk {
                    working.push(self.deliver_to_customer(store, &lanes, known.clone(), rows, now, dry_run));
                }
            }
        }
        while let Some(done) = working.next().await {
            progress.absorb(done?);
        }
        drop(working);
        if let Some(commit) = lanes.commit.take() {
            commit.finish().await?;
        }
        let Progress { report, finished } = progress;
        if !dry_run {
            store.release_customers(&finished, &self.worker.id).await?;
        }
        let faults = std::mem::take(&mut *lanes.setup_fault.lock().expect("setup faults"));
        for (channel, reason) in faults {
            tracing::error!(%channel, "the {channel} relay failed on the operator's setup, its messages wait: {reason}");
        }
        Ok(report)
    }

    /// Leases a chunk of customers for delivery (letting go of those
    /// `released`, done with) and reads what their checks need, a few
    /// statements for the chunk. A customer another worker holds is left out.
    async fn take_customers(
        &self,
        store: &Store,
        chunk: Vec<Vec<OutboxRow>>,
        released: Vec<String>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> anyhow::Result<(Vec<Vec<OutboxRow>>, Known)> {
        let chunk = if dry_run {
            chunk
        } else {
            store.release_customers(&released, &self.worker.id).await?;
            let customers: Vec<&str> = chunk.iter().map(|rows| rows[0].customer_id.as_str()).collect();
            let until = Utc::now().timestamp() + self.config.sending.claim_seconds as i64;
            let taken = store.lease_customers(&customers, &self.worker.id, until, |w| self.worker.is_gone(w)).await?;
            chunk.into_iter().filter(|rows| taken.contains(&rows[0].customer_id)).collect()
        };
        let invoices: HashSet<&str> = chunk.iter().flatten().map(|r| r.invoice_id.as_str()).collect();
        let customers: Vec<&str> = chunk.iter().map(|rows| rows[0].customer_id.as_str()).collect();
        let week_ago = now.timestamp() - 7 * 86_400;
        let known = Known {
            invoices: store.invoices_by_id(&invoices.into_iter().collect::<Vec<_>>()).await?,
            recent: store.sent_to_customers_since(&customers, week_ago).await?,
        };
        Ok((chunk, known))
    }

    /// A customer's due messages, in order: checked, grouped, handed over one
    /// by one. Returns the customer, whose lease can go, with what happened.
    async fn deliver_to_customer(
        &self,
        store: &Store,
        lanes: &Lanes,
        known: Arc<Known>,
        rows: Vec<OutboxRow>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> anyhow::Result<(String, DeliverReport)> {
        let mut report = DeliverReport::default();
        let customer = rows[0].customer_id.clone();
        self.deliver_leased(store, lanes, &known, rows, now, dry_run, &mut report).await?;
        Ok((customer, report))
    }

    #[allow(clippy::too_many_arguments)]
    async fn deliver_leased(
        &self,
        store: &Store,
        lanes: &Lanes,
        known: &Known,
        rows: Vec<OutboxRow>,
        now: DateTime<Utc>,
        dry_run: bool,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        let mut reminded: HashSet<String> = HashSet::new();
        let mut planned: HashMap<String, Vec<i64>> = HashMap::new();
        let mut sends = vec![];
        let mut decided = vec![];
        for row in rows {
            match self.prepare(known, &lanes.channels, &row, now, &mut reminded, &mut planned) {
                Prepared::Done(outcome) => decided.push(unclaimed(&row, outcome, report)),
                Prepared::Ready(_) if dry_run => tally(report, &row, &Outcome::Sent("dry run".into())),
                Prepared::Ready(send) => sends.push(*send),
            }
        }
        if !dry_run {
            lanes.commit().unclaimed(decided).await?;
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
            let mut decided = vec![];
            for row in std::iter::once(&send.row).chain(send.companions.iter().map(|(r, _)| r)) {
                let until = now + chrono::Duration::seconds(setup_backoff(row.setup_faults));
                let outcome = Outcome::Wait(until, format!("the relay's setup: {reason}"), Wait::Setup);
                decided.push(unclaimed(row, outcome, report));
            }
            return lanes.commit().unclaimed(decided).await;
        }
        let ids: Vec<i64> = std::iter::once(send.row.id).chain(send.companions.iter().map(|(r, _)| r.id)).collect();
        let (claimed, current) = lanes.commit().claim(ids).await?;
        let Some(send) = self.recheck(store, lanes, send, (&claimed, current), now, report).await? else {
            return Ok(());
        };
        // Sent on another channel than the decision named: the history says which.
        let rerouted = send.row.channel.as_deref() != Some(channel.as_str());
        if rerouted {
            let ids: Vec<i64> = std::iter::once(send.row.id).chain(send.companions.iter().map(|(r, _)| r.id)).collect();
            store.reroute(&ids, &channel).await?;
        }
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
        let (composer, capture) = (self.composer.clone(), self.capture.clone());
        // Rendered and handed over in one blocking task: one hand-over a message, not two.
        let (send, handed) = tokio::task::spawn_blocking(move || {
            let handed = composer.compose(&send, now).map(|message| {
                if let Some(capture) = &capture {
                    let (key, subject) = (send.row.key(), message.subject.clone());
                    capture.keep(Captured { key, channel: send.channel.clone(), at: ts, subject });
                }
                let rendered = format!("{}\n\n{}", message.subject, message.text);
                (rendered, adapter.deliver_message(&settings, &message, ts, grants))
            });
            (send, handed)
        })
        .await?;
        let (rendered, result) = match handed {
            Ok(handed) => handed,
            Err(e) => {
                let reason = format!("cannot render: {e}");
                let rows = std::iter::once(&send.row).chain(send.companions.iter().map(|(r, _)| r));
                let failed = rows.map(|row| (row, Outcome::Fail(reason.clone()), None)).collect();
                return self.settle(lanes, failed, None, report).await;
            }
        };
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
        self.settled_as_sent(lanes, &send, (outcome, &rendered, message_id.as_deref()), report).await
    }

    /// Writes a message's outcome, and its companions' (who went in it).
    async fn settled_as_sent(
        &self,
        lanes: &Lanes,
        send: &ReadyMessage,
        (outcome, rendered, message_id): (Outcome, &str, Option<&str>),
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        if matches!(outcome, Outcome::Sent(_)) {
            *report.messages.entry(send.channel.clone()).or_default() += 1;
        }
        let key = send.row.key();
        let mut outcomes = vec![];
        for (row, _) in &send.companions {
            let theirs = match &outcome {
                Outcome::Sent(receipt) => Outcome::Sent(format!("{IN_THE_MESSAGE_OF}{key}: {receipt}")),
                other => other.clone(),
            };
            outcomes.push((row, theirs, None));
        }
        outcomes.push((&send.row, outcome, Some(rendered)));
        self.settle(lanes, outcomes, message_id, report).await
    }

    /// The last look before the hand-over, at the invoices as they are now: one
    /// paid, disputed, promised or stopped a moment ago is cancelled. What is
    /// left goes as one message, led by the first left if the lead was stopped.
    /// Rows another worker claimed first are its own.
    async fn recheck(
        &self,
        store: &Store,
        lanes: &Lanes,
        send: ReadyMessage,
        (claimed, mut current): (&HashSet<i64>, Current),
        now: DateTime<Utc>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<Option<ReadyMessage>> {
        let ReadyMessage { row, channel, instalment, offered, companions, .. } = send;
        let lead = row.id;
        let mut kept: Vec<(OutboxRow, Invoice, Customer)> = vec![];
        let rows: Vec<OutboxRow> = std::iter::once(row)
            .chain(companions.into_iter().map(|(r, _)| r))
            .filter(|row| claimed.contains(&row.id))
            .collect();
        let mut cancelled = vec![];
        for row in rows {
            let verdict = match current.remove(&row.invoice_id) {
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
                Err(reason) => cancelled.push((row, Outcome::Cancel(reason))),
            }
        }
        if !cancelled.is_empty() {
            let cancelled = cancelled.iter().map(|(row, outcome)| (row, outcome.clone(), None)).collect();
            self.settle(lanes, cancelled, None, report).await?;
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

    /// Writes the outcomes of messages this worker holds in flight, each with
    /// what the customer read (if it went), counted.
    async fn settle(
        &self,
        lanes: &Lanes,
        outcomes: Vec<(&OutboxRow, Outcome, Option<&str>)>,
        message_id: Option<&str>,
        report: &mut DeliverReport,
    ) -> anyhow::Result<()> {
        let rows = outcomes
            .into_iter()
            .map(|(row, outcome, rendered)| {
                tally(report, row, &outcome);
                (row.id, settled(outcome, rendered, message_id))
            })
            .collect();
        lanes.commit().settle(rows).await
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
}

/// What the customers worked on so far came to, and those done with, whose
/// leases go with the next chunk's.
struct Progress {
    report: DeliverReport,
    finished: Vec<String>,
}

impl Progress {
    fn absorb(&mut self, (customer, report): (String, DeliverReport)) {
        self.report.merge(report);
        self.finished.push(customer);
    }
}

/// Awaits `read` while driving the customers in progress: they may hold the
/// connection it waits for.
async fn while_working<T>(
    read: impl std::future::Future<Output = anyhow::Result<T>>,
    working: &mut FuturesUnordered<impl std::future::Future<Output = anyhow::Result<(String, DeliverReport)>>>,
    progress: &mut Progress,
) -> anyhow::Result<T> {
    tokio::pin!(read);
    loop {
        tokio::select! {
            answer = &mut read => return answer,
            Some(done) = working.next(), if !working.is_empty() => progress.absorb(done?),
        }
    }
}
