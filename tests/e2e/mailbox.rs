//! The mailbox door against a real IMAP server: Dovecot on loopback, its
//! Maildir filled as a delivery agent fills it, read by `sollecito inbound
//! --imap` and by `serve` before its ticks.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::pipeline::Site;
use crate::smtp::SmtpServer;

const USER: &str = "sollecito";
const PASSWORD: &str = "imap-test-pass-1234";

/// Dovecot serving one user's Maildir over plain IMAP on a loopback port.
pub struct Dovecot {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Dovecot {
    pub fn start() -> Self {
        let dir = tempfile::Builder::new().prefix("dovecot").tempdir_in("/tmp").unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display().to_string();
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\ndefault_login_user = dovenull\n\
             default_internal_user = dovecot\nfirst_valid_uid = 1\nmail_location = maildir:~/Maildir\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid=dovecot gid=dovecot home={d}/home/%u\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n}}\nservice anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(dir.path().join("dovecot.conf"), conf).unwrap();
        std::fs::write(dir.path().join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(dir.path().join("home").join(USER).join("Maildir").join(sub)).unwrap();
        }
        let dovecot = Dovecot::chown(dir.path());
        let child = Command::new("dovecot")
            .args(["-F", "-c"])
            .arg(dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Dovecot (Debian: dovecot-imapd; ./test.sh installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "Dovecot did not listen: {}", dovecot);
            std::thread::sleep(Duration::from_millis(50));
        }
        Dovecot { port, dir, child }
    }

    /// Gives the mail folders to the `dovecot` user, as the package's delivery would.
    fn chown(dir: &Path) -> String {
        let out = Command::new("chown").args(["-R", "dovecot:dovecot"]).arg(dir.join("home")).output().unwrap();
        assert!(out.status.success(), "chown: {}", String::from_utf8_lossy(&out.stderr));
        for p in [dir, &dir.join("passwd")] {
            Command::new("chmod").arg("a+rX").arg(p).status().unwrap();
        }
        dir.display().to_string()
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    /// Where the mailbox's Maildir lies, for a mail server delivering into it:
    /// (the base folder, the Maildir under it with its trailing slash).
    pub fn maildir_for_delivery(&self) -> (PathBuf, String) {
        (self.dir.path().join("home"), format!("{USER}/Maildir/"))
    }

    /// Delivers a message into the inbox, as a delivery agent does (tmp, then new).
    pub fn deliver(&self, name: &str, raw: &str) {
        let tmp = self.maildir().join("tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.maildir().join("new").join(name)).unwrap();
        Dovecot::chown(self.dir.path());
    }

    /// Messages in a folder (`None`: the inbox), counted in the Maildir itself.
    pub fn count(&self, folder: Option<&str>) -> usize {
        let dir = match folder {
            Some(f) => self.maildir().join(format!(".{f}")),
            None => self.maildir(),
        };
        ["new", "cur"].iter().map(|s| std::fs::read_dir(dir.join(s)).map(|d| d.count()).unwrap_or(0)).sum()
    }

    pub fn config(&self) -> String {
        format!(
            "[inbound]\nimap_url = \"imap://{USER}@127.0.0.1:{}/INBOX\"\nimap_password = \"mailbox\"\n\
             [secrets]\nmailbox = \"{PASSWORD}\"\n",
            self.port
        )
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn replies_and_bounces_are_read_from_a_real_mailbox_once_and_moved_out_of_the_inbox() {
    let smtp = SmtpServer::start();
    let dovecot = Dovecot::start();
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!("[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n{}", smtp.port, dovecot.config()),
    );
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    let ids: Vec<String> = smtp
        .messages()
        .iter()
        .filter_map(|raw| Some(mail_parser::MessageParser::default().parse(raw.as_bytes())?.message_id()?.to_string()))
        .collect();
    let rossi = ids.iter().find(|id| id.starts_with("inv-1001.")).expect("Rossi's reminder");
    let nordwind = ids.iter().find(|id| id.starts_with("inv-1003.")).expect("Nordwind's reminder");
    let fixture = |name: &str| std::fs::read_to_string(root().join("tests/fixtures/inbound").join(name)).unwrap();
    dovecot.deliver("1.eml", &fixture("reply-it.eml").replace("inv-1001.overdue-7@sollecito.example", rossi));
    let bounce = fixture("postfix.eml")
        .replace("amministrazione@rossi-impianti.example", "buchhaltung@nordwind.example")
        .replace("inv-1001.overdue-7@sollecito.example", nordwind);
    dovecot.deliver("2.eml", &bounce);
    assert_eq!(dovecot.count(None), 2);

    let read = site.json(&["inbound", "--imap", "--at", "2026-10-08T15:00:00Z"]);
    let kinds: Vec<(&str, &str)> =
        read.as_array().unwrap().iter().map(|h| (h["kind"].as_str().unwrap(), h["state"].as_str().unwrap())).collect();
    assert_eq!(kinds, [("reply", "applied"), ("bounce", "applied")], "{read}");
    assert_eq!((dovecot.count(None), dovecot.count(Some("sollecito-handled"))), (0, 2), "moved once kept");
    let again = site.json(&["inbound", "--imap"]);
    assert_eq!(again.as_array().unwrap().len(), 0, "{again}");

    // What they did: Rossi held, Nordwind's address dead.
    let kept = Db::new(&site.db()).strings("SELECT door || ' ' || kind || ' ' || state FROM inbound ORDER BY id");
    assert_eq!(kept, ["imap reply applied", "imap bounce applied"]);
    let actions = site.actions("inv-1003");
    assert!(
        actions
            .iter()
            .any(|(step, state, reason)| step == "overdue-7" && state == "failed" && reason.starts_with("bounced")),
        "{actions:?}"
    );

    // The same reply delivered again (a second copy in the mailbox): moved, and nothing done twice.
    dovecot.deliver("3.eml", &fixture("reply-it.eml").replace("inv-1001.overdue-7@sollecito.example", rossi));
    let read = site.json(&["inbound", "--imap"]);
    assert!(read[0]["state"].is_null(), "{read}");
    assert_eq!(dovecot.count(None), 0);
    let replies = Db::new(&site.db()).strings("SELECT kind FROM events WHERE kind = 'reply-received'");
    assert_eq!(replies.len(), 1);
}

#[test]
fn a_wrong_password_or_a_mailbox_that_does_not_answer_moves_nothing_and_says_why() {
    let dovecot = Dovecot::start();
    let site = Site::new();
    site.write("sollecito.toml", &dovecot.config().replace(PASSWORD, "wrong-password-1234"));
    dovecot.deliver("1.eml", "From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n");
    let out = site.run(&["inbound", "--imap"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("IMAP login as sollecito refused"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-password"), "the password is never shown: {}", stderr(&out));
    assert_eq!(dovecot.count(None), 1, "nothing moved");
    // Plain IMAP to another machine is refused before any connection.
    site.write("sollecito.toml", &dovecot.config().replace("127.0.0.1", "imap.example.com"));
    let out = site.run(&["inbound", "--imap"]);
    assert!(stderr(&out).contains("inbound.imap_url: imap:// sends the password in clear"), "{}", stderr(&out));
}

/// A site for `serve` reading `dovecot`: the service's own `[secrets]` (its
/// token), with the mailbox's password among them.
fn served_site(dovecot: &Dovecot) -> Site {
    let site = Site::new();
    let imap = dovecot.config();
    let (inbound, secret) = imap.split_once("[secrets]\n").unwrap();
    crate::serve::Service::write_config(&site, "", inbound);
    crate::serve::Service::add_secrets(&site, secret);
    site
}

#[test]
fn serve_reads_the_mailbox_before_its_ticks() {
    let dovecot = Dovecot::start();
    let site = served_site(&dovecot);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let svc = crate::serve::Service::launch(&site, port);
    dovecot.deliver("1.eml", &std::fs::read_to_string(root().join("tests/fixtures/inbound/ooo-de.eml")).unwrap());
    // A move is a copy, then an expunge of the original: both are waited for.
    crate::serve::wait_for("the mailbox read by serve", || {
        dovecot.count(Some("sollecito-handled")) == 1 && dovecot.count(None) == 0
    });
    let kept = Db::new(&site.db()).strings("SELECT door || ' ' || kind || ' ' || state FROM inbound");
    assert_eq!(kept, ["imap auto-reply quarantined"], "no customer has that address");
    let (_, metrics) = svc.call("GET", "/metrics", Some(crate::serve::TOKEN), "");
    let line = r#"sollecito_inbound_messages_total{kind="auto-reply",state="quarantined"} 1"#;
    assert!(metrics.as_str().unwrap_or_default().contains(line), "{metrics}");
}

/// IMAP IDLE: `serve` ticking once an hour reads a reply within seconds of
/// its arrival, because the mailbox tells it (Dovecot offers IDLE).
#[test]
fn serve_is_woken_by_the_mailbox_when_a_message_arrives() {
    let dovecot = Dovecot::start();
    let site = served_site(&dovecot);
    let text = std::fs::read_to_string(site.path("sollecito.toml")).unwrap();
    site.write("sollecito.toml", &text.replacen("tick_seconds = 1\n", "tick_seconds = 3600\n", 1));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _svc = crate::serve::Service::launch(&site, port);
    // The first tick has read the empty mailbox; the next is an hour away.
    std::thread::sleep(Duration::from_secs(2));
    let delivered = Instant::now();
    dovecot.deliver("1.eml", &std::fs::read_to_string(root().join("tests/fixtures/inbound/ooo-de.eml")).unwrap());
    crate::serve::wait_for("the mailbox read on IDLE", || dovecot.count(Some("sollecito-handled")) == 1);
    assert!(delivered.elapsed() < Duration::from_secs(30), "read {:?} after it arrived", delivered.elapsed());
}
