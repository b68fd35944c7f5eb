//! Stripe webhooks: the signature is checked (`Stripe-Signature: t=..,v1=..`,
//! HMAC-SHA256 over `"<t>.<raw body>"`, at most 5 minutes off), then the
//! invoice, customer and dispute objects are turned into the store's own.
//! Unknown fields are ignored and optional ones may be missing, as Stripe sends them;
//! what is kept follows the same field rules as a file or an API body
//! (`intake::fields`), and a field that fails is a 422 naming Stripe's field.
//! Each event id is handled once, and an event older than the newest one
//! applied to its object changes nothing: Stripe retries and reorders.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::{Answer, ApiError, App, Refusal, ok, parse_json};
use crate::event::Event;
use crate::intake::{Dataset, fields};
use crate::invoice::{Customer, Invoice, InvoiceKind, InvoiceStatus, PaymentFailure};
use crate::store::StripeGate;

const TOLERANCE_SECONDS: i64 = 300;

/// Checks a `Stripe-Signature` header against the raw body.
pub(super) fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), String> {
    let mut t = None;
    let mut signatures = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or("no timestamp in Stripe-Signature")?;
    if (now - t).abs() > TOLERANCE_SECONDS {
        return Err("Stripe-Signature timestamp too far from now".into());
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    let matches = signatures.iter().filter_map(|s| hex::decode(s).ok()).any(|s| {
        s.len() == expected.len() && s.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if matches { Ok(()) } else { Err("signature does not match".into()) }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn date_of(v: &Value, key: &str) -> Option<NaiveDate> {
    v.get(key).and_then(Value::as_i64).and_then(|t| DateTime::from_timestamp(t, 0)).map(|t| t.date_naive())
}

pub(super) async fn webhook(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Answer {
    let Some(secret) = &app.stripe_secret else {
        return Err(ApiError::new(Refusal::NotFound, "Stripe webhooks are not configured (serve.stripe_secret)"));
    };
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    verify(secret, header, &body, Utc::now().timestamp())
        .map_err(|e| ApiError::new(Refusal::Malformed, e).field("Stripe-Signature"))?;
    let event = parse_json(&body)?;
    let refuse = |field: &str, why: &str| ApiError::new(Refusal::Invalid, why).field(field);
    let kind = text(&event, "type").unwrap_or_default();
    let handled = matches!(
        kind.as_str(),
        "invoice.finalized"
            | "invoice.payment_failed"
            | "invoice.paid"
            | "invoice.voided"
            | "invoice.marked_uncollectible"
            | "invoice.updated"
            | "customer.updated"
            | "customer.created"
            | "charge.dispute.created"
            | "charge.dispute.closed"
    );
    if !handled {
        return ok(json!({ "received": event.get("id"), "result": { "ignored": kind } }));
    }
    let id = text(&event, "id")
        .filter(|id| id.len() <= 255 && id.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| refuse("id", "an event id of 1 to 255 printable ASCII characters is required"))?;
    let at = event
        .get("created")
        .and_then(Value::as_i64)
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .ok_or_else(|| refuse("created", "the event's creation time in Unix seconds is required"))?;
    let object = &event["data"]["object"];
    let object_id = text(object, "id")
        .filter(|id| crate::intake::is_id(id))
        .ok_or_else(|| refuse("data.object.id", "an id of 1 to 128 printable characters is required"))?;
    // Stripe delivers an event more than once and out of order: each id once,
    // and nothing older than what the object already reflects.
    let store = &app.runtime.store();
    let _in_order = app.stripe_order.lock().await;
    let newest = match store.stripe_gate(&id, &object_id, at.timestamp()).await? {
        StripeGate::Duplicate => return ok(json!({ "received": id, "duplicate": true })),
        StripeGate::Stale { newest } => {
            let why = format!("older than the newest event applied to {object_id} (created {newest})");
            tracing::info!(event = %id, "Stripe event ignored: {why}");
            store.stripe_record(&id, &kind, &object_id, at.timestamp(), "stale", Utc::now().timestamp()).await?;
            return ok(json!({ "received": id, "result": { "ignored": why } }));
        }
        StripeGate::Apply { newest } => newest,
    };
    let result = match kind.as_str() {
        "customer.updated" | "customer.created" => customer_event(&app, object).await?,
        "charge.dispute.created" | "charge.dispute.closed" => dispute_event(&app, &kind, object).await?,
        _ => invoice_event(&app, &kind, object, at, newest).await?,
    };
    let outcome = if result.get("ignored").is_some() { "ignored" } else { "applied" };
    store.stripe_record(&id, &kind, &object_id, at.timestamp(), outcome, Utc::now().timestamp()).await?;
    app.wake.notify_one();
    ok(json!({ "received": id, "result": result }))
}

/// A Stripe customer over what the store knows (or a new one with the service's defaults).
fn customer_from(app: &App, known: Option<Customer>, id: &str, fields: &Value) -> Customer {
    let mut c = known.unwrap_or_else(|| Customer {
        id: id.to_string(),
        name: id.to_string(),
        email: None,
        pec: None,
        phone: None,
        postal_address: None,
        locale: app.default_locale.clone(),
        timezone: app.default_timezone,
        segment: "default".into(),
        business: false,
        tags: vec![],
        customer_since: Utc::now().date_naive(),
        invoices_paid: 0,
        paid_on_time: 0,
        opted_out: vec![],
        dunning_stop: false,
        email_bounces: None,
    });
    if let Some(name) = text(fields, "name").or_else(|| text(fields, "customer_name")) {
        c.name = name;
    }
    c.email = text(fields, "email").or_else(|| text(fields, "customer_email")).or(c.email);
    c.phone = text(fields, "phone").or_else(|| text(fields, "customer_phone")).or(c.phone);
    // Stripe has no PEC field: the business keeps it in the customer's metadata.
    c.pec = fields.get("metadata").and_then(|m| text(m, "pec")).or(c.pec);
    if let Some(locale) = fields.get("preferred_locales").and_then(|l| l.get(0)).and_then(Value::as_str) {
        c.locale = locale.to_string();
    }
    c
}

/// The Stripe field a field of ours was taken from, on a customer or an invoice object.
fn stripe_field(ours: &str, on_invoice: bool) -> &str {
    match (ours, on_invoice) {
        ("name", true) => "customer_name",
        ("email", true) => "customer_email",
        ("phone", true) => "customer_phone",
        ("locale", _) => "preferred_locales",
        ("payment_link", _) => "hosted_invoice_url",
        (other, _) => other,
    }
}

/// Runs what the mapping built through intake's rules (the same as a file's
/// and the API's): a field that fails is a 422 naming the Stripe field it came
/// from, and nothing is stored.
fn checked(data: &Dataset, on_invoice: bool) -> Result<(), ApiError> {
    let mut bad: Vec<(String, String)> = vec![];
    for c in &data.customers {
        bad.extend(fields::customer(c));
    }
    for i in &data.invoices {
        bad.extend(fields::invoice(i));
    }
    let Some((first, _)) = bad.first() else { return Ok(()) };
    let name = |f: &str| format!("data.object.{}", stripe_field(f, on_invoice));
    let error = bad.iter().map(|(f, reason)| format!("{}: {reason}", name(f))).collect::<Vec<_>>().join("; ");
    tracing::info!(error = %error, "Stripe object refused");
    Err(ApiError::new(Refusal::Invalid, error).field(name(first)))
}

async fn customer_event(app: &App, object: &Value) -> Result<Value, ApiError> {
    let id = text(object, "id")
        .ok_or_else(|| ApiError::new(Refusal::Invalid, "customer without id").field("data.object.id"))?;
    let known = app.runtime.store().customer(&id).await?;
    let customer = customer_from(app, known, &id, object);
    let data = Dataset { customers: vec![customer], ..Dataset::default() };
    checked(&data, false)?;
    let report = app.runtime.store().import(&data, Utc::now()).await?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}

/// An invoice as the event shows it, over what the store knows. `newest` is
/// the time of the newest event applied to it before.
async fn invoice_event(
    app: &App,
    kind: &str,
    object: &Value,
    at: DateTime<Utc>,
    newest: Option<i64>,
) -> Result<Value, ApiError> {
    let field =
        |f: &str| ApiError::new(Refusal::Invalid, format!("invoice without {f}")).field(format!("data.object.{f}"));
    let id = text(object, "id").ok_or_else(|| field("id"))?;
    let customer_id = text(object, "customer").filter(|c| crate::intake::is_id(c)).ok_or_else(|| field("customer"))?;
    let currency = text(object, "currency").ok_or_else(|| field("currency"))?.to_uppercase();
    if crate::intake::currency_exponent(&currency).is_none() {
        return Err(
            ApiError::new(Refusal::Invalid, format!("unknown currency {currency}")).field("data.object.currency")
        );
    }
    let status = match object.get("status").and_then(Value::as_str) {
        Some("open") => InvoiceStatus::Open,
        Some("paid") => InvoiceStatus::Paid,
        Some("void") => InvoiceStatus::Void,
        Some("uncollectible") => InvoiceStatus::WrittenOff,
        // A draft is not owed yet.
        other => return Ok(json!({ "ignored": format!("invoice status {other:?}") })),
    };
    // Ids the invoice is found by later (a dispute names its charge): ids like ours.
    for key in ["charge", "payment_intent"] {
        if let Some(r) = text(object, key)
            && !crate::intake::is_id(&r)
        {
            let why = format!("{}: not an id of 1 to 128 printable characters", fields::shown(&r));
            return Err(ApiError::new(Refusal::Invalid, why).field(format!("data.object.{key}")));
        }
    }
    let store = &app.runtime.store();
    let known_customer = store.customer(&customer_id).await?;
    let customer = customer_from(app, known_customer, &customer_id, object);
    let known = store.invoice(&id).await?.map(|(i, _)| i);
    // Stripe's times are whole seconds: an open invoice in the same second as a
    // final state (paid, void, uncollectible) does not undo it.
    let settled = known.as_ref().is_some_and(|k| k.status != InvoiceStatus::Open);
    if status == InvoiceStatus::Open && settled && newest == Some(at.timestamp()) {
        return Ok(
            json!({ "ignored": "an open invoice in the same second as its final state: the final state stands" }),
        );
    }
    let issued = date_of(object, "created").unwrap_or_else(|| at.date_naive());
    let due = date_of(object, "due_date").unwrap_or(issued).max(issued);
    let amount_due = object.get("amount_due").and_then(Value::as_i64).unwrap_or(0).max(0);
    let amount_paid = object.get("amount_paid").and_then(Value::as_i64).unwrap_or(0).clamp(0, amount_due);
    let subscription = text(object, "billing_reason").is_some_and(|r| r.starts_with("subscription"));
    let mut invoice = Invoice {
        id: id.clone(),
        number: text(object, "number").unwrap_or_else(|| id.clone()),
        customer_id: customer_id.clone(),
        status,
        kind: if subscription { InvoiceKind::SubscriptionRenewal } else { InvoiceKind::OneOff },
        currency,
        amount_due,
        amount_paid: if status == InvoiceStatus::Paid { amount_due } else { amount_paid },
        issued,
        due,
        payment_link: text(object, "hosted_invoice_url")
            .or_else(|| known.as_ref().and_then(|k| k.payment_link.clone())),
        payment_failure: known.as_ref().and_then(|k| k.payment_failure.clone()),
        dispute: known.as_ref().and_then(|k| k.dispute.clone()),
        promise_to_pay: known.as_ref().and_then(|k| k.promise_to_pay.clone()),
        payment_method: known.as_ref().and_then(|k| k.payment_method.clone()),
        refs: [text(object, "charge"), text(object, "payment_intent")].into_iter().flatten().collect(),
        plan: known.as_ref().and_then(|k| k.plan.clone()),
        fees: known.as_ref().map(|k| k.fees.clone()).unwrap_or_default(),
        answered: known.as_ref().and_then(|k| k.answered.clone()),
        transfer_to_confirm: known.as_ref().and_then(|k| k.transfer_to_confirm),
    };
    if kind == "invoice.payment_failed" {
        let attempts = object.get("attempt_count").and_then(Value::as_u64).unwrap_or(1).max(1) as u32;
        let (code, from) = [
            ("/last_payment_error/decline_code", "last_payment_error.decline_code"),
            ("/metadata/decline_code", "metadata.decline_code"),
        ]
        .into_iter()
        .find_map(|(pointer, from)| object.pointer(pointer).and_then(Value::as_str).map(|c| (c, from)))
        .unwrap_or(("card_declined", ""));
        fields::line(code, 100).map_err(|why| {
            ApiError::new(Refusal::Invalid, format!("decline code {why}")).field(format!("data.object.{from}"))
        })?;
        let first_failed = invoice.payment_failure.as_ref().map_or(at, |f| f.first_failed);
        invoice.payment_failure =
            Some(PaymentFailure { decline_code: code.to_string(), attempts, first_failed, last_attempt: at });
    }
    let data = Dataset { customers: vec![customer], invoices: vec![invoice], events: vec![] };
    checked(&data, true)?;
    let report = store.import(&data, Utc::now()).await?;
    Ok(serde_json::to_value(report).unwrap_or_default())
}

async fn dispute_event(app: &App, kind: &str, object: &Value) -> Result<Value, ApiError> {
    let refs: Vec<String> = [text(object, "charge"), text(object, "payment_intent")].into_iter().flatten().collect();
    let mut invoice_id = None;
    for r in &refs {
        if let Some(id) = app.runtime.store().invoice_by_ref(r).await? {
            invoice_id = Some(id);
            break;
        }
    }
    let Some(invoice_id) = invoice_id else {
        // Not one of ours (or not seen yet): acknowledged so Stripe stops retrying.
        return Ok(json!({ "ignored": format!("no invoice for {}", refs.join(", ")) }));
    };
    let event = if kind == "charge.dispute.created" {
        let reason = text(object, "reason").unwrap_or_default();
        fields::line(&reason, 500).map_err(|why| {
            ApiError::new(Refusal::Invalid, format!("dispute reason {why}")).field("data.object.reason")
        })?;
        Event::DisputeOpened { reason }
    } else {
        Event::DisputeClosed
    };
    let applied = app.runtime.store().apply_event(&invoice_id, &event, crate::event::Door::Stripe, Utc::now()).await?;
    Ok(json!({ "invoice": invoice_id, "applied": applied }))
}

#[cfg(test)]
mod tests {
    use super::verify;

    #[test]
    fn signatures_are_checked_with_a_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let sign = |t: i64| {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"whsec_test").unwrap();
            mac.update(format!("{t}.").as_bytes());
            mac.update(body);
            format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
        };
        assert_eq!(verify("whsec_test", &sign(1000), body, 1100), Ok(()));
        assert!(verify("whsec_other", &sign(1000), body, 1100).is_err());
        assert!(verify("whsec_test", &sign(1000), body, 2000).unwrap_err().contains("too far"));
        assert!(verify("whsec_test", &sign(1000), b"{}", 1000).is_err());
    }
}
