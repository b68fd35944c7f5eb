use super::SubscriptionRecovery;
use sollecito_sdk::bindings::Guest;
use sollecito_sdk::prelude::*;
use sollecito_sdk::testing::{Taken, contact, invoice, simulate};
use sollecito_sdk::{PaymentFailure, PaymentMethod, Setting};

/// Day 0: the renewal failed on Monday 3 March 2025 at 06:00 UTC.
const DAY0: Date = Date::new(2025, 3, 3);

fn day(n: i64) -> Date {
    DAY0.add_days(n)
}

fn renewal() -> InvoiceView {
    let mut inv = invoice(DAY0, 29_00, "EUR");
    inv.kind = InvoiceKind::SubscriptionRenewal;
    inv
}

fn failed(code: &str, attempts: u32) -> InvoiceView {
    let mut inv = renewal();
    inv.payment_failure = Some(PaymentFailure {
        decline_code: code.into(),
        attempts,
        first_failed: DAY0.at_hour(6),
        last_attempt: DAY0.at_hour(6),
    });
    inv
}

fn eval(inv: &InvoiceView, n: i64, settings: &[(&str, &str)]) -> Result<Decision, String> {
    let settings = settings.iter().map(|(k, v)| Setting { key: (*k).into(), value: (*v).into() }).collect();
    sollecito_sdk::evaluate::<SubscriptionRecovery>(inv, &Ctx::new(day(n).at_hour(9), settings))
}

/// (day, step, template or "") of each action with a step.
fn summary(taken: &[Taken]) -> Vec<(i64, String, String)> {
    taken
        .iter()
        .filter_map(|t| {
            let n = DAY0.days_until(t.on);
            match &t.action {
                Action::Remind(r) => Some((n, r.step.clone(), r.template.clone())),
                other => Some((n, other.step()?.into(), String::new())),
            }
        })
        .collect()
}

fn e(n: i64, step: &str, template: &str) -> (i64, String, String) {
    (n, step.into(), template.into())
}

#[test]
fn describes_itself() {
    let info = SubscriptionRecovery::describe();
    assert_eq!((info.name.as_str(), info.version.as_str()), ("subscription-recovery", "0.3.0"));
}

#[test]
fn soft_decline_day_by_day() {
    let mut inv = failed("insufficient_funds", 1);
    let taken = simulate::<SubscriptionRecovery>(&mut inv, &[], day(0), 40);
    // The warning is due on day 11 but keeps 5 days after the day-7 reminder,
    // and the suspension notice 5 days after the warning, as it announced.
    assert_eq!(
        summary(&taken),
        [
            e(0, "payment-failed", "payment-failed"),
            e(3, "retry-1", ""),
            e(5, "retry-2", ""),
            e(7, "payment-reminder", "payment-reminder"),
            e(7, "retry-3", ""),
            e(12, "suspension-warning", "suspension-warning"),
            e(17, "suspend", ""),
            e(17, "service-suspended", "service-suspended"),
        ]
    );
    let retry_at: Vec<_> = taken
        .iter()
        .filter_map(|t| match &t.action {
            Action::RetryPayment(r) => Some(r.at),
            _ => None,
        })
        .collect();
    assert_eq!(retry_at, [day(3).at_hour(10), day(5).at_hour(10), day(7).at_hour(10)]);
    let warning = taken
        .iter()
        .find_map(|t| match &t.action {
            Action::Remind(r) if r.step == "suspension-warning" => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!((warning.tone, warning.deadline), (Tone::Final, Some(day(17))));
    assert!(taken.iter().any(|t| matches!(
        &t.action,
        Action::Escalate(x) if x.kind == EscalationKind::SuspendService
    )));
}

#[test]
fn suspends_on_the_day_when_the_warning_went_out_in_time() {
    let mut inv = failed("insufficient_funds", 4);
    inv.history.push(contact("payment-failed", Some("email"), day(0)));
    inv.history.push(contact("payment-reminder", Some("email"), day(5)));
    let d = eval(&inv, 11, &[]).unwrap();
    assert_eq!(d.steps(), ["suspension-warning"]);
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(16)));
    let d = eval(&inv, 11, &[("min_gap_days", "3")]).unwrap();
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(14)));
    assert_eq!(d.next_review, Some(day(14).midnight()));
    inv.history.push(contact("suspension-warning", Some("email"), day(11)));
    let d = eval(&inv, 14, &[("min_gap_days", "3")]).unwrap();
    assert_eq!(d.steps(), ["suspend", "service-suspended"]);
    assert_eq!(d.next_review, None);
    inv.history.push(contact("suspend", None, day(14)));
    assert_eq!(eval(&inv, 20, &[]), Ok(Decision::done()));
}

