//! The customer's page in a real headless Chromium, at a phone's size
//! (390x844) and a desktop's, in Italian and in English: opened from the
//! link in a real email (read from the SMTP server that received it), the
//! transfer's QR code read back by a decoder that is not ours, a promise and
//! a problem sent by clicking, no console error, nothing wider than the
//! screen, and axe-core (npm; `./test.sh` installs it) finding no serious or
//! critical violation on any page. Screenshots go to target/ui-screenshots/
//! (the ones in docs/portal/ were taken from there and looked at).

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::common::*;
use crate::dashboard::{Driver, errors, screenshots};
use crate::serve::Service;
use crate::smtp::SmtpServer;

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 900);

/// axe-core's script, as npm installed it for the tests.
fn axe_source() -> String {
    let path = root().join("target/axe/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (./test.sh installs axe-core)", path.display()))
}

/// axe-core on the page as it is now: the serious and critical violations (id, impact, where).
async fn serious_violations(browser: &Client, axe: &str) -> Vec<String> {
    browser.execute(&format!("{axe}\nreturn typeof axe;"), vec![]).await.expect("axe-core loads in the page");
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact,
                 nodes: v.nodes.map(n => n.target.join(' ')) }))))
          .catch(e => done([{ id: 'axe failed: ' + e, impact: 'critical', nodes: [] }]));";
    let found = browser.execute_async(script, vec![]).await.expect("axe-core runs");
    found
        .as_array()
        .expect("a list of violations")
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .map(|v| format!("{} ({}) at {}", v["id"], v["impact"], v["nodes"]))
        .collect()
}

/// The page checked as its reader gets it: loaded, no error logged, nothing
/// wider than the window, no serious accessibility fault; and a screenshot.
async fn looked_at(browser: &Client, axe: &str, shot: &str) {
    looked_at_answer(browser, axe, shot, None).await;
}

/// The same for a page answered with an error status, which the browser logs as such.
async fn looked_at_answer(browser: &Client, axe: &str, shot: &str, status: Option<u16>) {
    browser.wait().at_most(std::time::Duration::from_secs(30)).for_element(Locator::Css("main h1")).await.unwrap();
    let mut logged = errors(browser).await;
    if let Some(status) = status {
        logged.retain(|l| !l.contains(&format!("status of {status}")));
    }
    assert!(logged.is_empty(), "{shot}: the browser logged {logged:#?}");
    let widths =
        browser.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    let (scroll, window) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(scroll <= window, "{shot}: the page is {scroll} px wide in a {window} px window");
    let faults = serious_violations(browser, axe).await;
    assert!(faults.is_empty(), "{shot}: axe-core found {faults:#?}");
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{shot}.png")), png).unwrap();
}

/// The link to the customer's page in the first email the SMTP server received for `to`.
fn link_for(smtp: &SmtpServer, to: &str, base: &str) -> String {
    let mail = smtp.messages().into_iter().find(|m| m.contains(to)).unwrap_or_else(|| panic!("no email to {to}"));
    let body = mail_parser::MessageParser::default().parse(mail.as_bytes()).unwrap().body_text(0).unwrap().to_string();
    let start = body.find(base).unwrap_or_else(|| panic!("no link in {body}"));
    body[start..].chars().take_while(|c| !c.is_whitespace()).collect()
}

/// Opens the form under the summary saying `summary`, and sends it with `fields` set.
async fn send_form(browser: &Client, summary: &str, fields: &[(&str, &str)]) {
    let summaries = browser.find_all(Locator::Css("summary")).await.unwrap();
    let mut opened = None;
    for s in summaries {
        if s.text().await.unwrap() == summary {
            s.click().await.unwrap();
            opened = Some(s);
            break;
        }
    }
    let summary_element = opened.unwrap_or_else(|| panic!("no {summary:?} on the page"));
    let details = summary_element.find(Locator::XPath("..")).await.unwrap();
    for (name, value) in fields {
        let field = details.find(Locator::Css(&format!("[name='{name}']"))).await.unwrap();
        if field.tag_name().await.unwrap() == "select" {
            field.select_by_value(value).await.unwrap();
        } else {
            // A date field's typing depends on the browser's locale: the value is set as the form sends it.
            browser.execute("arguments[0].value = arguments[1];", vec![json!(field), json!(value)]).await.unwrap();
        }
    }
    details.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
}

async fn page_of(browser: &Client) -> String {
    browser.source().await.unwrap()
}

