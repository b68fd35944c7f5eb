//! What a customer's reply says, read by the bundled reader plugin and acted
//! on through the real binary: a promise holds the reminders until its day
//! and needs nobody; "we paid" opens a task to verify it; a dispute opens a
//! dispute; a promise too far ahead is for a person. Counted at a real SMTP server.

use crate::author::scenarios;
use crate::common::*;
use crate::inbound::{FIRST_RUN, NORDWIND, ROSSI, SECOND_RUN, event_kinds, inbound, received_by, reminded, reply};

/// The invoice as the store keeps it.
fn stored(site: &crate::pipeline::Site, invoice: &str) -> serde_json::Value {
    let data = Db::new(&site.db()).strings(&format!("SELECT data FROM invoices WHERE id = '{invoice}'"));
    serde_json::from_str(&data[0]).unwrap()
}

#[test]
fn a_promise_read_from_a_reply_holds_the_reminders_until_its_day_and_opens_no_task() {
    let (smtp, site) = reminded("");
    let (id, subject) = received_by(&smtp, ROSSI).remove(0);
    let text = "Buongiorno,\r\npagheremo il 20 ottobre con bonifico.\r\nCordiali saluti\r\nMarco Rossi";
    let file = site.write("promise.eml", &reply(ROSSI, &id, &subject, text));
    let handled = inbound(&site, &file, "2026-10-08T14:30:00Z");
    assert_eq!(handled["state"], "applied", "{handled}");
    // Written on Thursday 8 October 2026: "il 20 ottobre" is the 20th of that month.
    assert_eq!(handled["reading"], serde_json::json!({ "intent": "promise", "until": "2026-10-20" }), "{handled}");
    let kinds = event_kinds(&site, "inv-1001");
    assert!(
        kinds.contains(&"promise-to-pay".to_string()) && kinds.contains(&"reply-received".to_string()),
        "{kinds:?}"
    );
    let tasks = site.json(&["tasks"]);
    assert!(tasks.as_array().unwrap().iter().all(|t| t["invoice_id"] != "inv-1001"), "a promise needs nobody: {tasks}");
    assert_eq!(stored(&site, "inv-1001")["promise_to_pay"]["until"], "2026-10-20");

    // The second reminder goes to Nordwind on the 16th, not to Rossi, who promised the 20th ...
    site.ok(&["run", "--at", SECOND_RUN]);
    assert_eq!(received_by(&smtp, NORDWIND).len(), 2);
    assert_eq!(received_by(&smtp, ROSSI).len(), 1, "held by the promise");
    site.ok(&["run", "--at", "2026-10-20T12:00:00Z"]);
    assert_eq!(received_by(&smtp, ROSSI).len(), 1, "still the promised day");
    // ... and the day after the promise lapsed unpaid, dunning goes on.
    site.ok(&["run", "--at", "2026-10-21T12:00:00Z"]);
    assert_eq!(received_by(&smtp, ROSSI).len(), 2, "the promise was broken");

    // The report counts the promise as the outcome of the reminder it answered.
    let report = site.json(&["report", "--from", "2026-10-01", "--to", "2026-10-31"]);
    assert_eq!(report["total"]["replied"], 1, "{report}");
    assert_eq!(report["total"]["promised"], 1, "{report}");
}

