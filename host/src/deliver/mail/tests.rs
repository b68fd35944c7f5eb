use super::super::*;
use super::*;
use crate::outgoing::Email;

fn relay(url: &str, tls: Option<TlsMode>, ca_file: Option<PathBuf>) -> anyhow::Result<SmtpRelay> {
    SmtpRelay::new("email", &SmtpOptions { url: url.into(), tls, ca_file, connections: 2 })
}

#[test]
fn a_bad_relay_url_is_named_without_its_password() {
    let err = LettreRelay::smtp("email", &SmtpOptions::new("smtp://user:s3cret@relay:notaport")).err().unwrap();
    let err = err.to_string();
    assert!(err.contains("email.smtp_url") && err.contains("bad port") && !err.contains("s3cret"), "{err}");
    // Without '@' a "user:password" reads as host and port: still not echoed.
    let err = relay("smtps://user:s3cret", None, None).err().unwrap().to_string();
    assert!(!err.contains("s3cret"), "{err}");
    let err = relay("smtp://us%3Aer:s3%40cret@relay:99999", None, None).err().unwrap().to_string();
    assert!(err.contains("bad port") && !err.contains("s3") && !err.contains("us%3Aer"), "{err}");
    for url in ["http://relay:25", "relay:25", "smtp:relay", "smtp://", "smtp://relay:25/x", "smtp://user@relay"] {
        let err = relay(url, None, None).err().unwrap().to_string();
        assert!(err.starts_with("email.smtp_url"), "{url}: {err}");
    }
    let err = SmtpRelay::new("channels.pec", &SmtpOptions::new("ftp://relay")).err().unwrap().to_string();
    assert!(err.contains("channels.pec.smtp_url") && err.contains("smtp://"), "{err}");
}

#[test]
fn smtps_is_tls_from_the_start_and_smtp_uses_starttls_by_the_tls_mode() {
    let r = relay("smtps://user:p%40ss%2Fw@mail.example.com", None, None).unwrap();
    assert!(matches!(r.security, Security::Implicit(_)));
    assert_eq!((r.host.as_str(), r.port), ("mail.example.com", 465));
    let r = relay("smtps://mail.example.com:2465/", Some(TlsMode::Required), None).unwrap();
    assert!(matches!(r.security, Security::Implicit(_)) && r.port == 2465 && r.credentials.is_none());
    let err = relay("smtps://mail.example.com", Some(TlsMode::Off), None).err().unwrap().to_string();
    assert!(err.contains("email.tls"), "{err}");

    // With credentials STARTTLS is required unless said otherwise; without, opportunistic.
    let r = relay("smtp://user:pass@mail.example.com:587", None, None).unwrap();
    assert!(matches!(r.security, Security::StartTls { required: true, .. }) && r.port == 587);
    let r = relay("smtp://127.0.0.1:2525", None, None).unwrap();
    assert!(matches!(r.security, Security::StartTls { required: false, .. }));
    assert_eq!(r.address(), "127.0.0.1:2525");
    let r = relay("smtp://user:pass@relay", Some(TlsMode::Opportunistic), None).unwrap();
    assert!(matches!(r.security, Security::StartTls { required: false, .. }) && r.port == 25);
    let r = relay("smtp://relay", Some(TlsMode::Required), None).unwrap();
    assert!(matches!(r.security, Security::StartTls { required: true, .. }));
    let r = relay("smtp://user:pass@[::1]:2525", Some(TlsMode::Off), None).unwrap();
    assert!(matches!(r.security, Security::Plain));
    assert_eq!(r.address(), "[::1]:2525");
    let err = SmtpRelay::new("email", &SmtpOptions { connections: 0, ..SmtpOptions::new("smtp://relay") });
    assert!(err.err().unwrap().to_string().contains("email.connections"));
}

#[test]
fn a_percent_encoded_password_is_decoded() {
    let r = relay("smtps://crediti%40acme.example:p%40ss%3Aw@mail.example.com", None, None).unwrap();
    let expected = Credentials::new("crediti@acme.example".into(), "p@ss:w".into());
    assert!(r.credentials == Some(expected));
}

