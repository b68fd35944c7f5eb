//! Figure 5: emails per second through the sandboxed `email` adapter, against
//! lettre alone and against the server's own ceiling, to real SMTP servers on
//! loopback: Postfix's `smtp-sink` (a fast C server, if installed) and
//! aiosmtpd (Python, as the e2e tests use). Every path sends over plain
//! `smtp://` on one connection kept open, one message at a time; a last row
//! sends 4 at a time (the default `[sending] concurrency`).
//!
//! - the ceiling: a bare SMTP client (MAIL, RCPT, DATA on a socket with
//!   TCP_NODELAY, the message formatted once): what the server can take from
//!   one sequential client;
//! - lettre alone: lettre's own pooled `SmtpTransport` building and sending
//!   each message (lettre is the vendored 0.11.23 with TCP_NODELAY);
//! - the adapter: the `email` plugin in the sandbox, its `mail` capability
//!   through sollecito's relay (`LettreRelay`), as a delivery calls it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::{SmtpTransport, Transport};
use sollecito::Catalog;
use sollecito::mail::{LettreRelay, SmtpOptions, mime};
use sollecito::outgoing;
use sollecito::sandbox::{Grants, MailRelay, Plugin};

use super::Row;

const TARGET_LETTRE: &str = ">= 0.8x lettre alone";
const TARGET_CEILING: &str = ">= 2,000/s, or >= 0.8x the server's ceiling";

/// Rows for each server found; a missing server is a printed note and a skipped row.
pub fn rows(catalog: &Catalog) -> Vec<Row> {
    let mut rows = vec![];
    type Start = fn() -> Result<Server, String>;
    let servers: [(&str, Start, usize); 2] =
        [("smtp-sink", Server::smtp_sink, 5_000), ("aiosmtpd", Server::aiosmtpd, 1_000)];
    for (name, start, n) in servers {
        match start() {
            Ok(server) => rows.extend(measure(catalog, &server, name, n)),
            Err(why) => {
                println!("emails: {name} skipped: {why}");
                rows.push(Row {
                    figure: format!("emails per second through the `email` adapter, {name}"),
                    wasm: format!("skipped: {why}"),
                    reference: "-".into(),
                    ratio: "-".into(),
                    target: TARGET_CEILING.into(),
                });
            }
        }
    }
    rows
}

fn message(i: usize) -> outgoing::Message {
    outgoing::Message {
        key: format!("bench-{i}/step"),
        channel: "email".into(),
        invoice_number: format!("B-{i}"),
        tone: sollecito::decision::Tone::Soft,
        sender: outgoing::Sender { name: "Acme".into(), email: "crediti@acme.example".into(), phone: None },
        recipient: outgoing::Recipient {
            name: "Mario Rossi".into(),
            email: Some("mario@example.it".into()),
            phone: None,
            postal_address: None,
            locale: "it-IT".into(),
        },
        subject: format!("Fattura B-{i}"),
        text: "Gentile cliente, ".repeat(60),
        html: Some("<p>Gentile cliente</p>".repeat(60)),
        payment_link: None,
    }
}

/// The email the adapter hands the host for `message(i)`, built directly.
fn email(i: usize) -> sollecito::outgoing::Email {
    let m = message(i);
    sollecito::outgoing::Email {
        message_id: format!("<bench-{i}@acme.example>"),
        from_address: "\"Acme\" <crediti@acme.example>".into(),
        to_address: "\"Mario Rossi\" <mario@example.it>".into(),
        reply_to: None,
        subject: m.subject,
        text: m.text,
        html: m.html,
        headers: vec![],
        envelope_from: None,
    }
}

