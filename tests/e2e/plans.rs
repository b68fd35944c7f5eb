//! Payment plans, end to end: the B2B policy offers one, the host splits
//! the balance exactly and sends the offer, `sollecito plan accept` records
//! the customer's yes, each instalment is reminded, and a missed one resumes
//! dunning on the rest.

use crate::common::stderr;
use crate::pipeline::{Site, customer, invoice};

fn site() -> Site {
    let site = Site::new();
    // PEC (the formal notice to a business) through the default relay: the outbox folder.
    site.write(
        "sollecito.toml",
        "[settings.b2b-standard]\nplan_instalments = 3\nplan_every_days = 30\n[channels.pec]\n",
    );
    let data = format!(
        r#"{{"customers": [{}, {}, {}], "invoices": [{}, {}, {}]}}"#,
        customer("rome", "Europe/Rome", r#", "business": true, "pec": "rome@pec.example.it""#),
        customer("tokyo", "Asia/Tokyo", r#", "locale": "ja-JP""#).replace(r#""locale": "it-IT", "#, ""),
        customer("kuwait", "Asia/Kuwait", r#", "locale": "ar-KW""#).replace(r#""locale": "it-IT", "#, ""),
        invoice("eur", "rome", ""),
        invoice("jpy", "tokyo", "")
            .replace(r#""currency": "EUR", "amount_due": "100.00""#, r#""currency": "JPY", "amount_due": "10000""#),
        invoice("kwd", "kuwait", "")
            .replace(r#""currency": "EUR", "amount_due": "100.00""#, r#""currency": "KWD", "amount_due": "100.000""#),
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    site
}

/// Ticks at 09:00 UTC (inside Rome, Tokyo and Kuwait hours) every day from `from` to `to` of a month of 2026.
fn days(site: &Site, month: u32, from: u32, to: u32) {
    for day in from..=to {
        site.ok(&["run", "--at", &format!("2026-{month:02}-{day:02}T09:00:00Z")]);
    }
}

/// The instalments the host offered on an invoice: (number, due, minor units).
fn offered(site: &Site, invoice: &str) -> Vec<(u64, String, i64)> {
    let history = site.json(&["history", invoice]);
    let offer = history["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "offer-plan").unwrap().clone();
    // The payload is the offer as the policy gave it, with the host's instalments, as JSON.
    offer["payload"]["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["number"].as_u64().unwrap(), i["due"].as_str().unwrap().to_string(), i["amount"].as_i64().unwrap()))
        .collect()
}

#[test]
fn a_plan_is_offered_accepted_reminded_and_a_missed_instalment_resumes_dunning() {
    let site = site();
    // Due 28 October; the offer goes 20 days later, on 17 November.
    days(&site, 10, 28, 31);
    days(&site, 11, 1, 17);

    // Awkward amounts split exactly, the first instalments taking the extra minor unit.
    let eur = offered(&site, "eur");
    assert_eq!(eur.iter().map(|i| i.2).collect::<Vec<_>>(), [33_34, 33_33, 33_33]);
    assert_eq!(eur.iter().map(|i| i.1.as_str()).collect::<Vec<_>>(), ["2026-11-27", "2026-12-27", "2027-01-26"]);
    assert_eq!(offered(&site, "jpy").iter().map(|i| i.2).collect::<Vec<_>>(), [3_334, 3_333, 3_333]);
    assert_eq!(offered(&site, "kwd").iter().map(|i| i.2).collect::<Vec<_>>(), [33_334, 33_333, 33_333]);

    // The offer is its own message, in the customer's language.
    let offer = site.email_text("eur.plan-offer.eml");
    assert!(site.email("eur.plan-offer.eml").contains("Subject: Proposta di pagamento rateale"));
    assert!(offer.contains("possiamo suddividere"), "{offer}");
    for line in ["rata 1: 33,34", "rata 2: 33,33", "rata 3: 33,33"] {
        assert!(offer.contains(line), "{line} missing:\n{offer}");
    }
    let japanese = site.email_text("jpy.plan-offer.eml");
    assert!(japanese.contains("To make settling invoice N-jpy easier"), "{japanese}");

    // Nothing to accept on an invoice without an offer, or an unknown one: exit 2, nothing changed.
    let out = site.run(&["plan", "accept", "nope", "--at", "2026-11-18T09:00:00Z"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("unknown invoice \"nope\""), "{}", stderr(&out));

    site.ok(&["plan", "accept", "eur", "--at", "2026-11-18T09:00:00Z"]);
    let again = site.run(&["plan", "accept", "eur", "--at", "2026-11-18T09:05:00Z"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already on a payment plan"), "{}", stderr(&again));
    let plan = site.json(&["plan", "show", "eur"]);
    assert_eq!(plan["plan"]["instalments"].as_array().unwrap().len(), 3);

    // While the plan is kept: no dunning, only the instalment's own reminder three days before.
    let before = site.emails();
    days(&site, 11, 18, 27);
    let new: Vec<String> = site.emails().difference(&before).cloned().collect();
    let eur_new: Vec<&String> = new.iter().filter(|n| n.starts_with("eur.")).collect();
    assert_eq!(eur_new, ["eur.plan-offer-1.eml"], "{new:?}");
    let reminder = site.email_text("eur.plan-offer-1.eml");
    assert!(reminder.contains("la rata 1 di 3, pari a 33,34"), "{reminder}");

    // The first instalment is paid (the billing export says so); the second never is.
    let paid = std::fs::read_to_string(site.path("data.json"))
        .unwrap()
        .replace(r#""amount_due": "100.00","#, r#""amount_due": "100.00", "amount_paid": "33.34","#);
    let paid = site.write("paid.json", &paid);
    site.ok(&["import", paid.to_str().unwrap(), "--at", "2026-11-28T08:00:00Z"]);
    days(&site, 11, 28, 30);
    days(&site, 12, 1, 31);
    for day in 1..=24 {
        site.ok(&["run", "--at", &format!("2027-01-{day:02}T09:00:00Z")]);
    }
    let actions = site.actions("eur");
    let state = |step: &str| actions.iter().find(|a| a.0 == step).map(|a| a.1.clone());
    assert_eq!(state("plan-offer-2").as_deref(), Some("sent"), "{actions:?}");
    // Missed on 27 December: the third instalment's reminder is cancelled and dunning resumes on the rest.
    let third = actions.iter().find(|a| a.0 == "plan-offer-3").unwrap();
    assert_eq!(third.1, "cancelled");
    assert!(third.2.contains("instalment 2 was due 2026-12-27"), "{third:?}");
    let resumed = actions.iter().find(|a| a.1 == "sent" && ["overdue-30", "formal-notice"].contains(&a.0.as_str()));
    let resumed = resumed.unwrap_or_else(|| panic!("dunning did not resume: {actions:?}"));
    let after = site.email_text(&format!("eur.{}.eml", resumed.0));
    assert!(after.contains("66,66"), "the rest is what is asked:\n{after}");
}

#[test]
fn a_plan_accepted_after_its_first_date_starts_on_the_day_it_is_accepted() {
    let site = site();
    days(&site, 10, 28, 31);
    days(&site, 11, 1, 17);
    // Offered with a first instalment due 27 November; the customer says yes on 1 December.
    assert_eq!(offered(&site, "eur")[0].1, "2026-11-27");
    site.ok(&["plan", "accept", "eur", "--at", "2026-12-01T09:00:00Z"]);
    let plan = site.json(&["plan", "show", "eur"]);
    let instalments: Vec<(String, i64)> = plan["plan"]["instalments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["due"].as_str().unwrap().to_string(), i["amount"].as_i64().unwrap()))
        .collect();
    // The same three, thirty days apart, from the day of the yes: none late the moment it is agreed.
    let expected = [("2026-12-01", 33_34), ("2026-12-31", 33_33), ("2027-01-30", 33_33)];
    let expected: Vec<(String, i64)> = expected.iter().map(|(d, a)| (d.to_string(), *a)).collect();
    assert_eq!(instalments, expected, "{plan}");
}
