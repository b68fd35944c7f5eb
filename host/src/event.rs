//! The one vocabulary of what happens to an invoice: the `Event` a door
//! brings in (a file, the API, Stripe, a decision's fee), and the `EventKind`
//! of every line in an invoice's record. A kind's wire name, its fields, the
//! outcome it stands for and its label key are all here, so a new event is one
//! variant plus what the compiler then asks for (see CONTRIBUTING.md).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

mod door;
pub use door::Door;

use crate::invoice::{Customer, Dispute, Fee, Invoice, InvoiceStatus, PaymentFailure, PromiseToPay};

/// Something that happened to an invoice or its customer, from outside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "snake_case", deny_unknown_fields)]
pub enum Event {
    Paid,
    /// Part of what is owed was paid (an instalment, a charge that did not cover the fees).
    PaymentReceived {
        /// Minor units of the invoice currency.
        amount: i64,
    },
    /// A payment came back (a bank reversal, a refund): less is paid, and a
    /// paid invoice with something outstanding again is open again.
    PaymentReversed {
        /// Minor units of the invoice currency.
        amount: i64,
    },
    PaymentFailed {
        decline_code: String,
    },
    DisputeOpened {
        #[serde(default)]
        reason: String,
    },
    DisputeClosed,
    PromiseToPay {
        until: NaiveDate,
    },
    /// An operator stops (or resumes) all dunning for the customer.
    Stop,
    Unstop,
    OptOut {
        channel: String,
    },
    Void,
    WrittenOff,
    /// A voided or written-off invoice is owed again.
    Reopened,
    /// The customer accepted a payment plan the host offered (`sollecito plan accept`).
    PlanAccepted {
        plan: crate::plan::Plan,
    },
    /// A policy added a fee (late-payment compensation, interest): an adjustment.
    FeeAdded {
        fee: Fee,
    },
    /// The customer wrote back: what touches them waits until `until`, for a
    /// person to read the reply (the inbound door).
    Answered {
        until: NaiveDate,
        /// The step whose message it answered.
        #[serde(default)]
        step: Option<String>,
        /// What the reader plugin read it to say.
        #[serde(default)]
        intent: crate::invoice::ReplyIntent,
    },
    /// A message to `address` came back: for good (5.x.x) or for now (4.x.x).
    Bounced {
        address: String,
        permanent: bool,
        status: String,
    },
    /// An automatic answer (an out-of-office): recorded, nothing held.
    AutoReplied,
    /// A bank credit may pay it but is not sure to: reminders wait until
    /// `until` for a person to match it (the bank door).
    TransferToConfirm {
        until: NaiveDate,
    },
    /// A credit note (an e-invoice of its own) reduces what the invoice asks:
    /// fully credited and unpaid, nothing is owed any more (the e-invoice door).
    CreditNoted {
        number: String,
        /// Minor units of the invoice currency.
        amount: i64,
    },
}

/// The kind of a line in an invoice's record: every `Event`, and what the
/// host itself records (an import, a message it cannot be sure of, a task done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    Paid,
    PaymentReceived,
    PaymentReversed,
    PaymentFailed,
    DisputeOpened,
    DisputeClosed,
    PromiseToPay,
    Stop,
    Unstop,
    OptOut,
    Void,
    WrittenOff,
    Reopened,
    PlanAccepted,
    FeeAdded,
    Answered,
    /// A message came back for good: the address takes no more email.
    Bounced,
    /// A message came back for now; the third in a row is for good.
    SoftBounced,
    AutoReplied,
    /// A bank credit that may pay it waits for a person.
    TransferToConfirm,
    /// A credit note reduced what it asks.
    CreditNoted,
    /// An invoice seen for the first time.
    Imported,
    /// An import changed what no other kind says (an amount, a due date, a link).
    Updated,
    /// A message's delivery could not be known (the process stopped mid-send).
    Uncertain,
    /// A person finished the task a step opened.
    TaskDone,
}

