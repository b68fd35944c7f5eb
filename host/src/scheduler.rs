//! One tick, decision half: invoices whose review is due go to their policy in
//! batches; each decision, its outbox rows and the next review are written in
//! one transaction. Delivery is `deliver`'s half.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::decision::{Contact, ContactOutcome, Decision, Review, Setting};
use crate::sandbox::Plugin;
use crate::steps::carry_out;
use crate::store::{DueInvoice, NewDecision, OutboxRow, OutboxState, ShadowRow, Store};

#[derive(Debug, Default, Clone, Serialize)]
pub struct DecideReport {
    pub evaluated: usize,
    pub reminders_queued: usize,
    /// Other actions recorded (retries, escalations, fees, plans).
    pub actions_recorded: usize,
    /// Steps a guardrail stopped at decision time (cancelled, with the reason in the history).
    pub blocked: usize,
    /// Actions refused outright, kept with their decision: a step already
    /// done asked again, a second reminder for an invoice in one tick.
    pub refused: usize,
    pub plugin_errors: usize,
    /// Invoices a shadow policy also evaluated (recorded, never carried out).
    pub shadowed: usize,
    /// Decisions left out because their invoice changed or was decided
    /// elsewhere while they were made (paid a moment ago, another worker).
    pub superseded: usize,
    pub errors: Vec<String>,
}

/// The policies of a run, resolved once: name or path in the config -> plugin,
/// and the versions an operator activated for a segment while running.
#[derive(Clone, Default)]
pub struct Policies {
    pub by_name: HashMap<String, Arc<Plugin>>,
    /// Segment -> the policy activated for it, over what the config says.
    pub activated: HashMap<String, Arc<Plugin>>,
    /// Segment -> a candidate evaluated beside the active policy, never carried out.
    pub shadows: HashMap<String, Arc<Plugin>>,
    /// Experiments running, one per segment at most: each customer's arm serves them.
    pub experiments: Vec<crate::experiment::Running>,
}

/// Who serves a customer: the name its settings are under (the plugin's
/// own), the policy, and the experiment and arm, if the customer is in one.
pub(crate) type Serving<'a> = (&'a str, &'a Arc<Plugin>, Option<(&'a str, &'a str)>);

impl Policies {
    pub fn resolve(config: &Config, catalog: &mut crate::catalog::Catalog) -> anyhow::Result<Self> {
        let mut by_name = HashMap::new();
        for name in config.policies.all() {
            let target = if name.ends_with(".wasm") {
                config.resolve(name.as_ref()).display().to_string()
            } else {
                name.to_string()
            };
            by_name.insert(name.to_string(), catalog.policy(&target)?);
        }
        // Settings go under the plugin's own name (from `describe`), whatever the
        // config calls it; a section nobody reads is a mistake worth stopping for.
        let mut known: Vec<&str> = by_name.values().map(|p| p.id.name.as_str()).collect();
        known.sort();
        known.dedup();
        let bundled: Vec<&str> = catalog.plugins().iter().map(|p| p.id.name.as_str()).collect();
        if let Some(section) =
            config.settings.keys().find(|k| !known.contains(&k.as_str()) && !bundled.contains(&k.as_str()))
        {
            return Err(crate::config::BadConfig {
                file: "config".into(),
                reason: format!(
                    "settings.{section}: no policy is named {section:?}; settings go under the plugin's own name \
                     (configured: {})",
                    known.join(", ")
                ),
            }
            .into());
        }
        Ok(Policies { by_name, ..Policies::default() })
    }

    /// The policy serving a customer, the name of its settings, and its arm.
    pub fn for_customer<'a>(&'a self, config: &'a Config, customer: &crate::invoice::Customer) -> Serving<'a> {
        // A per-customer override in the config beats everything; then an
        // experiment on the segment; then an activation for it.
        if !config.policies.customers.contains_key(&customer.id) {
            if let Some(e) = self.experiments.iter().find(|e| e.segment == customer.segment) {
                let (arm, p) = e.arm_of(&customer.id);
                return (p.id.name.as_str(), p, Some((e.name.as_str(), arm)));
            }
            if let Some(p) = self.activated.get(&customer.segment) {
                return (p.id.name.as_str(), p, None);
            }
        }
        let plugin = &self.by_name[config.policies.for_customer(customer)];
        (plugin.id.name.as_str(), plugin, None)
    }
}

/// A step of the outbox as the policy sees it in the invoice's history.
pub(crate) fn contact_of(row: &OutboxRow) -> Contact {
    Contact {
        step: row.step.clone(),
        channel: row.channel.clone(),
        tone: row.tone,
        at: row.done_at.unwrap_or(row.created_at),
        outcome: match row.state {
            OutboxState::Sent => ContactOutcome::Sent,
            OutboxState::Failed => ContactOutcome::Failed,
            OutboxState::Cancelled => ContactOutcome::Cancelled,
            _ => ContactOutcome::Pending,
        },
    }
}

