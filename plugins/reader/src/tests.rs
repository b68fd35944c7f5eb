//! Replies as customers write them, in five languages, read on Sunday
//! 6 December 2026; each expected day worked out by hand from that date.

use super::{Said, read};
use crate::day::Day;

fn on(y: i32, m: u32, d: u32) -> Day {
    Day::new(y, m, d).unwrap()
}

fn said(text: &str) -> Said {
    read(text, "Re: Sollecito fattura 2026/17", on(2026, 12, 6), false)
}

fn promise(y: i32, m: u32, d: u32) -> Said {
    Said::Promise(on(y, m, d))
}

#[test]
fn promises_with_their_day_in_five_languages() {
    assert_eq!(said("Buongiorno, pagheremo il 20 dicembre. Cordiali saluti"), promise(2026, 12, 20));
    assert_eq!(said("pagheremo il 20"), promise(2026, 12, 20));
    assert_eq!(said("Provvederemo al saldo entro fine mese"), promise(2026, 12, 31));
    assert_eq!(said("We will pay next Friday, sorry for the delay"), promise(2026, 12, 11));
    assert_eq!(said("You'll have it by the 15th: we'll pay then"), promise(2026, 12, 15));
    assert_eq!(said("Nous paierons le 8 janvier"), promise(2027, 1, 8));
    assert_eq!(said("Wir werden die Rechnung bis zum 15.1. begleichen"), promise(2027, 1, 15));
    assert_eq!(said("Wir überweisen den Betrag bis zum 18. Dezember"), promise(2026, 12, 18));
    assert_eq!(said("Pagaremos el 20 de diciembre"), promise(2026, 12, 20));
    assert_eq!(said("Le pagamento? Pagheremo domani"), promise(2026, 12, 7));
}

#[test]
fn the_customer_says_it_is_paid_with_the_day_and_reference() {
    assert_eq!(
        said("Ho già pagato, bonifico del 3/12, CRO 1234567890"),
        Said::Paid { on: Some(on(2026, 12, 3)), reference: Some("1234567890".into()) }
    );
    assert_eq!(said("We already paid this last week."), Said::Paid { on: None, reference: None });
    assert_eq!(said("Nous avons déjà payé le 2 décembre"), Said::Paid { on: Some(on(2026, 12, 2)), reference: None });
    assert_eq!(said("Die Rechnung wurde bereits überwiesen"), Said::Paid { on: None, reference: None });
    assert_eq!(said("Wir haben bereits bezahlt, gestern"), Said::Paid { on: Some(on(2026, 12, 5)), reference: None });
    assert_eq!(
        said("Ya hemos pagado la factura el 1 de diciembre, ref. TRX-20261201"),
        Said::Paid { on: Some(on(2026, 12, 1)), reference: Some("TRX-20261201".into()) }
    );
}

#[test]
fn disputes_name_what_is_wrong() {
    assert_eq!(
        said("Buongiorno. Contestiamo la fattura: la merce è arrivata danneggiata."),
        Said::Dispute("Contestiamo la fattura: la merce è arrivata danneggiata".into())
    );
    assert!(matches!(said("We never received the goods on this invoice"), Said::Dispute(_)));
    assert!(matches!(said("Il y a une erreur dans le montant"), Said::Dispute(_)));
    assert!(matches!(said("Der Betrag ist falsch, bitte korrigieren"), Said::Dispute(_)));
    assert!(matches!(said("El importe es incorrecto"), Said::Dispute(_)));
}

#[test]
fn negations_and_the_rest() {
    assert_eq!(said("Non abbiamo ancora pagato, potete mandarci l'IBAN?"), Said::Question);
    assert_eq!(said("Non ho pagato perché manca il DDT"), Said::Other);
    assert_eq!(said("No hemos pagado todavía"), Said::Other);
    assert_eq!(said("Purtroppo non riusciamo a pagare entro il 20"), Said::Other);
    assert_eq!(said("Could you send us a copy of the invoice?"), Said::Question);
    assert_eq!(said("Grazie, ricevuto."), Said::Other);
    assert_eq!(said("We will pay soon"), Said::Other, "a promise without a day is for a person");
    assert_eq!(said("Pagheremo il 20% subito"), Said::Other);
}

#[test]
fn us_english_writes_the_month_first() {
    let read_us = read("We will pay on 1/8", "", on(2026, 12, 6), true);
    assert_eq!(read_us, promise(2027, 1, 8));
    assert_eq!(said("Pagheremo il 1/8"), promise(2027, 8, 1));
}