#[test]
fn hard_decline_never_retries_and_asks_for_a_new_method() {
    let mut inv = failed("stolen_card", 1);
    let taken = simulate::<SubscriptionRecovery>(&mut inv, &[], day(0), 40);
    assert!(!taken.iter().any(|t| matches!(t.action, Action::RetryPayment(_))));
    assert_eq!(summary(&taken)[0], e(0, "payment-failed", "payment-failed-hard"));
}

#[test]
fn retries_already_attempted_are_skipped() {
    // Two charges so far: retry 1 happened, retry 2 is next.
    let inv = failed("insufficient_funds", 2);
    let d = eval(&inv, 3, &[]).unwrap();
    assert_eq!(d.steps(), ["payment-failed"]);
    assert_eq!(d.next_review, Some(day(5).midnight()));
    let d = eval(&inv, 5, &[("retry_days", "2, 5"), ("retry_hour", "14")]).unwrap();
    assert_eq!(
        d.actions.iter().find(|a| matches!(a, Action::RetryPayment(_))),
        Some(&Action::RetryPayment(sollecito_sdk::PaymentRetry { step: "retry-2".into(), at: day(5).at_hour(14) }))
    );
    let inv = failed("insufficient_funds", 4);
    let d = eval(&inv, 7, &[]).unwrap();
    assert_eq!(d.steps(), ["payment-reminder"]);
}

#[test]
fn late_import_fires_the_latest_step_only() {
    // Found 15 days after the failure with nothing done: the warning (not the
    // suspension, which needs it), with a deadline 5 days on, and the last retry.
    let inv = failed("insufficient_funds", 1);
    let d = eval(&inv, 15, &[]).unwrap();
    assert_eq!(d.steps(), ["suspension-warning", "retry-3"]);
    assert_eq!(d.reminder().and_then(|r| r.deadline), Some(day(20)));
    assert!(matches!(d.actions[1], Action::RetryPayment(ref r) if r.at == day(15).at_hour(9)));
    assert_eq!(d.next_review, Some(day(20).midnight()));
}

#[test]
fn card_expiring_notice_once() {
    let mut inv = renewal();
    inv.due = day(30);
    inv.payment_method = Some(PaymentMethod { setup_complete: true, expires: Some(Date::new(2025, 3, 31)) });
    // 28 days before expiry: next look when the notice is due (14 days before).
    let d = eval(&inv, 0, &[]).unwrap();
    assert!(d.actions.is_empty());
    assert_eq!(d.next_review, Some(Date::new(2025, 3, 17).midnight()));
    let d = eval(&inv, 14, &[]).unwrap();
    assert_eq!(d.steps(), ["card-expiring-2025-03"]);
    assert_eq!(d.reminder().map(|r| (r.template.as_str(), r.tone)), Some(("card-expiring", Tone::Courteous)));
    // The renewal itself is due on day 30: look then.
    assert_eq!(d.next_review, Some(day(30).midnight()));
    inv.history.push(contact("card-expiring-2025-03", Some("email"), day(14)));
    assert!(eval(&inv, 20, &[]).unwrap().actions.is_empty());
    // Expired already: no notice.
    let mut late = inv.clone();
    late.history.clear();
    assert!(eval(&late, 29, &[]).unwrap().actions.is_empty());
}

#[test]
fn unfinished_setup_nudged_twice() {
    let mut inv = renewal();
    inv.due = day(30);
    inv.payment_method = Some(PaymentMethod { setup_complete: false, expires: None });
    let taken = simulate::<SubscriptionRecovery>(&mut inv, &[("min_gap_days", "2")], day(0), 10);
    assert_eq!(
        summary(&taken),
        [e(0, "finish-setup", "setup-incomplete"), e(3, "finish-setup-2", "setup-incomplete"),]
    );
}

#[test]
fn unpaid_without_a_failure_is_reminded_from_the_due_date() {
    let mut inv = renewal();
    let taken = simulate::<SubscriptionRecovery>(&mut inv, &[], day(-5), 40);
    assert_eq!(
        summary(&taken),
        [
            e(7, "payment-reminder", "payment-reminder"),
            e(12, "suspension-warning", "suspension-warning"),
            e(17, "suspend", ""),
            e(17, "service-suspended", "service-suspended"),
        ]
    );
}

#[test]
fn one_off_invoices_get_one_reminder() {
    let mut inv = invoice(DAY0, 100_00, "EUR");
    let taken = simulate::<SubscriptionRecovery>(&mut inv, &[], day(-5), 60);
    assert_eq!(summary(&taken), [e(7, "overdue-7", "overdue-soft")]);
}

#[test]
fn bad_settings_are_errors_naming_the_key() {
    let inv = failed("insufficient_funds", 1);
    for (key, value) in [("retry_days", "3;5"), ("retry_hour", "24"), ("suspend_days", "-1")] {
        let err = eval(&inv, 3, &[(key, value)]).unwrap_err();
        assert!(err.contains(key), "{err}");
    }
}
