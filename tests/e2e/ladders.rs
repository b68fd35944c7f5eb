//! The bundled policies play the ladders of the sources, day by day.

use chrono::{NaiveDate, NaiveTime};
use sollecito::config::Config;
use sollecito::simulate::{self, Entry, Options, Timeline};

use crate::common::*;

fn simulate(policy: &str, file: &str, from: &str, to: &str) -> Vec<Timeline> {
    let mut catalog = catalog();
    let policy = catalog.policy(policy).unwrap();
    let opts = Options {
        from: day(from),
        to: day(to),
        tick: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        schedule: sollecito::schedule::Schedule::Service,
        settings: Default::default(),
        progress: None,
        responses: None,
    };
    // A PEC provider, as a business sending formal notices has one.
    let mut config = Config::default();
    config.channels.entry("pec".into()).or_default();
    let run = simulate::run(config, &mut catalog, policy, dataset(file), &opts);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run).unwrap().timelines
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn timeline<'a>(all: &'a [Timeline], invoice: &str) -> &'a Timeline {
    all.iter().find(|t| t.invoice == invoice).unwrap()
}

/// (date, what, step) of every entry, to compare with the expected ladder.
pub fn steps(t: &Timeline) -> Vec<(String, String, String)> {
    t.entries.iter().map(|e| (e.date.to_string(), e.what.clone(), e.step.clone().unwrap_or_default())).collect()
}

pub fn entry<'a>(t: &'a Timeline, step: &str) -> &'a Entry {
    t.entries.iter().find(|e| e.step.as_deref() == Some(step)).unwrap_or_else(|| panic!("no {step} in {:?}", steps(t)))
}