/// What an event is, when it is a customer's answer to dunning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Paid,
    PaidInPart,
    Promised,
    Disputed,
    OptedOut,
    /// The customer wrote back.
    Replied,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 6] = [
        OutcomeKind::Paid,
        OutcomeKind::PaidInPart,
        OutcomeKind::Promised,
        OutcomeKind::Disputed,
        OutcomeKind::OptedOut,
        OutcomeKind::Replied,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Paid => "paid",
            OutcomeKind::PaidInPart => "paid-in-part",
            OutcomeKind::Promised => "promised",
            OutcomeKind::Disputed => "disputed",
            OutcomeKind::OptedOut => "opted-out",
            OutcomeKind::Replied => "replied",
        }
    }

    pub fn parse(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl EventKind {
    pub const ALL: [EventKind; 25] = [
        EventKind::Paid,
        EventKind::PaymentReceived,
        EventKind::PaymentReversed,
        EventKind::PaymentFailed,
        EventKind::DisputeOpened,
        EventKind::DisputeClosed,
        EventKind::PromiseToPay,
        EventKind::Stop,
        EventKind::Unstop,
        EventKind::OptOut,
        EventKind::Void,
        EventKind::WrittenOff,
        EventKind::Reopened,
        EventKind::PlanAccepted,
        EventKind::FeeAdded,
        EventKind::Answered,
        EventKind::Bounced,
        EventKind::SoftBounced,
        EventKind::AutoReplied,
        EventKind::TransferToConfirm,
        EventKind::CreditNoted,
        EventKind::Imported,
        EventKind::Updated,
        EventKind::Uncertain,
        EventKind::TaskDone,
    ];

    /// Its name on the wire, in files and in the store.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Paid => "paid",
            EventKind::PaymentReceived => "payment-received",
            EventKind::PaymentReversed => "payment-reversed",
            EventKind::PaymentFailed => "payment-failed",
            EventKind::DisputeOpened => "dispute-opened",
            EventKind::DisputeClosed => "dispute-closed",
            EventKind::PromiseToPay => "promise-to-pay",
            EventKind::Stop => "stop",
            EventKind::Unstop => "unstop",
            EventKind::OptOut => "opt-out",
            EventKind::Void => "void",
            EventKind::WrittenOff => "written-off",
            EventKind::Reopened => "reopened",
            EventKind::PlanAccepted => "plan-accepted",
            EventKind::FeeAdded => "fee-added",
            EventKind::Answered => "reply-received",
            EventKind::Bounced => "bounced",
            EventKind::SoftBounced => "soft-bounced",
            EventKind::AutoReplied => "auto-reply",
            EventKind::TransferToConfirm => "transfer-to-confirm",
            EventKind::CreditNoted => "credit-note",
            EventKind::Imported => "imported",
            EventKind::Updated => "updated",
            EventKind::Uncertain => "uncertain",
            EventKind::TaskDone => "task-done",
        }
    }

    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The fields an event of this kind has besides `type`; `None` for a kind
    /// no file or request brings in (the host records it).
    pub fn fields(self) -> Option<&'static [&'static str]> {
        Some(match self {
            EventKind::PaymentReceived | EventKind::PaymentReversed => &["amount"],
            EventKind::PaymentFailed => &["decline_code"],
            EventKind::DisputeOpened => &["reason"],
            EventKind::PromiseToPay => &["until"],
            EventKind::OptOut => &["channel"],
            EventKind::PlanAccepted => &["plan"],
            EventKind::FeeAdded => &["fee"],
            EventKind::Paid
            | EventKind::DisputeClosed
            | EventKind::Stop
            | EventKind::Unstop
            | EventKind::Void
            | EventKind::WrittenOff
            | EventKind::Reopened => &[],
            // Only the inbound door brings these, read from a message.
            EventKind::Answered | EventKind::Bounced | EventKind::SoftBounced | EventKind::AutoReplied => return None,
            // Only a bank statement brings the one, an e-invoice the other.
            EventKind::TransferToConfirm | EventKind::CreditNoted => return None,
            EventKind::Imported | EventKind::Updated | EventKind::Uncertain | EventKind::TaskDone => return None,
        })
    }

    /// Whether a client may post it (`POST /v1/invoices/{id}/events`): plans and
    /// fees are the host's to record, checked, through their own requests.
    pub fn posted_by_clients(self) -> bool {
        self.fields().is_some() && !matches!(self, EventKind::PlanAccepted | EventKind::FeeAdded)
    }

    /// The outcome it stands for, given the invoice's status after it: a part
    /// payment that settles the invoice is a payment in full.
    pub fn outcome(self, after: InvoiceStatus) -> Option<OutcomeKind> {
        Some(match self {
            EventKind::Paid => OutcomeKind::Paid,
            EventKind::PaymentReceived if after == InvoiceStatus::Paid => OutcomeKind::Paid,
            EventKind::PaymentReceived => OutcomeKind::PaidInPart,
            EventKind::PromiseToPay => OutcomeKind::Promised,
            EventKind::DisputeOpened => OutcomeKind::Disputed,
            EventKind::OptOut => OutcomeKind::OptedOut,
            EventKind::Answered => OutcomeKind::Replied,
            _ => return None,
        })
    }

    /// The key of its label in the dashboard's words (`ui/i18n/*.toml`).
    pub fn label_key(self) -> String {
        format!("event-{}", self.name())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Paid => EventKind::Paid,
            Event::PaymentReceived { .. } => EventKind::PaymentReceived,
            Event::PaymentReversed { .. } => EventKind::PaymentReversed,
            Event::PaymentFailed { .. } => EventKind::PaymentFailed,
            Event::DisputeOpened { .. } => EventKind::DisputeOpened,
            Event::DisputeClosed => EventKind::DisputeClosed,
            Event::PromiseToPay { .. } => EventKind::PromiseToPay,
            Event::Stop => EventKind::Stop,
            Event::Unstop => EventKind::Unstop,
            Event::OptOut { .. } => EventKind::OptOut,
            Event::Void => EventKind::Void,
            Event::WrittenOff => EventKind::WrittenOff,
            Event::Reopened => EventKind::Reopened,
            Event::PlanAccepted { .. } => EventKind::PlanAccepted,
            Event::FeeAdded { .. } => EventKind::FeeAdded,
            Event::Answered { .. } => EventKind::Answered,
            Event::Bounced { permanent: true, .. } => EventKind::Bounced,
            Event::Bounced { permanent: false, .. } => EventKind::SoftBounced,
            Event::AutoReplied => EventKind::AutoReplied,
            Event::TransferToConfirm { .. } => EventKind::TransferToConfirm,
            Event::CreditNoted { .. } => EventKind::CreditNoted,
        }
    }

    /// Applies the event; returns a line saying what changed, for timelines and logs.
    pub fn apply(&self, invoice: &mut Invoice, customer: &mut Customer, at: DateTime<Utc>) -> String {
        match self {
            Event::Stop | Event::Unstop => {
                customer.dunning_stop = matches!(self, Event::Stop);
                if customer.dunning_stop {
                    "dunning stopped for the customer"
                } else {
                    "dunning resumed for the customer"
                }
                .into()
            }
            Event::OptOut { channel } => {
                if !customer.opted_out.contains(channel) {
                    customer.opted_out.push(channel.clone());
                }
                format!("opted out of {channel}")
            }
            Event::Bounced { address, permanent, status } => bounced(customer, address, *permanent, status),
            // An answer from the customer shows the address works: bounces "in a row" start again.
            Event::Answered { .. } | Event::AutoReplied => {
                if let Some(m) = customer.email_bounces.as_mut().filter(|m| !m.dead) {
                    m.soft_bounces = 0;
                }
                self.apply_to_invoice(invoice, at)
            }
            _ => self.apply_to_invoice(invoice, at),
        }
    }

    /// The invoice's part of `apply` (an event about the customer changes no invoice).
    pub(crate) fn apply_to_invoice(&self, invoice: &mut Invoice, at: DateTime<Utc>) -> String {
        match self {
            Event::Paid => {
                invoice.status = InvoiceStatus::Paid;
                invoice.amount_paid = invoice.total();
                "paid: dunning ends".into()
            }
            Event::PaymentReceived { amount } => received(invoice, *amount),
            Event::PaymentReversed { amount } => {
                let undone = (*amount).clamp(0, invoice.amount_paid.max(0));
                invoice.amount_paid -= undone;
                if invoice.status == InvoiceStatus::Paid && invoice.outstanding() > 0 {
                    invoice.status = InvoiceStatus::Open;
                }
                format!("{} reversed: {} outstanding", invoice.money(undone), invoice.money(invoice.outstanding()))
            }
            Event::PaymentFailed { decline_code } => {
                let failure = invoice.payment_failure.get_or_insert(PaymentFailure {
                    decline_code: decline_code.clone(),
                    attempts: 0,
                    first_failed: at,
                    last_attempt: at,
                });
                failure.decline_code = decline_code.clone();
                failure.attempts += 1;
                failure.last_attempt = at;
                format!("payment failed ({decline_code}), attempt {}", failure.attempts)
            }
            Event::DisputeOpened { reason } => {
                invoice.dispute = Some(Dispute { opened: at, reason: reason.clone() });
                "dispute opened: reminders held".into()
            }
            Event::DisputeClosed => {
                invoice.dispute = None;
                "dispute closed".into()
            }
            Event::PromiseToPay { until } => {
                invoice.promise_to_pay = Some(PromiseToPay { until: *until, amount: None });
                format!("promise to pay by {until}")
            }
            Event::Stop | Event::Unstop | Event::OptOut { .. } | Event::Bounced { .. } => String::new(),
            Event::Answered { until, step, intent } => {
                invoice.answered =
                    Some(crate::invoice::Answered { at, until: *until, step: step.clone(), intent: *intent });
                match intent {
                    crate::invoice::ReplyIntent::Promise => "the customer replied with a promise to pay".into(),
                    crate::invoice::ReplyIntent::Other => {
                        format!("the customer replied: reminders wait until {until} for the reply to be read")
                    }
                    read => format!(
                        "the customer replied ({}): reminders wait until {until} for the reply to be read",
                        read.name()
                    ),
                }
            }
            Event::AutoReplied => "an automatic reply (out of office): nothing held".into(),
            Event::CreditNoted { number, amount } => credited(invoice, number, *amount),
            Event::TransferToConfirm { until } => {
                invoice.transfer_to_confirm = Some(*until);
                format!("a bank transfer may pay it: reminders wait until {until} for a person to match it")
            }
            Event::Void | Event::WrittenOff | Event::Reopened => {
                let (status, line) = match self {
                    Event::Void => (InvoiceStatus::Void, "voided"),
                    Event::WrittenOff => (InvoiceStatus::WrittenOff, "written off"),
                    _ => (InvoiceStatus::Open, "reopened: owed again"),
                };
                invoice.status = status;
                line.into()
            }
            Event::FeeAdded { fee } => {
                invoice.fees.push(fee.clone());
                format!(
                    "{} added ({}): {} now outstanding",
                    invoice.money(fee.amount),
                    fee.reason,
                    invoice.money(invoice.outstanding())
                )
            }
            Event::PlanAccepted { plan } => {
                invoice.plan = Some(plan.clone());
                let first = plan.instalments.first().map_or(String::new(), |i| format!(", the first due {}", i.due));
                let amounts: Vec<String> = plan.instalments.iter().map(|i| invoice.money(i.amount)).collect();
                format!("payment plan accepted: {} instalments ({}){first}", plan.instalments.len(), amounts.join(", "))
            }
        }
    }
}

