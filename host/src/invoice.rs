//! The domain: customers, invoices and what can happen to them.
//! Plain data; the sandbox turns it into the contract's `invoice-view`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
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
    /// The customer accepted a payment plan the host offered (`sollecito plan accept`).
    PlanAccepted {
        plan: crate::plan::Plan,
    },
    /// A policy added a fee (late-payment compensation, interest): an adjustment.
    FeeAdded {
        fee: Fee,
    },
}

impl Event {
    /// Applies the event; returns a line saying what changed, for timelines and logs.
    pub fn apply(&self, invoice: &mut Invoice, customer: &mut Customer, at: DateTime<Utc>) -> String {
        match self {
            Event::Paid => {
                invoice.status = InvoiceStatus::Paid;
                invoice.amount_paid = invoice.total();
                "paid: dunning ends".into()
            }
            Event::PaymentReceived { amount } => {
                // What is paid is bounded by what is owed; an excess is an
                // overpayment, said in the event (to refund or credit), never a
                // negative balance.
                let applied = (*amount).clamp(0, invoice.outstanding().max(0));
                let excess = amount.saturating_sub(applied).max(0);
                invoice.amount_paid += applied;
                if invoice.outstanding() <= 0 {
                    invoice.status = InvoiceStatus::Paid;
                    if excess > 0 {
                        return format!(
                            "{} received: paid in full, dunning ends; {} overpaid (more than was outstanding: to refund or credit)",
                            invoice.money(*amount),
                            invoice.money(excess)
                        );
                    }
                    return format!("{} received: paid in full, dunning ends", invoice.money(*amount));
                }
                format!(
                    "{} received, {} still outstanding",
                    invoice.money(*amount),
                    invoice.money(invoice.outstanding())
                )
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
            Event::Stop => {
                customer.dunning_stop = true;
                "dunning stopped for the customer".into()
            }
            Event::Unstop => {
                customer.dunning_stop = false;
                "dunning resumed for the customer".into()
            }
            Event::OptOut { channel } => {
                if !customer.opted_out.contains(channel) {
                    customer.opted_out.push(channel.clone());
                }
                format!("opted out of {channel}")
            }
            Event::Void => {
                invoice.status = InvoiceStatus::Void;
                "voided".into()
            }
            Event::WrittenOff => {
                invoice.status = InvoiceStatus::WrittenOff;
                "written off".into()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_is_bounded_by_what_is_owed_and_an_overpayment_is_said() {
        let mut customer: Customer = serde_json::from_value(serde_json::json!({
            "id": "c", "name": "C", "email": "c@example.com", "phone": null, "postal_address": null,
            "locale": "it-IT", "timezone": "Europe/Rome", "segment": "default", "business": false, "tags": [],
            "customer_since": "2020-01-01", "invoices_paid": 0, "paid_on_time": 0, "opted_out": [], "dunning_stop": false
        }))
        .unwrap();
        let mut invoice: Invoice = serde_json::from_value(serde_json::json!({
            "id": "i", "number": "1", "customer_id": "c", "status": "open", "kind": "one-off", "currency": "EUR",
            "amount_due": 10_000, "amount_paid": 0, "issued": "2026-01-01", "due": "2026-01-31", "payment_link": null,
            "payment_failure": null, "dispute": null, "promise_to_pay": null, "payment_method": null
        }))
        .unwrap();
        let at = Utc::now();
        let part = Event::PaymentReceived { amount: 4_000 }.apply(&mut invoice, &mut customer, at);
        assert_eq!(part, "40.00 EUR received, 60.00 EUR still outstanding");
        let huge = Event::PaymentReceived { amount: 1_000_000_000_000 }.apply(&mut invoice, &mut customer, at);
        assert_eq!(
            huge,
            "10000000000.00 EUR received: paid in full, dunning ends; 9999999940.00 EUR overpaid (more than was \
             outstanding: to refund or credit)"
        );
        assert_eq!((invoice.status, invoice.amount_paid, invoice.outstanding()), (InvoiceStatus::Paid, 10_000, 0));
        // Nothing left to pay: all of it is an overpayment; i64::MAX does not overflow.
        let again = Event::PaymentReceived { amount: i64::MAX }.apply(&mut invoice, &mut customer, at);
        assert!(again.contains("overpaid"), "{again}");
        assert_eq!(invoice.amount_paid, 10_000);
    }
}
