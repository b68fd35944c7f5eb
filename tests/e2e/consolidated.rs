//! A customer's reminders due in the same tick on email go as one message
//! listing every invoice; each invoice still records its own step once.

use crate::pipeline::{Site, customer, invoice};

fn site(config: &str) -> Site {
    let site = Site::new();
    site.write("sollecito.toml", config);
    let second = invoice("a-2", "rome", "").replace(r#""amount_due": "100.00""#, r#""amount_due": "250.00""#);
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {second}, {}]}}"#,
        customer("rome", "Europe/Rome", ""),
        customer("milan", "Europe/Rome", ""),
        invoice("a-1", "rome", ""),
        invoice("b-1", "milan", ""),
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    site
}

#[test]
fn two_invoices_due_the_same_day_make_one_email_listing_both() {
    let site = site("");
    // Both due 28 October: the soft reminder is due on 4 November for each.
    let report = site.json(&["run", "--at", "2026-11-04T10:00:00Z"]);
    assert_eq!(report["sent"], 3, "{report}");
    let emails: Vec<String> = site.emails().into_iter().collect();
    assert_eq!(emails, ["a-1.overdue-7.eml", "b-1.overdue-7.eml"]);
    let email = site.email_text("a-1.overdue-7.eml");
    assert!(email.contains("Risultano aperte anche:"), "{email}");
    assert!(email.contains("fattura N-a-2: 250,00"), "{email}");
    // The other customer's message lists nothing else.
    assert!(!site.email_text("b-1.overdue-7.eml").contains("Risultano aperte anche"));

    // Each invoice records its own step, once.
    for id in ["a-1", "a-2"] {
        let steps: Vec<_> = site.actions(id).into_iter().filter(|a| a.0 == "overdue-7").collect();
        assert_eq!(steps.len(), 1, "{id}: {steps:?}");
        assert_eq!(steps[0].1, "sent", "{id}: {steps:?}");
    }
    let history = site.json(&["history", "a-2"]);
    let receipt = history["actions"][0]["receipt"].as_str().unwrap();
    assert!(receipt.starts_with("in the message of a-1/overdue-7"), "{receipt}");

    // A second run at the same time sends nothing more.
    let again = site.json(&["run", "--at", "2026-11-04T10:00:00Z"]);
    assert_eq!(again["sent"], 0, "{again}");
}

#[test]
fn without_consolidation_each_invoice_gets_its_own_email() {
    let site = site("[sending]\nconsolidate = []\n");
    site.ok(&["run", "--at", "2026-11-04T10:00:00Z"]);
    let emails: Vec<String> = site.emails().into_iter().collect();
    assert_eq!(emails, ["a-1.overdue-7.eml", "a-2.overdue-7.eml", "b-1.overdue-7.eml"]);
    assert!(!site.email_text("a-1.overdue-7.eml").contains("Risultano aperte anche"));
}

#[test]
fn one_message_is_one_contact_for_the_weekly_cap() {
    let site = Site::new();
    site.write("sollecito.toml", &format!("[policies]\ndefault = {:?}\n", sollecito_test_artifacts::OUTSIDER));
    let invoices: Vec<String> = (1..=4).map(|i| invoice(&format!("i-{i}"), "rome", "")).collect();
    let data =
        format!(r#"{{"customers": [{}], "invoices": [{}]}}"#, customer("rome", "Europe/Rome", ""), invoices.join(","));
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    let first = site.json(&["run", "--at", "2026-11-03T09:00:00Z"]);
    // Four invoices, one email: the cap of three contacts a week is not reached.
    assert_eq!((first["sent"].as_u64(), first["deferred_cap"].as_u64()), (Some(4), Some(0)), "{first}");
    assert_eq!(site.emails().len(), 1);
    let email = site.email_text("i-1.outsider-nudge.eml");
    for other in ["N-i-2", "N-i-3", "N-i-4"] {
        assert!(email.contains(other), "{other} missing:\n{email}");
    }
}

#[test]
fn invoices_in_another_currency_go_in_a_message_of_their_own() {
    let site = Site::new();
    let yen = invoice("a-3", "rome", "")
        .replace(r#""currency": "EUR", "amount_due": "100.00""#, r#""currency": "JPY", "amount_due": "5000""#);
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}, {}, {yen}]}}"#,
        customer("rome", "Europe/Rome", ""),
        invoice("a-1", "rome", ""),
        invoice("a-2", "rome", ""),
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-11-04T10:00:00Z"]);
    let emails: Vec<String> = site.emails().into_iter().collect();
    assert_eq!(emails, ["a-1.overdue-7.eml", "a-3.overdue-7.eml"]);
    assert!(site.email_text("a-1.overdue-7.eml").contains("fattura N-a-2"));
    assert!(!site.email_text("a-3.overdue-7.eml").contains("Risultano aperte anche"));
}
