//! Contract `sollecito:plugin@0.1.0`: bindings generated from `wit/`, and the
//! conversion of the domain into the invoice view of this version. When the
//! contract moves on, this module stays and converts to the newest types.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::invoice::{self, Customer, Invoice};

pub mod convert;

contract_bindings!("../wit/0.1");
contract_version!("0.1.0");
no_reader_world!();

/// A policy of 0.1: the whole view converted down, its answers up.
impl crate::sandbox::contracts::Prepared for policy::PolicyPre<crate::sandbox::CallState> {
    fn describe(
        &self,
        store: &mut wasmtime::Store<crate::sandbox::CallState>,
    ) -> wasmtime::Result<crate::sandbox::contracts::Described> {
        self.instantiate(&mut *store).and_then(|p| p.call_describe(store)).map(described)
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
        Some(answer.map(|a| a.into_iter().map(|r| r.map(convert::decision)).collect()))
    }
}

pub use channel::sollecito::plugin::delivery::{DeliveryError, Message, Receipt, Recipient, Sender};
pub use channel::sollecito::plugin::mail::Email;
pub use channel::sollecito::plugin::tasks::Task;
pub use payment::sollecito::plugin::charges::{Charge, ChargeError, ChargeOutcome};
pub use policy::sollecito::plugin::log::Level;
pub use policy::sollecito::plugin::types::{
    Action, CloseReason, Contact, Customer as CustomerView, Date, Decision, Escalation, EscalationKind, Fee,
    InvoiceKind, InvoiceStatus, InvoiceView, Money, Outcome, PaymentFailure, PaymentMethod, PaymentRecord, PlanOffer,
    PluginInfo, PromiseToPay, Setting, Tone,
};

pub fn date(d: NaiveDate) -> Date {
    Date { year: d.year(), month: d.month() as u8, day: d.day() as u8 }
}

pub fn naive_date(d: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year, d.month.into(), d.day.into())
}

pub fn timestamp(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn money(minor: i64, currency: &str) -> Money {
    Money { minor, currency: currency.to_string() }
}

pub fn customer_view(c: &Customer) -> CustomerView {
    CustomerView {
        id: c.id.clone(),
        name: c.name.clone(),
        email: c.deliverable_email().map(str::to_string),
        phone: c.phone.clone(),
        locale: c.locale.clone(),
        timezone: c.timezone.name().to_string(),
        segment: c.segment.clone(),
        business: c.business,
        tags: c.tags.clone(),
        payment_record: PaymentRecord {
            customer_since: date(c.customer_since),
            invoices_paid: c.invoices_paid,
            paid_on_time: c.paid_on_time,
        },
        opted_out: c.opted_out.clone(),
    }
}

/// The invoice as a policy of this contract version sees it.
pub fn invoice_view(i: &Invoice, customer: CustomerView, history: Vec<Contact>) -> InvoiceView {
    InvoiceView {
        id: i.id.clone(),
        number: i.number.clone(),
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
        // Fees added since the invoice was issued are owed too.
        amount_due: money(i.total(), &i.currency),
        amount_paid: money(i.amount_paid, &i.currency),
        issued: date(i.issued),
        due: date(i.due),
        payment_failure: i.payment_failure.as_ref().map(|f| PaymentFailure {
            decline_code: f.decline_code.clone(),
            attempts: f.attempts,
            first_failed: timestamp(f.first_failed),
            last_attempt: timestamp(f.last_attempt),
        }),
        dispute: i.dispute.as_ref().map(|d| policy::sollecito::plugin::types::Dispute {
            opened: timestamp(d.opened),
            reason: d.reason.clone(),
        }),
        // An accepted plan is, to a policy, a promise to pay its next instalment
        // by its due date: once that passes unpaid, the promise has lapsed.
        promise_to_pay: match (
            &i.promise_to_pay,
            i.plan.as_ref().and_then(|p| Some((p, p.next_unpaid(i.amount_paid)?))),
        ) {
            (Some(p), _) => {
                Some(PromiseToPay { until: date(p.until), amount: p.amount.map(|m| money(m, &i.currency)) })
            }
            (None, Some((plan, next))) => Some(PromiseToPay {
                until: date(next.due),
                amount: Some(money(plan.left_on(next.number, i.amount_paid), &i.currency)),
            }),
            (None, None) => None,
        },
        payment_link: i.payment_link.clone(),
        payment_method: i
            .payment_method
            .as_ref()
            .map(|m| PaymentMethod { setup_complete: m.setup_complete, expires: m.expires.map(date) }),
        customer,
        history,
    }
}
