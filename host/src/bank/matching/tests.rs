use super::*;

fn open(id: &str, number: &str, customer: &str, outstanding: i64) -> Open {
    let name = match customer {
        "rossi" => "Rossi Impianti S.r.l.",
        "bianchi" => "Bianchi & Figli S.n.c.",
        _ => "Nordwind Logistik GmbH",
    };
    Open {
        id: id.into(),
        number: number.into(),
        customer_id: customer.into(),
        customer_name: name.into(),
        currency: "EUR".into(),
        outstanding,
    }
}

fn book() -> Book {
    Book::new(vec![
        open("r1", "FT-2026/1001", "rossi", 125_000),
        open("r2", "FT-2026/1005", "rossi", 30_000),
        open("b1", "FT-2026/1002", "bianchi", 48_000),
        open("n1", "RE-2026-1003", "nordwind", 210_000),
    ])
}

fn credit(amount: i64, words: &str, debtor: Option<&str>, references: &[&str]) -> Entry {
    Entry {
        key: "k".into(),
        credit: true,
        amount,
        currency: "EUR".into(),
        debtor: debtor.map(str::to_string),
        references: references.iter().map(|r| r.to_string()).collect(),
        remittance: words.into(),
        ..Entry::default()
    }
}

fn paid(v: &Verdict) -> Vec<(String, i64)> {
    match v {
        Verdict::Sure { pay, .. } => pay.iter().map(|(o, m)| (o.id.clone(), *m)).collect(),
        other => panic!("not sure: {other:?}"),
    }
}

fn candidates(v: &Verdict) -> Vec<String> {
    match v {
        Verdict::Unsure { candidates, .. } => candidates.iter().map(|o| o.id.clone()).collect(),
        other => panic!("not unsure: {other:?}"),
    }
}

#[test]
fn a_creditor_reference_pays_its_invoice_however_it_was_typed() {
    let b = book();
    // RF52 FT20 2610 01 is FT-2026/1001's reference: 98 - (FT20261001RF00 mod 97) = 52, worked out by hand.
    assert_eq!(paid(&b.decide(&credit(125_000, "", None, &["RF52 FT20 2610 01"]))), [("r1".into(), 125_000)]);
    assert_eq!(
        paid(&b.decide(&credit(125_000, "pagamento rf52ft20261001 grazie", None, &[]))),
        [("r1".into(), 125_000)]
    );
    // In part, and over: what is owed is paid and the rest left over.
    assert_eq!(paid(&b.decide(&credit(25_000, "", None, &["RF52FT20261001"]))), [("r1".into(), 25_000)]);
    let Verdict::Sure { left, .. } = b.decide(&credit(130_000, "", None, &["RF52FT20261001"])) else { panic!() };
    assert_eq!(left, 5_000);
    // A wrong check digit is no reference: nothing else names an invoice.
    assert!(matches!(b.decide(&credit(125_000, "", None, &["RF53FT20261001"])), Verdict::Unmatched { .. }));
}

#[test]
fn invoice_numbers_in_the_words_pay_one_or_several() {
    let b = book();
    assert_eq!(paid(&b.decide(&credit(48_000, "saldo fatt. 2026/1002", None, &[]))), [("b1".into(), 48_000)]);
    assert_eq!(paid(&b.decide(&credit(210_000, "RE 2026 1003", None, &[]))), [("n1".into(), 210_000)]);
    // "FT-2026/1001 e 1005": both Rossi's, their sum paid.
    let both = b.decide(&credit(155_000, "FT-2026/1001 e 1005", Some("ROSSI IMPIANTI SRL"), &[]));
    assert_eq!(paid(&both), [("r1".into(), 125_000), ("r2".into(), 30_000)]);
    // Not their sum: a person splits it.
    assert_eq!(candidates(&b.decide(&credit(100_000, "FT-2026/1001 e 1005", None, &[]))), ["r1", "r2"]);
}

#[test]
fn a_remittance_naming_another_customers_invoice_goes_to_a_person() {
    let b = book();
    // Bianchi pays, naming Rossi's invoice with Rossi's amount.
    let v = b.decide(&credit(125_000, "fattura FT-2026/1001", Some("Bianchi & Figli snc"), &[]));
    assert_eq!(candidates(&v), ["r1"]);
    let v = b.decide(&credit(125_000, "", Some("Bianchi & Figli snc"), &["RF52FT20261001"]));
    assert_eq!(candidates(&v), ["r1"]);
}

#[test]
fn a_known_debtor_without_a_number_is_matched_by_amount() {
    let b = book();
    assert_eq!(paid(&b.decide(&credit(30_000, "bonifico", Some("Rossi Impianti"), &[]))), [("r2".into(), 30_000)]);
    // What they owe together.
    let all = b.decide(&credit(155_000, "", Some("Rossi Impianti S.r.l."), &[]));
    assert_eq!(paid(&all), [("r1".into(), 125_000), ("r2".into(), 30_000)]);
    // An amount that is nothing of theirs: a person, with their invoices listed.
    assert_eq!(candidates(&b.decide(&credit(99_999, "", Some("Rossi Impianti"), &[]))), ["r1", "r2"]);
    // "rif. 1005" from Rossi: theirs by the end of the number.
    assert_eq!(paid(&b.decide(&credit(30_000, "rif. 1005", Some("Rossi Impianti"), &[]))), [("r2".into(), 30_000)]);
    // The same words from nobody we know: a person.
    assert_eq!(candidates(&b.decide(&credit(30_000, "rif. 1005", Some("Mario Verdi"), &[]))), ["r2"]);
    assert!(matches!(b.decide(&credit(30_000, "grazie", None, &[])), Verdict::Unmatched { .. }));
}

#[test]
fn another_currency_matches_nothing_of_ours() {
    let b = book();
    let mut usd = credit(125_000, "", None, &["RF52FT20261001"]);
    usd.currency = "USD".into();
    assert!(matches!(b.decide(&usd), Verdict::Unmatched { .. }));
}

#[test]
fn legal_forms_are_left_out_of_names() {
    assert_eq!(name_key("Rossi Impianti S.r.l."), "rossi impianti");
    assert_eq!(name_key("ROSSI IMPIANTI SRL"), "rossi impianti");
    assert_eq!(name_key("Nordwind Logistik GmbH"), "nordwind logistik");
    assert_eq!(name_key("Bianchi & Figli S.n.c."), "bianchi figli");
}
