//! `b2b-standard`: the classic business-to-business ladder.
//!
//! A courteous note before due, soft, firm and final reminders after it, a
//! formal notice (PEC or letter) past 45 days and a hand-over to collections
//! at 60. Loyal customers get more time and a softer tone; large amounts
//! get a phone call, unless the customer has answered the last message.

// Test amounts are written in cents as 100_00 (euros_cents) on purpose.
#![cfg_attr(test, allow(clippy::inconsistent_digit_grouping))]

use sollecito_sdk::ContactPoints;
use sollecito_sdk::prelude::*;

pub struct B2bStandard;

/// The settings of this policy, read once per invoice (all in days unless said).
struct Settings {
    pre_due_days: i64,
    soft_days: i64,
    firm_days: i64,
    final_days: i64,
    final_deadline_working_days: i64,
    formal_days: i64,
    formal_deadline_days: i64,
    handover_days: i64,
    loyal_min_invoices: i64,
    loyal_on_time_percent: i64,
    loyal_stretch_percent: i64,
    /// In major units of the invoice currency.
    large_amount: i64,
    large_amount_phone_days: i64,
    /// Instalments of the payment plan offered (0: no offer).
    plan_instalments: i64,
    plan_offer_days: i64,
    plan_every_days: i64,
    /// Days from the offer to the first instalment.
    plan_first_due_days: i64,
    /// Claim, with the formal notice, the fixed 40 EUR compensation and
    /// statutory interest from business customers (Directive 2011/7/EU). Off by default.
    late_payment_claims: bool,
    /// The reference rate for statutory interest, in basis points (4.15% is 415); 8 points are added.
    reference_rate_bp: i64,
}

impl Settings {
    fn read(ctx: &Ctx) -> Result<Self, String> {
        Ok(Settings {
            pre_due_days: ctx.days("pre_due_days", 4)?,
            soft_days: ctx.days("soft_days", 7)?,
            firm_days: ctx.days("firm_days", 15)?,
            final_days: ctx.days("final_days", 30)?,
            final_deadline_working_days: ctx.days("final_deadline_working_days", 5)?,
            formal_days: ctx.days("formal_days", 45)?,
            formal_deadline_days: ctx.days("formal_deadline_days", 15)?,
            handover_days: ctx.days("handover_days", 60)?,
            loyal_min_invoices: ctx.int_in("loyal_min_invoices", 10, 0, i64::from(u32::MAX))?,
            loyal_on_time_percent: ctx.int_in("loyal_on_time_percent", 90, 0, 100)?,
            loyal_stretch_percent: ctx.int_in("loyal_stretch_percent", 150, 0, 1_000)?,
            large_amount: ctx.int_in("large_amount", 10_000, 0, i64::MAX)?,
            large_amount_phone_days: ctx.days("large_amount_phone_days", 10)?,
            plan_instalments: ctx.int_in("plan_instalments", 0, 0, 60)?,
            plan_offer_days: ctx.days("plan_offer_days", 20)?,
            plan_every_days: ctx.int_in("plan_every_days", 30, 1, 366)?,
            plan_first_due_days: ctx.days("plan_first_due_days", 10)?,
            late_payment_claims: ctx.flag("late_payment_claims", false)?,
            reference_rate_bp: ctx.basis_points("reference_rate", 0)?,
        })
    }
}

/// One level softer for loyal customers: firm -> soft, final -> firm.
fn softer(tone: Tone) -> Tone {
    match tone {
        Tone::Firm => Tone::Soft,
        Tone::Final => Tone::Firm,
        other => other,
    }
}

impl Policy for B2bStandard {
    fn info() -> PolicyInfo {
        PolicyInfo::new(
            "b2b-standard",
            "0.3.0",
            "B2B ladder: pre-due, soft, firm, final, formal notice, collections; \
             gentler with loyal customers, a phone call for large amounts.",
        )
        .templates(&["pre-due", "overdue-soft", "overdue-firm", "final-notice", "formal-notice", "phone-call"])
        .channels(&["email", "pec", "letter", "phone"])
    }

