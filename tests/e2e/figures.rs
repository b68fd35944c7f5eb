//! Issue 29: every figure of a report over a small book, counted by hand in
//! two currencies. Four invoices of 100.00 (two in EUR for customers in
//! Rome, two in USD for customers in New York), issued 1 October, due 28
//! October, under b2b-standard with a daily `run` at 14:00 UTC (inside both
//! cities' sending hours) from 21 October to 17 November:
//!
//! - pre-due (due - 4 = Saturday 24 October) waits for Monday the 26th; overdue-7
//!   goes on Wednesday 4 November, overdue-15 on Thursday 12 November;
//! - `eur-a` is paid on 6 November (two days after overdue-7), `usd-c` on
//!   13 November (a day after overdue-15); `eur-b` and `usd-d` stay unpaid.

use serde_json::{Value, json};

use crate::pipeline::{Site, customer, invoice};

fn book(site: &Site, paid: &[&str]) -> std::path::PathBuf {
    let new_york =
        |id: &str| customer(id, "America/New_York", r#", "locale": "en-US""#).replace(r#""locale": "it-IT", "#, "");
    let usd = |id: &str, who: &str| invoice(id, who, "").replace(r#""currency": "EUR""#, r#""currency": "USD""#);
    let status = |text: String, id: &str| match paid.contains(&id) {
        true => text.replace(r#""amount_due": "100.00""#, r#""amount_due": "100.00", "status": "paid""#),
        false => text,
    };
    let invoices = [
        status(invoice("eur-a", "rome-a", ""), "eur-a"),
        status(invoice("eur-b", "rome-b", ""), "eur-b"),
        status(usd("usd-c", "ny-c"), "usd-c"),
        status(usd("usd-d", "ny-d"), "usd-d"),
    ];
    let customers = [
        customer("rome-a", "Europe/Rome", ""),
        customer("rome-b", "Europe/Rome", ""),
        new_york("ny-c"),
        new_york("ny-d"),
    ];
    let data = format!(r#"{{"customers": [{}], "invoices": [{}]}}"#, customers.join(","), invoices.join(","));
    site.write(&format!("book-{}.json", paid.len()), &data)
}

#[test]
fn a_report_over_a_small_book_in_two_currencies_matches_the_hand_count() {
    let site = Site::new();
    site.write("sollecito.toml", "[outcomes]\ncosts = { email = 3 }\n");
    let import = |paid: &[&str], at: &str| site.ok(&["import", book(&site, paid).to_str().unwrap(), "--at", at]);
    import(&[], "2026-10-20T00:00:00Z");
    let from: chrono::NaiveDate = "2026-10-21".parse().unwrap();
    for d in 0..28 {
        let day = from + chrono::Days::new(d);
        match day.to_string().as_str() {
            "2026-11-06" => drop(import(&["eur-a"], "2026-11-06T14:00:00Z")),
            "2026-11-13" => drop(import(&["eur-a", "usd-c"], "2026-11-13T14:00:00Z")),
            _ => {}
        }
        let out = site.run(&["run", "--at", &format!("{day}T14:00:00Z")]);
        assert!(out.status.success(), "{day}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let report = site.json(&["report", "--from", "2026-10-21", "--to", "2026-11-17"]);
    let total = &report["total"];

    // Messages: eur-a pre-due and overdue-7 (paid before overdue-15); the other
    // three pre-due, overdue-7 and overdue-15 (usd-c paid the day after). 2 + 3 x 3 = 11.
    assert_eq!(total["messages"], 11, "{report}");
    // Every invoice got a message; two were paid with a message as the last touch.
    assert_eq!((total["dunned"].as_u64(), total["recovered"].as_u64()), (Some(4), Some(2)), "{total}");
    assert_eq!(total["recovery_rate"], 0.5);
    assert_eq!(total["amount_dunned"], json!({ "EUR": 20_000, "USD": 20_000 }));
    assert_eq!(total["amount_recovered"], json!({ "EUR": 10_000, "USD": 10_000 }));
    // Days to pay after the last touch: 1 (usd-c) and 2 (eur-a); nearest rank: median the
    // first of two, p75 and p90 the second.
    let days = &total["time_to_pay"];
    assert_eq!((days["payments"].as_u64(), days["median_days"].as_f64()), (Some(2), Some(1.0)), "{days}");
    assert_eq!((days["p75_days"].as_f64(), days["p90_days"].as_f64()), (Some(2.0), Some(2.0)), "{days}");
    // Eleven emails at 3 each.
    assert_eq!(report["cost_per_channel"], json!({ "email": [11, 33] }));

    // At 17 November eur-b and usd-d are 20 days late: 100.00 in each currency, "1-30".
    let buckets: Vec<(String, u64, Value)> = report["receivables"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["label"].as_str().unwrap().to_string(), b["invoices"].as_u64().unwrap(), b["amount"].clone()))
        .collect();
    assert_eq!(buckets[1], ("1-30".to_string(), 2, json!({ "EUR": 10_000, "USD": 10_000 })));
    assert!(buckets.iter().enumerate().all(|(i, b)| i == 1 || b.1 == 0), "{buckets:?}");
    // DSO in each currency: 100 owed of the 200 sold on 1 October: the 47 days after it
    // and half of it, 47.5; nothing owed is not yet due, so best 0 and 47.5 days late on
    // average; nothing was sold in the period, so no period figure.
    for currency in ["EUR", "USD"] {
        let dso = &report["receivables"]["dso"][currency];
        assert_eq!(dso, &json!({ "days": 47.5, "best_days": 0.0, "delinquent_days": 47.5, "period_days": null }));
    }
}
