//! One tick, delivery half: each waiting message is checked again (status,
//! sending window, weekly cap, one per invoice per tick), rendered in the
//! customer's language and handed to its channel adapter.

mod actions;
mod compose;
mod handover;
pub mod mail;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::guardrails::{self, Block, Request};
use crate::invoice::{Customer, Invoice};
use crate::plan::{Instalment, Standing};
use crate::render::Renderer;
use crate::sandbox::v0_1::{self, DeliveryError};
use crate::sandbox::{Grants, Plugin};
use crate::store::{IN_THE_MESSAGE_OF, OutboxRow, Store};

#[derive(Debug, Default, Clone, Serialize)]
pub struct DeliverReport {
    pub sent: usize,
    /// Waiting for the customer's sending window.
    pub deferred_window: usize,
    /// Waiting for the weekly contact cap.
    pub deferred_cap: usize,
    /// Another message for the invoice left in this tick.
    pub deferred_tick: usize,
    /// A transient failure: tried again later.
    pub retry_later: usize,
    /// Stopped by a guardrail (paid, disputed, ...): cancelled with the reason.
    pub cancelled: usize,
    pub failed: usize,
    /// Channel -> result (`sent`, `deferred`, `retry`, `cancelled`, `failed`) -> count.
    pub by_channel: std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, usize>>,
    /// Actions other than messages: kind -> result (`done`, `paid`, `declined`, `retry`, `cancelled`, `failed`) -> count.
    pub actions: std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, usize>>,
}

impl DeliverReport {
    fn count(&mut self, kind: &str, result: &'static str) {
        *self.actions.entry(kind.to_string()).or_default().entry(result).or_default() += 1;
    }
}

/// Everything delivery needs, built once per run.
pub struct Delivery {
    pub config: Config,
    pub renderer: Renderer,
    /// Channels by name: the adapter, what it was granted, its settings.
    /// Swapped whole when an operator activates a new adapter version.
    pub channels: std::sync::RwLock<Arc<HashMap<String, Channel>>>,
    /// The payment adapter (`[payments]`), if any: payment retries go through it.
    pub payments: Option<Channel>,
    /// Where collections hand-over files are written.
    pub handover_dir: std::path::PathBuf,
}

/// A channel (or the payment adapter) as configured: its adapter and the capabilities it may use.
#[derive(Clone)]
pub struct Channel {
    pub adapter: Arc<Plugin>,
    pub grants: Grants,
    pub settings: Vec<v0_1::Setting>,
}

/// Separates customer and channel in the key of a consolidated message (ids hold no control characters).
const COMPANIONS: char = '\u{1f}';

/// Adapter calls in flight at once, per channel.
const CONCURRENCY: usize = 4;

/// Tries of one message before a transient failure counts as permanent.
const MAX_ATTEMPTS: i64 = 6;

/// How long a transient failure waits before the next try, by attempt.
fn backoff(attempt: i64) -> i64 {
    (300 * 2i64.pow(attempt.clamp(0, 6) as u32)).min(6 * 3600)
}

/// A message that passed its checks, to be composed and handed to its adapter.
pub(super) struct Send {
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
}

enum Prepared {
    Done(Outcome),
    Send(Box<Send>),
}

impl Delivery {
    pub fn channels(&self) -> Arc<HashMap<String, Channel>> {
        self.channels.read().expect("channels lock").clone()
    }

    /// Puts a new adapter behind a channel, keeping its grants and settings.
    pub fn swap_adapter(&self, channel: &str, adapter: Arc<Plugin>) -> bool {
        let mut current = self.channels.write().expect("channels lock");
        let mut next = (**current).clone();
        let Some(route) = next.get_mut(channel) else { return false };
        route.adapter = adapter;
        *current = Arc::new(next);
        true
    }

