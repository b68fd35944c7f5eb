use super::B2bStandard;
use sollecito_sdk::bindings::Guest;
use sollecito_sdk::prelude::*;
use sollecito_sdk::testing::{Taken, at, contact, invoice, simulate};
use sollecito_sdk::{Dispute, PromiseToPay, Reminder};

const DUE: Date = Date::new(2025, 3, 3); // a Monday

fn day(n: i64) -> Date {
    DUE.add_days(n)
}

/// Evaluate on day `n` after due at 09:00 UTC.
fn eval(inv: &InvoiceView, n: i64, settings: &[(&str, &str)]) -> Result<Decision, String> {
    let settings =
        settings.iter().map(|(k, v)| sollecito_sdk::Setting { key: (*k).into(), value: (*v).into() }).collect();
    sollecito_sdk::evaluate::<B2bStandard>(inv, &Ctx::new(day(n).at_hour(9), settings))
}

/// (days after due, step, channel, tone) of each reminder; other actions by step.
fn summary(taken: &[Taken]) -> Vec<(i64, String, String, Option<Tone>)> {
    taken
        .iter()
        .filter_map(|t| {
            let n = DUE.days_until(t.on);
            match &t.action {
                Action::Remind(r) => Some((n, r.step.clone(), r.channel.clone(), Some(r.tone))),
                Action::Close(_) => Some((n, "close".into(), String::new(), None)),
                other => Some((n, other.step()?.into(), String::new(), None)),
            }
        })
        .collect()
}

fn s(n: i64, step: &str, channel: &str, tone: Option<Tone>) -> (i64, String, String, Option<Tone>) {
    (n, step.into(), channel.into(), tone)
}

