//! Builders for policy unit tests: a plausible invoice to adjust field by field.

use crate::{
    Contact, ContactPoints, Customer, Date, InvoiceKind, InvoiceStatus, InvoiceView, Outcome, PaymentRecord, Timestamp,
    Tone,
};

/// `hour`:00 UTC on the given day.
pub fn at(year: i32, month: u8, day: u8, hour: i64) -> Timestamp {
    Date::new(year, month, day).at_hour(hour)
}

/// An open one-off invoice of `minor` units, issued 30 days before `due`,
/// nothing paid, no history; the customer is a consumer with an email and a
/// phone, customer since 2020 with no paid invoices.
pub fn invoice(due: Date, minor: i64, currency: &str) -> InvoiceView {
    InvoiceView {
        id: "in_test".into(),
        status: InvoiceStatus::Open,
        kind: InvoiceKind::OneOff,
        currency: currency.into(),
        amount_due: minor,
        amount_paid: 0,
        issued: due.add_days(-30),
        due,
        fees: Vec::new(),
        plan: None,
        payment_failure: None,
        dispute: None,
        promise_to_pay: None,
        has_payment_link: true,
        payment_method: None,
        customer: Customer {
            id: "cus_test".into(),
            locale: "en-GB".into(),
            segment: "default".into(),
            business: false,
            reachable: ContactPoints::EMAIL | ContactPoints::PHONE | ContactPoints::POSTAL_ADDRESS,
            tags: Vec::new(),
            payment_record: PaymentRecord { customer_since: Date::new(2020, 1, 1), invoices_paid: 0, paid_on_time: 0 },
            opted_out: Vec::new(),
        },
        history: Vec::new(),
        reply: None,
    }
}

/// A contact for `step` at 09:00 UTC on `on`, sent; messages (with a channel) have tone soft.
pub fn contact(step: &str, channel: Option<&str>, on: Date) -> Contact {
    Contact {
        step: step.into(),
        channel: channel.map(String::from),
        tone: channel.map(|_| Tone::Soft),
        at: on.at_hour(9),
        outcome: Outcome::Sent,
    }
}

/// One action taken during a [`simulate`] run, with the day it was taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub on: Date,
    pub action: crate::Action,
}

/// Drive a policy the way the host does: a tick every day at 09:00 UTC from
/// `from` for `days` days, evaluating when the review is due (and at the
/// first tick), recording every action with a step in the history as sent.
/// Stops at `close`. Panics if the policy returns an error, a review not in
/// the future, more than one reminder, or a template or channel its
/// [`crate::Policy::info`] does not declare (the host would refuse it): this is for tests.
pub fn simulate<P: crate::Policy>(
    inv: &mut InvoiceView,
    settings: &[(&str, &str)],
    from: Date,
    days: i64,
) -> Vec<Taken> {
    use crate::{Action, Ctx, Setting};

    let settings: Vec<Setting> =
        settings.iter().map(|(k, v)| Setting { key: (*k).into(), value: (*v).into() }).collect();
    let info = P::info();
    let mut taken = Vec::new();
    let mut review = Some(i64::MIN);
    for n in 0..days {
        let on = from.add_days(n);
        let now = on.at_hour(9);
        if review.is_none_or(|r| r > now) {
            continue;
        }
        let ctx = Ctx::new(now, settings.clone());
        let decision = crate::evaluate::<P>(inv, &ctx).unwrap_or_else(|e| panic!("{on}: policy error: {e}"));
        assert!(decision.reminders().count() <= 1, "{on}: {decision:?}");
        if let Some(r) = decision.next_review {
            assert!(r > now, "{on}: review {r} not after now {now}");
        }
        for r in decision.reminders() {
            assert!(info.templates.contains(&r.template), "{on}: template {} is not declared", r.template);
            assert!(info.channels.contains(&r.channel), "{on}: channel {} is not declared", r.channel);
        }
        review = decision.next_review;
        let mut closed = false;
        for action in decision.actions {
            let (step, channel, tone) = match &action {
                Action::Remind(r) => (r.step.clone(), Some(r.channel.clone()), Some(r.tone)),
                Action::Close(_) => {
                    closed = true;
                    (String::new(), None, None)
                }
                other => (other.step().unwrap_or_default().to_string(), None, None),
            };
            if !step.is_empty() {
                inv.history.push(Contact { step, channel, tone, at: now, outcome: Outcome::Sent });
            }
            taken.push(Taken { on, action });
        }
        if closed {
            break;
        }
    }
    taken
}
