//! `sollecito report`: what dunning brought in, from the outcomes stored as
//! facts and the messages that left. Recovery by count and by amount, per
//! policy, version, step, channel, tone or template (by the last touch before
//! each payment); time to pay after a step; what messages cost; and the
//! receivables by age with the days sales outstanding at a date.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use crate::event::OutcomeKind;
use crate::store::{Aging, OutcomeRow, RetryRow, SentRow, Untouched};

mod payments;
mod receivables;
pub use payments::{BankMatching, Payments, bank_matching};
pub use receivables::{Bucket, Dso, Receivables, receivables};

/// What a report can be broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    Policy,
    Version,
    Step,
    Channel,
    Tone,
    Template,
    Segment,
    Locale,
    /// `experiment/arm` of the decision.
    Arm,
}

/// Each customer's segment and locale, by id.
pub type Labels = HashMap<String, (String, String)>;

impl Dimension {
    pub const ALL: [Dimension; 9] = [
        Dimension::Policy,
        Dimension::Version,
        Dimension::Step,
        Dimension::Channel,
        Dimension::Tone,
        Dimension::Template,
        Dimension::Segment,
        Dimension::Locale,
        Dimension::Arm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dimension::Policy => "policy",
            Dimension::Version => "version",
            Dimension::Step => "step",
            Dimension::Channel => "channel",
            Dimension::Tone => "tone",
            Dimension::Template => "template",
            Dimension::Segment => "segment",
            Dimension::Locale => "locale",
            Dimension::Arm => "arm",
        }
    }

    fn of_customer(self, labels: &Labels, customer: &str) -> String {
        let (segment, locale) = labels.get(customer).map_or(("-", "-"), |(s, l)| (s.as_str(), l.as_str()));
        if self == Dimension::Segment { segment.into() } else { locale.into() }
    }

    /// The dimension a name stands for; the error names the ones there are.
    pub fn parse(name: &str) -> Result<Dimension, String> {
        Dimension::ALL.into_iter().find(|d| d.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Dimension::ALL.iter().map(|d| d.name()).collect();
            format!("--by {name:?}: not a dimension (one of {})", known.join(", "))
        })
    }

    fn of_sent(self, s: &SentRow, labels: &Labels) -> String {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        match self {
            Dimension::Segment | Dimension::Locale => self.of_customer(labels, &s.customer_id),
            Dimension::Arm => text(&s.arm),
            Dimension::Policy => text(&s.policy),
            Dimension::Version => format!("{} {}", text(&s.policy), text(&s.version)),
            Dimension::Step => s.step.clone(),
            Dimension::Channel => text(&s.channel),
            Dimension::Tone => text(&s.tone),
            Dimension::Template => text(&s.template),
        }
    }

    fn of_outcome(self, o: &OutcomeRow, labels: &Labels) -> String {
        let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        match self {
            Dimension::Segment | Dimension::Locale => self.of_customer(labels, &o.customer_id),
            Dimension::Arm => text(&o.touch_arm),
            Dimension::Policy => text(&o.touch_policy),
            Dimension::Version => format!("{} {}", text(&o.touch_policy), text(&o.touch_version)),
            Dimension::Step => text(&o.touch_step),
            Dimension::Channel => text(&o.touch_channel),
            Dimension::Tone => text(&o.touch_tone),
            Dimension::Template => text(&o.touch_template),
        }
    }
}

/// Days to pay after the last touch: median and upper percentiles (nearest rank).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeToPay {
    pub payments: usize,
    pub median_days: f64,
    pub p75_days: f64,
    pub p90_days: f64,
}

fn time_to_pay(mut seconds: Vec<i64>) -> Option<TimeToPay> {
    if seconds.is_empty() {
        return None;
    }
    seconds.sort_unstable();
    let rank = |p: f64| {
        let i = ((p * seconds.len() as f64).ceil() as usize).clamp(1, seconds.len()) - 1;
        (seconds[i] as f64 / 86_400.0 * 10.0).round() / 10.0
    };
    Some(TimeToPay { payments: seconds.len(), median_days: rank(0.5), p75_days: rank(0.75), p90_days: rank(0.9) })
}

