//! The domain: customers, invoices and what can happen to them.
//! Plain data; the sandbox turns it into the contract's `invoice-view`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// A certified mail (PEC) address of its own: where a formal notice by PEC goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pec: Option<String>,
    pub phone: Option<String>,
    pub postal_address: Option<String>,
    /// BCP 47, e.g. `it-IT`.
    pub locale: String,
    pub timezone: chrono_tz::Tz,
    pub segment: String,
    pub business: bool,
    pub tags: Vec<String>,
    pub customer_since: NaiveDate,
    pub invoices_paid: u32,
    pub paid_on_time: u32,
    /// Channels the customer asked not to be contacted on.
    pub opted_out: Vec<String>,
    /// An operator stopped all dunning for this customer.
    pub dunning_stop: bool,
    /// What bounces said of the email address (the host's, kept across re-imports
    /// while the address stays the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_bounces: Option<EmailBounces>,
}

/// Bounces of one email address of a customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailBounces {
    /// Lower case.
    pub address: String,
    /// Transient bounces in a row.
    pub soft_bounces: u32,
    /// It bounced for good: no email goes to it.
    pub dead: bool,
}

impl Customer {
    /// The email address, unless it bounced for good.
    pub fn deliverable_email(&self) -> Option<&str> {
        let email = self.email.as_deref()?;
        let dead = self.email_bounces.as_ref().is_some_and(|m| m.dead && m.address.eq_ignore_ascii_case(email));
        (!dead).then_some(email)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Void,
    WrittenOff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvoiceKind {
    OneOff,
    SubscriptionRenewal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentFailure {
    pub decline_code: String,
    pub attempts: u32,
    pub first_failed: DateTime<Utc>,
    pub last_attempt: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    pub opened: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromiseToPay {
    pub until: NaiveDate,
    /// Minor units of the invoice currency.
    pub amount: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentMethod {
    pub setup_complete: bool,
    pub expires: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    pub status: InvoiceStatus,
    pub kind: InvoiceKind,
    /// ISO 4217 code, checked at intake.
    pub currency: String,
    /// Minor units.
    pub amount_due: i64,
    pub amount_paid: i64,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    pub payment_link: Option<String>,
    pub payment_failure: Option<PaymentFailure>,
    pub dispute: Option<Dispute>,
    pub promise_to_pay: Option<PromiseToPay>,
    pub payment_method: Option<PaymentMethod>,
    /// Ids the billing system knows the invoice by besides its own (a Stripe charge), to match later events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    /// A payment plan the customer accepted (the host's, kept across re-imports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::Plan>,
    /// Fees a policy added after the invoice was issued (the host's, kept across re-imports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<Fee>,
    /// The customer's last reply, and until when it holds reminders (the host's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<Answered>,
    /// A bank transfer that may pay it waits for a person to match it:
    /// reminders wait until this day (the host's, from a bank statement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_to_confirm: Option<NaiveDate>,
}

/// The customer's latest reply: what touches them waits until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answered {
    pub at: DateTime<Utc>,
    pub until: NaiveDate,
    /// The step whose message it answered, when it named one.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub intent: ReplyIntent,
}

/// What a customer's reply was read to say (by the reader plugin); a reply
/// no reader read is `Other`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyIntent {
    SaysPaid,
    Promise,
    Dispute,
    Question,
    #[default]
    Other,
}

impl ReplyIntent {
    pub fn name(self) -> &'static str {
        match self {
            ReplyIntent::SaysPaid => "says-paid",
            ReplyIntent::Promise => "promise",
            ReplyIntent::Dispute => "dispute",
            ReplyIntent::Question => "question",
            ReplyIntent::Other => "other",
        }
    }
}

/// An amount added to an invoice after it was issued, and why: an adjustment, never an edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fee {
    /// The step that added it.
    pub step: String,
    /// Minor units of the invoice currency.
    pub amount: i64,
    pub reason: String,
}

impl Invoice {
    /// What the customer owes in all: the amount due with the fees added since.
    pub fn total(&self) -> i64 {
        self.amount_due + self.fees.iter().map(|f| f.amount).sum::<i64>()
    }

    pub fn outstanding(&self) -> i64 {
        self.total() - self.amount_paid
    }

    /// An amount of this invoice's currency for logs and records: "1250.00 EUR".
    pub fn money(&self, minor: i64) -> String {
        crate::money::format_money(minor, &self.currency)
    }
}
