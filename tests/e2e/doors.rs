//! One write path: the same change brought in through each door (an import,
//! a posted event, Stripe's webhook) leaves the same record, the same outcomes
//! and the same invoice. Expected lines are written out by hand.

use serde_json::{Value, json};

use crate::common::Db;
use crate::pipeline::Site;
use crate::serve::{STRIPE, Service, fixture};

const CUSTOMER: &str = r#"{"name": "Porta Srl", "email": "conti@porta.example", "locale": "it-IT",
    "timezone": "Europe/Rome", "segment": "default", "business": true, "customer_since": "2020-01-01"}"#;

/// The invoice as a file (or `PUT`) gives it: 100.00 EUR, due far ahead so no tick reminds it.
fn invoice_body(status: &str, paid: &str) -> String {
    json!({"number": "P-1", "customer": "c-door", "status": status, "kind": "one-off", "currency": "EUR",
           "amount_due": "100.00", "amount_paid": paid, "issued": "2026-10-01", "due": "2099-12-31"})
    .to_string()
}

/// One of Stripe's invoice events about `in-door-stripe`, 100.00 EUR with `paid` of it paid.
fn stripe_event(kind: &str, created: i64, status: &str, paid: i64) -> Value {
    let mut e = fixture("evt_invoice_payment_failed.json");
    e["id"] = json!(format!("evt_door_{kind}_{created}"));
    e["type"] = json!(kind);
    e["created"] = json!(created);
    let o = &mut e["data"]["object"];
    o["id"] = json!("in-door-stripe");
    o["customer"] = json!("cus_door");
    o["status"] = json!(status);
    o["currency"] = json!("eur");
    o["amount_due"] = json!(10_000);
    o["amount_paid"] = json!(paid);
    o["amount_remaining"] = json!(10_000 - paid);
    o["due_date"] = json!(4_102_358_400i64); // 2099-12-31
    e
}

#[test]
fn the_same_payments_through_every_door_leave_the_same_store() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    svc.admin("PUT", "/v1/customers/c-door", CUSTOMER);
    for id in ["inv-door-import", "inv-door-api"] {
        svc.admin("PUT", &format!("/v1/invoices/{id}"), &invoice_body("open", "0.00"));
    }
    let t = chrono::Utc::now().timestamp() - 600;
    let stripe = |kind: &str, created: i64, status: &str, paid: i64| {
        let (code, body) = svc.stripe(&stripe_event(kind, created, status, paid), STRIPE);
        assert_eq!(code, 200, "{kind}: {body}");
    };
    stripe("invoice.finalized", t, "open", 0);

    // 40.00 paid, then the rest, through each door.
    svc.admin("PUT", "/v1/invoices/inv-door-import", &invoice_body("open", "40.00"));
    svc.admin("POST", "/v1/invoices/inv-door-api/events", r#"{"type": "payment-received", "amount": 4000}"#);
    stripe("invoice.updated", t + 60, "open", 4_000);
    svc.admin("PUT", "/v1/invoices/inv-door-import", &invoice_body("paid", "100.00"));
    svc.admin("POST", "/v1/invoices/inv-door-api/events", r#"{"type": "paid"}"#);
    stripe("invoice.paid", t + 120, "paid", 10_000);

    let expected_lines = vec![
        ("payment-received".to_string(), "40.00 EUR received, 60.00 EUR still outstanding".to_string()),
        ("paid".to_string(), "paid: dunning ends".to_string()),
    ];
    let db = Db::new(&site.db());
    for id in ["inv-door-import", "inv-door-api", "in-door-stripe"] {
        let history = svc.admin("GET", &format!("/v1/invoices/{id}/history"), "");
        assert_eq!(history["status"], "paid", "{id}: {history}");
        let events = history["events"].as_array().unwrap();
        assert_eq!(events[0]["kind"], "imported", "{id}: {history}");
        let lines: Vec<(String, String)> = events[1..]
            .iter()
            .map(|e| (e["kind"].as_str().unwrap().to_string(), e["detail"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(lines, expected_lines, "{id}");
        let outcomes = db.strings(&format!(
            "SELECT kind || ' ' || CAST(recovered AS TEXT) FROM outcomes WHERE invoice_id = '{id}' ORDER BY id"
        ));
        assert_eq!(outcomes, ["paid-in-part 4000", "paid 6000"], "{id}");
        let paid = db.strings(&format!("SELECT data FROM invoices WHERE id = '{id}'"));
        let stored: Value = serde_json::from_str(&paid[0]).unwrap();
        assert_eq!((stored["amount_paid"].as_i64(), stored["status"].as_str()), (Some(10_000), Some("paid")), "{id}");
    }

    // A payment that comes back, through a file and through the API: the same line, and the invoice owed again.
    svc.admin("PUT", "/v1/invoices/inv-door-import", &invoice_body("open", "75.00"));
    svc.admin("POST", "/v1/invoices/inv-door-api/events", r#"{"type": "payment-reversed", "amount": 2500}"#);
    for id in ["inv-door-import", "inv-door-api"] {
        let history = svc.admin("GET", &format!("/v1/invoices/{id}/history"), "");
        assert_eq!(history["status"], "open", "{id}: {history}");
        let last = history["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["kind"].as_str(), last["detail"].as_str()),
            (Some("payment-reversed"), Some("25.00 EUR reversed: 25.00 EUR outstanding")),
            "{id}"
        );
    }
    // Nothing the host records itself is a client's to post.
    for kind in ["imported", "fee-added", "uncertain"] {
        let (code, body) = svc.call(
            "POST",
            "/v1/invoices/inv-door-api/events",
            Some(crate::serve::TOKEN),
            &json!({"type": kind}).to_string(),
        );
        assert!(code == 422 || code == 400, "{kind}: {code} {body}");
        assert_eq!(body["field"], "type", "{kind}: {body}");
    }
}
