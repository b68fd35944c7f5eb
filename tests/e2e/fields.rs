//! Hostile names and fields at every entry (issue 13, item 3): the HTTP API,
//! the Stripe webhook and `sollecito import` apply the same rules. Each hostile
//! value gets a 4xx (or an import error) naming its field, and the store is
//! unchanged, row by row (the service) or byte for byte (the import).

use serde_json::{Value, json};

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::{STRIPE, Service, TOKEN, fixture};

/// `base` with `key` set to `value` (`null` removes nothing: it sets null).
fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

fn good_customer() -> Value {
    json!({"name": "Mario Rossi", "email": "mario@example.it", "phone": "+39 055 555 0101", "locale": "it-IT",
           "timezone": "Europe/Rome", "segment": "b2b", "opted_out": ["sms"]})
}

fn good_invoice() -> Value {
    json!({"number": "F-1", "customer": "c1", "status": "paid", "currency": "EUR", "amount_due": "100.00",
           "amount_paid": "100.00", "issued": "2026-10-01", "due": "2026-10-28",
           "payment_link": "https://pay.example/i1"})
}

#[test]
fn hostile_fields_through_the_api_and_stripe_are_refused_by_name_and_change_nothing() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let db = Db::new(&site.db());
    let now = chrono::Utc::now().timestamp();

    // What is known before: a customer and a paid invoice by the API, and the same
    // through Stripe with a charge a dispute can name. Paid: the scheduler leaves them be.
    svc.admin("PUT", "/v1/customers/c1", &good_customer().to_string());
    svc.admin("PUT", "/v1/invoices/i1", &good_invoice().to_string());
    let mut stripe_customer = fixture("customer.json");
    stripe_customer["email"] = json!("jenny.rosen@example.com");
    stripe_customer["name"] = json!("Jenny Rosen");
    stripe_customer["phone"] = json!("+1 555 0100");
    stripe_customer["preferred_locales"] = json!(["en-US"]);
    let customer_event = |id: &str, object: &Value| {
        let mut event = fixture("event.json");
        (event["id"], event["type"], event["created"]) = (json!(id), json!("customer.updated"), json!(now + 10));
        event["data"] = json!({ "object": object });
        event
    };
    let (status, body) = svc.stripe(&customer_event("evt_setup_customer", &stripe_customer), STRIPE);
    assert_eq!(status, 200, "{body}");
    let mut paid = fixture("evt_invoice_paid.json");
    (paid["id"], paid["created"]) = (json!("evt_setup_invoice"), json!(now + 10));
    let object = &mut paid["data"]["object"];
    object["charge"] = json!("ch_known");
    object["number"] = json!("INV-0001");
    object["hosted_invoice_url"] = json!("https://invoice.stripe.com/i/acct_1/test_1");
    let stripe_invoice = paid["data"]["object"].clone();
    let invoice_id = stripe_invoice["id"].as_str().unwrap().to_string();
    let (status, body) = svc.stripe(&paid, STRIPE);
    assert_eq!(status, 200, "{body}");
    let history = svc.admin("GET", &format!("/v1/invoices/{invoice_id}/history"), "");
    assert_eq!(history["status"], "paid", "{history}");

    let before = db.dump();
    assert!(
        before.contains("Mario Rossi") && before.contains("Jenny Rosen") && before.contains(&invoice_id),
        "{before}"
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(db.dump(), before, "the store is still while nothing comes in (the premise of this test)");

    // (method, path, body, status, field)
    let c = good_customer();
    let i = good_invoice();
    let crlf_email = json!("mario@example.it\r\nBcc: victim@example.org");
    let long = "x".repeat(201);
    let api: Vec<(&str, &str, Value, u16, &str)> = vec![
        ("PUT", "/v1/customers/c1", with(&c, "email", crlf_email.clone()), 422, "email"),
        ("PUT", "/v1/customers/c1", with(&c, "email", json!("Mario <mario@example.it>")), 422, "email"),
        ("PUT", "/v1/customers/c1", with(&c, "email", json!("mario@")), 422, "email"),
        ("PUT", "/v1/customers/c1", with(&c, "locale", json!("zz_ZZ@@")), 422, "locale"),
        ("PUT", "/v1/customers/c1", with(&c, "locale", json!("it_IT")), 422, "locale"),
        ("PUT", "/v1/customers/c1", with(&c, "name", json!("Mario\r\nRossi")), 422, "name"),
        ("PUT", "/v1/customers/c1", with(&c, "name", json!("Mario\u{0}")), 422, "name"),
        ("PUT", "/v1/customers/c1", with(&c, "name", json!(long)), 422, "name"),
        ("PUT", "/v1/customers/c1", with(&c, "name", json!(" ")), 422, "name"),
        ("PUT", "/v1/customers/c1", with(&c, "phone", json!("+39 055\r\n")), 422, "phone"),
        ("PUT", "/v1/customers/c1", with(&c, "opted_out", json!(["email", "../../x"])), 422, "opted_out"),
        ("PUT", "/v1/customers/c1", with(&c, "segment", json!("../../etc")), 422, "segment"),
        ("PUT", "/v1/customers/c1", with(&c, "admin", json!(true)), 400, "admin"),
        (
            "PUT",
            "/v1/invoices/i1",
            with(&i, "payment_link", json!("javascript:alert(document.cookie)")),
            422,
            "payment_link",
        ),
        ("PUT", "/v1/invoices/i1", with(&i, "payment_link", json!("http://pay.example/i1")), 422, "payment_link"),
        ("PUT", "/v1/invoices/i1", with(&i, "payment_link", json!("https://pay.example/\ni1")), 422, "payment_link"),
        (
            "PUT",
            "/v1/invoices/i1",
            with(&i, "payment_link", json!("https://bank.example@evil.example/")),
            422,
            "payment_link",
        ),
        ("PUT", "/v1/invoices/i1", with(&i, "number", json!("F-1\r\nX-Injected: 1")), 422, "number"),
        ("PUT", "/v1/invoices/i1", with(&i, "number", json!(long)), 422, "number"),
        ("PUT", "/v1/invoices/i1", with(&i, "colour", json!("red")), 400, "colour"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "paid", "admin": true}), 400, "admin"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "opt-out", "channel": "sms", "also": 1}), 400, "also"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "opt-out", "channel": "../../x"}), 422, "channel"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "opt-out", "channel": "Email\r\n"}), 422, "channel"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "promise-to-pay", "until": "2026-02-30"}), 422, "until"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "promise-to-pay", "until": "soon"}), 422, "until"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "promise-to-pay"}), 422, "until"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "payment-received", "amount": 0}), 422, "amount"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "payment-received", "amount": "100"}), 422, "amount"),
        (
            "POST",
            "/v1/invoices/i1/events",
            json!({"type": "payment-failed", "decline_code": "x\r\ny"}),
            422,
            "decline_code",
        ),
        ("POST", "/v1/invoices/i1/events", json!({"type": "dispute-opened", "reason": "a\u{0}b"}), 422, "reason"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "refund"}), 422, "type"),
        ("POST", "/v1/invoices/i1/events", json!({"type": "fee-added", "fee": {}}), 422, "type"),
        ("POST", "/v1/invoices/i1/events", json!(["paid"]), 400, "json"),
    ];
    for (method, path, body, status, field) in &api {
        let (got, answer) = svc.call(method, path, Some(TOKEN), &body.to_string());
        assert_eq!((got, answer["field"].as_str()), (*status, Some(*field)), "{method} {path} {body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
        assert_eq!(db.dump(), before, "{method} {path} {body} changed the store");
    }

    // The same rules on what Stripe sends: 422 naming Stripe's field, nothing stored.
    let mut stripe: Vec<(Value, &str)> = vec![];
    let customer_cases: [(&str, Value); 6] = [
        ("email", crlf_email.clone()),
        ("email", json!("Jenny <jenny@example.com>")),
        ("name", json!("Jenny\r\nRosen")),
        ("name", json!(long)),
        ("phone", json!("+1 555\u{0}0100")),
        ("preferred_locales", json!(["zz_ZZ@@"])),
    ];
    for (n, (key, value)) in customer_cases.into_iter().enumerate() {
        let object = with(&stripe_customer, key, value);
        stripe.push((customer_event(&format!("evt_hostile_customer_{n}"), &object), key));
    }
    let invoice_cases: [(&str, Value); 6] = [
        ("hosted_invoice_url", json!("javascript:alert(1)")),
        ("hosted_invoice_url", json!("http://invoice.example/x")),
        ("number", json!("INV\r\n0001")),
        ("customer_email", crlf_email.clone()),
        ("customer_name", json!("Jenny\u{7}")),
        ("charge", json!("ch_\u{0}")),
    ];
    for (n, (key, value)) in invoice_cases.into_iter().enumerate() {
        let mut event = paid.clone();
        (event["id"], event["created"]) = (json!(format!("evt_hostile_invoice_{n}")), json!(now + 20));
        event["data"]["object"] = with(&stripe_invoice, key, value);
        stripe.push((event, key));
    }
    let mut failed = paid.clone();
    (failed["id"], failed["type"], failed["created"]) =
        (json!("evt_hostile_failed"), json!("invoice.payment_failed"), json!(now + 20));
    failed["data"]["object"]["last_payment_error"] = json!({"decline_code": "card_declined\r\nX: 1"});
    stripe.push((failed, "last_payment_error.decline_code"));
    let mut dispute = fixture("evt_charge_dispute_created.json");
    (dispute["id"], dispute["created"]) = (json!("evt_hostile_dispute"), json!(now + 20));
    dispute["data"]["object"]["charge"] = json!("ch_known");
    dispute["data"]["object"]["reason"] = json!("fraudulent\r\nX-Injected: 1");
    stripe.push((dispute, "reason"));
    for (event, key) in &stripe {
        let (status, answer) = svc.stripe(event, STRIPE);
        let field = format!("data.object.{key}");
        assert_eq!((status, answer["field"].as_str()), (422, Some(field.as_str())), "{}: {answer}", event["id"]);
        assert_eq!(db.dump(), before, "{} changed the store", event["id"]);
    }

    // An overpayment is taken, bounded: the invoice is paid and the excess said.
    let mut open = with(&good_invoice(), "status", json!("open"));
    open["amount_paid"] = json!("0");
    svc.admin("PUT", "/v1/invoices/i2", &with(&open, "number", json!("F-2")).to_string());
    let applied =
        svc.admin("POST", "/v1/invoices/i2/events", r#"{"type": "payment-received", "amount": 1000000000000}"#);
    assert_eq!(
        applied["applied"],
        "10000000000.00 EUR received: paid in full, dunning ends; 9999999900.00 EUR overpaid (more than was \
         outstanding: to refund or credit)"
    );
    assert_eq!(svc.admin("GET", "/v1/invoices/i2/history", "")["status"], "paid");
    svc.terminate();
}

#[test]
fn hostile_fields_in_an_import_are_refused_by_name_and_change_nothing() {
    let site = Site::new();
    let customer = good_customer();
    let invoice = with(&good_invoice(), "id", json!("i1"));
    let good = json!({"customers": [with(&customer, "id", json!("c1"))], "invoices": [invoice]});
    site.ok(&["import", site.write("good.json", &good.to_string()).to_str().unwrap()]);
    let before = Db::new(&site.db()).dump();

    let c = with(&customer, "id", json!("c1"));
    let i = with(&good_invoice(), "id", json!("i1"));
    let dataset = |customer: Value, invoice: Value, events: Value| {
        json!({"customers": [customer], "invoices": [invoice], "events": events}).to_string()
    };
    let event = |e: Value| {
        let mut e = e;
        (e["invoice"], e["on"]) = (json!("i1"), json!("2026-11-01"));
        json!([e])
    };
    // (file, its text, where, field)
    let files: Vec<(&str, String, &str, &str)> = vec![
        (
            "email.json",
            dataset(with(&c, "email", json!("m@example.it\r\nBcc: x@example.org")), i.clone(), json!([])),
            "customers[0] (c1)",
            "email",
        ),
        (
            "locale.json",
            dataset(with(&c, "locale", json!("zz_ZZ@@")), i.clone(), json!([])),
            "customers[0] (c1)",
            "locale",
        ),
        (
            "name.json",
            dataset(with(&c, "name", json!("a\u{1b}[2J")), i.clone(), json!([])),
            "customers[0] (c1)",
            "name",
        ),
        (
            "opted.json",
            dataset(with(&c, "opted_out", json!(["../../x"])), i.clone(), json!([])),
            "customers[0] (c1)",
            "opted_out",
        ),
        (
            "link.json",
            dataset(c.clone(), with(&i, "payment_link", json!("javascript:alert(1)")), json!([])),
            "invoices[0] (i1)",
            "payment_link",
        ),
        (
            "number.json",
            dataset(c.clone(), with(&i, "number", json!("9".repeat(201))), json!([])),
            "invoices[0] (i1)",
            "number",
        ),
        (
            "until.json",
            dataset(c.clone(), i.clone(), event(json!({"type": "promise-to-pay", "until": "2026-13-01"}))),
            "events[0]",
            "until",
        ),
        (
            "optout.json",
            dataset(c.clone(), i.clone(), event(json!({"type": "opt-out", "channel": "../../x"}))),
            "events[0]",
            "channel",
        ),
        (
            "unknown.json",
            dataset(c.clone(), i.clone(), event(json!({"type": "paid", "admin": true}))),
            "events[0]",
            "admin",
        ),
        (
            "rows.csv",
            "invoice_id,number,customer_id,name,email,locale,timezone,currency,amount_due,issued,due,payment_link\n\
             i1,F-1,c1,Rossi,m@example.it,it-IT,Europe/Rome,EUR,100,2026-10-01,2026-10-28,javascript:alert(1)\n"
                .into(),
            "line 2",
            "payment_link",
        ),
    ];
    for (name, text, location, field) in &files {
        let out = site.run(&["import", site.write(name, text).to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{name} was imported");
        assert!(err.contains(&format!("{location}: {field}: ")), "{name}: expected {location}: {field}, got {err}");
        assert!(err.contains("nothing was used"), "{err}");
        assert_eq!(Db::new(&site.db()).dump(), before, "{name} changed the store");
    }
}
