//! Channel adapters against a real local HTTP server: signed webhooks, SMS,
//! retries of transient failures, denials of what was not granted.

use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};

use crate::pipeline::{Site, customer, invoice};

/// What the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP server that records what it receives.
pub struct Recorder {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    /// Answers with the given statuses in turn (then 200).
    fn start(answers: Vec<(u16, &'static str)>) -> Self {
        let answers = Mutex::new(answers.into_iter());
        Recorder::answering(move |_| {
            let (status, text) = answers.lock().unwrap().next().unwrap_or((200, r#"{"sid": "SM0001"}"#));
            (status, text.to_string())
        })
    }

    /// Answers each request as `answer` says (it may block: requests are served one at a time).
    pub fn answering(answer: impl Fn(&Received) -> (u16, String) + Send + 'static) -> Self {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let received = Arc::new(Mutex::new(vec![]));
        let log = received.clone();
        std::thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                request.as_reader().read_to_string(&mut body).unwrap();
                let got = Received {
                    url: request.url().to_string(),
                    headers: request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect(),
                    body,
                };
                log.lock().unwrap().push(got.clone());
                let (status, text) = answer(&got);
                // The caller may be gone (a run killed while waiting): nothing to do about it.
                let _ = request.respond(tiny_http::Response::from_string(text).with_status_code(status));
            }
        });
        Recorder { port, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// A site whose policy reminds on `channel`, with that channel's config.
fn site_for(channel: &str, channel_config: &str) -> Site {
    let site = Site::new();
    let outsider = sollecito_test_artifacts::OUTSIDER;
    site.write(
        "sollecito.toml",
        &format!("[policies]\ndefault = {outsider:?}\n[settings.outsider]\nchannel = {channel:?}\n{channel_config}"),
    );
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer("rome", "Europe/Rome", r#", "phone": "+39 333 1234567""#),
        invoice("i-1", "rome", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    site
}

fn webhook_config(port: u16, hosts: &str, secrets: &str) -> String {
    format!(
        "[channels.webhook]\nhttp_hosts = [{hosts}]\nsecrets = [{secrets}]\n[channels.webhook.settings]\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret = \"hook\"\n[secrets]\nhook = \"s3cret\"\n"
    )
}

#[test]
fn a_webhook_is_signed_and_a_500_is_tried_again() {
    let server = Recorder::start(vec![(500, "busy")]);
    let site = site_for("webhook", &webhook_config(server.port, &format!("\"127.0.0.1:{}\"", server.port), "\"hook\""));
    let first = site.json(&["run", "--at", "2026-11-03T09:00:00Z"]);
    assert_eq!((first["sent"].as_u64(), first["retry_later"].as_u64()), (Some(0), Some(1)), "{first}");
    // Backed off for five minutes.
    assert_eq!(site.json(&["run", "--at", "2026-11-03T09:04:00Z"])["sent"], 0);
    assert_eq!(server.received().len(), 1);
    assert_eq!(site.json(&["run", "--at", "2026-11-03T09:05:00Z"])["sent"], 1);

    let got = server.received();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.url, "/hook");
        assert_eq!(r.header("Idempotency-Key"), Some("i-1/outsider-nudge"));
        let signature = r.header("X-Sollecito-Signature").unwrap();
        let (t, v1) = signature.strip_prefix("t=").unwrap().split_once(",v1=").unwrap();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(format!("{t}.{}", r.body).as_bytes());
        assert_eq!(hex::encode(mac.finalize().into_bytes()), v1, "the HMAC verifies");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["invoice_number"], "N-i-1");
        assert_eq!(body["payment_link"], "https://pay.example/i-1");
    }
    // Signed at the tick's time.
    assert_eq!(got[1].header("X-Sollecito-Signature").unwrap().split(',').next(), Some("t=1793696700"));
    assert_eq!(site.actions("i-1")[0].1, "sent");
}

#[test]
fn an_sms_refused_with_a_400_is_not_retried() {
    let server = Recorder::start(vec![(400, r#"{"message": "The 'To' number is not a valid phone number."}"#)]);
    let config = format!(
        "[channels.sms]\nhttp_hosts = [\"127.0.0.1\"]\nsecrets = [\"sms_auth\"]\n[channels.sms.settings]\nurl = \"http://127.0.0.1:{}/2010-04-01/Accounts/AC1/Messages.json\"\nfrom = \"+15005550006\"\nmax_length = \"70\"\n[secrets]\nsms_auth = \"AC1:tok3n\"\n",
        server.port
    );
    let site = site_for("sms", &config);
    let run = site.json(&["run", "--at", "2026-11-03T09:00:00Z"]);
    assert_eq!(run["failed"], 1, "{run}");
    site.ok(&["run", "--at", "2026-11-04T09:00:00Z"]);
    let got = server.received();
    assert_eq!(got.len(), 1, "a 4xx is final");
    assert_eq!(got[0].header("Authorization"), Some("Basic QUMxOnRvazNu"));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(got[0].body.as_bytes()).into_owned().collect();
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("To"), "+39 333 1234567");
    assert_eq!(field("From"), "+15005550006");
    let text = field("Body");
    assert!(text.chars().count() <= 70 && text.ends_with(" https://pay.example/i-1"), "{text}");
    let action = &site.actions("i-1")[0];
    assert_eq!(action.1, "failed");
    assert!(action.2.contains("HTTP 400") && action.2.contains("not a valid phone number"), "{action:?}");
}

#[test]
fn a_host_or_secret_not_granted_is_denied_and_nothing_leaves() {
    let server = Recorder::start(vec![]);
    // The adapter calls 127.0.0.1, but only another host is granted.
    let site = site_for("webhook", &webhook_config(server.port, "\"hooks.example.com\"", "\"hook\""));
    site.ok(&["run", "--at", "2026-11-03T09:00:00Z"]);
    let action = &site.actions("i-1")[0];
    assert_eq!(action.1, "failed");
    assert_eq!(action.2, format!("denied: 127.0.0.1:{} is not granted to this adapter", server.port));

    // The host is granted but the signing secret is not.
    let site = site_for("webhook", &webhook_config(server.port, &format!("\"127.0.0.1:{}\"", server.port), ""));
    site.ok(&["run", "--at", "2026-11-03T09:00:00Z"]);
    assert_eq!(site.actions("i-1")[0].2, "the signing secret \"hook\" is not granted");
    assert!(server.received().is_empty(), "nothing left the machine");
}

#[test]
fn a_letter_is_a_pdf_with_the_invoice_facts() {
    let site = Site::new();
    let outsider = sollecito_test_artifacts::OUTSIDER;
    site.write(
        "sollecito.toml",
        &format!("[policies]\ndefault = {outsider:?}\n[settings.outsider]\nchannel = \"letter\"\n"),
    );
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer("rome", "Europe/Rome", r#", "postal_address": "Via Garibaldi 7, 10121 Torino TO""#),
        invoice("i-1", "rome", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    assert_eq!(site.json(&["run", "--at", "2026-11-03T09:00:00Z"])["sent"], 1);

    let pdf = site.path("letters/i-1.outsider-nudge.pdf");
    assert!(pdf.exists(), "no letter at {}", pdf.display());
    let out = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; test.sh installs it)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for fact in ["Cliente rome", "Via Garibaldi 7", "N-i-1", "100,00 €", "https://pay.example/i-1", "28 ottobre 2026"]
    {
        assert!(text.contains(fact), "{fact:?} missing from the letter:\n{text}");
    }
    let history = site.json(&["history", "i-1"]);
    let receipt = history["actions"][0]["receipt"].as_str().unwrap();
    assert!(receipt.ends_with("i-1.outsider-nudge.pdf (ordinary post)"), "{receipt}");
}

#[test]
fn a_phone_step_opens_a_task_with_a_script_in_the_customers_language() {
    let site = Site::new();
    let outsider = sollecito_test_artifacts::OUTSIDER;
    site.write(
        "sollecito.toml",
        &format!("[policies]\ndefault = {outsider:?}\n[settings.outsider]\nchannel = \"phone\"\n"),
    );
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {}]}}"#,
        customer("rome", "Europe/Rome", r#", "phone": "+39 011 555 0101""#),
        customer("mute", "Europe/Rome", ""),
        invoice("i-1", "rome", ""),
        invoice("i-2", "mute", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-11-03T09:00:00Z"]);
    site.ok(&["run", "--at", "2026-11-04T09:00:00Z"]);
    let tasks = site.json(&["tasks"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1, "one task, once: {tasks:?}");
    assert_eq!(tasks[0]["key"], "i-1/outsider-nudge");
    assert_eq!(tasks[0]["phone"], "+39 011 555 0101");
    let script = tasks[0]["script"].as_str().unwrap().replace('\u{a0}', " ");
    assert!(
        script.contains("N-i-1") && script.contains("100,00 €") && script.to_lowercase().contains("fattura"),
        "{script}"
    );
    // No phone number: nothing to call, and the policy sees the failure.
    let action = &site.actions("i-2")[0];
    assert_eq!((action.1.as_str(), action.2.as_str()), ("failed", "Cliente mute has no phone number to call"));
}

#[test]
fn after_a_permanent_failure_the_policy_switches_channel() {
    // A relay that knows the address does not exist ("550 user unknown" at
    // RCPT); a postal address to fall back on.
    let relay = crate::delivery::Counter::start(&["--refuse-rcpt", "amministrazione@rome.example"]);
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{}\"\n", relay.url()));
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer(
            "rome",
            "Europe/Rome",
            r#", "email": "amministrazione@rome.example", "postal_address": "Via Po 1, 10124 Torino TO""#
        )
        .replace(r#""email": "rome@example.com", "#, ""),
        invoice("i-1", "rome", "").replace("2026-10-28", "2026-10-01")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    let first = &site.actions("i-1")[0];
    assert_eq!((first.0.as_str(), first.1.as_str()), ("overdue-7", "failed"), "{first:?}");
    // The next step of the bundled B2B ladder sees the failure and writes a letter instead.
    site.ok(&["run", "--at", "2026-10-16T12:00:00Z"]);
    let history = site.json(&["history", "i-1"]);
    let second = &history["actions"][1];
    assert_eq!(
        (second["step"].as_str(), second["channel"].as_str(), second["state"].as_str()),
        (Some("overdue-15"), Some("letter"), Some("sent"))
    );
    assert!(site.path("letters/i-1.overdue-15.pdf").exists());
}