#[test]
fn a_missing_or_bad_ca_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = relay("smtp://relay:587", None, Some(missing.clone())).err().unwrap().to_string();
    assert!(err.contains("email.ca_file") && err.contains("missing.pem"), "{err}");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = relay("smtps://user:s3cret@relay", None, Some(junk.clone())).err().unwrap().to_string();
    assert!(err.contains("email.ca_file") && err.contains("junk.pem") && !err.contains("s3cret"), "{err}");
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
    let err = relay("smtps://relay", None, Some(broken)).err().unwrap().to_string();
    assert!(err.contains("email.ca_file") && err.contains("broken.pem"), "{err}");
    let err = relay("smtp://relay", Some(TlsMode::Off), Some(junk)).err().unwrap().to_string();
    assert!(err.contains("email.ca_file") && err.contains("off"), "{err}");
}

#[test]
fn an_unreachable_relay_is_the_setups_fault() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let r = relay(&format!("smtp://user:s3cret@127.0.0.1:{port}"), None, None).unwrap();
    match r.connect() {
        Err(RelayError::Setup(why)) => {
            assert!(why.contains("cannot connect") && !why.contains("s3cret"), "{why}")
        }
        other => panic!("{:?}", other.err()),
    }
}

/// A scripted SMTP server on loopback: `reply` answers each command by its
/// verb (`EHLO`, `MAIL`, `RCPT`, `AUTH`, `.` for the end of the data...);
/// an empty answer closes the connection. Returns the port and a count of
/// the connections accepted.
fn scripted(
    reply: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (count, reply) = (accepted.clone(), std::sync::Arc::new(reply));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = reply.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut out = stream.try_clone()?;
                let mut lines = BufReader::new(stream);
                out.write_all(b"220 scripted ESMTP\r\n")?;
                let (mut line, mut in_data) = (String::new(), false);
                loop {
                    line.clear();
                    if lines.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let verb = match in_data {
                        true if line == ".\r\n" => ".".to_string(),
                        true => continue,
                        false => line.split([' ', '\r']).next().unwrap_or_default().to_ascii_uppercase(),
                    };
                    in_data = verb == "DATA";
                    let answer = match verb.as_str() {
                        "QUIT" => "221 bye".to_string(),
                        "DATA" => "354 go on".to_string(),
                        _ => reply(&verb),
                    };
                    if answer.is_empty() {
                        return Ok(());
                    }
                    out.write_all(format!("{answer}\r\n").as_bytes())?;
                }
            });
        }
    });
    (port, accepted)
}

fn sample() -> Email {
    Email {
        message_id: "<k1@example.com>".into(),
        from_address: "Crediti <crediti@example.com>".into(),
        to_address: "Mario Rossi <mario@example.it>".into(),
        reply_to: None,
        subject: "Fattura 12".into(),
        text: "Testo".into(),
        html: None,
        headers: vec![],
        envelope_from: None,
    }
}

fn plain(port: u16, credentials: &str, connections: usize) -> LettreRelay {
    let url = format!("smtp://{credentials}127.0.0.1:{port}");
    LettreRelay::smtp("email", &SmtpOptions { tls: Some(TlsMode::Off), connections, ..SmtpOptions::new(&url) }).unwrap()
}

fn answering(verb: &'static str, answer: &'static str) -> impl Fn(&str) -> String + Send + Sync + 'static {
    move |v: &str| match v {
        v if v == verb => answer.to_string(),
        "EHLO" => "250-scripted\r\n250 AUTH PLAIN LOGIN".to_string(),
        _ => "250 ok".to_string(),
    }
}

