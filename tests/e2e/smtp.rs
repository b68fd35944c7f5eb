//! Email and PEC through a real SMTP server process on loopback (aiosmtpd),
//! in plain text, with STARTTLS and with TLS from the start (smtps://).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pipeline::{Site, customer, invoice};

/// An aiosmtpd process writing what it receives into a Maildir.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (test.sh installs it)");
        listening(port);
        SmtpServer { port, maildir, child, _dir: dir }
    }

    /// Every message received, raw.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&new).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        files.sort_by_key(|f| arrival(f));
        files.iter().map(|f: &PathBuf| std::fs::read_to_string(Path::new(f)).unwrap()).collect()
    }
}

/// Where a message came in the server's order. Python's Maildir names a file
/// `seconds.M<microseconds>P<pid>Q<count>.host` with the microseconds not
/// padded, so two messages in one second could sort the wrong way round as
/// text (a test saw its second reminder first under load); the count, kept
/// by the one server process, goes up with each message.
fn arrival(file: &Path) -> (u64, String) {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let count = name.split_once('Q').and_then(|(_, rest)| rest.split('.').next()).and_then(|n| n.parse().ok());
    (count.unwrap_or(u64::MAX), name.to_string())
}

/// A certificate authority of the test's own and a certificate for 127.0.0.1
/// signed by it, made with the `openssl` command.
pub struct Pki {
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("the openssl command (Debian: apt-get install openssl)");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Sollecito Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Pki { ca: p("ca.pem"), cert: p("cert.pem"), key: p("key.pem"), _dir: dir }
    }
}

impl SmtpServer {
    /// aiosmtpd behind TLS (tests/fixtures/smtp_tls.py): STARTTLS required
    /// before MAIL, or TLS from the first byte when `implicit`; AUTH for `user`.
    pub fn start_tls(pki: &Pki, implicit: bool, user: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("maildir");
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new("python3");
        command
            .arg(crate::common::root().join("tests/fixtures/smtp_tls.py"))
            .args(["--port", &port.to_string()])
            .arg("--maildir")
            .arg(&maildir)
            .arg("--cert")
            .arg(&pki.cert)
            .arg("--key")
            .arg(&pki.key);
        if implicit {
            command.arg("--implicit");
        }
        if let Some((user, password)) = user {
            command.args(["--user", user, "--password", password]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (test.sh installs it)");
        listening(port);
        SmtpServer { port, maildir, child, _dir: dir }
    }
}

/// Waits until a server listens on `port` (20 s at most).
fn listening(port: u16) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "the SMTP server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn reminders_arrive_through_a_real_smtp_server_once_each_with_both_parts() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n", smtp.port));
    site.ok(&[
        "import",
        &crate::common::root().join("examples/invoices.json").display().to_string(),
        "--at",
        "2026-09-20T00:00:00Z",
    ]);
    let run = site.json(&["run", "--at", "2026-10-08T12:00:00Z"]);
    let sent = run["sent"].as_u64().unwrap();
    assert!(sent >= 3, "{run}");
    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    assert!(site.emails().is_empty(), "with a relay, no outbox files");

    let messages = smtp.messages();
    assert_eq!(messages.len() as u64, sent, "once each");
    let mut ids = std::collections::BTreeSet::new();
    for raw in &messages {
        let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        assert!(ids.insert(m.message_id().unwrap().to_string()), "a Message-ID twice");
        assert!(m.body_text(0).is_some() && m.body_html(0).is_some(), "both parts");
        let unsubscribe = m.header_raw("List-Unsubscribe").unwrap();
        assert!(unsubscribe.contains("mailto:crediti@sollecito.example"), "{unsubscribe}");
        assert!(m.subject().unwrap().len() > 5);
    }
    assert!(ids.contains("inv-1001.overdue-7@sollecito.example"), "{ids:?}");
}

