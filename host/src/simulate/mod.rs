//! `simulate`: the real engine on a virtual clock. A scratch database gets
//! the invoices; every day the scripted events happen, then a tick runs
//! (scheduler, guardrails, delivery) exactly as `run --at` would; what would
//! have left is kept by a capturing transport. Each timeline is read back
//! from that run's history. What is here is the clock and the reading.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub use responses::{ResponseModel, fit as fit_responses};

mod responses;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::event::Event;
use crate::intake::Dataset;
use crate::invoice::InvoiceStatus;
use crate::money::format_money;
use crate::runtime::Runtime;
use crate::sandbox::{Capture, Plugin};
use crate::schedule::Schedule;
use crate::store::{DecisionRow, EventRow, History, OutboxRow, OutboxState, Store, minute};

pub struct Options {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Time of day (UTC) of the daily tick in service mode.
    pub tick: NaiveTime,
    /// When ticks come: as `serve` runs them, or as a cron job would.
    pub schedule: Schedule,
    /// Policy settings over the config's own.
    pub settings: BTreeMap<String, String>,
    /// Moved on once a simulated day, its message the date; finished after the last.
    pub progress: Option<indicatif::ProgressBar>,
    /// How customers answer messages (`--responses`): their payments happen in the run.
    pub responses: Option<ResponseModel>,
}

/// One line of an invoice's timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub date: NaiveDate,
    /// `remind`, `retry-payment`, `escalate`, `apply-fee`, `offer-plan`,
    /// `instalment`, `pause`, `close`, `event`, `held` (a guardrail stopped
    /// it), `refused` (the host refused it outright: a step already done, a
    /// second reminder in one tick) or `error` (the plugin failed).
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What became of a step: sent when, waiting until when and why, held why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The step's state at the end (`sent`, `done`, `pending`, `cancelled`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<OutboxState>,
    /// When the step was settled, or the moment it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// The subject of the message that would have left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

impl Entry {
    fn new(at: i64, what: &str) -> Self {
        Entry {
            date: DateTime::from_timestamp(at, 0).unwrap_or_default().date_naive(),
            what: what.into(),
            step: None,
            channel: None,
            tone: None,
            template: None,
            deadline: None,
            note: None,
            result: None,
            state: None,
            at: None,
            subject: None,
        }
    }

    fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub invoice: String,
    pub number: String,
    pub customer: String,
    pub amount_due: String,
    pub due: NaiveDate,
    /// Where the invoice stands at the end of the range.
    pub outcome: String,
    pub entries: Vec<Entry>,
}

/// A simulation's result: each invoice's timeline and the ticks that made it.
#[derive(Debug, Serialize)]
pub struct Simulation {
    /// Every tick, in order: the daily ones, and those when a waiting step's
    /// time came (a sending window opening, a retry's hour).
    pub ticks: Vec<DateTime<Utc>>,
    pub timelines: Vec<Timeline>,
    /// Invoices the policy failed on, counted once per tick.
    pub plugin_errors: usize,
    /// Invoices by where they stand at the end: `paid`, `open`, `closed`...
    pub summary: BTreeMap<String, usize>,
    /// Customers the schedule can never reach in their sending window, "name (timezone)".
    pub unreachable: Vec<String>,
}

/// Ticks beyond the daily one in a day, at most: enough for every timezone's window.
const EXTRA_TICKS_A_DAY: usize = 48;

/// The simulation's clock: the scripted and modelled events still to come,
/// the ticks so far and what they found.
#[derive(Default)]
struct Clock<'d> {
    events: Vec<crate::intake::ScriptedEvent>,
    due: HashMap<&'d str, NaiveDate>,
    /// Invoices a modelled customer already paid: an invoice is paid once.
    answered: std::collections::HashSet<String>,
    last_tick: i64,
    ticks: Vec<DateTime<Utc>>,
    plugin_errors: usize,
    /// (customer, channel) of messages that waited for a sending window.
    waited: BTreeMap<(String, String), chrono_tz::Tz>,
}