fn reminder(taken: &[Taken], step: &str) -> Reminder {
    taken
        .iter()
        .find_map(|t| match &t.action {
            Action::Remind(r) if r.step == step => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no reminder {step}"))
}

#[test]
fn describes_itself() {
    let info = B2bStandard::describe();
    assert_eq!((info.name.as_str(), info.version.as_str()), ("b2b-standard", "0.3.0"));
    assert!(info.channels.iter().any(|c| c == "pec") && info.templates.iter().any(|t| t == "formal-notice"));
}

#[test]
fn standard_ladder_day_by_day() {
    let mut inv = invoice(DUE, 1_200_00, "EUR");
    let taken = simulate::<B2bStandard>(&mut inv, &[], day(-20), 100);
    assert_eq!(
        summary(&taken),
        [
            s(-4, "pre-due", "email", Some(Tone::Courteous)),
            s(7, "overdue-7", "email", Some(Tone::Soft)),
            s(15, "overdue-15", "email", Some(Tone::Firm)),
            s(30, "overdue-30", "email", Some(Tone::Final)),
            s(45, "formal-notice", "letter", Some(Tone::Formal)),
            s(60, "handover", "", None),
            s(60, "close", "", None),
        ]
    );
    let templates: Vec<_> = taken
        .iter()
        .filter_map(|t| match &t.action {
            Action::Remind(r) => Some(r.template.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(templates, ["pre-due", "overdue-soft", "overdue-firm", "final-notice", "formal-notice"]);
    // Day 30 is Wednesday 2 April: 5 working days -> Wednesday 9 April.
    assert_eq!(reminder(&taken, "overdue-30").deadline, Some(Date::new(2025, 4, 9)));
    assert_eq!(reminder(&taken, "formal-notice").deadline, Some(day(60)));
    assert!(taken.iter().any(|t| matches!(
        &t.action,
        Action::Escalate(e) if e.kind == EscalationKind::Collections
    )));
    assert_eq!(taken.last().map(|t| &t.action), Some(&Action::Close(CloseReason::Collections)));
}

#[test]
fn reviews_at_midnight_of_the_next_step() {
    let inv = invoice(DUE, 100_00, "EUR");
    let d = eval(&inv, -30, &[]).unwrap();
    assert!(d.actions.is_empty());
    assert_eq!(d.next_review, Some(day(-4).midnight()));
    let d = eval(&inv, 0, &[]).unwrap();
    assert!(d.actions.is_empty(), "pre-due is only sent before due");
    assert_eq!(d.next_review, Some(day(7).midnight()));
}

#[test]
fn loyal_customers_get_more_time_and_a_softer_tone() {
    let mut inv = invoice(DUE, 1_200_00, "EUR");
    inv.customer.payment_record.invoices_paid = 10;
    inv.customer.payment_record.paid_on_time = 9;
    let taken = simulate::<B2bStandard>(&mut inv, &[], day(-20), 120);
    assert_eq!(
        summary(&taken),
        [
            s(-4, "pre-due", "email", Some(Tone::Courteous)),
            s(10, "overdue-7", "email", Some(Tone::Soft)),
            s(22, "overdue-15", "email", Some(Tone::Soft)),
            s(45, "overdue-30", "email", Some(Tone::Firm)),
            s(67, "formal-notice", "letter", Some(Tone::Formal)),
            s(90, "handover", "", None),
            s(90, "close", "", None),
        ]
    );
    // 8 of 10 on time is not loyal.
    let mut inv = invoice(DUE, 1_200_00, "EUR");
    inv.customer.payment_record.invoices_paid = 10;
    inv.customer.payment_record.paid_on_time = 8;
    assert_eq!(eval(&inv, 7, &[]).unwrap().steps(), ["overdue-7"]);
}

#[test]
fn large_amounts_get_a_phone_call_within_the_gap() {
    let mut inv = invoice(DUE, 10_000_00, "EUR");
    let taken = simulate::<B2bStandard>(&mut inv, &[], day(0), 40);
    let steps: Vec<_> = summary(&taken).into_iter().map(|(n, step, channel, _)| (n, step, channel)).collect();
    // The call is due on day 10 but waits 5 days after the day-7 email; the
    // firm email then waits 5 days after the call.
    assert_eq!(
        steps,
        [
            (7, "overdue-7".into(), "email".into()),
            (12, "phone-call".into(), "phone".into()),
            (17, "overdue-15".into(), "email".into()),
            (30, "overdue-30".into(), "email".into()),
        ]
    );
    assert_eq!(reminder(&taken, "phone-call").template, "phone-call");
    // Below the threshold there is no call: day 12 is still the day-7 email.
    let small = invoice(DUE, 9_999_99, "EUR");
    assert_eq!(eval(&small, 12, &[]).unwrap().steps(), ["overdue-7"]);
}

#[test]
fn no_phone_call_once_the_customer_answered_the_email() {
    let mut inv = invoice(DUE, 10_000_00, "EUR");
    inv.history.push(contact("overdue-7", Some("email"), day(7)));
    // They wrote back on day 9 (the host held the invoice while a person read it).
    inv.reply = Some(sollecito_sdk::Reply {
        at: day(9).at_hour(15),
        step: Some("overdue-7".into()),
        intent: sollecito_sdk::ReplyIntent::Question,
    });
    assert_eq!(eval(&inv, 12, &[]).unwrap().steps(), Vec::<String>::new(), "no call on day 12");
    // The ladder goes on by email: the firm reminder on day 15.
    assert_eq!(eval(&inv, 15, &[]).unwrap().steps(), ["overdue-15"]);
    // A reply before the email answers nothing of it: the call goes.
    inv.reply.as_mut().unwrap().at = day(5).at_hour(15);
    assert_eq!(eval(&inv, 12, &[]).unwrap().steps(), ["phone-call"]);
}

#[test]
fn large_amount_uses_the_currency_exponent() {
    let yen = invoice(DUE, 10_000, "JPY");
    assert_eq!(eval(&yen, 12, &[]).unwrap().steps(), ["phone-call"]);
    let dinar = invoice(DUE, 9_999_999, "KWD");
    assert_eq!(eval(&dinar, 12, &[]).unwrap().steps(), ["overdue-7"]);
    let dinar = invoice(DUE, 10_000_000, "KWD");
    assert_eq!(eval(&dinar, 12, &[]).unwrap().steps(), ["phone-call"]);
    let lowered = invoice(DUE, 500_00, "EUR");
    assert_eq!(eval(&lowered, 12, &[("large_amount", "500")]).unwrap().steps(), ["phone-call"]);
}

#[test]
fn formal_notice_by_pec_to_businesses() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.customer.business = true;
    // A formal notice follows a reminder: the final one went out at 30 days.
    inv.history.push(contact("overdue-30", Some("email"), day(30)));
    let d = eval(&inv, 45, &[]).unwrap();
    assert_eq!(d.reminder().map(|r| r.channel.as_str()), Some("pec"));
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(60)));
    inv.customer.reachable.remove(sollecito_sdk::ContactPoints::EMAIL);
    let d = eval(&inv, 45, &[]).unwrap();
    assert_eq!(d.reminder().map(|r| r.channel.as_str()), Some("letter"));
}

#[test]
fn opted_out_channels_are_never_used() {
    let mut inv = invoice(DUE, 10_000_00, "EUR");
    inv.customer.business = true;
    inv.customer.opted_out = vec!["email".into(), "pec".into(), "phone".into()];
    let taken = simulate::<B2bStandard>(&mut inv, &[], day(-20), 100);
    let channels: Vec<_> = summary(&taken)
        .into_iter()
        .filter(|(_, _, _, tone)| tone.is_some())
        .map(|(_, step, channel, _)| (step, channel))
        .collect();
    // No phone call (no written substitute for a call), letters instead of emails and PEC.
    assert_eq!(
        channels,
        [
            ("pre-due".into(), "letter".into()),
            ("overdue-7".into(), "letter".into()),
            ("overdue-15".into(), "letter".into()),
            ("overdue-30".into(), "letter".into()),
            ("formal-notice".into(), "letter".into()),
        ]
    );
}

#[test]
fn late_import_sends_the_latest_due_step_but_never_a_formal_notice_first() {
    let inv = invoice(DUE, 100_00, "EUR");
    let d = eval(&inv, 40, &[]).unwrap();
    assert_eq!(d.steps(), ["overdue-30"]);
    // 40 days after due is Saturday 12 April: 5 working days -> Friday 18 April.
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(Date::new(2025, 4, 18)));
    assert_eq!(d.next_review, Some(day(45).midnight()));

    // Past the hand-over day with nothing sent: a formal notice never opens
    // the conversation. The final reminder goes first, the formal notice
    // after the 5-day gap, collections once its 15-day deadline has passed.
    let mut inv = invoice(DUE, 100_00, "EUR");
    let d = eval(&inv, 70, &[]).unwrap();
    assert_eq!(d.steps(), ["overdue-30"]);
    assert_eq!(d.next_review, Some(day(75).midnight()));
    inv.history.push(contact("overdue-30", Some("email"), day(70)));
    assert!(eval(&inv, 72, &[]).unwrap().actions.is_empty());
    let d = eval(&inv, 75, &[]).unwrap();
    assert_eq!(d.steps(), ["formal-notice"]);
    assert_eq!(d.next_review, Some(day(90).midnight()));
    inv.history.push(contact("formal-notice", Some("letter"), day(75)));
    assert!(eval(&inv, 85, &[]).unwrap().actions.is_empty());
    assert_eq!(eval(&inv, 90, &[]).unwrap().steps(), ["handover"]);
}

#[test]
fn keeps_five_days_between_reminders() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.history.push(contact("overdue-7", Some("email"), day(12)));
    let d = eval(&inv, 15, &[]).unwrap();
    assert!(d.actions.is_empty());
    assert_eq!(d.next_review, Some(day(17).midnight()));
    assert_eq!(eval(&inv, 17, &[]).unwrap().steps(), ["overdue-15"]);
    // A setting changes the gap.
    assert_eq!(eval(&inv, 15, &[("min_gap_days", "3")]).unwrap().steps(), ["overdue-15"]);
}

