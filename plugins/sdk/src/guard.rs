//! The cases every policy treats alike, before its own rules.

use crate::{CloseReason, Ctx, Decision, EscalationKind, InvoiceStatus, InvoiceView};

/// Step id of the one-off manual review of a disputed invoice.
pub const DISPUTE_STEP: &str = "dispute-review";

/// Days between two looks at a disputed invoice.
const DISPUTE_REVIEW_DAYS: i64 = 7;

/// Closed, paid, disputed and promised invoices; `None` when the policy's
/// own rules should decide.
///
/// - not open: nothing to do, no review;
/// - open but nothing outstanding: `close(paid)`, no review;
/// - disputed: no reminder; `escalate("dispute-review", manual-review)` once,
///   then look again every 7 days;
/// - promised to pay by D (the customer's promise, or the next instalment of
///   an accepted plan), D not past: review at 00:00 UTC of D+1, nothing before.
///
/// Malformed dates or currencies are an `Err` (this invoice fails, the host reports it).
pub fn standard_guard(inv: &InvoiceView, ctx: &Ctx) -> Result<Option<Decision>, String> {
    if inv.status != InvoiceStatus::Open {
        return Ok(Some(Decision::done()));
    }
    if inv.outstanding() <= 0 {
        return Ok(Some(Decision::done().close(CloseReason::Paid)));
    }
    for (what, date) in [("due", inv.due), ("issued", inv.issued)] {
        if !date.is_valid() {
            return Err(format!("invalid {what} date {date}"));
        }
    }
    if let Some(dispute) = &inv.dispute {
        let next = Decision::wait_until(ctx.today.add_days(DISPUTE_REVIEW_DAYS));
        if inv.step_done(DISPUTE_STEP) {
            return Ok(Some(next));
        }
        let reason = format!("disputed: {}", dispute.reason);
        return Ok(Some(next.escalate(DISPUTE_STEP, EscalationKind::ManualReview, &reason)));
    }
    if let Some(until) = inv.promised_until() {
        if !until.is_valid() {
            return Err(format!("invalid promise-to-pay date {until}"));
        }
        if until >= ctx.today {
            return Ok(Some(Decision::wait_until(until.add_days(1))));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{at, contact, invoice};
    use crate::{Action, Date, Dispute, Instalment, Plan, PromiseToPay};

    fn ctx() -> Ctx {
        Ctx::new(at(2025, 3, 10, 9), vec![])
    }

    #[test]
    fn closed_and_paid() {
        let mut inv = invoice(Date::new(2025, 3, 1), 100_00, "EUR");
        assert_eq!(standard_guard(&inv, &ctx()), Ok(None));
        inv.amount_paid = 100_00;
        assert_eq!(standard_guard(&inv, &ctx()), Ok(Some(Decision::done().close(CloseReason::Paid))));
        inv.status = InvoiceStatus::Paid;
        assert_eq!(standard_guard(&inv, &ctx()), Ok(Some(Decision::done())));
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut inv = invoice(Date::new(2025, 2, 30), 100_00, "EUR");
        assert!(standard_guard(&inv, &ctx()).is_err());
        inv.due = Date::new(2025, 2, 28);
        inv.promise_to_pay = Some(PromiseToPay { until: Date::new(2025, 4, 31), amount: None });
        assert!(standard_guard(&inv, &ctx()).is_err());
    }

    #[test]
    fn dispute_escalates_once() {
        let mut inv = invoice(Date::new(2025, 3, 1), 100_00, "EUR");
        inv.dispute = Some(Dispute { opened: at(2025, 3, 5, 12), reason: "product_not_received".into() });
        let d = standard_guard(&inv, &ctx()).unwrap().unwrap();
        assert_eq!(d.steps(), ["dispute-review"]);
        assert!(matches!(
            &d.actions[0],
            Action::Escalate(e) if e.kind == EscalationKind::ManualReview
        ));
        assert_eq!(d.review_date(), Some(Date::new(2025, 3, 17)));
        inv.history.push(contact("dispute-review", None, Date::new(2025, 3, 5)));
        let d = standard_guard(&inv, &ctx()).unwrap().unwrap();
        assert!(d.actions.is_empty());
        assert_eq!(d.review_date(), Some(Date::new(2025, 3, 17)));
    }

    #[test]
    fn promise_pauses_until_the_day_after() {
        let mut inv = invoice(Date::new(2025, 3, 1), 100_00, "EUR");
        inv.promise_to_pay = Some(PromiseToPay { until: Date::new(2025, 3, 10), amount: None });
        let resume = Date::new(2025, 3, 11).midnight();
        assert_eq!(standard_guard(&inv, &ctx()), Ok(Some(Decision::done().review_at(resume))));
        // Lapsed yesterday: the policy decides again.
        inv.promise_to_pay = Some(PromiseToPay { until: Date::new(2025, 3, 9), amount: None });
        assert_eq!(standard_guard(&inv, &ctx()), Ok(None));
    }

    #[test]
    fn a_plan_holds_until_an_instalment_lapses() {
        let mut inv = invoice(Date::new(2025, 3, 1), 300_00, "EUR");
        let instalment = |due: Date, left: i64| Instalment { due, minor: 100_00, left };
        inv.plan = Some(Plan {
            step: "plan-offer".into(),
            accepted: at(2025, 3, 2, 10),
            instalments: vec![
                instalment(Date::new(2025, 3, 5), 0),
                instalment(Date::new(2025, 3, 12), 100_00),
                instalment(Date::new(2025, 3, 19), 100_00),
            ],
        });
        // The first is paid; the second is due on the 12th.
        let resume = Date::new(2025, 3, 13).midnight();
        assert_eq!(standard_guard(&inv, &ctx()), Ok(Some(Decision::done().review_at(resume))));
        // The second passed unpaid: the plan has lapsed and the policy decides.
        let later = Ctx::new(at(2025, 3, 13, 9), vec![]);
        assert_eq!(standard_guard(&inv, &later), Ok(None));
    }
}