/// One line of a breakdown (or the whole, with no key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub key: BTreeMap<Dimension, String>,
    /// Invoices that got at least one message of this line.
    pub dunned: usize,
    /// Of those, paid in full with this line's message as the last touch.
    pub recovered: usize,
    /// `recovered / dunned`, 0 to 1.
    pub recovery_rate: f64,
    /// What the dunned invoices were worth, and what came in, per currency (minor units).
    pub amount_dunned: BTreeMap<String, i64>,
    pub amount_recovered: BTreeMap<String, i64>,
    pub messages: usize,
    /// Messages that failed for good (a bounce, a refused number) and their share.
    pub bounced: usize,
    pub bounce_rate: f64,
    /// Opt-outs per invoice dunned.
    pub opt_out_rate: f64,
    pub promised: usize,
    pub disputed: usize,
    pub opted_out: usize,
    /// Replies from customers (an automatic answer is not one).
    pub replied: usize,
    /// Promises to pay followed by the payment in full within the period.
    pub promises_kept: usize,
    /// Visits to the customer's page through this line's messages (one per link a day).
    pub visits: usize,
    pub time_to_pay: Option<TimeToPay>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total: Line,
    pub by: Vec<Dimension>,
    pub lines: Vec<Line>,
    /// Messages sent to the invoices recovered, per invoice recovered.
    pub messages_per_recovered: Option<f64>,
    /// Payment retries: (tried, paid) by the decline code they answered, and by attempt.
    pub retries_by_decline_code: TriedPaid<String>,
    pub retries_by_attempt: TriedPaid<u32>,
    /// Messages per channel and what they cost (`[outcomes] costs`, minor units).
    pub cost_per_channel: BTreeMap<String, (usize, i64)>,
    pub receivables: Receivables,
    /// How the period's money came in, and how the bank's credits matched.
    pub payments: Payments,
}

/// The report of a period, read from the store (for `sollecito report` and `GET /v1/reports`).
pub async fn from_store(
    store: &crate::store::Store,
    by: &[Dimension],
    costs: &BTreeMap<String, i64>,
    (from, to): (NaiveDate, NaiveDate),
) -> anyhow::Result<Report> {
    let start = from.and_hms_opt(0, 0, 0).expect("a valid time").and_utc().timestamp();
    let end = to.and_hms_opt(23, 59, 59).expect("a valid time").and_utc().timestamp();
    let sent = store.sent_between(start, end).await?;
    // Outcomes with no message before them only add to the whole: summed in the store, not read.
    let outcomes = store.touched_outcomes(start, end).await?;
    let untouched = store.untouched_outcomes(start, end).await?;
    // Reading every customer's document is paid only for a breakdown that needs it.
    let labels = if by.iter().any(|d| matches!(d, Dimension::Segment | Dimension::Locale)) {
        store.customer_labels().await?
    } else {
        Labels::new()
    };
    let mut r = report(&sent, (&outcomes, &untouched), &labels, by, costs, (from, to));
    add_visits(&mut r, &store.visits_between(start, end).await?, &labels);
    r.receivables = receivables(&store.aging(to).await?, (from, to));
    (r.retries_by_decline_code, r.retries_by_attempt) = retries(&store.retries_between(start, end).await?);
    r.payments = Payments {
        by_source: store.payments_by_door(start, end).await?,
        bank: bank_matching(&store.credits_between(start, end).await?),
    };
    Ok(r)
}

/// Visits to the customer's page, each counted on the line of the message whose link was used.
fn add_visits(report: &mut Report, visits: &[SentRow], labels: &Labels) {
    report.total.visits = visits.len();
    for line in &mut report.lines {
        line.visits =
            visits.iter().filter(|v| line.key.iter().all(|(d, value)| d.of_sent(v, labels) == *value)).count();
    }
}

/// (tried, paid) per key.
pub type TriedPaid<K> = BTreeMap<K, (usize, usize)>;

/// Retries tried and paid, by decline code and by attempt.
pub fn retries(rows: &[RetryRow]) -> (TriedPaid<String>, TriedPaid<u32>) {
    let (mut by_code, mut by_attempt): (TriedPaid<String>, TriedPaid<u32>) = Default::default();
    for r in rows {
        let code = r.decline_code.clone().unwrap_or_else(|| "-".into());
        for entry in [by_code.entry(code).or_default(), by_attempt.entry(r.attempt).or_default()] {
            entry.0 += 1;
            entry.1 += usize::from(r.paid);
        }
    }
    (by_code, by_attempt)
}