#[test]
fn paid_closed_disputed_and_promised() {
    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.amount_paid = 100_00;
    assert_eq!(eval(&inv, 20, &[]), Ok(Decision::done().close(CloseReason::Paid)));
    inv.status = InvoiceStatus::Void;
    assert_eq!(eval(&inv, 20, &[]), Ok(Decision::done()));

    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.dispute = Some(Dispute { opened: at(2025, 3, 10, 8), reason: "quality".into() });
    let d = eval(&inv, 20, &[]).unwrap();
    assert_eq!(d.steps(), ["dispute-review"]);
    assert!(d.reminder().is_none());
    assert_eq!(d.next_review, Some(day(27).midnight()));

    let mut inv = invoice(DUE, 100_00, "EUR");
    inv.promise_to_pay = Some(PromiseToPay { until: day(25), amount: None });
    let d = eval(&inv, 20, &[]).unwrap();
    assert!(d.actions.is_empty());
    assert_eq!(d.next_review, Some(day(26).midnight()));
    assert_eq!(d.next_review, Some(day(26).midnight()));
    // Lapsed: back on the ladder, only the latest step.
    assert_eq!(eval(&inv, 26, &[]).unwrap().steps(), ["overdue-15"]);
}

#[test]
fn bad_settings_are_errors_naming_the_key() {
    let inv = invoice(DUE, 100_00, "EUR");
    let err = eval(&inv, 7, &[("soft_days", "a week")]).unwrap_err();
    assert!(err.contains("soft_days"), "{err}");
    let err = eval(&inv, 7, &[("loyal_on_time_percent", "120")]).unwrap_err();
    assert!(err.contains("loyal_on_time_percent"), "{err}");
}

