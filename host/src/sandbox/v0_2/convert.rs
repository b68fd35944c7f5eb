//! Between this contract version's types and the host's own, both ways.
//! Nothing outside the sandbox sees the types generated for 0.2.

use super::{
    Action, Charge, ChargeError, ChargeOutcome, CloseReason, Contact, Decision, DeliveryError, Email, EscalationKind,
    InvoiceView, Message, Money, Outcome, Receipt, Recipient, Sender, Setting, Task, Tone, customer_view, invoice_view,
    naive_date,
};
use crate::decision::{self, Review};
use crate::outgoing;

// The records every version shares, converted alike.
policy_conversions!();
lean_decisions!();
adapter_conversions!();
