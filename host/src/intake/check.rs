//! Checking a raw dataset field by field, every problem reported (not only
//! the first), into the host's customers, invoices and scripted events.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::{
    BadInput, Dataset, Problem, RawCustomer, RawDataset, RawInvoice, ScriptedEvent, currency_exponent, fields, is_id,
    parse_amount,
};
use crate::invoice::{Customer, Invoice, PaymentFailure, PaymentMethod, PromiseToPay};

/// Checks a raw dataset. `labels` names where each customer and invoice came
/// from (a CSV line); JSON ones are named by their index and id.
pub(super) fn check_dataset(
    file: &str,
    raw: RawDataset,
    labels: Option<(Vec<String>, Vec<String>)>,
    early: Vec<Problem>,
) -> Result<Dataset, BadInput> {
    let mut check = Checker { problems: early };
    let mut data = Dataset::default();
    let (customer_labels, invoice_labels) = labels.unwrap_or_default();

    let mut customer_ids = HashSet::new();
    for (i, c) in raw.customers.into_iter().enumerate() {
        let at = customer_labels.get(i).cloned().unwrap_or_else(|| format!("customers[{i}] ({})", c.id));
        if !customer_ids.insert(c.id.clone()) {
            check.bad(&at, "id", "duplicate customer id");
        }
        check.id(&at, &c.id);
        data.customers.push(check.customer(&at, c));
    }

    let mut invoice_ids = HashSet::new();
    for (i, r) in raw.invoices.into_iter().enumerate() {
        let at = invoice_labels.get(i).cloned().unwrap_or_else(|| format!("invoices[{i}] ({})", r.id));
        if !invoice_ids.insert(r.id.clone()) {
            check.bad(&at, "id", "duplicate invoice id");
        }
        check.id(&at, &r.id);
        if !customer_ids.contains(&r.customer) {
            check.bad(&at, "customer", format!("unknown customer {:?}", r.customer));
        }
        data.invoices.push(check.invoice(&at, r));
    }

    for (i, mut e) in raw.events.into_iter().enumerate() {
        let at = format!("events[{i}]");
        let mut text_field = |name: &str, check: &mut Checker| match e.remove(name) {
            Some(Value::String(s)) => Some(s),
            _ => {
                check.bad(&at, name, "missing (a string)");
                None
            }
        };
        let invoice = text_field("invoice", &mut check);
        let on = text_field("on", &mut check).and_then(|d| check.date(&at, "on", &d));
        if let Some(id) = &invoice
            && !invoice_ids.contains(id)
        {
            check.bad(&at, "invoice", format!("unknown invoice {id:?}"));
        }
        let event = fields::event(&e).map_err(|bad| check.bad(&at, &bad.field, bad.reason)).ok();
        if let (Some(invoice_id), Some(on), Some(event)) = (invoice, on, event) {
            data.events.push(ScriptedEvent { invoice_id, on, event, modelled: false });
        }
    }

    if check.problems.is_empty() { Ok(data) } else { Err(BadInput { file: file.into(), problems: check.problems }) }
}

