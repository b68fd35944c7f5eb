//! The customer's page, as a customer reaches it: the link in a real email
//! (read from the SMTP server that received it) opens their invoices with
//! a creditor reference and a QR code for the transfer; "I will pay on..."
//! records a promise once however often the form is sent; nothing of
//! another customer can be reached with their link, and a forged or altered
//! link opens nothing.

use std::net::TcpListener;

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::{Service, wait_for};
use crate::smtp::SmtpServer;

const KEY: &str = "a-portal-signing-key-of-more-than-32-bytes";

/// GET or POST on the page: (status, a header's value, the body).
fn fetch(url: &str, form: Option<&[(&str, &str)]>, origin: Option<&str>) -> (u16, String, String, String) {
    let mut req = ureq::request(if form.is_some() { "POST" } else { "GET" }, url);
    if let Some(o) = origin {
        req = req.set("Origin", o);
    }
    let response = match form {
        Some(fields) => req.send_form(fields),
        None => req.call(),
    };
    let response = match response {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let csp = response.header("content-security-policy").unwrap_or_default().to_string();
    let referrer = response.header("referrer-policy").unwrap_or_default().to_string();
    (response.status(), csp, referrer, response.into_string().unwrap())
}

/// An ISO 11649 reference's check, written here from the standard (mod 97 of
/// the reference with its first four characters moved to the end, letters as 10..35).
fn rf_checks(reference: &str) -> bool {
    let compact: String = reference.split_whitespace().collect();
    let moved = format!("{}{}", &compact[4..], &compact[..4]);
    let digits: String = moved.chars().map(|c| c.to_digit(36).unwrap().to_string()).collect();
    digits.bytes().fold(0u32, |r, d| (r * 10 + u32::from(d - b'0')) % 97) == 1
}

/// A site whose emails go to `smtp` and whose `[portal]` is served on the
/// returned port, with `extra` config (and `portal` lines) added; the
/// examples imported and reminded today when `examples`.
pub(crate) fn portal_site(smtp: &SmtpServer, (extra, portal): (&str, &str), examples: bool) -> (Site, u16) {
    let site = Site::new();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n{extra}[portal]\nbase_url = \"http://127.0.0.1:{port}\"\n\
         keys = [\"portal1\"]\niban = \"IT60 X054 2811 1010 0000 0123 456\"\n{portal}",
        smtp.port
    );
    Service::write_config(&site, "", &config);
    Service::add_secrets(&site, &format!("portal1 = \"{KEY}\"\n"));
    if examples {
        let examples = root().join("examples/invoices.json").display().to_string();
        site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
        site.ok(&["run", "--at", &chrono::Utc::now().to_rfc3339()]);
    }
    (site, port)
}