/// Evaluates every due invoice. With `dry_run`, nothing is written.
///
/// Pages are pipelined: while one page's decisions are written (on the
/// database's own thread), the next page is evaluated, on every core.
pub(crate) async fn decide(
    store: &Store,
    policies: &Policies,
    config: &Config,
    now: DateTime<Utc>,
    batch: usize,
    dry_run: bool,
) -> anyhow::Result<DecideReport> {
    let mut report = DecideReport::default();
    // A claim on invoices under evaluation (several workers on PostgreSQL) lasts as a message's does.
    let lease = || (!dry_run).then(|| Utc::now().timestamp() + config.sending.claim_seconds as i64);
    let mut page = store.due_page(now.timestamp(), (i64::MIN, ""), batch as i64, lease()).await?;
    let mut writing: Option<tokio::task::JoinHandle<anyhow::Result<usize>>> = None;
    // Where the time of a tick goes, for the debug log.
    let (mut reading, mut evaluating, mut waiting) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut pages: usize = 0;
    while let Some(last) = page.last() {
        pages += 1;
        let after = (last.next_review, last.invoice.id.clone());
        report.evaluated += page.len();
        let started = Instant::now();
        let (decisions, shadows) =
            tokio::task::block_in_place(|| decide_page(policies, config, &page, now, &mut report));
        evaluating += started.elapsed();
        report.shadowed += shadows.len();
        let started = Instant::now();
        if let Some(write) = writing.take() {
            report.superseded += write.await??;
        }
        waiting += started.elapsed();
        // What the pages before wrote may be the first rows of a table (pages 2, 4, 8...: a few lookups a tick).
        if pages.is_power_of_two() && pages > 1 {
            store.know_tables().await;
        }
        // The invoices of this page are behind the cursor whether or not its
        // decisions are written yet. With connections to spare (PostgreSQL)
        // they are written while the next page is read; on SQLite's one
        // connection the page is read first, and they are written while it is evaluated.
        let mut unwritten = (!dry_run).then_some((decisions, shadows));
        let mut write = || {
            let (decisions, shadows) = unwritten.take()?;
            let store = store.clone();
            Some(tokio::spawn(async move {
                let superseded = store.record_decisions(&decisions).await?;
                store.record_shadow(&shadows).await?;
                Ok(superseded)
            }))
        };
        if store.writes_beside_reads() {
            writing = write();
        }
        let started = Instant::now();
        page = store.due_page(now.timestamp(), (after.0, &after.1), batch as i64, lease()).await?;
        reading += started.elapsed();
        if writing.is_none() {
            writing = write();
        }
    }
    if let Some(write) = writing {
        report.superseded += write.await??;
    }
    tracing::debug!(
        invoices = report.evaluated,
        ?reading,
        ?evaluating,
        ?waiting,
        "decided (evaluating includes views, guardrails and the input digests; waiting is for writes)"
    );
    Ok(report)
}

