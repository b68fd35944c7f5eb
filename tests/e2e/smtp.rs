//! Email and PEC through a real SMTP server process on loopback (aiosmtpd).

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
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, maildir, child, _dir: dir }
    }

    /// Every message received, raw.
    pub fn messages(&self) -> Vec<String> {
        let new = self.maildir.join("new");
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&new).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
        files.sort();
        files.iter().map(|f: &PathBuf| std::fs::read_to_string(Path::new(f)).unwrap()).collect()
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

#[test]
fn a_formal_notice_goes_by_pec_through_its_own_relay() {
    let mail = SmtpServer::start();
    let pec = SmtpServer::start();
    let site = Site::new();
    let outsider = sollecito_test_artifacts::OUTSIDER;
    site.write(
        "sollecito.toml",
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n[channels.pec]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n\
             [policies]\ndefault = {outsider:?}\n[settings.{outsider:?}]\nchannel = \"pec\"\n",
            mail.port, pec.port
        ),
    );
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer("rome", "Europe/Rome", ""),
        invoice("i-1", "rome", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
    assert_eq!(site.json(&["run", "--at", "2026-11-03T09:00:00Z"])["sent"], 1);
    assert!(mail.messages().is_empty(), "not through the ordinary relay");
    let received = pec.messages();
    assert_eq!(received.len(), 1);
    let m = mail_parser::MessageParser::default().parse(received[0].as_bytes()).unwrap();
    assert!(m.header_raw("List-Unsubscribe").is_none(), "a certified notice has no unsubscribe link");
    assert!(m.subject().unwrap().contains("N-i-1"));
}
