//! Figure 5: emails through the sandboxed `email` adapter against lettre alone,
//! to two local SMTP servers: aiosmtpd (a real server, as a relay answers) and
//! a sink that acknowledges every TCP segment at once. lettre 0.11.23 leaves
//! Nagle's algorithm on and writes a message's final ".\r\n" on its own, so
//! against a server that delays its ACKs (Linux: 40 ms) every message waits
//! 40 ms; the sink shows what the adapter costs once that stall is gone.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sollecito::catalog::Catalog;
use sollecito::deliver::mail::LettreRelay;
use sollecito::sandbox::v0_1;
use sollecito::sandbox::{Grants, MailRelay};

use super::Row;

const TARGET: &str = ">= 2,000/s, >= 0.8x lettre alone";

/// Both rows: aiosmtpd (if python3 has it) and the quick-ACK sink.
pub fn rows(catalog: &Catalog) -> Vec<Row> {
    let mut rows = vec![];
    match Aiosmtpd::start() {
        Ok(server) => rows.push(measure(catalog, server.port, "aiosmtpd", 300)),
        Err(why) => rows.push(Row {
            figure: "emails per second through the `email` adapter, aiosmtpd".into(),
            wasm: format!("skipped: {why}"),
            reference: "-".into(),
            ratio: "-".into(),
            target: TARGET.into(),
        }),
    }
    rows.push(measure(catalog, quick_ack_sink(), "a sink that ACKs at once", 3_000));
    rows
}

/// Sends `n` messages through the adapter (sandboxed, with the mail
/// capability) and `n` through lettre alone, to the server on `port`.
fn measure(catalog: &Catalog, port: u16, server: &str, n: usize) -> Row {
    let url = format!("smtp://127.0.0.1:{port}");
    let relay: Arc<dyn MailRelay> = Arc::new(LettreRelay::smtp(&url).unwrap());
    let adapter = catalog.plugins().iter().find(|p| p.id.name == "email").unwrap().clone();
    let message = |i: usize| v0_1::Message {
        key: format!("bench-{i}/step"),
        channel: "email".into(),
        invoice_number: format!("B-{i}"),
        tone: v0_1::Tone::Soft,
        sender: v0_1::Sender { name: "Acme".into(), email: "crediti@acme.example".into(), phone: None },
        recipient: v0_1::Recipient {
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
    };
    let grants = Grants { mail: Some(relay.clone()), ..Default::default() };
    let t = Instant::now();
    for i in 0..n {
        adapter.deliver(&[], &message(i), 0, grants.clone()).unwrap().unwrap();
    }
    let through_adapter = t.elapsed();
    let t = Instant::now();
    for i in 0..n {
        let m = message(i);
        let email = v0_1::Email {
            message_id: format!("<bench-{i}@acme.example>"),
            from_address: "\"Acme\" <crediti@acme.example>".into(),
            to_address: "\"Mario Rossi\" <mario@example.it>".into(),
            reply_to: None,
            subject: m.subject,
            text: m.text,
            html: m.html,
            headers: vec![],
        };
        relay.send(&email, 0).unwrap();
    }
    let alone = t.elapsed();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    Row {
        figure: format!("emails per second through the `email` adapter, {server}"),
        wasm: format!("{:.0}/s", rate(through_adapter)),
        reference: format!("{:.0}/s lettre alone (pooled)", rate(alone)),
        ratio: format!("{:.2}x", rate(through_adapter) / rate(alone)),
        target: TARGET.into(),
    }
}

/// `python3 -m aiosmtpd` with its sink handler, stopped when dropped.
struct Aiosmtpd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Aiosmtpd {
    fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Sink"])
            .current_dir(dir.path())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let server = Aiosmtpd { child, port, _dir: dir };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err("aiosmtpd did not start (pip install aiosmtpd)".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal SMTP sink on a free port, a thread per connection, that turns
/// delayed ACKs off after every read. Returns the port.
fn quick_ack_sink() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = session(stream);
            });
        }
    });
    port
}

fn quick_ack(stream: &TcpStream) {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn session(stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        quick_ack(lines.get_ref());
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" {
                in_data = false;
                out.write_all(b"250 2.0.0 queued\r\n")?;
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => out.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?,
            "DATA" => {
                in_data = true;
                out.write_all(b"354 end with .\r\n")?;
            }
            "QUIT" => {
                out.write_all(b"221 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"250 OK\r\n")?,
        }
    }
}
