use serde_json::{Value, json};

use super::*;

fn customer() -> Customer {
    serde_json::from_value(json!({
        "id": "c", "name": "C", "email": "c@example.com", "phone": null, "postal_address": null,
        "locale": "it-IT", "timezone": "Europe/Rome", "segment": "default", "business": false, "tags": [],
        "customer_since": "2020-01-01", "invoices_paid": 0, "paid_on_time": 0, "opted_out": [], "dunning_stop": false
    }))
    .unwrap()
}

fn invoice() -> Invoice {
    serde_json::from_value(json!({
        "id": "i", "number": "1", "customer_id": "c", "status": "open", "kind": "one-off", "currency": "EUR",
        "amount_due": 10_000, "amount_paid": 0, "issued": "2026-01-01", "due": "2026-01-31", "payment_link": null,
        "payment_failure": null, "dispute": null, "promise_to_pay": null, "payment_method": null
    }))
    .unwrap()
}

/// A value for each field an event may have, as a file or a request would write it.
fn sample(field: &str) -> Value {
    match field {
        "amount" => json!(2_500),
        "decline_code" => json!("insufficient_funds"),
        "reason" => json!("not received"),
        "until" => json!("2026-02-20"),
        "channel" => json!("sms"),
        "plan" => json!({"step": "plan", "accepted": "2026-02-01T10:00:00Z", "paid_before": 0,
                         "instalments": [{"number": 1, "due": "2026-03-01", "amount": 10_000}]}),
        "fee" => json!({"step": "fee", "amount": 4_000, "reason": "late-payment compensation"}),
        other => panic!("no sample for the field {other}: add one"),
    }
}

#[test]
fn every_kind_has_one_name_and_reads_back() {
    let names: std::collections::BTreeSet<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), EventKind::ALL.len(), "two kinds share a name");
    for kind in EventKind::ALL {
        assert_eq!(EventKind::parse(kind.name()), Some(kind));
    }
    assert_eq!(EventKind::parse("payment-recorded"), None, "the importer's old word is gone (migration 19)");
    for kind in OutcomeKind::ALL {
        assert_eq!(OutcomeKind::parse(kind.name()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.name()));
    }
}

/// The wire name and fields an `EventKind` declares are the ones the `Event`
/// enum reads: an event of each kind, written with exactly its fields, comes
/// in through the intake's rules as that kind, and one more field is refused.
#[test]
fn each_kind_reads_exactly_its_fields() {
    for kind in EventKind::ALL {
        let Some(fields) = kind.fields() else { continue };
        let mut object = serde_json::Map::new();
        object.insert("type".into(), json!(kind.name()));
        for field in fields {
            object.insert(field.to_string(), sample(field));
        }
        let event = crate::intake::fields::event(&object).unwrap_or_else(|bad| panic!("{kind}: {bad:?}"));
        assert_eq!(event.kind(), kind);
        assert_eq!(serde_json::to_value(&event).unwrap()["type"], json!(kind.name()));
        object.insert("extra".into(), json!(1));
        let bad = crate::intake::fields::event(&object).unwrap_err();
        assert_eq!((bad.field.as_str(), bad.unknown), ("extra", true), "{kind}");
    }
    let recorded = json!({"type": "imported"});
    let bad = crate::intake::fields::event(recorded.as_object().unwrap()).unwrap_err();
    assert_eq!(bad.field, "type");
}

#[test]
fn a_part_payment_that_settles_is_an_outcome_of_payment_in_full() {
    assert_eq!(EventKind::PaymentReceived.outcome(InvoiceStatus::Open), Some(OutcomeKind::PaidInPart));
    assert_eq!(EventKind::PaymentReceived.outcome(InvoiceStatus::Paid), Some(OutcomeKind::Paid));
    assert_eq!(EventKind::OptOut.outcome(InvoiceStatus::Open), Some(OutcomeKind::OptedOut));
    for none in [EventKind::PaymentFailed, EventKind::Imported, EventKind::Updated, EventKind::FeeAdded] {
        assert_eq!(none.outcome(InvoiceStatus::Open), None, "{none}");
    }
    assert!(!EventKind::FeeAdded.posted_by_clients() && !EventKind::Imported.posted_by_clients());
    assert!(EventKind::PaymentReversed.posted_by_clients());
}