/// A formal notice by PEC goes to the customer's own PEC address through the
/// PEC relay; a customer with no PEC address gets it as a registered letter,
/// which the history says, rather than a failed notice.
#[test]
fn a_formal_notice_goes_by_pec_to_the_pec_address_or_else_as_a_registered_letter() {
    let mail = SmtpServer::start();
    let pec = SmtpServer::start();
    let site = Site::new();
    let outsider = sollecito_test_artifacts::OUTSIDER;
    site.write(
        "sollecito.toml",
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n[channels.pec]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n\
             [policies]\ndefault = {outsider:?}\n[settings.outsider]\nchannel = \"pec\"\n",
            mail.port, pec.port
        ),
    );
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {}]}}"#,
        customer("rome", "Europe/Rome", r#", "pec": "rome@pec.example.it""#),
        customer("milan", "Europe/Rome", r#", "postal_address": "Via Dante 1, 20121 Milano""#),
        invoice("i-1", "rome", ""),
        invoice("i-2", "milan", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    assert_eq!(site.json(&["run", "--at", "2026-11-03T09:00:00Z"])["sent"], 2);
    assert!(mail.messages().is_empty(), "not through the ordinary relay");
    let received = pec.messages();
    assert_eq!(received.len(), 1, "only the customer with a PEC address, through the PEC relay");
    let m = mail_parser::MessageParser::default().parse(received[0].as_bytes()).unwrap();
    let to: Vec<&str> = m.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["rome@pec.example.it"], "to the PEC address, not the ordinary mailbox");
    assert!(m.header_raw("List-Unsubscribe").is_none(), "a certified notice has no unsubscribe link");
    assert!(m.subject().unwrap().contains("N-i-1"));
    // No PEC address: a registered letter, and the history says so.
    let history = site.json(&["history", "i-2"]);
    let notice = &history["actions"][0];
    assert_eq!((notice["channel"].as_str(), notice["state"].as_str()), (Some("letter"), Some("sent")), "{history}");
    assert!(notice["receipt"].as_str().unwrap().starts_with("as a registered letter (no PEC address"), "{notice}");
}

/// The example invoices imported, ready for a run at [`TLS_RUN`] that sends at least three reminders.
fn example_site(config: &str) -> Site {
    let site = Site::new();
    site.write("sollecito.toml", config);
    site.ok(&[
        "import",
        &crate::common::root().join("examples/invoices.json").display().to_string(),
        "--at",
        "2026-09-20T00:00:00Z",
    ]);
    site
}

const TLS_RUN: &str = "2026-10-08T12:00:00Z";

/// A run's report and what it logged.
fn run_logged(site: &Site) -> (serde_json::Value, String) {
    run_logged_at(site, TLS_RUN)
}

fn run_logged_at(site: &Site, at: &str) -> (serde_json::Value, String) {
    let out = site.run(&["run", "--at", at, "--json"]);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{log}"));
    // A run whose relay failed on the operator's setup exits 4, so a cron job notices; else 0.
    let waiting = report["setup_faults"].as_u64().unwrap_or_else(|| panic!("no setup_faults in {report}"));
    assert_eq!(out.status.code(), Some(if waiting > 0 { 4 } else { 0 }), "{report}\n{log}");
    (report, log)
}

/// The password has characters a URL must percent-encode.
const PASSWORD: &str = "p@ss/w:rd";
const PASSWORD_IN_URL: &str = "p%40ss%2Fw%3Ard";

#[test]
fn with_starttls_credentials_and_the_relays_ca_the_reminders_arrive() {
    let pki = Pki::new();
    let smtp = SmtpServer::start_tls(&pki, false, Some(("crediti", PASSWORD)));
    let site = example_site(&format!(
        "[email]\nsmtp_url = \"smtp://crediti:{PASSWORD_IN_URL}@127.0.0.1:{}\"\nca_file = {:?}\n",
        smtp.port,
        pki.ca.display().to_string()
    ));
    let (run, log) = run_logged(&site);
    let sent = run["sent"].as_u64().unwrap();
    assert!(sent >= 3, "{run} {log}");
    assert_eq!(smtp.messages().len() as u64, sent, "once each");
    assert!(!log.contains(PASSWORD) && !log.contains(PASSWORD_IN_URL), "{log}");
}

#[test]
fn a_relay_certificate_not_trusted_or_a_wrong_password_leaves_the_reminders_pending() {
    let pki = Pki::new();
    let smtp = SmtpServer::start_tls(&pki, false, Some(("crediti", PASSWORD)));
    let url = format!("smtp://crediti:{PASSWORD_IN_URL}@127.0.0.1:{}", smtp.port);
    let site = example_site(&format!("[email]\nsmtp_url = \"{url}\"\n"));
    let ca_file = format!("ca_file = {:?}\n", pki.ca.display().to_string());
    // A message that waited on the setup is tried again later: working days apart.
    let assert_waiting = |what: &str, at: &str| {
        let (run, log) = run_logged_at(&site, at);
        eprintln!("{what}: {log}");
        assert_eq!(run["sent"], 0, "{what}: {run} {log}");
        assert_eq!(run["failed"].as_u64().unwrap_or(0), 0, "{what}: the operator's fault fails no step: {run}");
        let actions = site.actions("inv-1001");
        assert!(!actions.is_empty(), "{what}");
        for (step, state, reason) in &actions {
            assert_ne!(state, "failed", "{what}: {step} failed ({reason})");
            assert_ne!(state, "sent", "{what}: {step} sent");
        }
        assert!(!log.contains(PASSWORD) && !log.contains(PASSWORD_IN_URL), "{log}");
        log
    };

    // Self-signed by a CA the host does not know: a clear error naming the field.
    let log = assert_waiting("no ca_file", TLS_RUN);
    assert!(log.contains("certificate") && log.contains("email.ca_file") && log.contains("STARTTLS"), "{log}");

    // The right CA, the wrong password.
    site.write(
        "sollecito.toml",
        &format!("[email]\nsmtp_url = \"smtp://crediti:wrong@127.0.0.1:{}\"\n{ca_file}", smtp.port),
    );
    let log = assert_waiting("wrong password", "2026-10-09T12:00:00Z");
    assert!(log.contains("authentication"), "{log}");
    assert!(smtp.messages().is_empty());

    // Fixed: the reminders that waited go, once each.
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{url}\"\n{ca_file}"));
    let (run, log) = run_logged_at(&site, "2026-10-12T12:00:00Z");
    let sent = run["sent"].as_u64().unwrap();
    assert!(sent >= 3, "{run} {log}");
    assert_eq!(smtp.messages().len() as u64, sent);
    assert!(site.actions("inv-1001").iter().any(|a| a.1 == "sent"), "{:?}", site.actions("inv-1001"));
}