fn expect(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

#[test]
fn b2b_ladder_for_a_customer_with_an_ordinary_record() {
    let all = simulate("b2b-standard", "invoices.json", "2026-09-24", "2026-12-31");
    // Due 2026-10-01: 4 days before, then +7, +15, +30, +45 (formal notice), +60 (hand-over).
    let rossi = timeline(&all, "inv-1001");
    assert_eq!(
        steps(rossi),
        expect(&[
            ("2026-09-27", "remind", "pre-due"),
            ("2026-10-08", "remind", "overdue-7"),
            ("2026-10-16", "remind", "overdue-15"),
            ("2026-10-31", "remind", "overdue-30"),
            ("2026-11-15", "remind", "formal-notice"),
            // Sunday 15 November is outside the sending window (weekdays, 8-19
            // local): the notice leaves on Monday the 16th, and collections
            // waits its 15 days from then.
            ("2026-12-01", "escalate", "handover"),
            ("2026-12-01", "close", ""),
        ])
    );
    assert!(entry(rossi, "formal-notice").result.as_deref().unwrap().starts_with("sent 2026-11-16 07:00"));
    let tones: Vec<_> = rossi.entries.iter().filter_map(|e| e.tone.clone()).collect();
    assert_eq!(tones, ["courteous", "soft", "firm", "final", "formal"]);
    // Saturday 31 October + 5 working days = Friday 6 November.
    assert_eq!(entry(rossi, "overdue-30").deadline, Some(day("2026-11-06")));
    let formal = entry(rossi, "formal-notice");
    assert_eq!(formal.channel.as_deref(), Some("pec"), "a business with an email gets PEC");
    assert_eq!(rossi.outcome, "closed (collections)");
}

#[test]
fn b2b_is_gentler_with_a_long_on_time_record() {
    let all = simulate("b2b-standard", "invoices.json", "2026-09-24", "2026-12-31");
    let bianchi = timeline(&all, "inv-1002");
    // 47 of 48 on time: offsets stretched by half (7->10, 15->22, 30->45, 45->67, 60->90), one tone softer.
    assert_eq!(
        steps(bianchi),
        expect(&[
            ("2026-09-27", "remind", "pre-due"),
            ("2026-10-11", "remind", "overdue-7"),
            ("2026-10-23", "remind", "overdue-15"),
            ("2026-11-15", "remind", "overdue-30"),
            ("2026-12-07", "remind", "formal-notice"),
        ])
    );
    // Bianchi has no PEC address and no postal address: the formal notice cannot
    // leave, and no hand-over follows a notice that was never delivered.
    let formal = entry(bianchi, "formal-notice");
    assert_eq!(formal.channel.as_deref(), Some("letter"));
    assert_eq!(formal.result.as_deref(), Some("failed: Bianchi & Figli S.n.c. has no postal address"));
    assert!(bianchi.outcome.starts_with("open"), "{}", bianchi.outcome);
    assert_eq!(entry(bianchi, "overdue-15").tone.as_deref(), Some("soft"));
    assert_eq!(entry(bianchi, "overdue-30").tone.as_deref(), Some("firm"));
    assert_eq!(entry(bianchi, "overdue-30").deadline, Some(day("2026-11-20")));
}

#[test]
fn b2b_calls_earlier_about_a_large_amount() {
    let all = simulate("b2b-standard", "invoices.json", "2026-09-24", "2026-11-01");
    let nordwind = timeline(&all, "inv-1003");
    let call = entry(nordwind, "phone-call");
    assert_eq!(call.channel.as_deref(), Some("phone"));
    // Due+10 is 11 October, but reminders keep 5 days apart: the call waits for 13 October.
    assert_eq!(call.date, day("2026-10-13"));
    assert_eq!(entry(nordwind, "overdue-15").date, day("2026-10-18"));
    // An ordinary amount gets no call.
    assert!(timeline(&all, "inv-1001").entries.iter().all(|e| e.channel.as_deref() != Some("phone")));
}

#[test]
fn payment_dispute_and_promise_stop_the_ladder() {
    let all = simulate("b2b-standard", "invoices.json", "2026-09-24", "2026-12-31");
    let paid = timeline(&all, "inv-1004");
    assert_eq!(paid.outcome, "paid");
    assert_eq!(paid.entries.last().unwrap().note.as_deref(), Some("paid: dunning ends"));
    assert!(paid.entries.iter().all(|e| e.date <= day("2026-10-12")));

    let disputed = timeline(&all, "inv-1005");
    let reminders_after: Vec<_> =
        disputed.entries.iter().filter(|e| e.what == "remind" && e.date >= day("2026-10-05")).collect();
    assert!(reminders_after.is_empty(), "{reminders_after:?}");
    assert_eq!(entry(disputed, "dispute-review").date, day("2026-10-05"));

    let promised = timeline(&all, "inv-1006");
    // Promise on 10 October to pay by 24 October: nothing until the 25th, then the ladder resumes.
    let quiet: Vec<_> = promised
        .entries
        .iter()
        .filter(|e| e.what == "remind" && e.date > day("2026-10-10") && e.date < day("2026-10-25"))
        .collect();
    assert!(quiet.is_empty(), "{quiet:?}");
    assert_eq!(entry(promised, "overdue-15").date, day("2026-10-25"));
}

#[test]
fn subscription_recovery_retries_warns_and_suspends() {
    let all = simulate("subscription-recovery", "subscriptions.json", "2026-10-01", "2026-11-15");
    let giulia = timeline(&all, "sub-2001");
    // Failed on 1 October (insufficient funds); the first retry fails again (reported on the 5th).
    assert_eq!(entry(giulia, "payment-failed").date, day("2026-10-01"));
    assert_eq!(entry(giulia, "payment-failed").template.as_deref(), Some("payment-failed"));
    for (step, date) in [("retry-1", "2026-10-04"), ("retry-2", "2026-10-06"), ("retry-3", "2026-10-08")] {
        let retry = entry(giulia, step);
        assert_eq!((retry.what.as_str(), retry.date), ("retry-payment", day(date)));
        assert_eq!(retry.note.as_deref(), Some(format!("charge again at {date} 10:00 UTC").as_str()));
    }
    assert_eq!(entry(giulia, "payment-reminder").date, day("2026-10-08"));
    // The warning keeps 5 days from the last reminder and names the suspension date.
    let warning = entry(giulia, "suspension-warning");
    assert_eq!((warning.date, warning.tone.as_deref()), (day("2026-10-13"), Some("final")));
    assert_eq!(warning.deadline, Some(day("2026-10-18")));
    let suspend = entry(giulia, "suspend");
    assert_eq!((suspend.what.as_str(), suspend.date), ("escalate", day("2026-10-18")));
    assert!(suspend.note.as_deref().unwrap().starts_with("suspend-service"));

    // A stolen card: asked for a new payment method, never charged again.
    let mark = timeline(&all, "sub-2002");
    assert_eq!(entry(mark, "payment-failed").template.as_deref(), Some("payment-failed-hard"));
    assert!(mark.entries.iter().all(|e| e.what != "retry-payment"), "{:?}", steps(mark));
    assert_eq!(entry(mark, "suspend").date, day("2026-10-18"));

    // A card that expires on 31 October: a notice 14 days before.
    let lena = timeline(&all, "sub-2003");
    assert_eq!(entry(lena, "card-expiring-2026-10").date, day("2026-10-17"));

    // Payment setup left unfinished: a reminder at once, a second one later.
    let sam = timeline(&all, "sub-2004");
    assert_eq!(entry(sam, "finish-setup").date, day("2026-10-01"));
    assert_eq!(entry(sam, "finish-setup").template.as_deref(), Some("setup-incomplete"));
    assert_eq!(entry(sam, "finish-setup-2").date, day("2026-10-06"));
}