/// Transient bounces in a row after which an address is taken as dead.
pub(crate) const SOFT_BOUNCES_FOR_GOOD: u32 = 3;

/// A bounce of the customer's address: for good, or counted until it is.
fn bounced(customer: &mut Customer, address: &str, permanent: bool, status: &str) -> String {
    let address = address.to_lowercase();
    let state = customer
        .email_bounces
        .get_or_insert_with(|| crate::invoice::EmailBounces { address: address.clone(), ..Default::default() });
    if state.address != address {
        *state = crate::invoice::EmailBounces { address: address.clone(), ..Default::default() };
    }
    state.soft_bounces = if permanent { state.soft_bounces } else { state.soft_bounces + 1 };
    let code = if status.is_empty() { String::new() } else { format!(" ({status})") };
    if permanent || state.soft_bounces >= SOFT_BOUNCES_FOR_GOOD {
        state.dead = true;
        return format!("a message to {address} bounced{code}: no more email to that address until it changes");
    }
    format!("a message to {address} bounced for now{code}: {} of {SOFT_BOUNCES_FOR_GOOD} in a row", state.soft_bounces)
}

/// A payment received: bounded by what is owed; an excess is an overpayment,
/// said in the line (to refund or credit), never a negative balance.
fn received(invoice: &mut Invoice, amount: i64) -> String {
    let applied = amount.clamp(0, invoice.outstanding().max(0));
    let excess = amount.saturating_sub(applied).max(0);
    invoice.amount_paid += applied;
    if invoice.outstanding() > 0 {
        return format!(
            "{} received, {} still outstanding",
            invoice.money(amount),
            invoice.money(invoice.outstanding())
        );
    }
    invoice.status = InvoiceStatus::Paid;
    if excess > 0 {
        return format!(
            "{} received: paid in full, dunning ends; {} overpaid (more than was outstanding: to refund or credit)",
            invoice.money(amount),
            invoice.money(excess)
        );
    }
    format!("{} received: paid in full, dunning ends", invoice.money(amount))
}