/// The report over the messages and outcomes of a period (the receivables
/// are the store's, set by `from_store`).
pub fn report(
    sent: &[SentRow],
    (all_outcomes, untouched): (&[OutcomeRow], &Untouched),
    labels: &Labels,
    by: &[Dimension],
    costs: &BTreeMap<String, i64>,
    (from, to): (NaiveDate, NaiveDate),
) -> Report {
    let end = to.and_hms_opt(23, 59, 59).expect("a valid time").and_utc().timestamp();
    let in_period: Vec<OutcomeRow> = all_outcomes.iter().filter(|o| o.at <= end).cloned().collect();
    let outcomes = &in_period[..];
    let key_of_sent = |s: &SentRow| by.iter().map(|d| (*d, d.of_sent(s, labels))).collect::<BTreeMap<_, _>>();
    let key_of_outcome = |o: &OutcomeRow| by.iter().map(|d| (*d, d.of_outcome(o, labels))).collect::<BTreeMap<_, _>>();
    let mut keys: BTreeSet<BTreeMap<Dimension, String>> = sent.iter().map(key_of_sent).collect();
    keys.extend(outcomes.iter().filter(|o| o.touch_step.is_some()).map(key_of_outcome));
    let line = |key: Option<&BTreeMap<Dimension, String>>| {
        let in_line = |k: BTreeMap<Dimension, String>| key.is_none_or(|key| *key == k);
        let mine: Vec<&SentRow> = sent.iter().filter(|s| in_line(key_of_sent(s))).collect();
        // The whole counts every outcome; a line, those whose last touch is its own.
        let theirs: Vec<&OutcomeRow> = outcomes
            .iter()
            .filter(|o| key.is_none() || (o.touch_step.is_some() && in_line(key_of_outcome(o))))
            .collect();
        let mut line = summarise(key.cloned().unwrap_or_default(), &mine, &theirs);
        // Kept: paid in full after the promise, whether a message came before the payment or not.
        let paid_after = |p: &OutcomeRow| {
            outcomes.iter().any(|o| o.kind == OutcomeKind::Paid && o.invoice_id == p.invoice_id && o.at >= p.at)
                || untouched.paid_at.iter().any(|(invoice, at)| *invoice == p.invoice_id && *at >= p.at)
        };
        line.promises_kept = theirs.iter().filter(|p| p.kind == OutcomeKind::Promised && paid_after(p)).count();
        if key.is_none() {
            add_untouched(&mut line, &mine, untouched);
        }
        line
    };
    let total = line(None);
    let lines = if by.is_empty() { vec![] } else { keys.iter().map(|k| line(Some(k))).collect() };

    let recovered: BTreeSet<&str> =
        outcomes.iter().filter(|o| o.kind == OutcomeKind::Paid).map(|o| o.invoice_id.as_str()).collect();
    let to_recovered = sent.iter().filter(|s| !s.bounced && recovered.contains(s.invoice_id.as_str())).count();
    let paid_elsewhere: BTreeSet<&str> = untouched.paid_and_dunned.iter().map(String::as_str).collect();
    let to_recovered =
        to_recovered + sent.iter().filter(|s| !s.bounced && paid_elsewhere.contains(s.invoice_id.as_str())).count();
    let recovered_count = recovered.len() + untouched.paid_invoices as usize;
    let messages_per_recovered = (recovered_count > 0).then(|| to_recovered as f64 / recovered_count as f64);
    let mut cost_per_channel: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    // A message handed over costs what the channel charges, even if it bounced.
    for s in sent {
        let channel = s.channel.clone().unwrap_or_else(|| "-".into());
        let cost = costs.get(&channel).copied().unwrap_or(0);
        let entry = cost_per_channel.entry(channel).or_default();
        entry.0 += 1;
        entry.1 += cost;
    }
    Report {
        from,
        to,
        total,
        by: by.to_vec(),
        lines,
        messages_per_recovered,
        retries_by_decline_code: BTreeMap::new(),
        retries_by_attempt: BTreeMap::new(),
        cost_per_channel,
        receivables: receivables(&Aging::default(), (from, to)),
        payments: Payments::default(),
    }
}