#[test]
fn batch_keeps_order_and_isolates_errors() {
    let ok = invoice(DUE, 100_00, "EUR");
    let mut bad = invoice(DUE, 100_00, "EUR");
    bad.due = Date::new(2025, 2, 30);
    let results = B2bStandard::evaluate(day(7).at_hour(9), vec![], vec![ok.clone(), bad, ok]);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
    assert_eq!(results[0].as_ref().unwrap().steps(), ["overdue-7"]);
}

#[test]
fn loyal_and_large_share_day_ten_without_skipping_a_step() {
    let mut inv = invoice(DUE, 20_000_00, "EUR");
    inv.customer.payment_record.invoices_paid = 12;
    inv.customer.payment_record.paid_on_time = 12;
    let taken = simulate::<B2bStandard>(&mut inv, &[], day(0), 30);
    let steps: Vec<_> = summary(&taken).into_iter().map(|(n, step, _, _)| (n, step)).collect();
    assert_eq!(steps, [(10, "overdue-7".into()), (15, "phone-call".into()), (22, "overdue-15".into()),]);
}

#[test]
fn a_payment_plan_is_offered_only_when_the_setting_asks() {
    let mut inv = invoice(DUE, 1_200_00, "EUR");
    let none = simulate::<B2bStandard>(&mut inv.clone(), &[], day(-20), 100);
    assert!(!none.iter().any(|t| matches!(t.action, Action::OfferPlan(_))));
    let settings = [("plan_instalments", "3"), ("plan_every_days", "30")];
    let taken = simulate::<B2bStandard>(&mut inv, &settings, day(-20), 100);
    let offers: Vec<_> = taken
        .iter()
        .filter_map(|t| match &t.action {
            Action::OfferPlan(p) => Some((DUE.days_until(t.on), p.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(offers.len(), 1, "{offers:?}");
    let (on, offer) = &offers[0];
    // Offered 20 days after due, the first instalment ten days later.
    assert_eq!(*on, 20);
    assert_eq!((offer.step.as_str(), offer.instalments, offer.every_days), ("plan-offer", 3, 30));
    assert_eq!(offer.first_due, day(30));
}

#[test]
fn late_payment_claims_go_with_the_formal_notice_to_businesses_only_when_asked() {
    let fees = |business: bool, settings: &[(&str, &str)]| {
        let mut inv = invoice(DUE, 1_200_00, "EUR");
        inv.customer.business = business;
        inv.customer.locale = "en-GB".into();
        let taken = simulate::<B2bStandard>(&mut inv, settings, day(-20), 100);
        taken
            .iter()
            .filter_map(|t| match &t.action {
                Action::ApplyFee(f) => Some((DUE.days_until(t.on), f.clone())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let on = [("late_payment_claims", "true"), ("reference_rate", "4.15")];
    assert!(fees(true, &[]).is_empty(), "off by default");
    assert!(fees(false, &on).is_empty(), "never from a consumer");
    let claimed = fees(true, &on);
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    let (day_of_notice, compensation) = &claimed[0];
    assert_eq!(*day_of_notice, 45);
    assert_eq!((compensation.step.as_str(), compensation.minor), ("late-compensation", 40_00));
    // 1,200.00 EUR at 12.15% a year for 45 days: 1,797.53 cents, rounded to 17.98 EUR.
    let interest = &claimed[1].1;
    assert_eq!((interest.step.as_str(), interest.minor), ("late-interest", 17_98));
    assert!(interest.reason.contains("12.15% a year") && interest.reason.contains("45 days"), "{}", interest.reason);
}

#[test]
fn statutory_interest_rounds_half_up() {
    assert_eq!(super::statutory_interest(365_00, 1000, 1), 10); // 365.00 at 10% for a day: 0.10
    assert_eq!(super::statutory_interest(1, 10_000, 182), 0); // 0.4986 of a cent
    assert_eq!(super::statutory_interest(1, 10_000, 183), 1); // 0.5014 of a cent
}
