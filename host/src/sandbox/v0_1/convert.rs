//! Between this contract version's types and the host's own, both ways.
//! Nothing outside the sandbox sees the types generated for 0.1.

use super::{
    Action, Charge, ChargeError, ChargeOutcome, CloseReason, Contact, Decision, DeliveryError, Email, EscalationKind,
    InvoiceView, Message, Money, Outcome, Receipt, Recipient, Sender, Setting, Task, Tone, customer_view, invoice_view,
    naive_date,
};
use crate::decision::{self, Review};
use crate::outgoing;

pub fn settings(settings: &[decision::Setting]) -> Vec<Setting> {
    settings.iter().map(|s| Setting { key: s.key.clone(), value: s.value.clone() }).collect()
}

fn tone(t: decision::Tone) -> Tone {
    match t {
        decision::Tone::Courteous => Tone::Courteous,
        decision::Tone::Soft => Tone::Soft,
        decision::Tone::Firm => Tone::Firm,
        decision::Tone::Final => Tone::Final,
        decision::Tone::Formal => Tone::Formal,
    }
}

fn host_tone(t: Tone) -> decision::Tone {
    match t {
        Tone::Courteous => decision::Tone::Courteous,
        Tone::Soft => decision::Tone::Soft,
        Tone::Firm => decision::Tone::Firm,
        Tone::Final => decision::Tone::Final,
        Tone::Formal => decision::Tone::Formal,
    }
}

fn contact(c: &decision::Contact) -> Contact {
    Contact {
        step: c.step.clone(),
        channel: c.channel.clone(),
        tone: c.tone.map(tone),
        at: c.at,
        outcome: match c.outcome {
            decision::ContactOutcome::Pending => Outcome::Pending,
            decision::ContactOutcome::Sent => Outcome::Sent,
            decision::ContactOutcome::Delivered => Outcome::Delivered,
            decision::ContactOutcome::Failed => Outcome::Failed,
            decision::ContactOutcome::Bounced => Outcome::Bounced,
            decision::ContactOutcome::Cancelled => Outcome::Cancelled,
        },
    }
}

/// The invoice as a policy of this version sees it.
pub fn view(r: &Review) -> InvoiceView {
    invoice_view(r.invoice, customer_view(r.customer), r.history.iter().map(contact).collect())
}

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
            kind: match e.kind {
                EscalationKind::SuspendService => decision::EscalationKind::SuspendService,
                EscalationKind::FinalNotice => decision::EscalationKind::FinalNotice,
                EscalationKind::FormalNotice => decision::EscalationKind::FormalNotice,
                EscalationKind::Collections => decision::EscalationKind::Collections,
                EscalationKind::ManualReview => decision::EscalationKind::ManualReview,
            },
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
        Action::Close(reason) => decision::Action::Close(match reason {
            CloseReason::Paid => decision::CloseReason::Paid,
            CloseReason::WrittenOff => decision::CloseReason::WrittenOff,
            CloseReason::Collections => decision::CloseReason::Collections,
        }),
    }
}

pub fn message(m: &outgoing::Message) -> Message {
    Message {
        key: m.key.clone(),
        channel: m.channel.clone(),
        invoice_number: m.invoice_number.clone(),
        tone: tone(m.tone),
        sender: Sender { name: m.sender.name.clone(), email: m.sender.email.clone(), phone: m.sender.phone.clone() },
        recipient: Recipient {
            name: m.recipient.name.clone(),
            email: m.recipient.email.clone(),
            phone: m.recipient.phone.clone(),
            postal_address: m.recipient.postal_address.clone(),
            locale: m.recipient.locale.clone(),
        },
        subject: m.subject.clone(),
        text: m.text.clone(),
        html: m.html.clone(),
        payment_link: m.payment_link.clone(),
    }
}

/// A delivery's answer: the receipt's reference, or why it did not go.
pub fn delivered(r: Result<Receipt, DeliveryError>) -> Result<String, outgoing::DeliveryError> {
    match r {
        Ok(receipt) => Ok(receipt.reference),
        Err(DeliveryError::Transient(why)) => Err(outgoing::DeliveryError::Transient(why)),
        Err(DeliveryError::Permanent(why)) => Err(outgoing::DeliveryError::Permanent(why)),
    }
}

/// What the host's relay answers, as this version says it.
pub fn delivery_error(e: outgoing::DeliveryError) -> DeliveryError {
    match e {
        outgoing::DeliveryError::Transient(why) => DeliveryError::Transient(why),
        outgoing::DeliveryError::Permanent(why) => DeliveryError::Permanent(why),
    }
}

pub fn email(e: Email) -> outgoing::Email {
    outgoing::Email {
        message_id: e.message_id,
        from_address: e.from_address,
        to_address: e.to_address,
        reply_to: e.reply_to,
        subject: e.subject,
        text: e.text,
        html: e.html,
        headers: e.headers,
    }
}

pub fn task(t: Task) -> outgoing::Task {
    outgoing::Task { key: t.key, title: t.title, customer: t.customer, phone: t.phone, script: t.script }
}

pub fn charge(c: &outgoing::Charge) -> Charge {
    Charge {
        key: c.key.clone(),
        invoice_id: c.invoice_id.clone(),
        invoice_number: c.invoice_number.clone(),
        refs: c.refs.clone(),
        customer_id: c.customer_id.clone(),
        amount: Money { minor: c.minor, currency: c.currency.clone() },
    }
}

pub fn charged(r: Result<ChargeOutcome, ChargeError>) -> Result<outgoing::ChargeOutcome, outgoing::ChargeError> {
    match r {
        Ok(ChargeOutcome::Succeeded(p)) => Ok(outgoing::ChargeOutcome::Succeeded {
            reference: p.reference,
            charged: p.amount.map(|m| (m.minor, m.currency)),
        }),
        Ok(ChargeOutcome::Declined(code)) => Ok(outgoing::ChargeOutcome::Declined(code)),
        Err(ChargeError::Transient(why)) => Err(outgoing::ChargeError::Transient(why)),
        Err(ChargeError::Permanent(why)) => Err(outgoing::ChargeError::Permanent(why)),
    }
}