fn summarise(key: BTreeMap<Dimension, String>, sent: &[&SentRow], outcomes: &[&OutcomeRow]) -> Line {
    let bounced = sent.iter().filter(|s| s.bounced).count();
    let attempted = sent.len();
    let sent: Vec<&SentRow> = sent.iter().copied().filter(|s| !s.bounced).collect();
    let mut dunned: BTreeSet<&str> = BTreeSet::new();
    let mut amount_dunned: BTreeMap<String, i64> = BTreeMap::new();
    for s in &sent {
        if dunned.insert(s.invoice_id.as_str()) {
            *amount_dunned.entry(s.currency.clone()).or_default() += s.invoice_total;
        }
    }
    let count = |kind: OutcomeKind| outcomes.iter().filter(|o| o.kind == kind).count();
    let paid: BTreeSet<&str> = outcomes
        .iter()
        .filter(|o| o.kind == OutcomeKind::Paid && dunned.contains(o.invoice_id.as_str()))
        .map(|o| o.invoice_id.as_str())
        .collect();
    let mut amount_recovered: BTreeMap<String, i64> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| matches!(o.kind, OutcomeKind::Paid | OutcomeKind::PaidInPart)) {
        *amount_recovered.entry(o.currency.clone()).or_default() += o.recovered;
    }
    let seconds = outcomes.iter().filter(|o| o.kind == OutcomeKind::Paid).filter_map(|o| o.after_touch).collect();
    Line {
        key,
        dunned: dunned.len(),
        recovered: paid.len(),
        recovery_rate: if dunned.is_empty() { 0.0 } else { paid.len() as f64 / dunned.len() as f64 },
        amount_dunned,
        amount_recovered,
        messages: sent.len(),
        bounced,
        bounce_rate: if attempted == 0 { 0.0 } else { bounced as f64 / attempted as f64 },
        opt_out_rate: if dunned.is_empty() { 0.0 } else { count(OutcomeKind::OptedOut) as f64 / dunned.len() as f64 },
        promised: count(OutcomeKind::Promised),
        disputed: count(OutcomeKind::Disputed),
        opted_out: count(OutcomeKind::OptedOut),
        replied: count(OutcomeKind::Replied),
        promises_kept: 0,
        visits: 0,
        time_to_pay: time_to_pay(seconds),
    }
}

