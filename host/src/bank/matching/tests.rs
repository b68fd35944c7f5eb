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
        closed: false,
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
    // A digit at the end is part of the name, not of a legal form.
    assert_eq!(name_key("Cliente Numero 1 S.r.l."), "cliente numero 1");
}

#[test]
fn a_name_two_customers_share_names_neither() {
    let mut twin = open("t1", "FT-2026/2001", "nordwind", 10_000);
    twin.customer_id = "twin".into();
    twin.customer_name = "Rossi Impianti S.p.A.".into();
    let b = Book::new(vec![open("r2", "FT-2026/1005", "rossi", 30_000), twin]);
    // "Rossi Impianti" is both customers' name: the amount alone pays nothing.
    assert!(matches!(b.decide(&credit(30_000, "bonifico", Some("Rossi Impianti"), &[])), Verdict::Unmatched { .. }));
    // The number still does.
    assert_eq!(paid(&b.decide(&credit(30_000, "FT-2026/1005", Some("Rossi Impianti"), &[]))), [("r2".into(), 30_000)]);
}

#[test]
fn a_credit_naming_an_invoice_paid_already_is_a_second_payment() {
    let mut paid_before = open("r9", "FT-2026/0999", "rossi", 0);
    paid_before.closed = true;
    let b = Book::new(vec![paid_before, open("r2", "FT-2026/1005", "rossi", 30_000)]);
    // By number or by reference: nothing paid, a person told.
    let v = b.decide(&credit(40_000, "saldo FT-2026/0999", Some("Rossi Impianti"), &[]));
    let Verdict::AlreadyPaid { invoices, evidence } = v else { panic!("{v:?}") };
    assert_eq!(invoices.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["r9"]);
    assert!(evidence.contains("FT-2026/0999") && evidence.contains("second payment"), "{evidence}");
    // Rossi's amount alone never lands on the paid invoice: the open one it equals.
    assert_eq!(paid(&b.decide(&credit(30_000, "", Some("Rossi Impianti"), &[]))), [("r2".into(), 30_000)]);
    assert_eq!(candidates(&b.decide(&credit(40_000, "", Some("Rossi Impianti"), &[]))), ["r2"]);
}

#[test]
fn a_credit_paying_an_invoice_in_full_closes_it_to_the_next_in_the_file() {
    let mut b = book();
    let first = b.decide(&credit(30_000, "FT-2026/1005", None, &[]));
    for (invoice, amount) in match &first {
        Verdict::Sure { pay, .. } => pay.clone(),
        other => panic!("{other:?}"),
    } {
        b.take(&invoice.id, amount);
    }
    // The same transfer twice in one file: the second pays nothing and is a second payment.
    assert!(matches!(b.decide(&credit(30_000, "FT-2026/1005", None, &[])), Verdict::AlreadyPaid { .. }));
}

#[test]
fn an_account_that_paid_a_customer_before_names_them() {
    let b = book().with_accounts(vec![("IT60 X054 2811 1010 0000 0123 456".into(), "bianchi".into())]);
    // A name the bank wrote its own way, from Bianchi's account: their invoice by amount.
    let mut e = credit(48_000, "bonifico", Some("B. & F. SNC"), &[]);
    e.debtor_iban = Some("IT60X0542811101000000123456".into());
    let v = b.decide(&e);
    assert_eq!(paid(&v), [("b1".into(), 48_000)]);
    let Verdict::Sure { evidence, .. } = v else { unreachable!() };
    assert!(evidence.starts_with("the debtor's account"), "{evidence}");
    // Another account, the same words: nobody we know.
    e.debtor_iban = Some("DE89370400440532013000".into());
    assert!(matches!(b.decide(&e), Verdict::Unmatched { .. }));
}

#[test]
fn a_processors_payout_pays_nothing_here_unless_it_names_an_invoice_of_ours() {
    let b = book();
    // Stripe's payout: many card payments recorded from Stripe's own events.
    let payout = b.decide(&credit(125_000, "STRIPE PAYOUT po_1QxYz", Some("STRIPE PAYMENTS EUROPE LTD"), &[]));
    assert!(matches!(&payout, Verdict::Payout { evidence } if evidence.contains("stripe")), "{payout:?}");
    // Named by its remittance alone, the debtor unnamed.
    assert!(matches!(b.decide(&credit(30_000, "PAYPAL *TRANSFER", None, &[])), Verdict::Payout { .. }));
    // A transfer made through such a service that carries our reference is a payment of that invoice.
    let referenced = b.decide(&credit(125_000, "", Some("PayPal Europe"), &["RF52FT20261001"]));
    assert!(matches!(referenced, Verdict::Sure { .. }), "{referenced:?}");
    // A word inside a name is not a processor: "Stripes Srl" is nobody's payout.
    assert!(matches!(b.decide(&credit(30_000, "", Some("Stripes Srl"), &[])), Verdict::Unmatched { .. }));
}
