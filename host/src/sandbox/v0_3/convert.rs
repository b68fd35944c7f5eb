//! Between this contract version's types and the host's own, both ways.
//! Nothing outside the sandbox sees the types generated for 0.3.

use super::{
    Action, Charge, ChargeError, ChargeOutcome, CloseReason, Contact, Decision, DeliveryError, Email, EscalationKind,
    Intent, InvoiceView, Message, Money, Outcome, Receipt, Recipient, Sender, Setting, Task, Tone, WrittenReply,
    customer_view, date, invoice_view, naive_date,
};
use crate::decision::{self, Review};
use crate::outgoing;
use crate::reading::{self, Reading};

// The records every version shares, converted alike.
policy_conversions!();
lean_decisions!();
adapter_conversions!();

pub fn written_reply(r: &reading::WrittenReply) -> WrittenReply {
    WrittenReply {
        written: r.written,
        written_on: date(r.written_on),
        locale: r.locale.clone(),
        subject: r.subject.clone(),
        text: r.text.clone(),
    }
}

/// A reader's answer; a date that does not exist is refused with the reading.
pub fn reading(i: Intent) -> Result<Reading, String> {
    let day = |d: &super::Date| naive_date(d).ok_or_else(|| format!("no such date {}-{}-{}", d.year, d.month, d.day));
    Ok(match i {
        Intent::SaysPaid(p) => Reading::SaysPaid { on: p.on.as_ref().map(day).transpose()?, reference: p.reference },
        Intent::Promise(until) => Reading::Promise { until: day(&until)? },
        Intent::Dispute(reason) => Reading::Dispute { reason },
        Intent::Question => Reading::Question,
        Intent::Other => Reading::Other,
    })
}