    fn decide(inv: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
        let s = Settings::read(ctx)?;
        let today = ctx.today;
        let due = inv.due;

        let record = &inv.customer.payment_record;
        let loyal =
            i64::from(record.invoices_paid) >= s.loyal_min_invoices && record.on_time_at_least(s.loyal_on_time_percent);
        // Loyal customers: every overdue step later (7 -> 10, 15 -> 22, ...) and softer.
        let after_due = |days: i64| {
            let days = if loyal { days * s.loyal_stretch_percent / 100 } else { days };
            due.add_days(days)
        };
        let tone = |t: Tone| if loyal { softer(t) } else { t };
        let large = inv.outstanding_at_least(s.large_amount);
        // A formal demand must be traceable: PEC to a business with an address, else registered letter.
        let formal_channel = if inv.customer.business && inv.customer.reachable.contains(ContactPoints::EMAIL) {
            "pec"
        } else {
            "letter"
        };

        let mut ladder = Ladder::new(inv, ctx)?;
        ladder
            .remind("pre-due", due.add_days(-s.pre_due_days), "email", "pre-due", Tone::Courteous)
            .until(due.add_days(-1));
        ladder.remind("overdue-7", after_due(s.soft_days), "email", "overdue-soft", tone(Tone::Soft));
        // A person calls about a large amount, unless the customer already wrote back.
        if large {
            ladder
                .remind("phone-call", due.add_days(s.large_amount_phone_days), "phone", "phone-call", Tone::Soft)
                .unless_answered();
        }
        ladder.remind("overdue-15", after_due(s.firm_days), "email", "overdue-firm", tone(Tone::Firm));
        if s.plan_instalments > 0 {
            let first_due = today.add_days(s.plan_first_due_days);
            let (count, every) = (s.plan_instalments as u32, s.plan_every_days as u32);
            ladder.offer_plan("plan-offer", after_due(s.plan_offer_days), count, first_due, every);
        }
        ladder
            .remind("overdue-30", after_due(s.final_days), "email", "final-notice", tone(Tone::Final))
            .deadline(today.add_working_days(s.final_deadline_working_days));
        // A formal demand follows at least one reminder, even for a backlog imported late.
        let formal_on = after_due(s.formal_days);
        let formal = ladder
            .remind("formal-notice", formal_on, formal_channel, "formal-notice", Tone::Formal)
            .deadline(today.add_days(s.formal_deadline_days))
            .not_first();
        // Claims and reasons are worded only once their step can fire: text
        // built for every invoice every day adds up over a million invoices.
        if s.late_payment_claims && inv.customer.business && today >= formal_on {
            for (step, amount, reason) in late_payment_claims(inv, today, s.reference_rate_bp) {
                formal.and_fee(step, amount, reason);
            }
        }
        // Collections only after the formal notice, and not before its deadline.
        let handover_on = after_due(s.handover_days);
        let reason = match today >= handover_on {
            true => format!("{} days overdue, formal notice unanswered", inv.days_overdue(today)),
            false => String::new(),
        };
        ladder
            .escalate("handover", handover_on, EscalationKind::Collections, reason)
            .after("formal-notice", s.formal_deadline_days)
            .not_first()
            .close(CloseReason::Collections);
        Ok(ladder.decide())
    }
}

/// Interest for `days` on `minor` at `rate_bp` basis points a year (365-day
/// year), rounded half up to the minor unit.
pub fn statutory_interest(minor: i64, rate_bp: i64, days: i64) -> i64 {
    let scaled = i128::from(minor) * i128::from(rate_bp) * i128::from(days);
    ((scaled * 2 + 10_000 * 365) / (2 * 10_000 * 365)) as i64
}

/// What the EU late-payment directive lets a business claim from another,
/// worded in the customer's language: the fixed compensation for recovery
/// costs (40 EUR, for invoices in euros) and interest at the reference rate
/// plus 8 points from the due date, with its day count.
fn late_payment_claims(inv: &InvoiceView, today: Date, reference_bp: i64) -> Vec<(&'static str, i64, String)> {
    let italian = inv.customer.locale.to_ascii_lowercase().starts_with("it");
    let mut claims = vec![];
    if inv.currency.eq_ignore_ascii_case("EUR") {
        let reason = if italian {
            "importo forfettario per i costi di recupero (D.Lgs. 231/2002)"
        } else {
            "fixed compensation for recovery costs (Directive 2011/7/EU)"
        };
        claims.push(("late-compensation", 40_00, reason.to_string()));
    }
    let days = inv.days_overdue(today);
    let rate = reference_bp + 800;
    let interest = statutory_interest(inv.outstanding(), rate, days);
    if interest > 0 {
        let pct = |bp: i64| {
            let text = format!("{}.{:02}", bp / 100, bp % 100);
            if italian { text.replace('.', ",") } else { text }
        };
        let reason = if italian {
            format!(
                "interessi di mora al {}% annuo (tasso di riferimento {}% + 8 punti) per {days} giorni dal {}",
                pct(rate),
                pct(reference_bp),
                inv.due
            )
        } else {
            format!(
                "late-payment interest at {}% a year (reference rate {}% + 8 points) for {days} days from {}",
                pct(rate),
                pct(reference_bp),
                inv.due
            )
        };
        claims.push(("late-interest", interest, reason));
    }
    claims
}

sollecito_sdk::policy!(B2bStandard);

#[cfg(test)]
mod tests;