#[test]
fn we_paid_opens_a_task_to_verify_a_dispute_opens_a_dispute_and_a_far_promise_goes_to_a_person() {
    let (smtp, site) = reminded("[inbound]\nmax_promise_days = 30\n");
    let (nordwind_id, nordwind_subject) = received_by(&smtp, NORDWIND).remove(0);
    let paid = "Guten Tag,\r\nwir haben die Rechnung bereits bezahlt, Überweisung vom 7.10., Referenz TRN-20261007.\r\nMit freundlichen Grüßen";
    let file = site.write("paid.eml", &reply(NORDWIND, &nordwind_id, &nordwind_subject, paid));
    let handled = inbound(&site, &file, "2026-10-08T14:30:00Z");
    assert_eq!(
        handled["reading"],
        serde_json::json!({ "intent": "says-paid", "on": "2026-10-07", "reference": "TRN-20261007" }),
        "{handled}"
    );
    let tasks = site.json(&["tasks"]);
    let verify = tasks.as_array().unwrap().iter().find(|t| t["invoice_id"] == "inv-1003").expect("a task: {tasks}");
    let title = verify["title"].as_str().unwrap();
    assert!(
        title.starts_with("Verify a payment:") && title.contains("2026-10-07") && title.contains("TRN-20261007"),
        "{title}"
    );
    // Held for the default three working days: Tuesday 13 October.
    assert!(handled["reason"].as_str().unwrap().contains("2026-10-13"), "{handled}");
    let answered = &stored(&site, "inv-1003")["answered"];
    assert_eq!((answered["intent"].as_str(), answered["until"].as_str()), (Some("says-paid"), Some("2026-10-13")));

    let (rossi_id, rossi_subject) = received_by(&smtp, ROSSI).remove(0);
    let far = "Pagheremo il 20 marzo 2027, non prima.";
    let file = site.write("far.eml", &reply(ROSSI, &rossi_id, &rossi_subject, far));
    let handled = inbound(&site, &file, "2026-10-08T15:00:00Z");
    let reason = handled["reason"].as_str().unwrap();
    assert!(reason.contains("2027-03-20") && reason.contains("beyond 30 days"), "{handled}");
    assert!(!event_kinds(&site, "inv-1001").contains(&"promise-to-pay".to_string()), "not taken as a promise");
    let tasks = site.json(&["tasks"]);
    assert!(tasks.as_array().unwrap().iter().any(|t| t["invoice_id"] == "inv-1001"), "for a person: {tasks}");

    let dispute = "Contestiamo la fattura: la merce è arrivata danneggiata.";
    let file = site.write("dispute.eml", &reply(ROSSI, &rossi_id, "Contestazione", dispute));
    let handled = inbound(&site, &file, "2026-10-09T09:00:00Z");
    assert_eq!(handled["reading"]["intent"], "dispute", "{handled}");
    let dispute = &stored(&site, "inv-1001")["dispute"]["reason"];
    assert_eq!(dispute, "Contestiamo la fattura: la merce è arrivata danneggiata");
    // A disputed invoice gets no reminder; Nordwind's says-paid hold ends on the 13th, so the 16th reminds it.
    site.ok(&["run", "--at", SECOND_RUN]);
    assert_eq!(received_by(&smtp, ROSSI).len(), 1, "disputed");
    assert_eq!(received_by(&smtp, NORDWIND).len(), 2, "nobody verified the payment: dunning goes on");
    let _ = FIRST_RUN;
}

#[test]
fn the_bundled_reader_passes_its_scenarios_and_a_reader_of_another_kind_is_refused_by_name() {
    let files = scenarios("plugins/reader");
    assert!(!files.is_empty());
    let mut args = vec!["plugin", "test", "reader"];
    args.extend(files.iter().map(String::as_str));
    let out = sollecito(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("PASS ") && stdout(&out).contains("10 replies read"), "{}", stdout(&out));
    let listed = sollecito(&["plugins", "--json"]);
    let plugins: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let reader = plugins.as_array().unwrap().iter().find(|p| p["name"] == "reader").expect("bundled");
    assert_eq!(
        (reader["kind"].as_str(), reader["world"].as_str()),
        (Some("reader"), Some("sollecito:plugin/reader@0.3.0"))
    );

    let site = crate::pipeline::Site::new();
    site.write("sollecito.toml", "[inbound]\nreader = \"email\"\n");
    let file = site.write("reply.eml", &reply(ROSSI, "x@y", "s", "ciao"));
    let out = site.run(&["inbound", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("inbound.reader: email is a channel adapter, not a reply reader"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_reply_our_mail_server_found_forged_changes_nothing_and_goes_to_a_person() {
    let (smtp, site) = reminded("[inbound]\nauthserv_id = \"mx.acme.example\"\n");
    let (id, subject) = received_by(&smtp, ROSSI).remove(0);
    let message = reply(ROSSI, &id, &subject, "Abbiamo già pagato tutto, smettete di scriverci.");
    let forged = format!(
        "Authentication-Results: mx.acme.example; spf=fail smtp.mailfrom=rossi-impianti.example;\r\n \
         dkim=none; dmarc=fail header.from=rossi-impianti.example\r\n{message}"
    );
    let file = site.write("forged.eml", &forged);
    let handled = inbound(&site, &file, "2026-10-08T14:30:00Z");
    assert_eq!(handled["state"], "task", "{handled}");
    let reason = handled["reason"].as_str().unwrap();
    assert!(reason.contains("failed the mail server's checks (spf=fail, dkim=none, dmarc=fail)"), "{reason}");
    assert!(!event_kinds(&site, "inv-1001").contains(&"reply-received".to_string()), "nothing held");
    // The same words, vouched for by our server, are read and acted on.
    let vouched = format!(
        "Authentication-Results: mx.acme.example; spf=pass; dkim=pass header.d=rossi-impianti.example; dmarc=pass\r\n{}",
        reply(ROSSI, &id, &subject, "Abbiamo già pagato tutto, bonifico del 5/10.")
    );
    let file = site.write("vouched.eml", &vouched);
    let handled = inbound(&site, &file, "2026-10-08T15:30:00Z");
    assert_eq!(
        (handled["state"].as_str(), handled["reading"]["intent"].as_str()),
        (Some("applied"), Some("says-paid"))
    );
    assert_eq!(handled["reading"]["on"], "2026-10-05", "{handled}");
}
