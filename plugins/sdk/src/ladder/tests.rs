//! The ladder's conventions, each on a small sequence.

use super::*;
use crate::testing::{at, contact, invoice};

const DUE: Date = Date::new(2025, 3, 3);

fn day(n: i64) -> Date {
    DUE.add_days(n)
}

/// A three-step sequence ending in an escalation, evaluated `n` days after due.
fn run(n: i64, inv: &InvoiceView) -> Decision {
    let ctx = Ctx::new(day(n).at_hour(9), vec![]);
    let mut l = Ladder::new(inv, &ctx).unwrap();
    l.remind("pre", day(-4), "email", "pre-due", Tone::Courteous).until(day(-1));
    l.remind("soft", day(7), "email", "overdue-soft", Tone::Soft);
    l.remind("firm", day(15), "email", "overdue-firm", Tone::Firm).deadline(day(30));
    l.escalate("hand", day(30), EscalationKind::Collections, "unpaid")
        .after("firm", 10)
        .close(CloseReason::Collections);
    l.decide()
}

fn sent(inv: &mut InvoiceView, step: &str, n: i64) {
    inv.history.push(contact(step, Some("email"), day(n)));
}

#[test]
fn waits_for_the_first_step() {
    let inv = invoice(DUE, 100_00, "EUR");
    let d = run(-10, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), Some(day(-4)));
}

#[test]
fn windowed_step_is_dropped_after_its_window() {
    let inv = invoice(DUE, 100_00, "EUR");
    assert_eq!(run(-2, &inv).steps(), ["pre"]);
    let d = run(0, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), Some(day(7)));
}

#[test]
fn fires_once_then_schedules_the_next() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    let d = run(7, &inv);
    assert_eq!(d.steps(), ["soft"]);
    assert_eq!(d.review_date(), Some(day(15)));
    sent(&mut inv, "soft", 7);
    let d = run(8, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), Some(day(15)));
    let d = run(15, &inv);
    assert_eq!(d.steps(), ["firm"]);
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(30)));
    // The escalation waits for its prerequisite's delay (15 + 10 < 30).
    assert_eq!(d.review_date(), Some(day(30)));
}

#[test]
fn a_step_after_another_waits_until_that_one_was_sent() {
    // Firm was decided on day 15; the hand-over (firm + 10) waits while firm has not left...
    let mut inv = invoice(DUE, 100_00, "EUR");
    sent(&mut inv, "soft", 7);
    sent(&mut inv, "firm", 15);
    inv.history[1].outcome = crate::Outcome::Pending;
    let waiting = run(31, &inv);
    assert!(waiting.steps().is_empty());
    // It looks again the next day, to see whether firm has left by then.
    assert_eq!(waiting.review_date(), Some(day(32)));
    // ...never follows one that failed, bounced or was cancelled...
    for never in [crate::Outcome::Failed, crate::Outcome::Bounced, crate::Outcome::Cancelled] {
        inv.history[1].outcome = never;
        assert!(!run(31, &inv).steps().contains(&"hand"), "{never:?}");
    }
    // ...and goes once it was sent (or delivered).
    for left in [crate::Outcome::Sent, crate::Outcome::Delivered] {
        inv.history[1].outcome = left;
        assert_eq!(run(31, &inv).steps(), ["hand"], "{left:?}");
    }
}

/// soft (7), firm (15), a formal demand (25) that never opens, evaluated `n` days after due.
fn formal_ladder(n: i64, inv: &InvoiceView, how: CatchUp) -> Decision {
    let ctx = Ctx::new(day(n).at_hour(9), vec![]);
    let mut l = Ladder::new(inv, &ctx).unwrap();
    l.catch_up(how);
    l.remind("soft", day(7), "email", "overdue-soft", Tone::Soft);
    l.remind("firm", day(15), "email", "overdue-firm", Tone::Firm);
    l.remind("formal", day(25), "pec", "formal-notice", Tone::Formal).not_first();
    l.decide()
}

#[test]
fn a_not_first_step_never_opens_the_conversation() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    // 30 days late, nothing sent: the formal demand is the latest due, yet firm goes first.
    let d = formal_ladder(30, &inv, CatchUp::Latest);
    assert_eq!(d.steps(), ["firm"]);
    // The formal demand follows after the gap (5 days by default).
    assert_eq!(d.review_date(), Some(day(35)));
    sent(&mut inv, "firm", 30);
    assert!(formal_ladder(33, &inv, CatchUp::Latest).actions.is_empty());
    assert_eq!(formal_ladder(35, &inv, CatchUp::Latest).steps(), ["formal"]);
    // Once a message went out, the mark changes nothing: latest due fires.
    let mut reminded = invoice(DUE, 100_00, "EUR");
    sent(&mut reminded, "soft", 7);
    assert_eq!(formal_ladder(30, &reminded, CatchUp::Latest).steps(), ["formal"]);
}

#[test]
fn catching_up_from_the_first_step_walks_the_ladder_with_the_gap() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    let d = formal_ladder(30, &inv, CatchUp::FirstNotDone);
    assert_eq!(d.steps(), ["soft"]);
    assert_eq!(d.review_date(), Some(day(35)));
    sent(&mut inv, "soft", 30);
    assert_eq!(formal_ladder(35, &inv, CatchUp::FirstNotDone).steps(), ["firm"]);
    sent(&mut inv, "firm", 35);
    assert_eq!(formal_ladder(40, &inv, CatchUp::FirstNotDone).steps(), ["formal"]);
}