impl Clock<'_> {
    /// The day's scripted events, just before its first tick at `now`.
    async fn happen(&mut self, store: &Store, day: NaiveDate, now: DateTime<Utc>) -> anyhow::Result<()> {
        for e in self.events.iter().filter(|e| e.on == day) {
            // A modelled payment of an invoice no longer open (paid, closed by the policy) does not happen.
            if e.modelled && !store.invoice(&e.invoice_id).await?.is_some_and(|(i, _)| i.status == InvoiceStatus::Open)
            {
                continue;
            }
            store.apply_event(&e.invoice_id, &e.event, crate::event::Door::Script, now).await?;
        }
        Ok(())
    }

    /// A scheduled tick at `now`; in service mode, then one whenever a
    /// waiting step's time comes that day, as `serve` would.
    async fn play(&mut self, runtime: &Runtime, opts: &Options, now: DateTime<Utc>) -> anyhow::Result<()> {
        let (store, next_day) = (runtime.store(), now + chrono::Days::new(1));
        let mut at = Some(now);
        while let Some(t) = at {
            let report = runtime.tick(t, false).await?;
            self.plugin_errors += report.decided.plugin_errors;
            self.waited.extend(report.delivered.waited_for_window);
            self.ticks.push(t);
            if let Some(model) = &opts.responses {
                self.answer(store, model, opts.to, t).await?;
            }
            let extra = self.ticks.iter().rev().take_while(|x| x.date_naive() == now.date_naive()).count();
            at = match opts.schedule.follows_waiting_steps() {
                true => store.next_waiting(t.timestamp()).await?.and_then(|w| DateTime::from_timestamp(w, 0)),
                false => None,
            };
            at = at.filter(|w| *w < next_day && w.date_naive() <= opts.to && extra <= EXTRA_TICKS_A_DAY);
        }
        Ok(())
    }

    /// The modelled customers' payments after what was sent since the last tick.
    async fn answer(
        &mut self,
        store: &Store,
        model: &ResponseModel,
        to: NaiveDate,
        t: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let sent = store.sent_between(self.last_tick + 1, t.timestamp()).await?;
        for sent in sent.into_iter().filter(|s| !s.bounced) {
            let Some(&due) = self.due.get(sent.invoice_id.as_str()) else { continue };
            if let Some(on) = model.answer(&sent, due).filter(|on| *on <= to)
                && self.answered.insert(sent.invoice_id.clone())
            {
                self.events.push(crate::intake::ScriptedEvent::modelled(&sent.invoice_id, on, Event::Paid));
            }
        }
        self.last_tick = t.timestamp();
        Ok(())
    }
}

/// Plays `policy` over `data` from `opts.from` to `opts.to` with the config's
/// guardrails, channels and templates. Nothing leaves, nothing of the operator's is written.
pub async fn run(
    config: Config,
    catalog: &mut Catalog,
    policy: Arc<Plugin>,
    data: Dataset,
    opts: &Options,
) -> anyhow::Result<Simulation> {
    let scratch = tempfile::Builder::new().prefix("sollecito-simulation-").tempdir()?;
    let capture = Arc::new(Capture::default());
    let runtime = Runtime::simulation(scratch.path(), config, catalog, policy, &opts.settings, capture.clone()).await?;
    let store = runtime.store();
    let start = opts.from.and_time(NaiveTime::MIN).and_utc();
    store.import(&Dataset { events: vec![], ..data.clone() }, start).await?;
    let due: HashMap<&str, NaiveDate> = data.invoices.iter().map(|i| (i.id.as_str(), i.due)).collect();
    let mut clock = Clock { events: data.events.clone(), due, ..Clock::default() };
    let times = opts.schedule.times(opts.tick);
    let mut day = opts.from;
    if let Some(p) = &opts.progress {
        p.set_length((opts.to - opts.from).num_days().max(0) as u64 + 1);
    }
    while day <= opts.to {
        if let Some(p) = &opts.progress {
            p.set_message(day.to_string());
        }
        clock.happen(store, day, day.and_time(times[0]).and_utc()).await?;
        for time in &times {
            clock.play(&runtime, opts, day.and_time(*time).and_utc()).await?;
        }
        if let Some(p) = &opts.progress {
            p.inc(1);
        }
        day = day.succ_opt().expect("date in range");
    }
    if let Some(p) = &opts.progress {
        p.finish_using_style();
    }
    let unreachable = match opts.schedule {
        Schedule::Service => vec![],
        _ => crate::schedule::unreachable(store, &runtime.config().sending, &clock.waited, &times, opts.from).await?,
    };
    let subjects: HashMap<String, String> = capture.take().into_iter().map(|c| (c.key, c.subject)).collect();
    let mut timelines = Vec::with_capacity(data.invoices.len());
    // Files written in the scratch folder (a hand-over) are gone with it: say so, not where.
    let scratch_path = scratch.path().display().to_string();
    // The scratch store holds this run alone: every history read at once.
    let mut histories = store.histories().await?;
    for invoice in &data.invoices {
        let history = histories.remove(&invoice.id).ok_or_else(|| anyhow::anyhow!("{} was imported", invoice.id))?;
        let mut t = timeline(history, &subjects)?;
        for result in t.entries.iter_mut().filter_map(|e| e.result.as_mut()) {
            *result = result.replace(&scratch_path, "scratch");
        }
        timelines.push(t);
    }
    let mut summary = BTreeMap::new();
    for t in &timelines {
        *summary.entry(t.outcome.split(" (").next().unwrap_or_default().to_string()).or_default() += 1;
    }
    Ok(Simulation { ticks: clock.ticks, timelines, plugin_errors: clock.plugin_errors, summary, unreachable })
}

