//! Fees are adjustments: the B2B policy, when asked, claims the EU late-payment
//! compensation and statutory interest from a business with the formal notice;
//! the host adds them as events, and the notice shows the new total and why.

use crate::pipeline::{Site, customer, invoice};

#[test]
fn the_formal_notice_shows_the_fees_added_and_the_new_total() {
    let site = Site::new();
    site.write(
        "sollecito.toml",
        "[settings.b2b-standard]\nlate_payment_claims = true\nreference_rate = \"4.15\"\n[channels.pec]\n",
    );
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {}]}}"#,
        customer("firm", "Europe/Rome", r#", "business": true, "pec": "firm@pec.example.it""#),
        customer("person", "Europe/Rome", ""),
        invoice("b2b", "firm", ""),
        invoice("b2c", "person", ""),
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    // Due 28 October; the formal notice is decided 45 days later (Saturday 12 December) and leaves on Monday.
    for (month, days) in [(10, 28..=31), (11, 1..=30), (12, 1..=15)] {
        for day in days {
            site.ok(&["run", "--at", &format!("2026-{month:02}-{day:02}T10:00:00Z")]);
        }
    }

    let history = site.json(&["history", "b2b"]);
    let fees: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "fee-added")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert_eq!(fees.len(), 2, "{history}");
    assert!(fees[0].starts_with("40.00 EUR added"), "{fees:?}");
    // 100.00 EUR at 12.15% a year for 45 days: 1.4979 EUR, rounded to 1.50.
    assert!(fees[1].starts_with("1.50 EUR added") && fees[1].ends_with("141.50 EUR now outstanding"), "{fees:?}");

    let notice = site.email_text("b2b.formal-notice.eml");
    for line in [
        "Totale fattura: 141,50",
        "di cui importo forfettario per i costi di recupero (D.Lgs. 231/2002): 40,00",
        "di cui interessi di mora al 12,15% annuo (tasso di riferimento 4,15% + 8 punti) per 45 giorni dal 2026-10-28: 1,50",
        "Importo da saldare: 141,50",
    ] {
        assert!(notice.contains(line), "{line:?} missing:\n{notice}");
    }
    // A consumer is never charged them.
    let consumer = site.json(&["history", "b2c"]);
    assert!(!consumer["events"].as_array().unwrap().iter().any(|e| e["kind"] == "fee-added"), "{consumer}");
}