#[test]
fn a_refusal_is_classified_by_its_phase() {
    let send = |verb, answer| plain(scripted(answering(verb, answer)).0, "", 1).send(&sample(), 0);
    match send("MAIL", "553 5.7.1 sender not allowed") {
        Err(RelayError::Setup(why)) => assert!(why.contains("MAIL FROM:<crediti@example.com>"), "{why}"),
        other => panic!("{other:?}"),
    }
    match send("RCPT", "550 5.1.1 user unknown") {
        Err(RelayError::Recipient(why)) => assert!(why.contains("user unknown"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(send("RCPT", "451 4.7.1 greylisted"), Err(RelayError::Transient(_))));
    assert!(matches!(send("MAIL", "452 4.3.1 full"), Err(RelayError::Transient(_))));
    assert!(matches!(send(".", "554 5.7.1 spam"), Err(RelayError::Recipient(_))));
    assert!(matches!(send(".", "451 4.3.0 try later"), Err(RelayError::Transient(_))));
    // The connection dropped mid-transaction: worth another try.
    assert!(matches!(send("RCPT", ""), Err(RelayError::Transient(_))));
    assert!(matches!(send("EHLO", "421 4.3.2 shutting down"), Err(RelayError::Transient(_))));
    assert_eq!(send("NONE", "").unwrap(), "250 ok");
}

#[test]
fn refused_credentials_are_the_setups_and_not_echoed() {
    let (port, _) = scripted(answering("AUTH", "535 5.7.8 authentication credentials invalid"));
    match plain(port, "crediti:s3cret@", 1).send(&sample(), 0) {
        Err(RelayError::Setup(why)) => {
            assert!(why.contains("authentication") && !why.contains("s3cret"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let (port, _) = scripted(answering("AUTH", "235 2.7.0 ok"));
    assert!(plain(port, "crediti:s3cret@", 1).send(&sample(), 0).is_ok());
}

#[test]
fn required_starttls_that_is_not_offered_is_the_setups() {
    let (port, _) = scripted(answering("NONE", ""));
    let relay = LettreRelay::smtp("email", &SmtpOptions::new(&format!("smtp://u:p@127.0.0.1:{port}"))).unwrap();
    match relay.send(&sample(), 0) {
        Err(RelayError::Setup(why)) => assert!(why.contains("STARTTLS") && why.contains("email.tls"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn connections_are_kept_and_one_the_relay_closed_is_replaced() {
    let (port, accepted) = scripted(answering("NONE", ""));
    let relay = plain(port, "", 2);
    for _ in 0..5 {
        relay.send(&sample(), 0).unwrap();
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "one connection for five messages");

    // A relay that closes the connection after each message (or answers 421 to
    // the next MAIL): the kept one fails at MAIL FROM and a fresh one sends.
    for closing in ["", "421 4.7.0 too many messages"] {
        let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = n.clone();
        let (port, accepted) = scripted(move |v: &str| match v {
            "MAIL" if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 1 => closing.to_string(),
            _ => "250 ok".to_string(),
        });
        let relay = plain(port, "", 1);
        for _ in 0..3 {
            relay.send(&sample(), 0).unwrap();
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3, "{closing:?}");
    }
}

#[test]
fn file_names_follow_the_message_id() {
    assert_eq!(file_name("<inv-1001.overdue-7@sollecito.example>"), "inv-1001.overdue-7.eml");
    assert_eq!(file_name("<a/b c@x>"), "a_b_c.eml");
}

#[test]
fn a_message_has_both_parts_and_the_headers() {
    let email = Email {
        message_id: "<k1@example.com>".into(),
        from_address: "Crediti <crediti@example.com>".into(),
        to_address: "Mario Rossi <mario@example.it>".into(),
        reply_to: None,
        subject: "Fattura 12".into(),
        text: "Testo".into(),
        html: Some("<p>Testo</p>".into()),
        headers: vec![("X-Sollecito-Key".into(), "inv/1".into())],
        envelope_from: None,
    };
    let raw = String::from_utf8(mime(&email, 0).unwrap().formatted()).unwrap();
    assert!(raw.contains("Message-ID: <k1@example.com>"), "{raw}");
    assert!(raw.contains("X-Sollecito-Key: inv/1"));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("text/html"));
    let bad = Email { to_address: "not an address".into(), ..email };
    assert!(matches!(mime(&bad, 0), Err(RelayError::Recipient(_))));
}