#[test]
fn smtps_is_tls_from_the_first_byte() {
    let pki = Pki::new();
    let smtp = SmtpServer::start_tls(&pki, true, None);
    let url = format!("smtps://127.0.0.1:{}", smtp.port);
    // Without the CA: nothing sent, nothing failed, the field named.
    let site = example_site(&format!("[email]\nsmtp_url = \"{url}\"\n"));
    let (run, log) = run_logged(&site);
    assert_eq!((run["sent"].as_u64(), run["failed"].as_u64()), (Some(0), Some(0)), "{run} {log}");
    assert!(log.contains("smtps://") && log.contains("email.ca_file"), "{log}");
    site.write(
        "sollecito.toml",
        &format!("[email]\nsmtp_url = \"{url}\"\nca_file = {:?}\n", pki.ca.display().to_string()),
    );
    let (run, log) = run_logged_at(&site, "2026-10-09T12:00:00Z");
    let sent = run["sent"].as_u64().unwrap();
    assert!(sent >= 3, "{run} {log}");
    assert_eq!(smtp.messages().len() as u64, sent);
}

#[test]
fn a_bad_ca_file_is_a_config_error_naming_the_field() {
    let site = Site::new();
    site.write("bad.pem", "not a certificate");
    site.write(
        "sollecito.toml",
        "[email]\nsmtp_url = \"smtps://crediti:s3cret@relay.example\"\nca_file = \"bad.pem\"\n",
    );
    let out = site.run(&["run", "--at", TLS_RUN]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("email.ca_file") && err.contains("bad.pem") && !err.contains("s3cret"), "{err}");
}