/// Collects problems while checking one file.
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    /// A customer read from its raw record, every field checked.
    fn customer(&mut self, at: &str, c: RawCustomer) -> Customer {
        let check = self;
        let timezone = c.timezone.parse::<chrono_tz::Tz>().ok();
        if timezone.is_none() {
            check.bad(at, "timezone", format!("unknown timezone {:?}", c.timezone));
        }
        if c.email.is_none() && c.phone.is_none() && c.postal_address.is_none() {
            check.bad(at, "email", "no email, phone or postal address: the customer cannot be reached");
        }
        if c.paid_on_time > c.invoices_paid {
            check.bad(at, "paid_on_time", "more invoices paid on time than paid");
        }
        let since = match &c.customer_since {
            Some(s) => check.date(at, "customer_since", s),
            None => NaiveDate::from_ymd_opt(1970, 1, 1),
        };
        let customer = Customer {
            id: c.id,
            name: c.name,
            email: c.email,
            pec: c.pec,
            phone: c.phone,
            postal_address: c.postal_address,
            locale: c.locale,
            timezone: timezone.unwrap_or(chrono_tz::UTC),
            segment: c.segment,
            business: c.business,
            tags: c.tags,
            customer_since: since.unwrap_or_default(),
            invoices_paid: c.invoices_paid,
            paid_on_time: c.paid_on_time,
            opted_out: c.opted_out,
            dunning_stop: c.dunning_stop,
            email_bounces: None,
        };
        // The same rules as the API's and the Stripe webhook's (`fields`).
        for (field, reason) in fields::customer(&customer) {
            check.bad(at, &field, reason);
        }
        customer
    }

    /// An invoice read from its raw record, every field checked.
    fn invoice(&mut self, at: &str, r: RawInvoice) -> Invoice {
        let check = self;
        let exponent = currency_exponent(&r.currency);
        if exponent.is_none() {
            check.bad(at, "currency", format!("unknown currency {:?}", r.currency));
        }
        let due_amount = check.amount(at, "amount_due", &r.amount_due, exponent);
        let paid_amount = match &r.amount_paid {
            Some(v) => check.amount(at, "amount_paid", v, exponent),
            None => Some(0),
        };
        let issued = check.date(at, "issued", &r.issued);
        let due = check.date(at, "due", &r.due);
        if let (Some(issued), Some(due)) = (issued, due)
            && due < issued
        {
            check.bad(at, "due", "due before issued");
        }
        let failure = r.payment_failure.and_then(|f| {
            let first = check.instant(at, "payment_failure.first_failed", &f.first_failed)?;
            let last = match &f.last_attempt {
                Some(t) => check.instant(at, "payment_failure.last_attempt", t)?,
                None => first,
            };
            Some(PaymentFailure {
                decline_code: f.decline_code,
                attempts: f.attempts.max(1),
                first_failed: first,
                last_attempt: last,
            })
        });
        let promise = r
            .promise_to_pay_until
            .and_then(|d| check.date(at, "promise_to_pay_until", &d))
            .map(|until| PromiseToPay { until, amount: None });
        let method = r.payment_method.map(|m| PaymentMethod {
            setup_complete: m.setup_complete,
            expires: m.expires.and_then(|d| check.date(at, "payment_method.expires", &d)),
        });
        let dispute = r.dispute_reason.map(|reason| crate::invoice::Dispute {
            opened: issued.unwrap_or_default().and_hms_opt(0, 0, 0).unwrap().and_utc(),
            reason,
        });
        if let (Some(amount_due), Some(amount_paid)) = (due_amount, paid_amount)
            && amount_paid > amount_due
        {
            check.bad(at, "amount_paid", "more paid than due");
        }
        let invoice = Invoice {
            id: r.id,
            number: r.number,
            customer_id: r.customer,
            status: r.status,
            kind: r.kind,
            currency: r.currency,
            amount_due: due_amount.unwrap_or_default(),
            amount_paid: paid_amount.unwrap_or_default(),
            issued: issued.unwrap_or_default(),
            due: due.unwrap_or_default(),
            payment_link: r.payment_link,
            payment_failure: failure,
            dispute,
            promise_to_pay: promise,
            payment_method: method,
            refs: vec![],
            plan: None,
            fees: vec![],
            answered: None,
            transfer_to_confirm: None,
        };
        for (field, reason) in fields::invoice(&invoice) {
            check.bad(at, &field, reason);
        }
        invoice
    }

    fn bad(&mut self, location: &str, field: &str, reason: impl Into<String>) {
        self.problems.push(Problem::new(location, field, reason));
    }

    fn id(&mut self, location: &str, id: &str) {
        if !is_id(id) {
            self.bad(location, "id", format!("{id:?} is not an id: 1 to 128 printable characters"));
        }
    }

    fn date(&mut self, location: &str, field: &str, text: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                self.bad(location, field, format!("bad date {text:?}, expected YYYY-MM-DD"));
                None
            }
        }
    }

    fn instant(&mut self, location: &str, field: &str, text: &str) -> Option<DateTime<Utc>> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc));
        }
        // A bare date means midnight UTC.
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).unwrap().and_utc()).or_else(
            || {
                self.bad(location, field, format!("bad time {text:?}, expected RFC 3339 or YYYY-MM-DD"));
                None
            },
        )
    }

    fn amount(&mut self, location: &str, field: &str, value: &Value, currency: Option<u16>) -> Option<i64> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.bad(location, field, format!("expected an amount like \"1250.00\", got {other}"));
                return None;
            }
        };
        let exponent = currency?;
        match parse_amount(&text, exponent) {
            Ok(minor) => Some(minor),
            Err(reason) => {
                self.bad(location, field, reason);
                None
            }
        }
    }
}
