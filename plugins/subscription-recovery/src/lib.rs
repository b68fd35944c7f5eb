//! `subscription-recovery`: win back a failed subscription renewal.
//!
//! Tell the customer at once, retry the card on a schedule (never after a
//! hard decline), remind, warn before suspending, suspend. Warn before a
//! card expires and nudge a customer who left a payment-method setup unfinished.

// Test amounts are written in cents as 100_00 (euros_cents) on purpose.
#![cfg_attr(test, allow(clippy::inconsistent_digit_grouping))]

use sollecito_sdk::prelude::*;

pub struct SubscriptionRecovery;

/// The settings of this policy, read once per invoice (all in days unless said).
struct Settings {
    /// Offsets from the first failure, one per retry.
    retry_days: Vec<i64>,
    /// Hour of day (UTC) of a retry.
    retry_hour: i64,
    reminder_days: i64,
    suspend_days: i64,
    warning_days_before: i64,
    expiry_notice_days: i64,
    finish_setup_again_days: i64,
    min_gap_days: i64,
}

impl Settings {
    fn read(ctx: &Ctx) -> Result<Self, String> {
        Ok(Settings {
            retry_days: ctx.list_days("retry_days", &[3, 5, 7])?,
            retry_hour: ctx.int_in("retry_hour", 10, 0, 23)?,
            reminder_days: ctx.days("reminder_days", 7)?,
            suspend_days: ctx.days("suspend_days", 14)?,
            warning_days_before: ctx.days("warning_days_before", 3)?,
            expiry_notice_days: ctx.days("expiry_notice_days", 14)?,
            finish_setup_again_days: ctx.days("finish_setup_again_days", 3)?,
            min_gap_days: ctx.min_gap_days()?,
        })
    }
}

impl Policy for SubscriptionRecovery {
    fn info() -> PolicyInfo {
        PolicyInfo::new(
            "subscription-recovery",
            "0.3.0",
            "Failed renewals: notify, retry (not after a hard decline), remind, warn, \
             suspend; card-expiry and unfinished-setup notices.",
        )
        .templates(&[
            "overdue-soft",
            "payment-failed",
            "payment-failed-hard",
            "payment-reminder",
            "suspension-warning",
            "service-suspended",
            "card-expiring",
            "setup-incomplete",
        ])
        .channels(&["email", "letter"])
    }

    fn decide(inv: &InvoiceView, ctx: &Ctx) -> Result<Decision, String> {
        let s = Settings::read(ctx)?;
        let today = ctx.today;
        let mut ladder = Ladder::new(inv, ctx)?;

        // Not a subscription: one soft reminder a week after due is all.
        if inv.kind != InvoiceKind::SubscriptionRenewal {
            ladder.remind("overdue-7", inv.due.add_days(7), "email", "overdue-soft", Tone::Soft);
            return Ok(ladder.decide());
        }

        // Day 0 is the first failed charge; with no failure (an invoice paid by
        // transfer, say) the due date, and no failure notice or retries.
        let failure = inv.payment_failure.as_ref();
        let day0 = failure.map_or(inv.due, |f| Date::of(f.first_failed));
        let day = |n: i64| day0.add_days(n);

        if let Some(f) = failure {
            let hard = is_hard_decline(&f.decline_code);
            // After a hard decline the card will never work: ask for another one.
            let template = if hard { "payment-failed-hard" } else { "payment-failed" };
            ladder.remind("payment-failed", day0, "email", template, Tone::Courteous);
            if !hard {
                for (k, offset) in (1_u32..).zip(&s.retry_days) {
                    // Attempt 1 was the original charge: retry k is attempt k + 1.
                    if f.attempts <= k {
                        let on = day(*offset);
                        ladder.retry_payment(format!("retry-{k}"), on, on.at_hour(s.retry_hour));
                    }
                }
            }
        } else if today < inv.due {
            // The renewal charge happens around the due date: look then.
            ladder.review_on(inv.due);
        }

        ladder.remind("payment-reminder", day(s.reminder_days), "email", "payment-reminder", Tone::Soft);
        let suspend_on = day(s.suspend_days);
        // The warning announces the real suspension date: the suspension notice
        // keeps the gap between messages, so it comes no sooner than that.
        ladder
            .remind(
                "suspension-warning",
                day(s.suspend_days - s.warning_days_before),
                "email",
                "suspension-warning",
                Tone::Final,
            )
            .deadline(suspend_on.max(today.add_days(s.min_gap_days)));
        let reason = format!("renewal {} unpaid since {day0}", inv.id);
        ladder
            .escalate("suspend", suspend_on, EscalationKind::SuspendService, &reason)
            .after("suspension-warning", 0)
            .and_remind("service-suspended", "email", "service-suspended", Tone::Final);

        if let Some(method) = &inv.payment_method {
            // A failed renewal already asks for a working card: no separate expiry notice.
            if let Some(expires) = method.expires.filter(|d| d.is_valid() && failure.is_none()) {
                let step = format!("card-expiring-{:04}-{:02}", expires.year, expires.month);
                ladder
                    .notice(step, expires.add_days(-s.expiry_notice_days), "email", "card-expiring", Tone::Courteous)
                    .until(expires);
            }
            if !method.setup_complete {
                ladder.notice("finish-setup", today, "email", "setup-incomplete", Tone::Courteous);
                ladder
                    .notice("finish-setup-2", today, "email", "setup-incomplete", Tone::Courteous)
                    .after("finish-setup", s.finish_setup_again_days);
            }
        }
        Ok(ladder.decide())
    }
}

sollecito_sdk::policy!(SubscriptionRecovery);

#[cfg(test)]
mod tests;