/// The whole of a report takes in the outcomes no message preceded.
fn add_untouched(line: &mut Line, sent: &[&SentRow], untouched: &Untouched) {
    for (kind, currency, n, recovered) in &untouched.by_kind {
        let n = *n as usize;
        match kind {
            OutcomeKind::Paid | OutcomeKind::PaidInPart => {
                *line.amount_recovered.entry(currency.clone()).or_default() += recovered
            }
            OutcomeKind::Promised => line.promised += n,
            OutcomeKind::Disputed => line.disputed += n,
            OutcomeKind::OptedOut => line.opted_out += n,
            OutcomeKind::Replied => line.replied += n,
        }
    }
    line.promises_kept += untouched.promises_kept as usize;
    let dunned: BTreeSet<&str> = sent.iter().filter(|s| !s.bounced).map(|s| s.invoice_id.as_str()).collect();
    line.recovered += untouched.paid_and_dunned.iter().filter(|id| dunned.contains(id.as_str())).count();
    if line.dunned > 0 {
        line.recovery_rate = line.recovered as f64 / line.dunned as f64;
        line.opt_out_rate = line.opted_out as f64 / line.dunned as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> i64 {
        day(s).and_hms_opt(9, 0, 0).unwrap().and_utc().timestamp()
    }

    /// What each fixture invoice is worth in all.
    fn total(invoice: &str) -> i64 {
        match invoice {
            "a" => 10_000,
            "b" => 20_000,
            "c" => 30_000,
            "d" => 40_000,
            _ => 5_000,
        }
    }

    fn sent(invoice: &str, on: &str, step: &str, channel: &str) -> SentRow {
        SentRow {
            invoice_id: invoice.into(),
            customer_id: format!("cus-{invoice}"),
            at: at(on),
            step: step.into(),
            channel: Some(channel.into()),
            tone: Some("soft".into()),
            template: Some(step.into()),
            policy: Some("b2b-standard".into()),
            version: Some("0.1.0".into()),
            arm: None,
            bounced: false,
            invoice_total: total(invoice),
            currency: "EUR".into(),
        }
    }

    fn paid(invoice: &str, on: &str, recovered: i64, touch: Option<(&str, i64)>) -> OutcomeRow {
        OutcomeRow {
            invoice_id: invoice.into(),
            customer_id: "c".into(),
            kind: OutcomeKind::Paid,
            at: at(on),
            recovered,
            currency: "EUR".into(),
            touch_step: touch.map(|(s, _)| s.to_string()),
            touch_channel: touch.map(|_| "email".to_string()),
            touch_tone: touch.map(|_| "soft".to_string()),
            touch_template: touch.map(|(s, _)| s.to_string()),
            touch_policy: touch.map(|_| "b2b-standard".to_string()),
            touch_version: touch.map(|_| "0.1.0".to_string()),
            touch_arm: None,
            after_touch: touch.map(|(_, days)| days * 86_400),
            path: vec![],
        }
    }

    /// October 2026, five invoices, worked out by hand (their ages are
    /// checked through the store in tests/e2e/outcomes.rs).
    #[test]
    fn recovery_of_a_small_fixture_matches_the_hand_count() {
        let sent = [
            sent("a", "2026-10-01", "pre-due", "email"),
            sent("a", "2026-10-12", "overdue-7", "email"),
            sent("b", "2026-10-22", "overdue-7", "sms"),
            sent("d", "2026-10-03", "formal-notice", "pec"),
            sent("e", "2026-10-27", "overdue-7", "email"),
            // An SMS to c that bounced: not a contact, but a bounce of its step.
            SentRow { bounced: true, ..sent("c", "2026-10-28", "overdue-7", "sms") },
        ];
        let outcomes = [paid("a", "2026-10-20", 10_000, Some(("overdue-7", 8))), paid("e", "2026-11-05", 5_000, None)];
        let costs = BTreeMap::from([("sms".to_string(), 7), ("pec".to_string(), 50)]);
        let labels = Labels::new();
        let period = (day("2026-10-01"), day("2026-10-31"));
        let r = report(&sent, (&outcomes, &Untouched::default()), &labels, &[Dimension::Step], &costs, period);

        // Dunned: a, b, d, e. Recovered in October: a alone.
        assert_eq!((r.total.dunned, r.total.recovered, r.total.recovery_rate), (4, 1, 0.25));
        assert_eq!(r.total.amount_dunned, BTreeMap::from([("EUR".into(), 75_000)]));
        assert_eq!(r.total.amount_recovered, BTreeMap::from([("EUR".into(), 10_000)]));
        assert_eq!(r.messages_per_recovered, Some(2.0));
        assert_eq!(r.total.time_to_pay.as_ref().map(|t| t.median_days), Some(8.0));
        // By step: overdue-7 went to a, b and e, and a paid after it.
        let step = |s: &str| r.lines.iter().find(|l| l.key[&Dimension::Step] == s).unwrap();
        assert_eq!((step("overdue-7").dunned, step("overdue-7").recovered), (3, 1));
        assert_eq!((step("pre-due").dunned, step("pre-due").recovered), (1, 0));
        assert_eq!((step("formal-notice").dunned, step("formal-notice").recovered), (1, 0));
        assert_eq!((r.total.messages, r.total.bounced, r.total.bounce_rate), (5, 1, 1.0 / 6.0));
        assert_eq!((step("overdue-7").bounced, step("overdue-7").bounce_rate), (1, 0.25));
        assert_eq!(r.cost_per_channel["sms"], (2, 14));
        assert_eq!(r.cost_per_channel["pec"], (1, 50));
        assert_eq!(r.cost_per_channel["email"], (3, 0));
    }

    #[test]
    fn retries_are_counted_by_the_decline_they_answered_and_by_attempt() {
        let row = |code: &str, attempt, paid| RetryRow { decline_code: Some(code.into()), attempt, paid };
        let rows = [
            row("insufficient_funds", 1, false),
            row("insufficient_funds", 2, true),
            row("expired_card", 1, false),
            RetryRow { decline_code: None, attempt: 1, paid: true },
        ];
        let (by_code, by_attempt) = retries(&rows);
        assert_eq!(
            by_code,
            BTreeMap::from([
                ("-".into(), (1, 1)),
                ("expired_card".into(), (1, 0)),
                ("insufficient_funds".into(), (2, 1))
            ])
        );
        assert_eq!(by_attempt, BTreeMap::from([(1, (3, 1)), (2, (1, 1))]));
    }

    #[test]
    fn an_unknown_dimension_is_refused_with_the_known_ones() {
        assert_eq!(Dimension::parse("tone"), Ok(Dimension::Tone));
        assert_eq!(
            Dimension::parse("mood"),
            Err("--by \"mood\": not a dimension (one of policy, version, step, channel, tone, template, segment, locale, arm)"
                .into())
        );
    }
}
