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

#[test]
fn the_link_in_a_real_email_opens_the_customers_page_and_a_promise_is_kept_once() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n[portal]\nbase_url = \"http://127.0.0.1:{port}\"\nkeys = [\"portal1\"]\n\
         iban = \"IT60 X054 2811 1010 0000 0123 456\"\n",
        smtp.port
    );
    Service::write_config(&site, "", &config);
    Service::add_secrets(&site, &format!("portal1 = \"{KEY}\"\n"));
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    let now = chrono::Utc::now().to_rfc3339();
    site.ok(&["run", "--at", &now]);

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
    assert_eq!(referrer, "no-referrer", "the link must not leak in a Referer");
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
    assert_eq!(kept, ["portal promise applied"]);
    let tied = db.strings("SELECT o.step FROM inbound i JOIN outbox o ON o.id = i.outbox_id");
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
    assert_eq!(db.strings("SELECT door FROM inbound").len(), 1);

    // A script trying links or dates is slowed down: 30 requests a minute per link.
    let statuses: Vec<u16> = (0..40).map(|_| fetch(&tampered, None, None).0).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
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
