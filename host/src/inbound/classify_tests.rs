//! Bounces of six mailers, automatic replies of six kinds, a complaint and a
//! reply, each read from a fixture written as that mailer writes it.

use super::*;
use crate::inbound::read::read;

fn fixture(name: &str) -> Mail {
    let path = format!("{}/../tests/fixtures/inbound/{name}", env!("CARGO_MANIFEST_DIR"));
    read(&std::fs::read(&path).unwrap()).unwrap()
}

fn bounce(name: &str) -> (Bounce, Mail) {
    let mail = fixture(name);
    match classify(&mail) {
        Kind::Bounce(b) => (b, mail),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn bounces_of_six_mailers_give_the_address_the_kind_and_the_message() {
    // (fixture, permanent, status, recipient, the Message-ID it returns)
    let cases = [
        (
            "postfix.eml",
            true,
            "5.1.1",
            "amministrazione@rossi-impianti.example",
            "inv-1001.overdue-7@sollecito.example",
        ),
        ("exim.eml", true, "5.1.1", "info@bianchi-srl.example", "inv-1002.overdue-7@sollecito.example"),
        ("sendmail-delayed.eml", false, "4.4.1", "ordini@verdi.example", "inv-1003.overdue-7@sollecito.example"),
        ("exchange.eml", true, "5.1.10", "accounts@contoso.example", "inv-1004.overdue-7@sollecito.example"),
        ("qmail.eml", true, "5.1.1", "fatture@neri.example", "inv-1005.overdue-7@sollecito.example"),
        ("gmail.eml", true, "5.1.1", "mario.gialli@gmail.com", "inv-1006.overdue-7@sollecito.example"),
    ];
    for (name, permanent, status, recipient, original) in cases {
        let (b, mail) = bounce(name);
        assert_eq!(b.permanent, permanent, "{name}: {b:?}");
        assert_eq!(b.status, status, "{name}");
        assert_eq!(b.recipient.as_deref(), Some(recipient), "{name}");
        let returned = mail.original.as_ref().and_then(|o| o.message_id.as_deref());
        assert_eq!(returned, Some(original), "{name}: {:?}", mail.original);
    }
}

#[test]
fn automatic_replies_are_told_from_people() {
    for name in
        ["ooo-rfc3834-it.eml", "ooo-exchange.eml", "ooo-x-autoreply.eml", "ooo-de.eml", "ooo-fr.eml", "ooo-es.eml"]
    {
        assert_eq!(classify(&fixture(name)), Kind::AutoReply, "{name}");
    }
    assert_eq!(classify(&fixture("reply-it.eml")), Kind::Reply);
}

#[test]
fn a_feedback_report_is_a_complaint_about_the_recipient() {
    let mail = fixture("complaint-arf.eml");
    assert_eq!(classify(&mail), Kind::Complaint { recipient: Some("amministrazione@rossi-impianti.example".into()) });
    assert_eq!(mail.original.unwrap().message_id.as_deref(), Some("inv-1001.overdue-7@sollecito.example"));
}

#[test]
fn a_reply_names_what_it_answers_and_keeps_the_customers_own_words() {
    let mail = fixture("reply-it.eml");
    assert_eq!(mail.from.as_deref(), Some("amministrazione@rossi-impianti.example"));
    assert_eq!(mail.answers, ["inv-1001.overdue-7@sollecito.example", "inv-1001.overdue-7@sollecito.example"]);
    let own = crate::inbound::quoted::own_words(&mail.text);
    assert_eq!(
        own,
        "Buongiorno,\npagheremo il 20 ottobre con bonifico, ci scusiamo per il ritardo.\n\nCordiali saluti"
    );
}

#[test]
fn a_successful_delivery_report_is_not_a_bounce() {
    let raw = "From: MAILER-DAEMON@relay.example\r\nTo: crediti@sollecito.example\r\nSubject: Successful Mail Delivery Report\r\n\
        Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivered.\r\n\
        --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\n\
        Action: delivered\r\nStatus: 2.0.0\r\n\r\n--b--\r\n";
    assert_eq!(classify(&read(raw.as_bytes()).unwrap()), Kind::DeliveryReport);
}

#[test]
fn status_codes_are_found_in_text_and_not_in_dates_or_versions() {
    assert_eq!(status_code("550 5.1.1 <a@b>: User unknown").as_deref(), Some("5.1.1"));
    assert_eq!(status_code("Sorry, no mailbox here by that name. (#5.1.1)").as_deref(), Some("5.1.1"));
    assert_eq!(status_code("SMTP error: 552 mailbox full").as_deref(), Some("552"));
    assert_eq!(status_code("on 12.10.2026 version 1.2.3"), None);
}
