//! A real Postfix on loopback: it takes the reminders, bounces the one to a
//! mailbox that does not exist as a delivery status notification to the
//! message's VERP return path, and delivers that bounce into the real
//! Dovecot mailbox sollecito reads. Nothing here is written by hand: the
//! bounce is Postfix's own.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::inbound::{FIRST_RUN, NORDWIND, ROSSI, SECOND_RUN};
use crate::mailbox::Dovecot;
use crate::pipeline::Site;

/// A Postfix of its own (config, queue, log in a temporary folder): it
/// listens on a loopback port, is the destination of Rossi's domain (which
/// has no mailbox `amministrazione`), discards every other domain's mail,
/// and delivers what comes to `bounce.example` into `mailbox`.
struct Postfix {
    port: u16,
    dir: tempfile::TempDir,
}

impl Postfix {
    fn start(mailbox: &Dovecot) -> Postfix {
        let dir = tempfile::Builder::new().prefix("postfix").tempdir_in("/tmp").unwrap();
        Command::new("chmod").arg("755").arg(dir.path()).status().unwrap();
        let d = dir.path().display().to_string();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (base, maildir) = mailbox.maildir_for_delivery();
        let uid = String::from_utf8(Command::new("id").args(["-u", "dovecot"]).output().unwrap().stdout).unwrap();
        let gid = String::from_utf8(Command::new("id").args(["-g", "dovecot"]).output().unwrap().stdout).unwrap();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Command::new("chown").arg("postfix").arg(dir.path().join("data")).status().unwrap();
        let main = format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmyhostname = mx.sollecito-test.example\n\
             mydomain = sollecito-test.example\nmyorigin = sollecito-test.example\ninet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\nmynetworks = 127.0.0.0/8\nmydestination = rossi-impianti.example\n\
             local_recipient_maps =\nalias_maps =\nalias_database =\nvirtual_mailbox_domains = bounce.example\n\
             virtual_mailbox_base = {}\nvirtual_mailbox_maps = static:{maildir}\nvirtual_uid_maps = static:{}\n\
             virtual_gid_maps = static:{}\nvirtual_minimum_uid = 1\nrelayhost =\ndefault_transport = discard:\n\
             maillog_file = {d}/maillog\nmaillog_file_prefixes = {d}\nsmtputf8_enable = no\nbiff = no\n",
            base.display(),
            uid.trim(),
            gid.trim()
        );
        std::fs::write(dir.path().join("etc/main.cf"), main).unwrap();
        // Debian's services, on this port, none of them chrooted.
        let master: String = std::fs::read_to_string("/etc/postfix/master.cf")
            .expect("Postfix (Debian: postfix; ./test.sh installs it)")
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                match fields.as_slice() {
                    ["smtp", "inet", ..] => format!("127.0.0.1:{port} inet n - n - - smtpd"),
                    [name, kind, private, unpriv, "y", rest @ ..] if !line.starts_with([' ', '#', '\t']) => {
                        format!("{name} {kind} {private} {unpriv} n {}", rest.join(" "))
                    }
                    _ => line.to_string(),
                }
            })
            .map(|l| l + "\n")
            .collect();
        std::fs::write(dir.path().join("etc/master.cf"), master).unwrap();
        let postfix = Postfix { port, dir };
        postfix.command("start");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "Postfix did not listen: {}", postfix.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        postfix
    }

    fn command(&self, what: &str) {
        let out = Command::new("postfix").arg("-c").arg(self.dir.path().join("etc")).arg(what).output().unwrap();
        assert!(out.status.success(), "postfix {what}: {}{}", String::from_utf8_lossy(&out.stderr), self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix").arg("-c").arg(self.dir.path().join("etc")).arg("stop").output();
    }
}

fn wait_for(what: &str, log: impl Fn() -> String, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not happen: {}", log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn postfix_bounces_a_reminder_to_an_unknown_user_and_the_next_step_goes_by_letter() {
    let dovecot = Dovecot::start();
    let postfix = Postfix::start(&dovecot);
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nreturn_path = \"bounces+{{key}}@bounce.example\"\n{}",
            postfix.port,
            dovecot.config()
        ),
    );
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", FIRST_RUN]);
    // Postfix took both reminders: Rossi's bounced, Nordwind's went on (and was discarded).
    let log = || postfix.log();
    wait_for("Rossi's bounce", log, || postfix.log().contains("sender non-delivery notification"));
    wait_for("the bounce in the mailbox", log, || dovecot.count(None) == 1);
    assert!(postfix.log().contains("dsn=5.1.1, status=bounced (unknown user: \"amministrazione\")"), "{}", log());

    let read = site.json(&["inbound", "--imap", "--at", "2026-10-08T13:00:00Z"]);
    assert_eq!(read.as_array().map(Vec::len), Some(1), "{read}");
    assert_eq!((read[0]["kind"].as_str(), read[0]["state"].as_str()), (Some("bounce"), Some("applied")), "{read}");
    assert_eq!(read[0]["invoices"], serde_json::json!(["inv-1001"]));
    assert!(read[0]["reason"].as_str().unwrap().starts_with("matched by the return path"), "{read}");
    let actions = site.actions("inv-1001");
    let (_, state, reason) = actions.iter().find(|(step, ..)| step == "overdue-7").expect("the step").clone();
    assert_eq!(state, "failed", "{actions:?}");
    assert!(reason.starts_with("bounced (5.1.1)"), "{reason}");

    // The next step goes by letter, not to the dead address; Nordwind's by email.
    site.ok(&["run", "--at", SECOND_RUN]);
    let h = site.json(&["history", "inv-1001"]);
    let second = h["actions"].as_array().unwrap().iter().find(|a| a["step"] == "overdue-15").expect("a second step");
    assert_eq!((second["channel"].as_str(), second["state"].as_str()), (Some("letter"), Some("sent")), "{h}");
    // Counted at Postfix: Nordwind's two reminders reached it; Rossi's one, never a second email.
    let took =
        |to: &str| postfix.log().lines().filter(|l| l.contains(&format!("to=<{to}>")) && l.contains("status=")).count();
    wait_for("Nordwind's second reminder", log, || took(NORDWIND) == 2);
    assert_eq!(took(ROSSI), 1, "{}", postfix.log());
}