/// What changed between two versions of an invoice (an import, a billing
/// system's webhook), as the events that would have made the change. Applied
/// to `before`, they give what the record says; the stored invoice is `after`.
pub(crate) fn changes_between(before: &Invoice, after: &Invoice) -> Vec<Event> {
    let mut out = vec![];
    let paid = after.amount_paid - before.amount_paid;
    if after.status == InvoiceStatus::Paid && before.status != InvoiceStatus::Paid {
        out.push(Event::Paid);
    } else if paid > 0 {
        out.push(Event::PaymentReceived { amount: paid });
    } else if paid < 0 {
        out.push(Event::PaymentReversed { amount: -paid });
    }
    if before.status != after.status {
        match after.status {
            InvoiceStatus::Void => out.push(Event::Void),
            InvoiceStatus::WrittenOff => out.push(Event::WrittenOff),
            // A reversal already reopens a paid invoice.
            InvoiceStatus::Open if !(before.status == InvoiceStatus::Paid && paid < 0) => out.push(Event::Reopened),
            InvoiceStatus::Open | InvoiceStatus::Paid => {}
        }
    }
    if before.payment_failure != after.payment_failure
        && let Some(f) = &after.payment_failure
    {
        out.push(Event::PaymentFailed { decline_code: f.decline_code.clone() });
    }
    match (&before.dispute, &after.dispute) {
        (None, Some(d)) => out.push(Event::DisputeOpened { reason: d.reason.clone() }),
        (Some(_), None) => out.push(Event::DisputeClosed),
        _ => {}
    }
    if before.promise_to_pay != after.promise_to_pay
        && let Some(p) = &after.promise_to_pay
    {
        out.push(Event::PromiseToPay { until: p.until });
    }
    out
}