#[test]
fn a_payment_is_bounded_by_what_is_owed_and_an_overpayment_is_said() {
    let (mut customer, mut invoice) = (customer(), invoice());
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
    // A reversal reopens it, never below nothing paid.
    let back = Event::PaymentReversed { amount: 2_500 }.apply(&mut invoice, &mut customer, at);
    assert_eq!(back, "25.00 EUR reversed: 25.00 EUR outstanding");
    assert_eq!((invoice.status, invoice.amount_paid), (InvoiceStatus::Open, 7_500));
    Event::PaymentReversed { amount: i64::MAX }.apply(&mut invoice, &mut customer, at);
    assert_eq!(invoice.amount_paid, 0);
}

/// An import's difference, as events applied to the old invoice, gives the
/// new one's status and amount paid: the record tells what the store holds.
#[test]
fn what_an_import_changed_replays_to_what_it_holds() {
    let with = |status: &str, paid: i64| {
        let mut i = invoice();
        i.status = serde_json::from_value(json!(status)).unwrap();
        i.amount_paid = paid;
        i
    };
    let cases = [
        (with("open", 0), with("paid", 10_000), vec![EventKind::Paid]),
        (with("open", 0), with("open", 4_000), vec![EventKind::PaymentReceived]),
        (with("open", 4_000), with("paid", 10_000), vec![EventKind::Paid]),
        (with("paid", 10_000), with("open", 6_000), vec![EventKind::PaymentReversed]),
        (with("open", 0), with("void", 0), vec![EventKind::Void]),
        (with("open", 0), with("written-off", 0), vec![EventKind::WrittenOff]),
        (with("void", 0), with("open", 0), vec![EventKind::Reopened]),
        (with("open", 2_000), with("void", 3_000), vec![EventKind::PaymentReceived, EventKind::Void]),
        (with("open", 0), with("open", 0), vec![]),
    ];
    for (before, after, kinds) in cases {
        let events = changes_between(&before, &after);
        assert_eq!(events.iter().map(Event::kind).collect::<Vec<_>>(), kinds, "{before:?} -> {after:?}");
        let mut replayed = before.clone();
        for e in &events {
            e.apply(&mut replayed, &mut customer(), Utc::now());
        }
        assert_eq!((replayed.status, replayed.amount_paid), (after.status, after.amount_paid), "{kinds:?}");
    }
    let mut disputed = invoice();
    disputed.dispute = Some(Dispute { opened: Utc::now(), reason: "wrong amount".into() });
    assert_eq!(changes_between(&invoice(), &disputed), [Event::DisputeOpened { reason: "wrong amount".into() }]);
    assert_eq!(changes_between(&disputed, &invoice()), [Event::DisputeClosed]);
}

#[test]
fn three_bounces_for_now_in_a_row_are_for_good_and_an_answer_starts_the_count_again() {
    let (mut inv, mut c) = (invoice(), customer());
    c.email = Some("A@Example.com".into());
    let at: DateTime<Utc> = "2026-10-01T09:00:00Z".parse().unwrap();
    let soft = Event::Bounced { address: "a@example.com".into(), permanent: false, status: "4.2.2".into() };
    soft.apply(&mut inv, &mut c, at);
    soft.apply(&mut inv, &mut c, at);
    assert_eq!(c.deliverable_email(), Some("A@Example.com"), "two are not yet for good");
    // The customer answers: the address works, the count starts again.
    Event::AutoReplied.apply(&mut inv, &mut c, at);
    let line = soft.apply(&mut inv, &mut c, at);
    assert!(line.contains("1 of 3"), "{line}");
    soft.apply(&mut inv, &mut c, at);
    let line = soft.apply(&mut inv, &mut c, at);
    assert!(line.contains("no more email to that address"), "{line}");
    assert_eq!(c.deliverable_email(), None);
    // Another address is another mailbox.
    c.email = Some("b@example.com".into());
    assert_eq!(c.deliverable_email(), Some("b@example.com"));
}