/// Waits (up to 30 s) for the page a form led to, saying `words`.
async fn shows(browser: &Client, words: &str) {
    let started = std::time::Instant::now();
    loop {
        let text = match browser.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(words) {
            return;
        }
        assert!(started.elapsed().as_secs() < 30, "the page does not say {words:?}: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customers_page_works_on_a_phone_and_a_desktop_in_italian_and_english() {
    let smtp = SmtpServer::start();
    let (site, port) = crate::portal::portal_site(&smtp, ("", "bic = \"BPMOIT22XXX\"\n"), true);
    let base = format!("http://127.0.0.1:{port}/p/");
    let rossi = link_for(&smtp, "amministrazione@rossi-impianti.example", &base);
    let harbour = link_for(&smtp, "accounts@harbourstudio.example", &base);
    let _svc = Service::launch(&site, port);
    let axe = axe_source();
    let driver = Driver::start();

    for (lang, link, headline) in
        [("it", &rossi, "Buongiorno Rossi Impianti S.r.l."), ("en", &harbour, "Hello Harbour Studio Ltd")]
    {
        for (device, size) in [("phone", PHONE), ("desktop", DESKTOP)] {
            let browser = driver.browser_sized(lang, size).await;
            browser.goto(link).await.unwrap();
            looked_at(&browser, &axe, &format!("portal-{lang}-{device}")).await;
            let heading = browser.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
            assert_eq!(heading, headline);
            assert_eq!(
                browser.find(Locator::Css("html")).await.unwrap().attr("lang").await.unwrap().as_deref(),
                Some(lang)
            );
            browser.close().await.unwrap();
        }
    }

    // On the phone, in Italian: the QR code as the browser got it, read by rqrr.
    let browser = driver.browser_sized("it", PHONE).await;
    browser.goto(&rossi).await.unwrap();
    let source = browser.source().await.unwrap();
    let epc = crate::portal::qr_of(&source);
    let fields: Vec<&str> = epc.split('\n').collect();
    assert_eq!(
        &fields[..8],
        ["BCD", "002", "1", "SCT", "BPMOIT22XXX", "Sollecito Demo S.r.l.", "IT60X0542811101000000123456", "EUR1250.00"]
    );

    // A promise, by clicking: ten days from today.
    let promised = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive().to_string();
    send_form(&browser, "Pagherò il…", &[("date", &promised)]).await;
    shows(&browser, "abbiamo preso nota del giorno").await;
    looked_at(&browser, &axe, "portal-it-phone-promised").await;

    // A problem on the same page, with markup in the text: shown as text, kept as the reason.
    send_form(
        &browser,
        "C'è un problema con questa fattura",
        &[("reason", "amount"), ("text", "<b>importo</b> sbagliato")],
    )
    .await;
    shows(&browser, "una persona esaminerà la segnalazione").await;
    looked_at(&browser, &axe, "portal-it-phone-problem").await;
    browser.close().await.unwrap();

    // An expired link, in English on a phone: it says so, and sends a new one to the address on file.
    let browser = driver.browser_sized("en", PHONE).await;
    browser.goto(&crate::portal::expired_link(&base, "cus-harbour")).await.unwrap();
    shows(&browser, "This link has expired").await;
    assert!(!page_of(&browser).await.contains("HS-1004"));
    looked_at_answer(&browser, &axe, "portal-en-phone-expired", Some(410)).await;
    browser.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    shows(&browser, "a new link is on its way").await;
    looked_at(&browser, &axe, "portal-en-phone-fresh").await;
    browser.close().await.unwrap();
    let queued = Db::new(&site.db())
        .strings("SELECT template FROM outbox WHERE customer_id = 'cus-harbour' AND kind = 'statement'");
    assert_eq!(queued, ["statement"], "the statement with a fresh link, for the address on file");

    // What the page did, where a finance person looks: the invoice's history and the report.
    let history = site.ok(&["history", "inv-1001"]);
    assert!(history.contains(&format!("promise to pay by {promised}")), "{history}");
    assert!(history.contains("dispute opened") && history.contains("<b>importo</b> sbagliato"), "{history}");
    let report: Value = serde_json::from_str(&site.ok(&["report", "--json", "--by", "step"])).unwrap();
    assert_eq!(report["total"]["visits"], 2, "Rossi's link and Harbour's, one visit each today: {report}");
    assert_eq!((report["total"]["promised"].as_u64(), report["total"]["disputed"].as_u64()), (Some(1), Some(1)));
}
