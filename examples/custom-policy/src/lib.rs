//! ACME's dunning policy, written with the sollecito SDK.
//!
//! Our rules, in plain words:
//! - we start gently (3 days after due) and only get firm after three weeks;
//! - the final notice gives five working days, then a colleague reviews the
//!   account by hand (no automatic collections at ACME);
//! - customers of three years or more who always paid on time never hear a
//!   harsher tone than "firm", and we never escalate them;
//! - for big amounts (over 10,000 EUR) the first contact is a phone call from
//!   our accounts team rather than an email.
//!
//! Closed, paid, disputed and promised invoices, the five-day gap between two
//! messages and opted-out channels are handled by the SDK.

// Test amounts are written in cents as 100_00 (euros_cents) on purpose.
#![cfg_attr(test, allow(clippy::inconsistent_digit_grouping))]

use sollecito_sdk::prelude::*;

pub struct AcmeGentle;

/// 10,000.00 EUR in cents.
const BIG_AMOUNT_EUR_CENTS: i64 = 1_000_000;

impl Policy for AcmeGentle {
    fn info() -> PolicyInfo {
        PolicyInfo::new(
            "acme-gentle",
            "0.1.0",
            "ACME: gentle reminders, a phone call for big amounts, a manual review at the end.",
        )
        // Every template and channel the rules below may name: the host refuses any other.
        .templates(&["phone-call", "overdue-soft", "overdue-firm", "final-notice"])
        .channels(&["phone", "email", "letter"])
    }

    fn decide(invoice: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
        let due = invoice.due;
        let customer = &invoice.customer;

        // A long-standing customer who has never been late deserves patience.
        let trusted = customer.years_as_customer(ctx.today) >= 3 && customer.payment_record.always_on_time();

        // Big amounts get a personal call first.
        let big = invoice.currency == "EUR" && invoice.outstanding() > BIG_AMOUNT_EUR_CENTS;
        // ...but only if we can call them; otherwise we write as usual.
        let call_first = big && customer.reachable_by("phone");

        let mut steps = Ladder::new(invoice, ctx)?;

        if call_first {
            steps.remind("call-first", due.add_days(3), "phone", "phone-call", Tone::Soft);
        } else {
            steps.remind("nudge", due.add_days(3), "email", "overdue-soft", Tone::Courteous);
        }
        steps.remind("reminder", due.add_days(10), "email", "overdue-soft", Tone::Soft);
        steps.remind("firm", due.add_days(20), "email", "overdue-firm", Tone::Firm);

        // The final notice: trusted customers get it in a firm (not final) tone.
        let final_tone = if trusted { Tone::Firm } else { Tone::Final };
        steps
            .remind("final", due.add_days(35), "email", "final-notice", final_tone)
            .deadline(ctx.today.add_working_days(5));

        // Then a colleague looks at the account, once the final deadline has
        // passed (7 days covers 5 working days). Never for trusted customers:
        // for them the ladder simply ends after the final notice.
        if !trusted {
            steps
                .escalate(
                    "review",
                    due.add_days(50),
                    EscalationKind::ManualReview,
                    "still unpaid after the final notice",
                )
                .after("final", 7);
        }

        Ok(steps.decide())
    }
}

sollecito_sdk::policy!(AcmeGentle);

#[cfg(test)]
mod tests {
    use super::*;
    use sollecito_sdk::testing::{Taken, invoice, simulate};

    const DUE: Date = Date::new(2025, 3, 3);

    /// (days after due, step, tone) of everything the policy did.
    fn run(inv: &mut InvoiceView) -> Vec<(i64, String, Option<Tone>)> {
        simulate::<AcmeGentle>(inv, &[], DUE, 90)
            .iter()
            .map(|Taken { on, action }| {
                let tone = match action {
                    Action::Remind(r) => Some(r.tone),
                    _ => None,
                };
                let step = action.step().unwrap_or_default().to_string();
                (DUE.days_until(*on), step, tone)
            })
            .collect()
    }

    fn e(n: i64, step: &str, tone: Option<Tone>) -> (i64, String, Option<Tone>) {
        (n, step.into(), tone)
    }

    #[test]
    fn everyday_ladder_ends_in_a_manual_review() {
        let mut inv = invoice(DUE, 500_00, "EUR");
        assert_eq!(
            run(&mut inv),
            [
                e(3, "nudge", Some(Tone::Courteous)),
                e(10, "reminder", Some(Tone::Soft)),
                e(20, "firm", Some(Tone::Firm)),
                e(35, "final", Some(Tone::Final)),
                e(50, "review", None),
            ]
        );
    }

    #[test]
    fn trusted_customers_never_go_past_firm() {
        let mut inv = invoice(DUE, 500_00, "EUR");
        inv.customer.payment_record.customer_since = Date::new(2021, 1, 15);
        inv.customer.payment_record.invoices_paid = 8;
        inv.customer.payment_record.paid_on_time = 8;
        assert_eq!(
            run(&mut inv),
            [
                e(3, "nudge", Some(Tone::Courteous)),
                e(10, "reminder", Some(Tone::Soft)),
                e(20, "firm", Some(Tone::Firm)),
                e(35, "final", Some(Tone::Firm)),
            ]
        );
    }

    #[test]
    fn big_amounts_start_with_a_call() {
        let mut inv = invoice(DUE, 10_000_01, "EUR");
        let done = run(&mut inv);
        assert_eq!(done[0], e(3, "call-first", Some(Tone::Soft)));
        assert!(!done.iter().any(|(_, step, _)| step == "nudge"));
        // Exactly 10,000 EUR, or another currency: the usual email.
        let mut inv = invoice(DUE, 10_000_00, "EUR");
        assert_eq!(run(&mut inv)[0].1, "nudge");
        let mut inv = invoice(DUE, 50_000_00, "USD");
        assert_eq!(run(&mut inv)[0].1, "nudge");
        // No phone number: the usual email too.
        let mut inv = invoice(DUE, 20_000_00, "EUR");
        inv.customer.reachable.remove(ContactPoints::PHONE);
        assert_eq!(run(&mut inv)[0].1, "nudge");
    }

    #[test]
    fn describes_itself() {
        use sollecito_sdk::bindings::Guest;
        let info = AcmeGentle::describe();
        assert_eq!((info.name.as_str(), info.version.as_str()), ("acme-gentle", "0.1.0"));
    }
}