#[test]
fn late_import_fires_only_the_latest_due_step() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    // 20 days late: soft and firm are both due, only firm goes out.
    let d = run(20, &inv);
    assert_eq!(d.steps(), ["firm"]);
    // The escalation needs the firm step 10 days back, and is not before day 30.
    assert_eq!(d.review_date(), Some(day(30)));
    // 40 days late: the escalation is due but needs "firm" first.
    let d = run(40, &inv);
    assert_eq!(d.steps(), ["firm"]);
    assert_eq!(d.review_date(), Some(day(50)));
    sent(&mut inv, "firm", 40);
    // "soft" is never sent once "firm" is done.
    let d = run(45, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), Some(day(50)));
    let d = run(50, &inv);
    assert_eq!(d.steps(), ["hand"]);
    assert_eq!(d.actions.last(), Some(&Action::Close(CloseReason::Collections)));
    assert_eq!(d.next_review, None);
    // Once escalated, nothing more.
    inv.history.push(contact("hand", None, day(50)));
    assert_eq!(run(60, &inv), Decision::done());
}

#[test]
fn keeps_the_gap_between_messages() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    sent(&mut inv, "soft", 12);
    let d = run(15, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), Some(day(17)));
    assert_eq!(run(17, &inv).steps(), ["firm"]);
    // A cancelled message never reached the customer: no gap.
    inv.history[0].outcome = crate::Outcome::Cancelled;
    assert_eq!(run(15, &inv).steps(), ["firm"]);
}

#[test]
fn opted_out_channel_falls_back_and_unreachable_is_skipped() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.customer.opted_out = vec!["email".into()];
    let d = run(7, &inv);
    assert_eq!(d.reminder().map(|r| r.channel.as_str()), Some("letter"));
    inv.customer.opted_out = vec!["email".into(), "letter".into()];
    let d = run(7, &inv);
    assert!(d.actions.is_empty());
}

#[test]
fn notices_and_retries() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    let ctx = Ctx::new(day(5).at_hour(9), vec![]);
    let build = |inv: &InvoiceView, ctx: &Ctx| {
        let mut l = Ladder::new(inv, ctx).unwrap();
        l.remind("failed", day(0), "email", "payment-failed", Tone::Courteous);
        l.retry_payment("retry-1", day(3), day(3).at_hour(10));
        l.retry_payment("retry-2", day(5), day(5).at_hour(10));
        l.retry_payment("retry-3", day(7), day(7).at_hour(10));
        l.notice("setup", day(0), "email", "setup-incomplete", Tone::Courteous);
        l.notice("setup-2", day(0), "email", "setup-incomplete", Tone::Courteous).after("setup", 3);
        l.decide()
    };
    // Day 5, nothing done: one message (the sequence first), one retry (the latest).
    let d = build(&inv, &ctx);
    assert_eq!(d.steps(), ["failed", "retry-2"]);
    assert_eq!(d.actions[1], Action::RetryPayment(PaymentRetry { step: "retry-2".into(), at: day(5).at_hour(10) }));
    assert_eq!(d.review_date(), Some(day(7)));
    sent(&mut inv, "failed", 5);
    inv.history.push(contact("retry-2", None, day(5)));
    // Day 10: the notice waited for the gap; retry-3 is late and asked for now.
    let ctx = Ctx::new(day(10).at_hour(9), vec![]);
    let d = build(&inv, &ctx);
    assert_eq!(d.steps(), ["retry-3", "setup"]);
    assert_eq!(d.actions[0].step(), Some("retry-3"));
    assert!(matches!(&d.actions[0], Action::RetryPayment(r) if r.at == ctx.now));
    assert_eq!(d.review_date(), Some(day(15)));
}

#[test]
fn never_reviews_today_or_earlier() {
    let inv = invoice(DUE, 100_00, "EUR");
    let ctx = Ctx::new(day(3).at_hour(9), vec![]);
    let mut l = Ladder::new(&inv, &ctx).unwrap();
    l.review_on(day(3));
    l.review_on(day(1));
    assert_eq!(l.decide().next_review, None);
    l.review_on(day(4));
    assert_eq!(l.decide().review_date(), Some(day(4)));
    let _ = at(2025, 1, 1, 0);
}

/// "A letter if the email got no answer in 10 days": the letter follows the
/// email unless the customer replied after it.
fn letter_unless_answered(n: i64, inv: &InvoiceView) -> Decision {
    let ctx = Ctx::new(day(n).at_hour(9), vec![]);
    let mut l = Ladder::new(inv, &ctx).unwrap();
    l.remind("soft", day(7), "email", "overdue-soft", Tone::Soft);
    l.remind("letter", day(7), "letter", "overdue-firm", Tone::Firm).after("soft", 10).unless_answered();
    l.decide()
}

fn replied(inv: &mut InvoiceView, n: i64) {
    inv.reply =
        Some(crate::Reply { at: day(n).at_hour(11), step: Some("soft".into()), intent: crate::ReplyIntent::Question });
}

#[test]
fn a_step_unless_answered_goes_without_an_answer_and_not_after_one() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    sent(&mut inv, "soft", 7);
    assert_eq!(letter_unless_answered(17, &inv).steps(), ["letter"], "no answer in 10 days");
    // A reply before the email is no answer to it.
    replied(&mut inv, 5);
    assert_eq!(letter_unless_answered(17, &inv).steps(), ["letter"]);
    // A reply to it drops the letter, and nothing more is reviewed for it.
    replied(&mut inv, 9);
    let d = letter_unless_answered(17, &inv);
    assert!(d.actions.is_empty());
    assert_eq!(d.review_date(), None);
    assert_eq!(letter_unless_answered(12, &inv).review_date(), None, "no wake-up on day 17 either");
}

#[test]
fn a_reply_before_the_step_it_follows_answers_nothing_yet() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    replied(&mut inv, 2);
    let d = letter_unless_answered(7, &inv);
    assert_eq!(d.steps(), ["soft"]);
    assert_eq!(d.review_date(), Some(day(17)), "the letter still follows the email");
}
