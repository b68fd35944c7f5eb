//! Stripe delivers an event more than once and out of order, and says so.
//! Every ordered pair of `invoice.*` events, each delivered five times, ends
//! in the state of the newest event; a paid invoice is never reopened by an
//! older one and never reminded again.

use serde_json::{Value, json};

use crate::pipeline::Site;
use crate::serve::{STRIPE, Service, TOKEN, fixture};

/// One of Stripe's invoice events about invoice `id`, created at `created`, in `status`.
fn event(kind: &str, id: &str, created: i64, status: &str, n: usize) -> Value {
    let source = if status == "paid" { "evt_invoice_paid.json" } else { "evt_invoice_payment_failed.json" };
    let mut e = fixture(source);
    let now = chrono::Utc::now().timestamp();
    e["id"] = json!(format!("evt_{kind}_{id}"));
    e["type"] = json!(kind);
    e["created"] = json!(created);
    let o = &mut e["data"]["object"];
    o["id"] = json!(id);
    o["customer"] = json!(format!("cus_{n}"));
    o["status"] = json!(status);
    // Mutated per invoice: amounts and currencies of their own, long overdue.
    let amount = 1_000 + 137 * n as i64;
    o["amount_due"] = json!(amount);
    o["amount_paid"] = json!(if status == "paid" { amount } else { 0 });
    o["amount_remaining"] = json!(if status == "paid" { 0 } else { amount });
    o["currency"] = json!(["eur", "usd", "gbp", "jpy"][n % 4]);
    o["created"] = json!(now - 40 * 86_400);
    o["due_date"] = json!(now - 20 * 86_400);
    e
}

#[test]
fn replays_and_every_order_of_invoice_events_end_in_the_newest_state() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let t = chrono::Utc::now().timestamp() - 3_600;
    // (type, created, status): what each says about the invoice.
    let kinds = [
        ("invoice.finalized", t, "open"),
        ("invoice.payment_failed", t + 60, "open"),
        ("invoice.paid", t + 120, "paid"),
        ("invoice.voided", t + 180, "void"),
        // The same second as the payment: the final state stands.
        ("invoice.updated", t + 120, "open"),
    ];
    let mut cases = vec![];
    for (a, first) in kinds.iter().enumerate() {
        for (b, second) in kinds.iter().enumerate() {
            if a == b {
                continue;
            }
            let n = cases.len();
            let id = format!("in_pair_{n:02}");
            for (kind, created, status) in [first, second] {
                let e = event(kind, &id, *created, status, n);
                // Five deliveries of each, as Stripe may.
                for _ in 0..5 {
                    let (code, body) = svc.stripe(&e, STRIPE);
                    assert_eq!(code, 200, "{kind} on {id}: {body}");
                }
            }
            // The newest wins; in a tie a final state beats an open one.
            let rank = |s: &str| if s == "open" { 0 } else { 1 };
            let expected = [first, second].into_iter().max_by_key(|(_, c, s)| (*c, rank(s))).unwrap().2;
            cases.push((id, first.0, second.0, expected));
        }
    }
    // A few ticks go by.
    std::thread::sleep(std::time::Duration::from_secs(3));
    for (id, first, second, expected) in &cases {
        let history = svc.admin("GET", &format!("/v1/invoices/{id}/history"), "");
        assert_eq!(history["status"], *expected, "{first} then {second} on {id}: {history}");
        // Replays change nothing: each state change is in the log once.
        let changes = history["events"].as_array().unwrap().iter().filter(|e| e["kind"] != "imported").count();
        assert!(changes <= 2, "{first} then {second}: {changes} changes from 10 deliveries: {history}");
        // A paid invoice whose payment came first is never reminded.
        if *first == "invoice.paid" {
            let sent = history["actions"].as_array().unwrap().iter().filter(|a| a["state"] == "sent").count();
            assert_eq!(sent, 0, "{first} then {second}: a reminder to a paid invoice: {history}");
        }
    }
    // An event without an id, or a forged one, changes nothing and says which field.
    let mut bad = event("invoice.paid", "in_bad", t, "paid", 99);
    bad.as_object_mut().unwrap().remove("id");
    let (code, body) = svc.stripe(&bad, STRIPE);
    assert_eq!((code, body["field"].as_str()), (422, Some("id")), "{body}");
    let mut long = event("invoice.paid", &"x".repeat(200), t, "paid", 98);
    long["id"] = json!("evt_long");
    let (code, body) = svc.stripe(&long, STRIPE);
    assert_eq!((code, body["field"].as_str()), (422, Some("data.object.id")), "{body}");
    let (code, _) = svc.call("GET", "/v1/invoices/in_bad/history", Some(TOKEN), "");
    assert_eq!(code, 404);
}