#[test]
fn the_link_in_a_real_email_opens_the_customers_page_and_a_promise_is_kept_once() {
    let smtp = SmtpServer::start();
    let (site, port) = portal_site(&smtp, ("", ""), true);

    // Rossi's email, as the SMTP server received it, carries Rossi's link.
    let base = format!("http://127.0.0.1:{port}/p/");
    let to_rossi = smtp.messages().into_iter().find(|m| m.contains("amministrazione@rossi-impianti.example")).unwrap();
    let body =
        mail_parser::MessageParser::default().parse(to_rossi.as_bytes()).unwrap().body_text(0).unwrap().to_string();
    let start = body.find(&base).unwrap_or_else(|| panic!("no link in {body}"));
    let url: String = body[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    let _svc = Service::launch(&site, port);

    let (status, csp, referrer, page) = fetch(&url, None, None);
    let page = page.replace("&#x2f;", "/");
    assert_eq!(status, 200, "{page}");
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(referrer, "same-origin", "the link must not leak to another site in a Referer");
    assert!(page.contains("<html lang=\"it\">") && page.contains("FT-2026/1001"), "{page}");
    // 1,250.00 EUR owed, as Italian writes it.
    assert!(page.contains("<dd>1.250,00\u{a0}€</dd>") || page.contains("<dd>1.250,00 €</dd>"), "{page}");
    assert!(!page.contains("RE-2026-1003"), "Nordwind's invoice is not on Rossi's page");
    let reference = page.split("<code>RF").nth(1).and_then(|r| r.split("</code>").next()).unwrap();
    let reference = format!("RF{reference}");
    assert!(rf_checks(&reference), "{reference}");
    assert!(reference.replace(' ', "").ends_with("FT20261001"), "{reference}");
    // The QR code a banking app scans: the EPC fields, each written here by hand.
    let epc: Vec<String> = qr_of(&page).split('\n').map(str::to_string).collect();
    let compact = reference.replace(' ', "");
    let expected = [
        "BCD",
        "002",
        "1",
        "SCT",
        "",
        "Sollecito Demo S.r.l.",
        "IT60X0542811101000000123456",
        "EUR1250.00",
        "",
        &compact,
    ];
    assert_eq!(epc, expected);

    // "I will pay on...", ten days from now, sent twice: one promise.
    let promised = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive().to_string();
    let form = [("action", "promise"), ("invoice", "inv-1001"), ("date", promised.as_str())];
    for _ in 0..2 {
        let (status, _, _, page) = fetch(&url, Some(&form), Some(&format!("http://127.0.0.1:{port}")));
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("abbiamo preso nota del giorno"), "{page}");
    }
    let db = Db::new(&site.db());
    let promises = db.strings("SELECT detail FROM events WHERE invoice_id = 'inv-1001' AND kind = 'promise-to-pay'");
    assert_eq!(promises, [format!("promise to pay by {promised}")]);
    let kept = db.strings("SELECT door || ' ' || subject || ' ' || state FROM inbound");
    assert_eq!(kept, ["portal visit applied", "portal promise applied"], "the visit, then the promise, once");
    let tied =
        db.strings("SELECT o.step FROM inbound i JOIN outbox o ON o.id = i.outbox_id WHERE i.subject = 'promise'");
    assert_eq!(tied.len(), 1, "the promise is tied to the message whose link was used");

    // Nothing of another customer, nothing from another site, nothing out of bounds.
    let nordwind = [("action", "problem"), ("invoice", "inv-1003"), ("reason", "amount")];
    assert_eq!(fetch(&url, Some(&nordwind), None).0, 404);
    let far = [("action", "promise"), ("invoice", "inv-1001"), ("date", "2099-01-01")];
    assert_eq!(fetch(&url, Some(&far), None).0, 422);
    assert_eq!(fetch(&url, Some(&form), Some("https://evil.example")).0, 403);
    let tampered = format!("{}x", &url[..url.len() - 1]);
    let (status, _, _, page) = fetch(&tampered, None, None);
    assert_eq!(status, 404);
    assert!(!page.contains("FT-2026/1001"));
    assert_eq!(fetch(&format!("{base}nothing.at.all"), None, None).0, 404);
    wait_for("nothing else recorded", || {
        db.strings("SELECT kind FROM events WHERE invoice_id = 'inv-1003' AND kind = 'dispute-opened'").is_empty()
    });
    assert_eq!(db.strings("SELECT door FROM inbound").len(), 2);

    // A script trying links or dates is slowed down: 30 requests a minute per link.
    let statuses: Vec<u16> = (0..40).map(|_| fetch(&tampered, None, None).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // And one address trying a new token each time: 120 requests a minute per
    // address (250 of them: more than 120 fall in one minute, however they straddle two).
    let statuses: Vec<u16> = (0..250).map(|i| fetch(&format!("{base}forged{i}"), None, None).0).collect();
    assert!(statuses.iter().all(|s| [404, 429].contains(s)) && statuses.contains(&429), "{statuses:?}");
}

/// The first QR code on a page, drawn from its SVG (dark squares of a
/// `<path>`) and read by a QR decoder that is not ours (rqrr).
pub(crate) fn qr_of(page: &str) -> String {
    use base64::Engine;
    let data = page.split("data:image/svg+xml;base64,").nth(1).unwrap().split('"').next().unwrap();
    let svg = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap();
    let size: usize = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    let path = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
    let mut dark = vec![false; size * size];
    for square in path.split('M').filter(|s| !s.is_empty()) {
        let numbers: Vec<usize> =
            square.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap()).collect();
        let (x, y, side) = (numbers[0], numbers[1], numbers[2]);
        for dy in 0..side {
            for dx in 0..side {
                dark[(y + dy) * size + x + dx] = true;
            }
        }
    }
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(size, size, |x, y| if dark[y * size + x] { 0 } else { 255 });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

/// The link in the last email the SMTP server received for `to` with `subject` in it.
fn link_in(smtp: &SmtpServer, to: &str, subject: &str, base: &str) -> String {
    let mail = smtp
        .messages()
        .into_iter()
        .rev()
        .filter(|m| m.contains(to))
        .find(|m| {
            let parsed = mail_parser::MessageParser::default().parse(m.as_bytes()).unwrap();
            parsed.subject().unwrap_or_default().contains(subject)
        })
        .unwrap_or_else(|| panic!("no email to {to} about {subject:?}"));
    let body = mail_parser::MessageParser::default().parse(mail.as_bytes()).unwrap().body_text(0).unwrap().to_string();
    let start = body.find(base).unwrap_or_else(|| panic!("no link in {body}"));
    body[start..].chars().take_while(|c| !c.is_whitespace()).collect()
}

/// A link signed with the test's key as the service signs them, expired an hour ago.
pub(crate) fn expired_link(base: &str, customer: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use hmac::Mac;
    let payload = format!("{customer}\n\n{}", chrono::Utc::now().timestamp() - 3_600);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(b"portal1\n");
    mac.update(payload.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!("{base}{}.{}.{}", B64.encode(&payload), B64.encode("portal1"), B64.encode(&tag[..]))
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.pdf"), pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "s.pdf", "-"])
        .current_dir(dir.path())
        .output()
        .expect("pdftotext (poppler-utils; test.sh installs it)");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_page_takes_the_plan_offered_sends_a_fresh_link_gives_the_statement_and_stops_a_channel() {
    use crate::pipeline::{customer, invoice};
    let smtp = SmtpServer::start();
    let plans = "[settings.b2b-standard]\nplan_instalments = 3\nplan_every_days = 30\n";
    let (site, port) = portal_site(&smtp, (plans, "words_dir = \"words\"\n"), false);
    // The business's own greeting, in place of the page's.
    std::fs::create_dir_all(site.path("words")).unwrap();
    site.write("words/portal-it.toml", "hello = \"Gentile\"\n");
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer("rome", "Europe/Rome", r#", "business": true"#),
        invoice("eur", "rome", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    // Due 28 October; the plan is offered 20 days later, on 17 November, by email.
    for day in (28..=31).map(|d| format!("2026-10-{d}")).chain((1..=17).map(|d| format!("2026-11-{d:02}"))) {
        site.ok(&["run", "--at", &format!("{day}T09:00:00Z")]);
    }
    let base = format!("http://127.0.0.1:{port}/p/");
    let origin = format!("http://127.0.0.1:{port}");
    let url = link_in(&smtp, "rome@example.com", "rate", &base);
    let _svc = Service::launch(&site, port);

    // The offer on the page: 100.00 EUR in three, the first taking the extra cent, 30 days apart.
    let (status, _, _, page) = fetch(&url, None, None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Il piano a rate che Le abbiamo proposto"), "{page}");
    assert!(page.contains("<h1>Gentile Cliente rome</h1>") && !page.contains("Buongiorno"), "{page}");
    // The invoice's own payment link, and the business's other ways to pay.
    assert!(
        page.replace("&#x2f;", "/")
            .contains("href=\"https://pay.example/eur\" rel=\"noopener noreferrer\">Paga online"),
        "{page}"
    );
    assert!(page.contains("Altri modi di pagare"), "{page}");
    for (amount, due) in [("33,34", "27 novembre 2026"), ("33,33", "27 dicembre 2026"), ("33,33", "26 gennaio 2027")] {
        assert!(page.contains(&format!("{amount}\u{a0}€ entro il {due}")), "{amount} {due}: {page}");
    }
    let plan = [("action", "plan"), ("invoice", "eur")];
    let (status, _, _, page) = fetch(&url, Some(&plan), Some(&origin));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("il piano è attivo") && !page.contains("Accetto questo piano"), "{page}");
    assert_eq!(fetch(&url, Some(&plan), Some(&origin)).0, 409, "a plan is accepted once");
    let db = Db::new(&site.db());
    assert_eq!(db.strings("SELECT kind FROM events WHERE invoice_id = 'eur' AND kind = 'plan-accepted'").len(), 1);

    // The statement of account, every figure worked out here: 100.00 owed since 28 October.
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Rome).date_naive();
    let late = (today - chrono::NaiveDate::from_ymd_opt(2026, 10, 28).unwrap()).num_days();
    let csv = ureq::get(&format!("{url}/statement.csv")).call().unwrap().into_string().unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let reference = rows[1].rsplit(',').next().unwrap();
    assert!(rf_checks(reference) && reference.ends_with("NEUR"), "{reference}");
    assert_eq!(rows[1], format!("N-eur,2026-10-01,2026-10-28,{late},100.00,0.00,100.00,EUR,{reference}"));
    let pdf = ureq::get(&format!("{url}/statement.pdf")).call().unwrap();
    assert_eq!(pdf.content_type(), "application/pdf");
    let mut bytes = vec![];
    std::io::Read::read_to_end(&mut pdf.into_reader(), &mut bytes).unwrap();
    let text = pdf_text(&bytes);
    assert!(text.contains("Estratto conto di Cliente rome"), "{text}");
    assert!(text.contains("Totale ancora da pagare: 100,00 €"), "{text}");
    assert!(text.contains("IBAN IT60 X054 2811 1010 0000 0123 456"), "{text}");

    // An expired link offers a fresh one, sent to the address on file only, once a day.
    let expired = expired_link(&base, "rome");
    let (status, _, _, page) = fetch(&expired, None, None);
    assert_eq!(status, 410);
    assert!(page.contains("Inviatemi un nuovo link via email") && !page.contains("N-eur"), "{page}");
    let fresh = [("action", "fresh-link"), ("email", "attacker@evil.example")];
    for _ in 0..3 {
        let (status, _, _, page) = fetch(&expired, Some(&fresh), None);
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("un nuovo link è in arrivo"), "{page}");
    }
    wait_for("the statement with a fresh link at the SMTP server", || {
        smtp.messages().iter().any(|m| m.contains("Subject: Il Suo estratto conto al"))
    });
    let statements: Vec<String> =
        smtp.messages().into_iter().filter(|m| m.contains("Subject: Il Suo estratto conto al")).collect();
    assert_eq!(statements.len(), 1, "one statement for three requests");
    assert!(statements[0].contains("To: <rome@example.com>") || statements[0].contains("To: rome@example.com"));
    assert!(!smtp.messages().iter().any(|m| m.contains("attacker@evil.example")));
    let renewed = link_in(&smtp, "rome@example.com", "estratto conto", &base);
    assert_ne!(renewed, url);
    assert_eq!(fetch(&renewed, None, None).0, 200);
    let again = site.run(&["statement", "rome"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("already asked for today"), "{again:?}");
    assert_eq!(site.run(&["statement", "nobody"]).status.code(), Some(2));

    // Stop emails: the opt-out is the customer's, once; a formal channel cannot be stopped here.
    let letter = [("action", "opt-out"), ("invoice", "eur"), ("channel", "letter")];
    assert_eq!(fetch(&url, Some(&letter), Some(&origin)).0, 422);
    let stop = [("action", "opt-out"), ("invoice", "eur"), ("channel", "email")];
    let (status, _, _, page) = fetch(&url, Some(&stop), Some(&origin));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("non La contatteremo più su questo canale"), "{page}");
    assert!(!page.contains("<option value=\"email\">"), "email is stopped already: {page}");
    let customer = db.strings("SELECT data FROM customers WHERE id = 'rome'");
    assert!(customer[0].contains(r#""opted_out":["email"]"#), "{customer:?}");

    // What the page did, as the report and the history show it.
    let doors = db.strings("SELECT subject FROM inbound WHERE door = 'portal' ORDER BY id");
    // One visit a day per link: the plan offer's link (however often opened), then the fresh one.
    assert_eq!(doors, ["visit", "plan", "visit", "opt-out"]);
    let report = site.ok(&["report", "--json", "--by", "step"]);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let offer = report["lines"].as_array().unwrap().iter().find(|l| l["key"]["step"] == "plan-offer").unwrap();
    assert_eq!((offer["visits"].as_u64(), report["total"]["visits"].as_u64()), (Some(1), Some(2)), "{report}");
    let history = site.ok(&["history", "eur"]);
    assert!(history.contains("plan-accepted") && history.contains("opted out of email"), "{history}");

    // The business revokes the customer's links (a forwarded email): none opens anything any more.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    site.ok(&["revoke-links", "rome"]);
    for link in [&url, &renewed] {
        let (status, _, _, page) = fetch(link, None, None);
        assert_eq!(status, 404);
        assert!(!page.contains("N-eur"), "{page}");
    }
    assert_eq!(site.run(&["revoke-links", "nobody"]).status.code(), Some(2));
}