    /// Delivers every message due at `now`: checks and renders in order, then
    /// hands the messages to their adapters concurrently (at most
    /// `CONCURRENCY` at once per channel), then records the results. With
    /// `dry_run`, counts what would happen and neither sends nor writes.
    pub async fn run(&self, store: &Store, now: DateTime<Utc>, dry_run: bool) -> anyhow::Result<DeliverReport> {
        // The adapters of this run: a swap during it applies from the next one.
        let channels = self.channels();
        let mut reminded: HashSet<String> = HashSet::new();
        let mut planned: HashMap<String, Vec<i64>> = HashMap::new();
        let mut outcomes: Vec<(OutboxRow, Outcome)> = vec![];
        let mut sends: Vec<Send> = vec![];
        for row in store.pending_messages(now.timestamp()).await? {
            match self.prepare(store, &channels, &row, now, &mut reminded, &mut planned).await? {
                Prepared::Done(outcome) => outcomes.push((row, outcome)),
                Prepared::Send(_) if dry_run => outcomes.push((row, Outcome::Sent("dry run".into()))),
                Prepared::Send(send) => sends.push(*send),
            }
        }

        let sends = compose::consolidate(sends, &self.config.sending.consolidate);

        let limits: HashMap<&str, Arc<tokio::sync::Semaphore>> =
            channels.keys().map(|c| (c.as_str(), Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)))).collect();
        let mut calls = Vec::with_capacity(sends.len());
        for send in sends {
            let message = match self.compose(&send, now) {
                Ok(message) => message,
                Err(e) => {
                    let reason = format!("cannot render: {e}");
                    outcomes.extend(send.companions.into_iter().map(|(row, _)| (row, Outcome::Fail(reason.clone()))));
                    outcomes.push((send.row, Outcome::Fail(reason)));
                    continue;
                }
            };
            let route = &channels[&send.channel];
            let permit = limits[send.channel.as_str()].clone().acquire_owned().await?;
            let (adapter, settings) = (route.adapter.clone(), route.settings.clone());
            let mut grants = route.grants.clone();
            // Each call its own task inbox, so a task belongs to the message that opened it.
            let inbox = grants.tasks.as_ref().map(|_| Arc::new(std::sync::Mutex::new(vec![])));
            grants.tasks = inbox.clone();
            let call = tokio::task::spawn_blocking(move || {
                let result = adapter.deliver(&settings, &message, now.timestamp(), grants);
                drop(permit);
                result
            });
            calls.push((send, inbox, call));
        }
        for (send, inbox, call) in calls {
            let result = call.await?;
            let opened = inbox.map(|i| std::mem::take(&mut *i.lock().unwrap())).unwrap_or_default();
            // Tasks the adapter opened count only if the delivery went through.
            if matches!(result, Ok(Ok(_))) && !opened.is_empty() {
                store.open_tasks(&send.row.invoice_id, &opened, now.timestamp()).await?;
            }
            let outcome = outcome_of(result, send.row.attempts, now);
            // The invoices that went in the same message share its fate.
            let key = format!("{}/{}", send.row.invoice_id, send.row.step);
            for (row, _) in send.companions {
                let theirs = match &outcome {
                    Outcome::Sent(receipt) => Outcome::Sent(format!("{IN_THE_MESSAGE_OF}{key}: {receipt}")),
                    Outcome::Wait(until, reason, _) => Outcome::Wait(*until, reason.clone(), Wait::Retry),
                    Outcome::Cancel(reason) => Outcome::Cancel(reason.clone()),
                    Outcome::Fail(reason) => Outcome::Fail(reason.clone()),
                };
                outcomes.push((row, theirs));
            }
            outcomes.push((send.row, outcome));
        }

        let mut report = DeliverReport::default();
        let ts = now.timestamp();
        for (row, outcome) in outcomes {
            let result = match &outcome {
                Outcome::Sent(_) => "sent",
                Outcome::Wait(_, _, Wait::Retry) => "retry",
                Outcome::Wait(..) => "deferred",
                Outcome::Cancel(_) => "cancelled",
                Outcome::Fail(_) => "failed",
            };
            *report
                .by_channel
                .entry(row.channel.clone().unwrap_or_default())
                .or_default()
                .entry(result)
                .or_default() += 1;
            match outcome {
                Outcome::Sent(receipt) => {
                    report.sent += 1;
                    if !dry_run {
                        store.finish(row.id, "sent", None, Some(&receipt), ts).await?;
                    }
                }
                Outcome::Wait(until, reason, counter) => {
                    let attempted = matches!(counter, Wait::Retry);
                    match counter {
                        Wait::Window => report.deferred_window += 1,
                        Wait::Cap => report.deferred_cap += 1,
                        Wait::Tick => report.deferred_tick += 1,
                        Wait::Retry => report.retry_later += 1,
                    }
                    if !dry_run {
                        store.defer(row.id, until.timestamp(), &reason, attempted).await?;
                    }
                }
                Outcome::Cancel(reason) => {
                    report.cancelled += 1;
                    if !dry_run {
                        store.finish(row.id, "cancelled", Some(&reason), None, ts).await?;
                    }
                }
                Outcome::Fail(reason) => {
                    report.failed += 1;
                    if !dry_run {
                        store.finish(row.id, "failed", Some(&reason), None, ts).await?;
                    }
                }
            }
        }
        Ok(report)
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
        let channel = row.channel.clone().unwrap_or_default();
        // A plan's own instalments: only while the plan is kept and the instalment unpaid.
        let instalment = match row.kind.as_str() {
            "instalment" => match plan_instalment(row, &invoice, &customer, now) {
                Ok(i) => Some(i),
                Err(why) => return done(Outcome::Cancel(why)),
            },
            _ => None,
        };
        let offered: Vec<Instalment> = match row.kind.as_str() {
            "offer-plan" => {
                serde_json::from_value(serde_json::from_str::<serde_json::Value>(&row.payload)?["instalments"].take())?
            }
            _ => vec![],
        };
        // The status is checked again right before the message leaves.
        let request = Request { of_plan: instalment.is_some(), ..Request::message(&row.step, &channel) };
        match guardrails::check(&request, &invoice, &customer, [], reminded.contains(&invoice.id), now) {
            Ok(()) => {}
            Err(Block::OnePerTick) => {
                let next_tick = now + chrono::Duration::seconds(1);
                return done(Outcome::Wait(next_tick, Block::OnePerTick.to_string(), Wait::Tick));
            }
            Err(block) => return done(Outcome::Cancel(block.to_string())),
        }
        let window = self.config.sending.window(&channel);
        let opens = guardrails::next_in_window(&window, customer.timezone, now);
        if opens > now {
            let local = opens.with_timezone(&customer.timezone);
            let reason = format!(
                "outside the sending window; waits until {} ({})",
                local.format("%Y-%m-%d %H:%M"),
                customer.timezone
            );
            return done(Outcome::Wait(opens, reason, Wait::Window));
        }
        // A reminder joining a message already leaving in this tick adds no contact.
        let together = row.kind == "remind" && self.config.sending.consolidate.contains(&channel);
        let group = format!("{}{COMPANIONS}{channel}{COMPANIONS}{}", customer.id, invoice.currency);
        let joins = together && reminded.contains(&group);
        let week_ago = now.timestamp() - 7 * 86_400;
        let mut recent = store.sent_to_customer_since(&customer.id, week_ago).await?;
        // Messages already planned in this tick count too.
        recent.extend(planned.get(&customer.id).into_iter().flatten());
        recent.sort_unstable();
        if !joins && let Some(until) = guardrails::cap_wait(&recent, self.config.sending.cap_per_week, now) {
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
        let send = Send { row: row.clone(), channel, invoice, customer, instalment, offered, companions: vec![] };
        Ok(Prepared::Send(Box::new(send)))
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
    let payload: serde_json::Value = serde_json::from_str(&row.payload).map_err(|e| e.to_string())?;
    let number = payload["instalment"]["number"].as_u64().unwrap_or_default() as u32;
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

/// What an adapter's answer means for the outbox row.
fn outcome_of(
    result: Result<Result<v0_1::Receipt, DeliveryError>, String>,
    attempts: i64,
    now: DateTime<Utc>,
) -> Outcome {
    let later = now + chrono::Duration::seconds(backoff(attempts));
    match result {
        Ok(Ok(receipt)) => Outcome::Sent(receipt.reference),
        Ok(Err(DeliveryError::Permanent(reason))) => Outcome::Fail(reason),
        Ok(Err(DeliveryError::Transient(reason))) if attempts + 1 >= MAX_ATTEMPTS => {
            Outcome::Fail(format!("gave up after {MAX_ATTEMPTS} attempts: {reason}"))
        }
        Ok(Err(DeliveryError::Transient(reason))) => Outcome::Wait(later, format!("will retry: {reason}"), Wait::Retry),
        Err(trap) => Outcome::Wait(later, format!("adapter failed: {trap}"), Wait::Retry),
    }
}

enum Wait {
    Window,
    Cap,
    Tick,
    Retry,
}

enum Outcome {
    Sent(String),
    Wait(DateTime<Utc>, String, Wait),
    Cancel(String),
    Fail(String),
}