#[cfg(test)]
mod tests;

/// A credit note on an invoice: less asked, and credited in full and unpaid, nothing owed.
fn credited(invoice: &mut Invoice, number: &str, amount: i64) -> String {
    let credited = amount.clamp(0, invoice.amount_due.max(0));
    invoice.amount_due -= credited;
    invoice.refs.push(credit_note_ref(number));
    // Instalments (an e-invoice's payment terms) shrink from the last, so they still sum to what is asked.
    if let Some(plan) = invoice.plan.as_mut() {
        let mut left = credited;
        for instalment in plan.instalments.iter_mut().rev() {
            let cut = left.min(instalment.amount);
            instalment.amount -= cut;
            left -= cut;
        }
        plan.instalments.retain(|i| i.amount > 0);
    }
    if invoice.status == InvoiceStatus::Open && invoice.outstanding() <= 0 {
        // Credited in full: paid if what was paid covers the rest, else cancelled.
        invoice.status = if invoice.amount_paid > 0 { InvoiceStatus::Paid } else { InvoiceStatus::Void };
    }
    format!(
        "credit note {number}: {} less, {} outstanding",
        invoice.money(credited),
        invoice.money(invoice.outstanding())
    )
}

/// The mark a credit note leaves among an invoice's refs: it is applied once.
pub(crate) fn credit_note_ref(number: &str) -> String {
    format!("credit-note:{number}")
}
