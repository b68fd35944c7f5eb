//! What the host hands to channel and payment adapters, and what they
//! answer, in the host's own terms. The sandbox converts these to and from
//! the contract version an adapter speaks.

use crate::decision::Tone;

/// A rendered message for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The outbox key (invoice and step): stable across retries.
    pub key: String,
    pub channel: String,
    pub invoice_number: String,
    pub tone: Tone,
    pub sender: Sender,
    pub recipient: Recipient,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Where to pay, for channels too short for the whole text.
    pub payment_link: Option<String>,
}

/// The business a message comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub postal_address: Option<String>,
    pub locale: String,
}

/// Why an adapter did not deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryError {
    /// Worth retrying later: a relay down, a timeout, a 5xx.
    Transient(String),
    /// Retrying will not help: a hard bounce, an invalid number, a 4xx.
    Permanent(String),
}

/// An email as an adapter asks the host's relay to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub message_id: String,
    pub from_address: String,
    pub to_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The envelope sender, set by the host (never by the adapter): the return path a bounce goes to.
    pub envelope_from: Option<String>,
}

/// A task for a person (a call to make, an invoice to review).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The outbox key: one task per invoice and step.
    pub key: String,
    pub title: String,
    pub customer: String,
    pub phone: Option<String>,
    /// What to say or look at, in the customer's language.
    pub script: String,
}

/// A payment retry as a payment adapter is asked it.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// The same on every try of one attempt, so a processor can refuse a duplicate.
    pub key: String,
    pub invoice_id: String,
    pub invoice_number: String,
    /// Ids the billing system knows the invoice by.
    pub refs: Vec<String>,
    pub customer_id: String,
    /// What is still owed, fees included, in minor units.
    pub minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChargeOutcome {
    /// Paid: the processor's reference, and what it charged when it says.
    Succeeded { reference: String, charged: Option<(i64, String)> },
    /// Refused by the bank or processor, with the decline code.
    Declined(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChargeError {
    /// Nothing is known to have happened: the same attempt is tried again later.
    Transient(String),
    /// The request itself is wrong: trying again will not help.
    Permanent(String),
}
