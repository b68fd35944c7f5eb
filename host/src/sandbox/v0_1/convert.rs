//! Between this contract version's types and the host's own, both ways.
//! Nothing outside the sandbox sees the types generated for 0.1.

use super::{
    Action, Charge, ChargeError, ChargeOutcome, CloseReason, Contact, Decision, DeliveryError, Email, EscalationKind,
    InvoiceView, Message, Money, Outcome, Receipt, Recipient, Sender, Setting, Task, Tone, customer_view, invoice_view,
    naive_date,
};
use crate::decision::{self, Review};
use crate::outgoing;

// The records both versions share, converted alike.
policy_conversions!();

pub fn decision(d: Decision) -> decision::Decision {
    decision::Decision { actions: d.actions.into_iter().map(action).collect(), next_review: d.next_review }
}

fn action(a: Action) -> decision::Action {
    match a {
        Action::Remind(r) => decision::Action::Remind(decision::Reminder {
            step: r.step,
            channel: r.channel,
            template: r.template,
            tone: host_tone(r.tone),
            deadline: r.deadline.as_ref().and_then(naive_date),
        }),
        Action::RetryPayment(r) => decision::Action::RetryPayment { step: r.step, at: r.at },
        Action::Escalate(e) => decision::Action::Escalate(decision::Escalation {
            step: e.step,
            kind: escalation_kind(e.kind),
            reason: e.reason,
        }),
        Action::ApplyFee(f) => decision::Action::ApplyFee(decision::FeeAsked {
            step: f.step,
            minor: f.amount.minor,
            currency: f.amount.currency,
            reason: f.reason,
        }),
        Action::OfferPlan(p) => decision::Action::OfferPlan(decision::PlanAsked {
            step: p.step,
            instalments: p.instalments,
            first_due: naive_date(&p.first_due),
            every_days: p.every_days,
        }),
        Action::Pause(until) => decision::Action::Pause(until),
        Action::Close(reason) => decision::Action::Close(close_reason(reason)),
    }
}

// Channels and payment adapters see the same records in every version.
adapter_conversions!();