fn relay(port: u16, connections: usize) -> Arc<dyn MailRelay> {
    let options = SmtpOptions { connections, ..SmtpOptions::new(&format!("smtp://127.0.0.1:{port}")) };
    Arc::new(LettreRelay::smtp("email", &options).unwrap())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Times `n` sends with `send`, after `n / 10` unmeasured ones.
fn timed(n: usize, mut send: impl FnMut(usize)) -> f64 {
    for i in 0..n / 10 {
        send(i);
    }
    let t = Instant::now();
    for i in 0..n {
        send(i);
    }
    rate(n, t.elapsed())
}

/// Times `n` sends spread over `threads` threads.
fn timed_parallel(n: usize, threads: usize, send: impl Fn(usize) + Sync) -> f64 {
    let run = |count: usize| {
        std::thread::scope(|s| {
            for t in 0..threads {
                let send = &send;
                s.spawn(move || {
                    for i in (t..count).step_by(threads) {
                        send(i);
                    }
                });
            }
        })
    };
    run(n / 10);
    let t = Instant::now();
    run(n);
    rate(n, t.elapsed())
}

fn measure(catalog: &Catalog, server: &Server, name: &str, n: usize) -> Vec<Row> {
    let port = server.port;
    let adapter: Arc<Plugin> = catalog.plugins().iter().find(|p| p.id.name == "email").unwrap().clone();

    let first = bare_client(port, n);
    let transport = SmtpTransport::builder_dangerous("127.0.0.1").port(port).build();
    let lettre_alone = timed(n, |i| {
        transport.send(&mime(&email(i), 0).unwrap()).unwrap();
    });
    let one = relay(port, 1);
    let relay_alone = timed(n, |i| {
        one.send(&email(i), 0).unwrap();
    });
    let grants = Grants { mail: Some(one.clone()), ..Default::default() };
    let through_adapter = timed(n, |i| {
        adapter.deliver_message(&[], &message(i), 0, grants.clone()).unwrap().unwrap();
    });

    // The sandbox's own cost: the adapter with a relay that takes every message at once.
    let null = Grants { mail: Some(Arc::new(NullRelay)), ..Default::default() };
    let sandbox_alone = timed(n, |i| {
        adapter.deliver_message(&[], &message(i), 0, null.clone()).unwrap().unwrap();
    });
    // The bare client again, last: the better of two is the ceiling.
    let ceiling = first.max(bare_client(port, n));

    // 4 at a time, as deliveries run with the default `[sending] concurrency`.
    let lettre_4 = timed_parallel(n, 4, |i| {
        transport.send(&mime(&email(i), 0).unwrap()).unwrap();
    });
    let four = Grants { mail: Some(relay(port, 4)), ..Default::default() };
    let adapter_4 = timed_parallel(n, 4, |i| {
        adapter.deliver_message(&[], &message(i), 0, four.clone()).unwrap().unwrap();
    });
    println!(
        "emails, {name}: ceiling {ceiling:.0}/s, lettre alone {lettre_alone:.0}/s, sollecito's relay alone \
         {relay_alone:.0}/s, adapter {through_adapter:.0}/s (with a null relay {sandbox_alone:.0}/s); 4 at a time: lettre {lettre_4:.0}/s, adapter {adapter_4:.0}/s"
    );
    vec![
        Row {
            figure: format!("emails per second through the `email` adapter, {name}, one connection"),
            wasm: format!("{through_adapter:.0}/s"),
            reference: format!(
                "{lettre_alone:.0}/s lettre alone (SmtpTransport; sollecito's relay alone {relay_alone:.0}/s)"
            ),
            ratio: format!("{:.2}x", through_adapter / lettre_alone),
            target: TARGET_LETTRE.into(),
        },
        Row {
            figure: format!("emails per second through the `email` adapter, {name}, against the server's ceiling"),
            wasm: format!("{through_adapter:.0}/s"),
            reference: format!("{ceiling:.0}/s a bare SMTP client, one connection"),
            ratio: format!("{:.2}x", through_adapter / ceiling),
            target: TARGET_CEILING.into(),
        },
        Row {
            figure: format!("emails per second through the `email` adapter, {name}, 4 at a time"),
            wasm: format!("{adapter_4:.0}/s"),
            reference: format!("{lettre_4:.0}/s lettre alone, 4 threads"),
            ratio: format!("{:.2}x", adapter_4 / lettre_4),
            target: TARGET_LETTRE.into(),
        },
    ]
}

/// Takes every message at once: what the adapter costs without a relay.
struct NullRelay;

impl MailRelay for NullRelay {
    fn send(&self, _: &sollecito::outgoing::Email, _: i64) -> Result<String, sollecito::sandbox::RelayError> {
        Ok("250 null".into())
    }
}

/// The server's ceiling for one sequential client: the SMTP dialogue by hand
/// on one connection, the message formatted once and its end written with it.
fn bare_client(port: u16, n: usize) -> f64 {
    // Dot-stuffed, as any client must.
    let body = String::from_utf8(mime(&email(0), 0).unwrap().formatted()).unwrap().replace("\r\n.", "\r\n..");
    let body = format!("{body}\r\n.\r\n");
    let body = body.as_bytes();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut out = stream.try_clone().unwrap();
    let mut replies = BufReader::new(stream);
    let mut reply = |expect: &str| {
        let mut line = String::new();
        loop {
            line.clear();
            replies.read_line(&mut line).unwrap();
            assert!(line.starts_with(expect), "expected {expect}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    };
    reply("220");
    out.write_all(b"EHLO bench\r\n").unwrap();
    reply("250");
    let rate = timed(n, |_| {
        out.write_all(b"MAIL FROM:<crediti@acme.example>\r\n").unwrap();
        reply("250");
        out.write_all(b"RCPT TO:<mario@example.it>\r\n").unwrap();
        reply("250");
        out.write_all(b"DATA\r\n").unwrap();
        reply("354");
        out.write_all(body).unwrap();
        reply("250");
    });
    out.write_all(b"QUIT\r\n").unwrap();
    rate
}

/// A server process on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Postfix's `smtp-sink` (Debian: `apt-get install postfix`), discarding what it receives.
    fn smtp_sink() -> Result<Self, String> {
        let bin = ["/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .ok_or("no smtp-sink (Debian: apt-get install postfix)")?;
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        Server::start(bin, |port| vec!["-u".into(), user.clone(), format!("127.0.0.1:{port}"), "256".into()])
    }

    /// `python3 -m aiosmtpd` with its sink handler.
    fn aiosmtpd() -> Result<Self, String> {
        Server::start("python3", |port| {
            ["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Sink"]
                .map(String::from)
                .to_vec()
        })
    }

    fn start(program: &str, args: impl Fn(u16) -> Vec<String>) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        let mut child = Command::new(program)
            .args(args(port))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .map_err(|e| format!("{program}: {e}"))?;
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(format!("{program} exited ({status}): {}", err.trim()));
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                return Err(format!("{program} did not start"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Server { child, port, _dir: dir })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