/// Evaluates one page, grouped by the policy serving each customer.
fn decide_page(
    policies: &Policies,
    config: &Config,
    page: &[DueInvoice],
    now: DateTime<Utc>,
    report: &mut DecideReport,
) -> (Vec<NewDecision>, Vec<ShadowRow>) {
    // (settings key, plugin sha256, experiment arm) -> the plugin and its invoices.
    type Group<'a> = (&'a Arc<Plugin>, Vec<&'a DueInvoice>);
    type Key<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
    let mut groups: BTreeMap<Key, Group> = BTreeMap::new();
    for due in page {
        let (name, plugin, arm) = policies.for_customer(config, &due.customer);
        groups.entry((name, plugin.id.sha256.as_str(), arm)).or_insert_with(|| (plugin, vec![])).1.push(due);
    }
    let mut decisions = Vec::with_capacity(page.len());
    let mut shadows = vec![];
    for ((name, _, arm), (policy, invoices)) in groups {
        let mut settings = config.settings_for(name);
        // An arm's own settings go over the config's.
        if let Some((experiment, arm)) = arm
            && let Some(own) =
                policies.experiments.iter().find(|e| e.name == experiment).and_then(|e| e.settings_of(arm))
        {
            settings.retain(|s| !own.contains_key(&s.key));
            settings.extend(own.iter().map(|(key, value)| Setting { key: key.clone(), value: value.clone() }));
            settings.sort();
        }
        let histories: Vec<Vec<Contact>> = invoices.iter().map(|d| d.outbox.iter().map(contact_of).collect()).collect();
        let views: Vec<Review> = invoices
            .iter()
            .zip(&histories)
            .map(|(d, history)| Review { invoice: &d.invoice, customer: &d.customer, history })
            .collect();
        let results = evaluate_on_every_core(policy, now.timestamp(), &settings, &views);
        // The digest of the input: the time and settings once, then each invoice
        // and customer as stored (what its view is made from) and its history.
        let mut input = Sha256::new();
        write!(HashWriter(&mut input), "{now}|{settings:?}").expect("hashing cannot fail");
        let first = decisions.len();
        for ((due, view), result) in invoices.iter().zip(&views).zip(results) {
            let mut digest = input.clone();
            for part in [due.stored.as_bytes(), due.customer_stored.as_bytes()] {
                digest.update(b"|");
                digest.update(part);
            }
            for contact in view.history {
                write!(HashWriter(&mut digest), "|{contact:?}").expect("hashing cannot fail");
            }
            let mut d = NewDecision {
                invoice_id: due.invoice.id.clone(),
                customer_id: due.customer.id.clone(),
                at: now.timestamp(),
                plugin_name: policy.id.name.clone(),
                plugin_version: policy.id.version.clone(),
                plugin_sha256: policy.id.sha256.clone(),
                input_digest: digest.finalize().into(),
                actions: "[]".into(),
                error: None,
                outbox: vec![],
                refused: vec![],
                next_review: None,
                closed: None,
                arm: arm.map(|(experiment, arm)| (experiment.to_string(), arm.to_string())),
                review_at: due.next_review,
            };
            match result {
                Ok(decision) => {
                    let counted = carry_out(&mut d, due, &decision, now);
                    report.reminders_queued += counted.reminders_queued;
                    report.actions_recorded += counted.actions_recorded;
                    report.blocked += counted.blocked;
                    report.refused += counted.refused;
                }
                Err(e) => {
                    report.plugin_errors += 1;
                    report.errors.push(e.to_string());
                    tracing::warn!(invoice = %due.invoice.id, error = %e, "policy failed; the invoice is tried again next tick");
                    d.error = Some(e.reason);
                }
            }
            decisions.push(d);
        }
        shadows.extend(shadow(policies, policy, &invoices, &views, &settings, &decisions[first..], now));
    }
    (decisions, shadows)
}

/// Feeds formatted text straight into a hash, without building the string.
struct HashWriter<'a>(&'a mut Sha256);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// Fewest invoices worth a second thread (an instance costs ~20 us to start).
const PARALLEL_FROM: usize = 64;

/// A batch split across the cores, each part in its own sandboxed instance;
/// the results come back in the order of the batch.
fn evaluate_on_every_core(
    policy: &Plugin,
    now: i64,
    settings: &[Setting],
    reviews: &[Review],
) -> Vec<Result<Decision, crate::sandbox::PolicyError>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 || reviews.len() < PARALLEL_FROM {
        return policy.decide(now, settings, reviews);
    }
    let part = reviews.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            reviews.chunks(part).map(|chunk| scope.spawn(move || policy.decide(now, settings, chunk))).collect();
        parts.into_iter().flat_map(|p| p.join().expect("policy evaluation thread panicked")).collect()
    })
}

/// Evaluates the shadowed invoices of a group with their segment's candidate,
/// beside the decisions the active policy just made.
fn shadow(
    policies: &Policies,
    active: &Plugin,
    invoices: &[&DueInvoice],
    views: &[Review],
    settings: &[Setting],
    decided: &[NewDecision],
    now: DateTime<Utc>,
) -> Vec<ShadowRow> {
    let mut rows = vec![];
    for (segment, candidate) in &policies.shadows {
        let picked: Vec<usize> = (0..invoices.len()).filter(|&i| invoices[i].customer.segment == *segment).collect();
        if picked.is_empty() || candidate.id.sha256 == active.id.sha256 {
            continue;
        }
        let batch: Vec<Review> = picked.iter().map(|&i| views[i]).collect();
        let results = candidate.decide(now.timestamp(), settings, &batch);
        for (&i, result) in picked.iter().zip(results) {
            let actions = match result {
                Ok(d) => d.actions_json(),
                Err(e) => serde_json::json!({ "error": e.reason }).to_string(),
            };
            let active_actions = match &decided[i].error {
                Some(e) => serde_json::json!({ "error": e }).to_string(),
                None => decided[i].actions.clone(),
            };
            rows.push(ShadowRow {
                invoice_id: invoices[i].invoice.id.clone(),
                segment: segment.clone(),
                at: now.timestamp(),
                plugin_name: candidate.id.name.clone(),
                plugin_version: candidate.id.version.clone(),
                plugin_sha256: candidate.id.sha256.clone(),
                actions,
                active_plugin: format!("{} {}", active.id.name, active.id.version),
                active_actions,
            });
        }
    }
    rows
}