/// An invoice's timeline, read from the scratch run's history.
fn timeline(history: History, subjects: &HashMap<String, String>) -> anyhow::Result<Timeline> {
    let History { invoice, customer, next_review, closed, events, decisions, outbox } = history;
    let outcome = match (&closed, invoice.status) {
        (Some(reason), _) => format!("closed ({reason})"),
        (None, InvoiceStatus::Open) if next_review.is_some() => "open".into(),
        (None, InvoiceStatus::Open) => "open, waiting for an event".into(),
        (None, status) => serde_json::to_value(status)?.as_str().unwrap_or("closed").to_string(),
    };
    Ok(Timeline {
        invoice: invoice.id.clone(),
        number: invoice.number.clone(),
        customer: customer.name.clone(),
        amount_due: format_money(invoice.amount_due, &invoice.currency),
        due: invoice.due,
        outcome,
        entries: entries(&events, &decisions, &outbox, subjects),
    })
}

/// Events, then each decision's steps and its pause or close, in time order.
fn entries(
    events: &[EventRow],
    decisions: &[DecisionRow],
    outbox: &[OutboxRow],
    subjects: &HashMap<String, String>,
) -> Vec<Entry> {
    // Time, then events before decisions, then the decision, then its steps before its pause or close.
    type Order = (i64, u8, i64, u8, i64);
    let mut lines: Vec<(Order, Entry)> = vec![];
    // The import that seeds the scratch run is not part of the story.
    for e in events.iter().filter(|e| e.kind != crate::event::EventKind::Imported) {
        lines.push(((e.at, 0, 0, 0, 0), Entry::new(e.at, "event").note(e.detail.clone())));
    }
    for row in outbox {
        lines.push(((row.created_at, 1, row.decision_id, 0, row.id), step_entry(row, subjects)));
    }
    for d in decisions {
        if let Some(error) = &d.error {
            lines.push(((d.at, 1, d.id, 1, 0), Entry::new(d.at, "error").note(error.clone())));
        }
        for r in &d.refused {
            let mut entry = Entry::new(d.at, "refused").note(r.to_string());
            entry.step = Some(r.step.clone());
            lines.push(((d.at, 1, d.id, 1, 2), entry));
        }
        for action in d.actions.as_array().into_iter().flatten() {
            if let Some(until) = action.get("pause").and_then(Value::as_i64) {
                lines.push((
                    (d.at, 1, d.id, 1, 0),
                    Entry::new(d.at, "pause").note(format!("until {} UTC", minute(until))),
                ));
            }
            if let Some(reason) = action.get("close").and_then(Value::as_str) {
                lines.push(((d.at, 1, d.id, 1, 1), Entry::new(d.at, "close").note(reason)));
            }
        }
    }
    lines.sort_by_key(|(order, _)| *order);
    lines.into_iter().map(|(_, e)| e).collect()
}

/// One outbox step as a line: held when a guardrail stopped it, else its kind.
fn step_entry(row: &OutboxRow, subjects: &HashMap<String, String>) -> Entry {
    let held = row.state == OutboxState::Cancelled;
    let mut entry = Entry::new(row.created_at, if held { "held" } else { row.kind.as_str() });
    entry.step = Some(row.step.clone());
    entry.channel = row.channel.clone();
    entry.tone = row.tone.map(|t| t.name().to_string());
    entry.template = row.template.clone();
    entry.deadline = row.deadline;
    entry.subject = subjects.get(&row.key()).cloned();
    let payload: Value = serde_json::to_value(&row.payload).unwrap_or(Value::Null);
    let body = |kind: &str| payload.get(kind).cloned().unwrap_or(Value::Null);
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    entry.note = if held {
        row.reason.clone()
    } else {
        match row.kind.as_str() {
            "retry-payment" => body("retry-payment")
                .get("at")
                .and_then(Value::as_i64)
                .map(|at| format!("charge again at {} UTC", minute(at))),
            "escalate" => Some(format!("{}: {}", text(&body("escalate"), "kind"), text(&body("escalate"), "reason"))),
            "apply-fee" => {
                let fee = body("apply-fee");
                let minor = fee.get("minor").and_then(Value::as_i64).unwrap_or_default();
                Some(format!("{} ({})", format_money(minor, &text(&fee, "currency")), text(&fee, "reason")))
            }
            "offer-plan" => {
                let plan = body("offer-plan");
                let number = |k: &str| plan.get(k).and_then(Value::as_i64).unwrap_or_default();
                Some(format!(
                    "{} instalments every {} days from {}",
                    number("instalments"),
                    number("every-days"),
                    text(&plan, "first-due")
                ))
            }
            _ => None,
        }
    };
    entry.result = Some(row.result_in_words());
    entry.state = Some(row.state);
    entry.at = DateTime::from_timestamp(row.done_at.unwrap_or(row.not_before), 0);
    entry
}
