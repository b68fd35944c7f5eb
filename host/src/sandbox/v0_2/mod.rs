//! Contract `sollecito:plugin@0.2.0`, the newest: bindings generated from
//! `wit/`, and the invoice as a policy of this version sees it (lean: the
//! customer's addresses, the invoice number and the payment link stay here).

use chrono::{Datelike, NaiveDate};

use crate::invoice::{self, Customer, Invoice};

pub mod convert;

contract_bindings!("../wit");
contract_version!("0.2.0");

/// A policy of 0.2: it declares its templates and channels, and its fees
/// are read in the invoice's currency.
impl crate::sandbox::contracts::Prepared for policy::PolicyPre<crate::sandbox::CallState> {
    fn describe(
        &self,
        store: &mut wasmtime::Store<crate::sandbox::CallState>,
    ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
        let info = self.instantiate(&mut *store).and_then(|p| p.call_describe(store))?;
        Ok(crate::sandbox::contracts::Described {
            name: info.name,
            version: info.version,
            summary: info.summary,
            declared: Some(crate::sandbox::Declared {
                templates: info.templates.into_iter().collect(),
                channels: info.channels.into_iter().collect(),
            }),
        })
    }

    fn decide(
        &self,
        store: &mut wasmtime::Store<crate::sandbox::CallState>,
        now: i64,
        settings: &[crate::decision::Setting],
        batch: &[crate::decision::Review<'_>],
    ) -> Option<wasmtime::Result<Vec<Result<crate::decision::Decision, String>>>> {
        let (settings, views): (_, Vec<_>) = (convert::settings(settings), batch.iter().map(convert::view).collect());
        let answer = self.instantiate(&mut *store).and_then(|p| p.call_evaluate(store, now, &settings, &views));
        Some(answer.map(|a| {
            a.into_iter().zip(&views).map(|(r, view)| r.map(|d| convert::decision(d, &view.currency))).collect()
        }))
    }

    fn as_latest_policy(&self) -> Option<&policy::PolicyPre<crate::sandbox::CallState>> {
        Some(self)
    }
}

pub use channel::sollecito::plugin::delivery::{DeliveryError, Message, Receipt, Recipient, Sender};
pub use channel::sollecito::plugin::mail::Email;
pub use channel::sollecito::plugin::tasks::Task;
pub use payment::sollecito::plugin::charges::{Charge, ChargeError, ChargeOutcome};
pub use policy::sollecito::plugin::log::Level;
pub use policy::sollecito::plugin::types::{
    Action, CloseReason, Contact, ContactPoints, Customer as CustomerView, Date, Decision, Escalation, EscalationKind,
    Fee, FeeAdded, Instalment, InvoiceKind, InvoiceStatus, InvoiceView, Money, Outcome, PaymentFailure, PaymentMethod,
    PaymentRecord, Plan, PlanOffer, PluginInfo, PolicyInfo, PromiseToPay, Setting, Tone,
};

pub fn date(d: NaiveDate) -> Date {
    Date { year: d.year(), month: d.month() as u8, day: d.day() as u8 }
}

pub fn naive_date(d: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
}

pub fn customer_view(c: &Customer) -> CustomerView {
    let mut reachable = ContactPoints::empty();
    for (known, point) in [
        (c.deliverable_email().is_some(), ContactPoints::EMAIL),
        (c.phone.is_some(), ContactPoints::PHONE),
        (c.postal_address.is_some(), ContactPoints::POSTAL_ADDRESS),
    ] {
        if known {
            reachable |= point;
        }
    }
    CustomerView {
        id: c.id.clone(),
        locale: c.locale.clone(),
        segment: c.segment.clone(),
        business: c.business,
        reachable,
        tags: c.tags.clone(),
        payment_record: PaymentRecord {
            customer_since: date(c.customer_since),
            invoices_paid: c.invoices_paid,
            paid_on_time: c.paid_on_time,
        },
        opted_out: c.opted_out.clone(),
    }
}

/// Every invoice of a dataset as a policy of this version sees it, with no
/// contact made yet (for tests and benchmarks of the contract itself).
pub fn views_of(data: &crate::intake::Dataset) -> Vec<InvoiceView> {
    data.fresh_reviews().iter().map(convert::view).collect()
}

/// The invoice as a policy of this contract version sees it.
pub fn invoice_view(i: &Invoice, customer: CustomerView, history: Vec<Contact>) -> InvoiceView {
    InvoiceView {
        id: i.id.clone(),
        status: match i.status {
            invoice::InvoiceStatus::Open => InvoiceStatus::Open,
            invoice::InvoiceStatus::Paid => InvoiceStatus::Paid,
            invoice::InvoiceStatus::Void => InvoiceStatus::Void,
            invoice::InvoiceStatus::WrittenOff => InvoiceStatus::WrittenOff,
        },
        kind: match i.kind {
            invoice::InvoiceKind::OneOff => InvoiceKind::OneOff,
            invoice::InvoiceKind::SubscriptionRenewal => InvoiceKind::SubscriptionRenewal,
        },
        currency: i.currency.clone(),
        amount_due: i.total(),
        amount_paid: i.amount_paid,
        issued: date(i.issued),
        due: date(i.due),
        fees: i.fees.iter().map(|f| FeeAdded { step: f.step.clone(), minor: f.amount }).collect(),
        plan: i.plan.as_ref().map(|p| Plan {
            step: p.step.clone(),
            accepted: p.accepted.timestamp(),
            instalments: p
                .instalments
                .iter()
                .map(|k| Instalment { due: date(k.due), minor: k.amount, left: p.left_on(k.number, i.amount_paid) })
                .collect(),
        }),
        payment_failure: i.payment_failure.as_ref().map(|f| PaymentFailure {
            decline_code: f.decline_code.clone(),
            attempts: f.attempts,
            first_failed: f.first_failed.timestamp(),
            last_attempt: f.last_attempt.timestamp(),
        }),
        dispute: i.dispute.as_ref().map(|d| policy::sollecito::plugin::types::Dispute {
            opened: d.opened.timestamp(),
            reason: d.reason.clone(),
        }),
        promise_to_pay: i.promise_to_pay.as_ref().map(|p| PromiseToPay { until: date(p.until), amount: p.amount }),
        has_payment_link: i.payment_link.is_some(),
        payment_method: i
            .payment_method
            .as_ref()
            .map(|m| PaymentMethod { setup_complete: m.setup_complete, expires: m.expires.map(date) }),
        customer,
        history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoice::Fee;
    use crate::plan::{Plan as HostPlan, split};

    fn customer() -> Customer {
        serde_json::from_value(serde_json::json!({
            "id": "c", "name": "Bottega Rossi", "email": "c@example.com", "phone": null,
            "postal_address": "Via Roma 1, Torino", "locale": "it-IT", "timezone": "Europe/Rome",
            "segment": "default", "business": true, "tags": [], "customer_since": "2020-01-01",
            "invoices_paid": 0, "paid_on_time": 0, "opted_out": [], "dunning_stop": false
        }))
        .unwrap()
    }

    fn invoice() -> Invoice {
        serde_json::from_value(serde_json::json!({
            "id": "i", "number": "2026/17", "customer_id": "c", "status": "open", "kind": "one-off",
            "currency": "EUR", "amount_due": 30_000, "amount_paid": 0, "issued": "2026-01-01",
            "due": "2026-01-31", "payment_link": "https://pay.example/i", "payment_failure": null,
            "dispute": null, "promise_to_pay": null, "payment_method": null
        }))
        .unwrap()
    }

    #[test]
    fn the_view_says_what_exists_without_the_addresses() {
        let view = invoice_view(&invoice(), customer_view(&customer()), vec![]);
        assert_eq!(view.customer.reachable, ContactPoints::EMAIL | ContactPoints::POSTAL_ADDRESS);
        assert!(view.has_payment_link);
        assert_eq!((view.currency.as_str(), view.amount_due, view.amount_paid), ("EUR", 30_000, 0));
        assert_eq!((view.fees.len(), view.plan.is_none(), view.promise_to_pay.is_none()), (0, true, true));
    }

    #[test]
    fn fees_and_an_accepted_plan_are_visible_and_the_plan_is_not_a_promise() {
        let mut i = invoice();
        i.fees.push(Fee { step: "late-compensation".into(), amount: 4_000, reason: "costi di recupero".into() });
        let first_due = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        // 240.00 EUR left after 100.00 paid, in three instalments a month apart; 150.00 EUR paid since.
        i.amount_paid = 25_000;
        i.plan = Some(HostPlan {
            step: "plan-offer".into(),
            accepted: "2026-02-20T10:00:00Z".parse().unwrap(),
            paid_before: 10_000,
            instalments: split(24_000, 3, first_due, 30).unwrap(),
        });
        let view = invoice_view(&i, customer_view(&customer()), vec![]);
        assert_eq!(view.amount_due, 34_000, "the fee is owed too");
        assert_eq!(view.fees, [FeeAdded { step: "late-compensation".into(), minor: 4_000 }]);
        let plan = view.plan.expect("the plan is visible");
        assert_eq!(plan.step, "plan-offer");
        let left: Vec<(i64, i64)> = plan.instalments.iter().map(|k| (k.minor, k.left)).collect();
        assert_eq!(left, [(8_000, 0), (8_000, 1_000), (8_000, 8_000)]);
        assert_eq!(plan.instalments[1].due, date(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()));
        assert!(view.promise_to_pay.is_none(), "0.1 showed the plan as a promise; 0.2 shows it as itself");
    }
}
