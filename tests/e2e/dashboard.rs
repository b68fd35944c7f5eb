//! The dashboard in a real headless Chromium, driven through chromedriver:
//! every page loads with no console error and no failed request on a store
//! with the demo's invoices and 100,000 more; the charts carry the report's
//! numbers; a rollback works signed in and not without; a forged POST is
//! refused; a hostile customer name is shown as text. Screenshots of each
//! page go to target/ui-screenshots/ for review.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::{Service, TOKEN};

const HOSTILE: &str = "<script>alert(1)</script>";

/// chromedriver on a free port, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub(crate) fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; ./test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, port, _profile: tempfile::tempdir().unwrap() }
    }

    /// A headless Chromium that reaches for nothing outside this machine.
    async fn browser(&self, language: &str) -> Client {
        self.browser_sized(language, (1280, 1100)).await
    }

    /// The same with a window of `(width, height)` pixels: a phone's is 390x844.
    pub(crate) async fn browser_sized(&self, language: &str, (width, height): (u32, u32)) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let profile = tempfile::tempdir().unwrap().keep();
        let mut caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()), format!("--lang={language}"),
                ],
                "prefs": { "intl.accept_languages": language },
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        // Headless Chromium keeps a window at least 500 px wide: a phone's width is emulated.
        if width < 500 {
            caps["goog:chromeOptions"]["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "touch": true } });
        }
        let caps = caps.as_object().unwrap().clone().into_iter().collect();
        ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

/// chromedriver's browser log (console messages, failed loads, CSP refusals) since the last read.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The errors the browser logged since the last call: none is allowed.
pub(crate) async fn errors(browser: &Client) -> Vec<String> {
    let log = browser.issue_cmd(BrowserLog).await.expect("the browser's log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits for the page a click led to: a form's answer may still be on its
/// way when the click returns, on a loaded machine.
async fn arrived(browser: &Client, ending: &str) {
    let started = std::time::Instant::now();
    loop {
        let url = browser.current_url().await.unwrap();
        if url.as_str().ends_with(ending) {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "still at {url}, not at ...{ending}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The element once the page that shows it is there (up to 30 s).
async fn appeared(browser: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    browser.wait().at_most(std::time::Duration::from_secs(30)).for_element(locator).await.unwrap()
}

pub(crate) fn screenshots() -> std::path::PathBuf {
    let dir = root().join("target").join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens a page, checks it loaded cleanly and keeps a screenshot.
async fn visit(browser: &Client, base: &str, path: &str, shot: &str) {
    browser.goto(&format!("{base}{path}")).await.unwrap();
    browser.find(Locator::Css("main h1")).await.unwrap_or_else(|e| panic!("{path}: no heading: {e}"));
    let errors = errors(browser).await;
    assert!(errors.is_empty(), "{path}: the browser logged {errors:#?}");
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{shot}.png")), png).unwrap();
}

/// The dashboard's English strings that its Italian differs from, in pieces
/// between their placeholders: what must not be read on an Italian page.
fn english_only() -> Vec<String> {
    let read = |lang: &str| -> toml::Table {
        let path = root().join(format!("host/ui/i18n/{lang}.toml"));
        toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let (en, it) = (read("en"), read("it"));
    let mut pieces = vec![];
    for (key, english) in &en {
        let english = english.as_str().unwrap();
        if it.get(key).and_then(|v| v.as_str()) == Some(english) {
            continue; // the same in both: "email", "Plugin"
        }
        for piece in english.split(['{', '}']).step_by(2) {
            let piece = piece.trim_matches(|c: char| !c.is_alphanumeric());
            // Whole words only, long enough not to be a name's part.
            if piece.len() >= 4 && piece.chars().any(char::is_alphabetic) {
                pieces.push(piece.to_string());
            }
        }
    }
    pieces
}

/// The pieces of `english` found in `text` as whole words (not inside a
/// template name such as `overdue-firm`).
fn english_in(text: &str, english: &[String]) -> Vec<String> {
    let alone = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '-' && c != '_');
    english
        .iter()
        .filter(|piece| {
            text.match_indices(piece.as_str())
                .any(|(at, _)| alone(text[..at].chars().next_back()) && alone(text[at + piece.len()..].chars().next()))
        })
        .cloned()
        .collect()
}

/// The demo's invoices, a hostile customer, and `n` generated invoices, in a store.
fn seeded(n: usize) -> Site {
    let site = Site::new();
    let demo = std::fs::read_to_string(root().join("examples/invoices.json")).unwrap();
    let mut data: Value = serde_json::from_str(&demo).unwrap();
    data["events"] = json!([]);
    let mut customer = data["customers"][0].clone();
    customer["id"] = json!("cus-hostile");
    customer["name"] = json!(HOSTILE);
    customer["segment"] = json!("b2b");
    data["customers"].as_array_mut().unwrap().push(customer);
    let mut invoice = data["invoices"][0].clone();
    invoice["id"] = json!("inv-hostile");
    invoice["number"] = json!("X-1");
    invoice["customer"] = json!("cus-hostile");
    data["invoices"].as_array_mut().unwrap().push(invoice);
    site.write("demo.json", &data.to_string());
    site.ok(&["import", site.path("demo.json").to_str().unwrap(), "--at", "2026-09-24T12:00:00Z"]);
    for day in 24..=30 {
        site.ok(&["run", "--at", &format!("2026-09-{day}T12:00:00Z")]);
    }
    for day in 1..=20 {
        site.ok(&["run", "--at", &format!("2026-10-{day:02}T12:00:00Z")]);
    }
    let customers: Vec<Value> = (0..1000)
        .map(|c| {
            json!({
                "id": format!("gen-c{c:04}"), "name": format!("Cliente {c}"), "email": format!("c{c}@example.com"),
                "locale": if c % 2 == 0 { "it-IT" } else { "en-GB" }, "timezone": "Europe/Rome",
                "segment": if c % 5 == 0 { "subscription" } else { "b2b" }, "business": true,
            })
        })
        .collect();
    let invoices: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("gen-{i:06}"), "number": format!("G-{i:06}"), "customer": format!("gen-c{:04}", i % 1000),
                "currency": "EUR", "amount_due": format!("{}.{:02}", 50 + i % 2000, i % 100),
                "issued": "2026-08-01", "due": format!("2026-{:02}-{:02}", 8 + i % 3, 1 + i % 28),
            })
        })
        .collect();
    site.write("generated.json", &json!({ "customers": customers, "invoices": invoices }).to_string());
    site.ok(&["import", site.path("generated.json").to_str().unwrap(), "--at", "2026-10-21T12:00:00Z"]);
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let site = seeded(100_000);
    let service = Service::start_with(&site, "public_reads = true\n", "");
    let base = service.base.clone();
    let driver = Driver::start();
    let browser = driver.browser("it-IT").await;

    // Reading is open here (public_reads); every page loads clean.
    visit(&browser, &base, "/ui/overview?to=2026-10-31", "overview").await;
    visit(&browser, &base, "/ui/invoices", "invoices").await;
    visit(&browser, &base, "/ui/invoices?state=open&segment=b2b&min=100&age=31-60", "invoices-filtered").await;
    visit(&browser, &base, "/ui/invoices/inv-1001", "invoice").await;
    visit(&browser, &base, "/ui/policies", "policies").await;
    visit(&browser, &base, "/ui/experiments", "experiments").await;
    visit(&browser, &base, "/ui/tasks", "tasks").await;
    visit(&browser, &base, "/ui/login", "login").await;

    // In Italian, as the browser asked, with money as Italians write it.
    let heading = browser.find(Locator::Css("main h1")).await.unwrap().text().await.unwrap();
    assert_eq!(heading, "Accedi");

    // Every page in Italian: none of the dashboard's English strings is left on it.
    let english = english_only();
    assert!(english.iter().any(|e| e == "Receivables by age"), "{english:?}");
    for path in ["/ui/overview?to=2026-10-31", "/ui/invoices", "/ui/invoices/inv-1001", "/ui/policies", "/ui/tasks"] {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        let text = browser.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
        let left = english_in(&text, &english);
        assert!(left.is_empty(), "{path}: English on the Italian page: {left:?}");
    }

    // The charts hold the report's numbers: the age buckets against GET /v1/reports.
    browser.goto(&format!("{base}/ui/overview?to=2026-10-31")).await.unwrap();
    let drawn = browser
        .execute("return Chart.getChart(document.getElementById('chart-ages')).data.datasets[0].data;", vec![])
        .await
        .unwrap();
    let (status, report) = service.call("GET", "/v1/reports?from=2026-08-03&to=2026-10-31", None, "");
    assert_eq!(status, 200, "{report}");
    let expected: Vec<f64> = report["receivables"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["amount"]["EUR"].as_i64().unwrap_or(0) as f64 / 100.0)
        .collect();
    let drawn: Vec<f64> = drawn.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(drawn, expected);
    assert!(expected.iter().sum::<f64>() > 100_000.0, "the generated invoices are owed: {expected:?}");
    // Axes in Italian numbers ("35.000.000", not "35,000,000"), and the lines straight between their points.
    let ticks = browser
        .execute(
            "return Chart.getChart(document.getElementById('chart-ages')).scales.y.ticks.map(t => t.label);",
            vec![],
        )
        .await
        .unwrap();
    let ticks: Vec<&str> = ticks.as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(ticks.iter().any(|t| t.contains('.')) && !ticks.iter().any(|t| t.contains(',')), "{ticks:?}");
    let tension = browser
        .execute("return Chart.getChart(document.getElementById('chart-dso')).data.datasets[0].tension;", vec![])
        .await
        .unwrap();
    assert_eq!(tension, json!(0));
    // The table alternative says the same.
    let cells = browser.find_all(Locator::Css("#table-ages td")).await.unwrap();
    let mut in_table = vec![];
    for cell in cells {
        in_table.push(cell.attr("data-value").await.unwrap().unwrap().parse::<f64>().unwrap());
    }
    assert_eq!(in_table, expected);

    // An invoice's decisions say their actions in words, in Italian: no JSON.
    browser.goto(&format!("{base}/ui/invoices/inv-1001")).await.unwrap();
    let decisions = browser.find(Locator::Id("decisions")).await.unwrap().text().await.unwrap();
    assert!(decisions.contains("promemoria via email, modello"), "{decisions}");
    assert!(!decisions.contains('{') && !decisions.contains('"'), "raw JSON on the page: {decisions}");

    // The list pages through the generated invoices.
    browser.goto(&format!("{base}/ui/invoices?segment=subscription")).await.unwrap();
    let first = browser.find_all(Locator::Css("#invoices tbody tr")).await.unwrap().len();
    assert_eq!(first, 50);
    browser.find(Locator::Id("next-page")).await.unwrap().click().await.unwrap();
    let url = browser.current_url().await.unwrap();
    assert!(url.as_str().contains("after="), "{url}");
    assert_eq!(browser.find_all(Locator::Css("#invoices tbody tr")).await.unwrap().len(), 50);
    assert!(errors(&browser).await.is_empty());

    // Keyboard: the first Tab reaches the skip link, Enter moves to the content,
    // and every control there has a label.
    browser.goto(&format!("{base}/ui/invoices")).await.unwrap();
    browser.find(Locator::Css("body")).await.unwrap().send_keys("\u{E004}").await.unwrap();
    let first = browser.active_element().await.unwrap();
    assert_eq!(first.attr("class").await.unwrap().as_deref(), Some("skip"));
    first.send_keys("\u{E007}").await.unwrap();
    arrived(&browser, "#main").await;
    let unlabelled = browser
        .execute(
            "return [...document.querySelectorAll('main select, main input:not([type=hidden]), main textarea')] \
             .filter(e => e.labels.length === 0).map(e => e.name);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");

    // A hostile name is text: no script ran, the page shows the characters.
    browser.goto(&format!("{base}/ui/invoices/inv-hostile")).await.unwrap();
    let shown = browser.find(Locator::Id("customer")).await.unwrap().text().await.unwrap();
    assert_eq!(shown, HOSTILE);
    assert!(browser.get_alert_text().await.is_err(), "an alert opened");
    let html = browser.source().await.unwrap();
    assert!(!html.contains(HOSTILE) && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // A rollback: refused without signing in, done once signed in.
    let (status, _) = service.call("POST", "/v1/segments/b2b/policy", Some(TOKEN), r#"{"plugin": "b2b-standard"}"#);
    assert_eq!(status, 200);
    browser.goto(&format!("{base}/ui/policies/b2b/rollback")).await.unwrap();
    browser.find(Locator::Id("confirm")).await.unwrap().click().await.unwrap();
    let reason = appeared(&browser, Locator::Id("reason")).await.text().await.unwrap();
    assert_eq!(reason, "Accedi per modificare qualcosa.");
    let still = service.call("POST", "/v1/segments/b2b/rollback", None, "").0;
    assert_eq!(still, 401, "the API also wants its token");

    browser.goto(&format!("{base}/ui/login")).await.unwrap();
    browser.find(Locator::Id("token")).await.unwrap().send_keys("not-the-token-at-all").await.unwrap();
    browser.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
    appeared(&browser, Locator::Css("p.error")).await; // a wrong token is refused
    browser.find(Locator::Id("token")).await.unwrap().send_keys(TOKEN).await.unwrap();
    browser.find(Locator::Css("form button")).await.unwrap().click().await.unwrap();
    arrived(&browser, "/ui/overview").await;
    // The refusals above (403, 401) were logged, as they should be.
    let refusals = errors(&browser).await;
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    visit(&browser, &base, "/ui/policies", "policies-signed-in").await;
    let active_cell = browser.find(Locator::Css("#segments tr:nth-child(1) .active")).await;
    assert!(active_cell.is_ok());
    // A form posted without its CSRF token, from the signed-in browser itself, is refused.
    let forged = browser
        .execute_async(
            "const done = arguments[0]; fetch('/ui/policies/b2b/rollback', {method: 'POST', \
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=forged'}) \
             .then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    let _ = errors(&browser).await; // the refused fetch is logged, as it should be
    // Had it rolled back, the confirmed rollback below would find nothing to roll back.
    browser.goto(&format!("{base}/ui/policies/b2b/rollback")).await.unwrap();
    browser.find(Locator::Id("confirm")).await.unwrap().click().await.unwrap();
    arrived(&browser, "/ui/policies").await;
    assert!(errors(&browser).await.is_empty());
    let (_, rolled) = service.call("POST", "/v1/segments/b2b/rollback", Some(TOKEN), "");
    assert_eq!(rolled["error"], "nothing to roll back for segment \"b2b\"", "the dashboard rolled it back");

    // A policy component uploaded through the form is checked and kept, then offered for activation.
    let forged = browser
        .execute_async(
            "const done = arguments[0]; const f = new FormData(); f.append('csrf', 'forged'); \
             f.append('component', new Blob(['\\0asm']), 'x.wasm'); \
             fetch('/ui/policies/upload', {method: 'POST', body: f}).then(r => done(r.status));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(forged, json!(403));
    let _ = errors(&browser).await; // the refused fetch is logged, as it should be
    let known = service.call("GET", "/v1/plugins", Some(TOKEN), "").1;
    assert!(!known.to_string().contains("acme-gentle"), "{known}");
    browser.goto(&format!("{base}/ui/policies")).await.unwrap();
    let file = browser.find(Locator::Id("component")).await.unwrap();
    file.send_keys(sollecito_test_artifacts::ACME_GENTLE).await.unwrap();
    browser.find(Locator::Css("#upload button")).await.unwrap().click().await.unwrap();
    arrived(&browser, "/ui/policies").await;
    assert!(errors(&browser).await.is_empty());
    // The answer is the same page again: wait for the list that names the new plugin.
    let started = std::time::Instant::now();
    let listed = loop {
        let listed = appeared(&browser, Locator::Id("plugins")).await.text().await.unwrap_or_default();
        if listed.contains("acme-gentle") || started.elapsed() > std::time::Duration::from_secs(30) {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(listed.contains("acme-gentle"), "{listed}");
    let options = browser.find(Locator::Css("#segments select")).await.unwrap().html(false).await.unwrap();
    assert!(options.contains("acme-gentle 0.1.0"), "{options}");
    let known = service.call("GET", "/v1/plugins", Some(TOKEN), "").1;
    assert!(known.to_string().contains("acme-gentle"), "the API knows the uploaded plugin: {known}");

    browser.close().await.unwrap();
    drop(driver);
}

/// The overview's DSO is the report's, in the page's language: on the small
/// fixture whose figures outcomes.rs counts by hand (at 31 October: 122.5
/// days by the countback, 22.0 from the terms alone, 100.5 late on average).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_the_dso_counted_by_hand_with_its_method_in_italian() {
    let site = Site::new();
    crate::outcomes::aged_store(&site.db()).await.close().await;
    // No review falls due while the page is read: a tick would add the policy's fees.
    Db::new(&site.db()).execute("UPDATE reviews SET next_review = 4102444800");
    let service = Service::start_with(&site, "public_reads = true\n", "");
    let (status, report) = service.call("GET", "/v1/reports?from=2026-10-01&to=2026-10-31", None, "");
    assert_eq!(status, 200, "{report}");
    let eur = &report["receivables"]["dso"]["EUR"];
    assert_eq!(
        (eur["days"].as_f64(), eur["best_days"].as_f64(), eur["delinquent_days"].as_f64(), &eur["period_days"]),
        (Some(122.5), Some(22.0), Some(100.5), &Value::Null),
        "{report}"
    );
    // And the report a person reads in a terminal.
    let text = site.ok(&["report", "--from", "2026-10-01", "--to", "2026-10-31"]);
    assert!(
        text.contains(
            "DSO (EUR, countback): 122.5 days; best possible 22.0; average days delinquent 100.5; \
             the period method: not enough sales in the period"
        ),
        "{text}"
    );
    let driver = Driver::start();
    let browser = driver.browser("it-IT").await;
    visit(&browser, &service.base, "/ui/overview?to=2026-10-31", "overview-dso").await;
    let line = browser.find(Locator::Id("dso-now")).await.unwrap().text().await.unwrap();
    assert_eq!(
        line,
        "DSO 122,5 giorni (calcolato a ritroso sulle vendite più recenti); \
         con i soli termini di pagamento sarebbe 22,0, il ritardo medio è 100,5"
    );
    // The list: a paid invoice has no days overdue; an open one counts them from its due date.
    visit(&browser, &service.base, "/ui/invoices", "invoices-paid-and-open").await;
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('#invoices tbody tr')] \
             .map(r => [...r.cells].map(c => c.textContent.trim()));",
            vec![],
        )
        .await
        .unwrap();
    let row = |number: &str| -> Vec<String> {
        let rows = rows.as_array().unwrap();
        let row = rows.iter().find(|r| r[0] == number).unwrap_or_else(|| panic!("no {number} in {rows:?}"));
        row.as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect()
    };
    let (paid, open, void) = (row("F-a"), row("F-d"), row("F-f"));
    // A void invoice owes nothing: no amount outstanding, no days overdue.
    assert_eq!((void[4].as_str(), void[6].as_str(), void[7].as_str()), ("–", "–", "annullata"), "{void:?}");
    browser.goto(&format!("{}/ui/invoices/f", service.base)).await.unwrap();
    let facts = browser.find(Locator::Css("main dl")).await.unwrap().text().await.unwrap();
    assert!(facts.contains("Da incassare\n–") && facts.contains("Stato\nannullata"), "{facts}");
    assert_eq!((paid[6].as_str(), paid[7].as_str()), ("–", "pagata"), "{paid:?}");
    let overdue = (chrono::Utc::now().date_naive() - "2026-07-15".parse::<chrono::NaiveDate>().unwrap()).num_days();
    assert_eq!((open[6].clone(), open[7].as_str()), (overdue.to_string(), "aperta"), "{open:?}");
    browser.close().await.unwrap();
}
