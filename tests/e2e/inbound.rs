//! What comes back by email, through the real binary: reminders go out
//! through a real SMTP server, and the customer's reply, the relay's bounce,
//! an out-of-office, a forged reply and hostile files come back in with
//! `sollecito inbound` (and the API). Counted at the SMTP server.

use serde_json::Value;

use crate::common::*;
use crate::pipeline::Site;
use crate::serve::{Service, TOKEN};
use crate::smtp::SmtpServer;

pub(crate) const FIRST_RUN: &str = "2026-10-08T12:00:00Z";
/// The day the examples' second reminder (15 days overdue) is due.
pub(crate) const SECOND_RUN: &str = "2026-10-16T12:00:00Z";

/// The examples imported and reminded once through a real SMTP server.
pub(crate) fn reminded(extra_config: &str) -> (SmtpServer, Site) {
    let smtp = SmtpServer::start();
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n{extra_config}", smtp.port));
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", FIRST_RUN]);
    (smtp, site)
}

/// The messages the SMTP server received for an address, parsed: (Message-ID, subject).
pub(crate) fn received_by(smtp: &SmtpServer, address: &str) -> Vec<(String, String)> {
    smtp.messages()
        .iter()
        .filter_map(|raw| {
            let m = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
            let to: Vec<&str> = m.to()?.iter().filter_map(|a| a.address()).collect();
            let id = m.message_id()?.to_string();
            to.contains(&address).then(|| (id, m.subject().unwrap_or_default().to_string()))
        })
        .collect()
}

pub(crate) fn inbound(site: &Site, file: &std::path::Path, at: &str) -> Value {
    let out = site.json(&["inbound", file.to_str().unwrap(), "--at", at]);
    assert_eq!(out.as_array().map(Vec::len), Some(1), "{out}");
    out[0].clone()
}

pub(crate) fn event_kinds(site: &Site, invoice: &str) -> Vec<String> {
    let h = site.json(&["history", invoice]);
    h["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

pub(crate) fn reply(from: &str, answers: &str, subject: &str, body: &str) -> String {
    // A Message-ID of its own for each different message.
    let id = format!("{from}{answers}{subject}{body}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!(
        "From: {from}\r\nTo: crediti@sollecito.example\r\nSubject: Re: {subject}\r\nDate: Thu, 08 Oct 2026 16:30:00 +0200\r\n\
         Message-ID: <reply-{id:x}@customer.example>\r\nIn-Reply-To: <{answers}>\r\nReferences: <{answers}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

pub(crate) const ROSSI: &str = "amministrazione@rossi-impianti.example";
pub(crate) const NORDWIND: &str = "buchhaltung@nordwind.example";

#[test]
fn a_reply_holds_the_invoices_reminders_for_a_person_and_opens_a_task_once() {
    let (smtp, site) = reminded("[inbound]\npause_days = 10\n");
    let sent = received_by(&smtp, ROSSI);
    assert_eq!(sent.len(), 1, "one reminder to Rossi: {sent:?}");
    let (id, subject) = &sent[0];
    // Neither a payment, a promise nor a dispute: for a person to read.
    let text = "Buongiorno,\r\nverifichiamo con l'ufficio acquisti e vi faremo sapere.\r\n\r\nIl giorno gio 8 ott 2026 Sollecito ha scritto:\r\n> la fattura risulta scaduta";
    let file = site.write("reply.eml", &reply(&format!("Marco Rossi <{ROSSI}>"), id, subject, text));

    let handled = inbound(&site, &file, "2026-10-08T14:30:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("reply"), Some("applied")), "{handled}");
    assert_eq!(handled["invoices"], serde_json::json!(["inv-1001"]));
    // Ten working days from Thursday 8 October: Thursday 22.
    assert!(handled["reason"].as_str().unwrap().contains("2026-10-22"), "{handled}");
    assert_eq!(event_kinds(&site, "inv-1001").iter().filter(|k| *k == "reply-received").count(), 1);

    let tasks = site.json(&["tasks"]);
    let task = tasks.as_array().unwrap().iter().find(|t| t["invoice_id"] == "inv-1001").expect("a task for the reply");
    let script = task["script"].as_str().unwrap();
    assert!(script.contains("vi faremo sapere."), "{script}");
    assert!(!script.contains("risulta scaduta"), "the quoted reminder is cut: {script}");

    // The history keeps the reply with its own words, beside the event it made.
    let h = site.json(&["history", "inv-1001"]);
    assert_eq!(h["received"][0]["kind"], "reply", "{h}");
    assert_eq!(h["received"][0]["text"], "Buongiorno,\nverifichiamo con l'ufficio acquisti e vi faremo sapere.");
    let table = site.ok(&["history", "inv-1001"]);
    assert!(table.contains("received") && table.contains("vi faremo sapere."), "{table}");

    // The same message again: nothing more.
    let again = inbound(&site, &file, "2026-10-08T15:00:00Z");
    assert!(again["state"].is_null(), "{again}");
    assert_eq!(event_kinds(&site, "inv-1001").iter().filter(|k| *k == "reply-received").count(), 1);
    assert_eq!(site.json(&["tasks"]).as_array().unwrap().len(), tasks.as_array().unwrap().len());

    // The second reminder goes to Nordwind, who did not write, and not to Rossi until the 22nd.
    site.ok(&["run", "--at", SECOND_RUN]);
    assert_eq!(received_by(&smtp, NORDWIND).len(), 2, "Nordwind's second reminder");
    assert_eq!(received_by(&smtp, ROSSI).len(), 1, "held: Rossi replied");
    let h = site.json(&["history", "inv-1001"]);
    let held = &h["decisions"].as_array().unwrap().last().unwrap()["refused"];
    assert_eq!(held[0]["why"], "awaiting-reply", "{h}");
    assert!(h["actions"].as_array().unwrap().iter().all(|a| a["step"] != "overdue-15"), "held, not cancelled: {h}");
    site.ok(&["run", "--at", "2026-10-22T12:00:00Z"]);
    assert_eq!(received_by(&smtp, ROSSI).len(), 1, "still held on the 22nd");
    site.ok(&["run", "--at", "2026-10-23T12:00:00Z"]);
    let after = received_by(&smtp, ROSSI);
    assert_eq!(after.len(), 2, "after the hold, dunning goes on");
    assert!(after[1].0.starts_with("inv-1001.overdue-15@"), "the step that was held: {after:?}");

    // The reply counts as an outcome of the reminder it answered.
    let report = site.json(&["report", "--from", "2026-10-01", "--to", "2026-10-31"]);
    assert_eq!(report["total"]["replied"], 1, "{report}");
    // Per step: the reply answered the first reminder, and no other.
    let by_step = site.json(&["report", "--from", "2026-10-01", "--to", "2026-10-31", "--by", "step"]);
    let replied: Vec<(String, u64)> = by_step["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["key"]["step"].as_str().unwrap_or_default().to_string(), l["replied"].as_u64().unwrap()))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(replied, [("overdue-7".to_string(), 1)], "{by_step}");
    let table = site.ok(&["report", "--from", "2026-10-01", "--to", "2026-10-31", "--by", "step"]);
    assert!(table.contains("replied"), "{table}");
}

#[test]
fn a_bounce_from_the_relay_fails_the_step_and_the_next_one_goes_by_letter() {
    let (smtp, site) = reminded("");
    let sent = received_by(&smtp, NORDWIND);
    assert_eq!(sent.len(), 1, "{sent:?}");
    // A Postfix DSN about that very message, as the relay would send it back an hour later.
    let dsn = std::fs::read_to_string(root().join("tests/fixtures/inbound/postfix.eml"))
        .unwrap()
        .replace("amministrazione@rossi-impianti.example", NORDWIND)
        .replace("inv-1001.overdue-7@sollecito.example", &sent[0].0);
    let file = site.write("bounce.eml", &dsn);
    let handled = inbound(&site, &file, "2026-10-08T13:00:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("bounce"), Some("applied")), "{handled}");
    assert_eq!(handled["invoices"], serde_json::json!(["inv-1003"]));

    let actions = site.actions("inv-1003");
    let (_, state, reason) = actions.iter().find(|(step, ..)| step == "overdue-7").expect("the step").clone();
    assert_eq!(state, "failed", "{actions:?}");
    assert!(reason.starts_with("bounced (5.1.1)"), "{reason}");
    assert!(event_kinds(&site, "inv-1003").contains(&"bounced".to_string()));

    site.ok(&["run", "--at", SECOND_RUN]);
    assert_eq!(received_by(&smtp, NORDWIND).len(), 1, "no more email to a dead address");
    assert_eq!(received_by(&smtp, ROSSI).len(), 2, "the others go on by email");
    let h = site.json(&["history", "inv-1003"]);
    let second = h["actions"].as_array().unwrap().iter().find(|a| a["step"] == "overdue-15").expect("a second step");
    assert_eq!(second["channel"], "letter", "{h}");
    // Nordwind has no postal address in the examples: the letter fails too.
    assert!(second["reason"].as_str().unwrap_or_default().contains("postal address"), "{second}");

    // Seven messages tried: three, then four; the bounced email and the failed letter are the two bounces.
    let report = site.json(&["report", "--from", "2026-10-01", "--to", "2026-10-31"]);
    assert_eq!(
        (report["total"]["messages"].as_u64(), report["total"]["bounced"].as_u64()),
        (Some(5), Some(2)),
        "{report}"
    );
}

#[test]
fn out_of_office_forged_replies_and_hostile_files_change_no_reminder() {
    let (smtp, site) = reminded("");
    let rossi = received_by(&smtp, ROSSI);
    let nordwind = received_by(&smtp, NORDWIND);
    // An out-of-office from Rossi: recorded, nothing held.
    let ooo = std::fs::read_to_string(root().join("tests/fixtures/inbound/ooo-rfc3834-it.eml"))
        .unwrap()
        .replace("inv-1001.overdue-7@sollecito.example", &rossi[0].0);
    let handled = inbound(&site, &site.write("ooo.eml", &ooo), "2026-10-08T13:00:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("auto-reply"), Some("applied")));
    assert!(event_kinds(&site, "inv-1001").contains(&"auto-reply".to_string()));
    // Someone else answers Nordwind's reminder, naming its Message-ID: a task, nothing held.
    let forged = reply("Mallory <mallory@elsewhere.example>", &nordwind[0].0, "x", "Abbiamo pagato tutto.");
    let handled = inbound(&site, &site.write("forged.eml", &forged), "2026-10-08T13:00:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("reply"), Some("task")), "{handled}");
    assert!(!event_kinds(&site, "inv-1003").contains(&"reply-received".to_string()));
    // A bounce that names Rossi's address but no message of ours (anyone can write one): a task, the address lives.
    let qmail = std::fs::read_to_string(root().join("tests/fixtures/inbound/qmail.eml")).unwrap();
    let forged = qmail.split("--- Below this line").next().unwrap().replace("fatture@neri.example", ROSSI);
    let handled = inbound(&site, &site.write("forged-bounce.eml", &forged), "2026-10-08T13:00:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("bounce"), Some("task")), "{handled}");
    assert!(!event_kinds(&site, "inv-1001").contains(&"bounced".to_string()));
    // Hostile files: quarantined with the reason, and nothing else.
    let before = Db::new(&site.db()).strings("SELECT CAST(COUNT(*) AS TEXT) FROM events");
    let many_parts: String = (0..300).map(|i| format!("--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n")).collect();
    let hostile = [
        ("garbage.eml", vec![0xff_u8, 0xfe, 0x00, 0x13, 0x37]),
        (
            "bomb.eml",
            format!("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{many_parts}--b--\r\n")
                .into_bytes(),
        ),
        ("huge.eml", [b"From: a@b.example\r\nSubject: big\r\n\r\n".as_slice(), &vec![b'x'; 26 * 1024 * 1024]].concat()),
        ("nobody.eml", reply("stranger@nowhere.example", "unknown@elsewhere.example", "x", "hello").into_bytes()),
    ];
    let mut reasons = vec![];
    for (name, bytes) in hostile {
        let path = site.path(name);
        std::fs::write(&path, bytes).unwrap();
        let handled = inbound(&site, &path, "2026-10-08T13:00:00Z");
        assert_eq!(handled["state"], "quarantined", "{name}: {handled}");
        reasons.push(handled["reason"].as_str().unwrap().to_string());
    }
    assert_eq!(reasons[0], "not an email: no From, To, Subject, Date or Message-ID header");
    assert!(reasons[1].starts_with("301 MIME parts") || reasons[1].contains("MIME parts"), "{reasons:?}");
    assert_eq!(reasons[2], "larger than 25 MB");
    assert!(reasons[3].contains("matches no message we sent"), "{reasons:?}");
    assert_eq!(
        Db::new(&site.db()).strings("SELECT CAST(COUNT(*) AS TEXT) FROM events"),
        before,
        "no event from a hostile file"
    );
    let waiting = site.json(&["inbound"]);
    assert_eq!(waiting.as_array().unwrap().len(), 6, "four quarantined and two tasks wait for a person: {waiting}");

    site.ok(&["run", "--at", SECOND_RUN]);
    assert_eq!(received_by(&smtp, ROSSI).len(), 2, "an out-of-office holds nothing");
    assert_eq!(received_by(&smtp, NORDWIND).len(), 2, "a forged reply holds nothing");
}

#[test]
fn the_api_takes_a_raw_message_with_the_token_once() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    let ooo = std::fs::read_to_string(root().join("tests/fixtures/inbound/ooo-exchange.eml")).unwrap();
    let post = |token: Option<&str>, content_type: &str| {
        let mut req = ureq::post(&format!("{}/v1/inbound/email", svc.base)).set("Content-Type", content_type);
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let r = match req.send_string(&ooo) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        (r.status(), serde_json::from_str::<Value>(&r.into_string().unwrap()).unwrap())
    };
    assert_eq!(post(None, "message/rfc822").0, 401);
    let (status, body) = post(Some(TOKEN), "application/json");
    assert_eq!((status, body["field"].as_str()), (415, Some("Content-Type")), "{body}");
    // Nothing was sent, so nothing matches: kept, and quarantined for a person.
    let (status, body) = post(Some(TOKEN), "message/rfc822");
    assert_eq!(
        (status, body["kind"].as_str(), body["state"].as_str()),
        (200, Some("auto-reply"), Some("quarantined")),
        "{body}"
    );
    let (status, again) = post(Some(TOKEN), "message/rfc822");
    assert_eq!((status, again["kind"].as_str()), (200, Some("duplicate")), "{again}");
    let kept = Db::new(&site.db()).strings("SELECT door || ' ' || state FROM inbound");
    assert_eq!(kept, ["api quarantined"]);
}

#[test]
fn the_invoice_page_shows_the_reply_escaped_and_the_hold_in_the_readers_language() {
    let site = Site::new();
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", FIRST_RUN]);
    let id = Db::new(&site.db()).strings("SELECT message_id FROM outbox WHERE invoice_id = 'inv-1001'");
    let text = "<script>alert(1)</script> Pagheremo il 20, grazie.";
    let file = site.write("reply.eml", &reply(ROSSI, &id[0], "Promemoria", text));
    // Taken in now: the hold runs from today.
    let handled = site.json(&["inbound", file.to_str().unwrap()]);
    assert_eq!(handled[0]["state"], "applied", "{handled}");

    let svc = Service::start_with(&site, "public_reads = true\n", "");
    let page = ureq::get(&format!("{}/ui/invoices/inv-1001", svc.base))
        .set("Accept-Language", "it-IT,it;q=0.9")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("Risposte ricevute") && page.contains("Risposta"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; Pagheremo il 20, grazie."), "escaped: {page}");
    assert!(!page.contains("<script>alert(1)"), "never as markup");
    assert!(page.contains("il cliente ha risposto: i solleciti attendono fino al"), "{page}");
}

/// With `[email] return_path`, each message leaves with its own envelope
/// sender, and a bounce that quotes nothing of the message (qmail without the
/// copy) is matched by the address it came back to.
#[test]
fn a_bounce_to_the_return_path_of_one_message_names_that_message() {
    let smtp = SmtpServer::start();
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!(
            "[email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nreturn_path = \"bounces+{{key}}@sollecito.example\"\n",
            smtp.port
        ),
    );
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    site.ok(&["run", "--at", FIRST_RUN]);
    // The envelope sender the SMTP server was given (aiosmtpd writes it as X-MailFrom).
    let senders: Vec<String> = smtp
        .messages()
        .iter()
        .filter(|raw| raw.contains(NORDWIND))
        .filter_map(|raw| raw.lines().find_map(|l| l.strip_prefix("X-MailFrom: ").map(str::to_string)))
        .collect();
    assert_eq!(senders, ["bounces+inv-1003.overdue-7@sollecito.example"]);

    let qmail = std::fs::read_to_string(root().join("tests/fixtures/inbound/qmail.eml")).unwrap();
    let without_copy = qmail.split("--- Below this line").next().unwrap();
    let bounce = without_copy
        .replace("To: crediti@sollecito.example", "To: bounces+inv-1003.overdue-7@sollecito.example")
        .replace("fatture@neri.example", NORDWIND);
    let handled = inbound(&site, &site.write("bounce.eml", &bounce), "2026-10-08T13:00:00Z");
    assert_eq!((handled["kind"].as_str(), handled["state"].as_str()), (Some("bounce"), Some("applied")), "{handled}");
    assert!(handled["reason"].as_str().unwrap().contains("the return path"), "{handled}");
    assert_eq!(handled["invoices"], serde_json::json!(["inv-1003"]));
    let actions = site.actions("inv-1003");
    assert!(
        actions.iter().any(|(s, state, r)| s == "overdue-7" && state == "failed" && r.starts_with("bounced (5.1.1)")),
        "{actions:?}"
    );
}

/// An auto-responder in a loop, or a flood from one sender: past
/// `[inbound] max_per_sender_hour`, the rest are kept unread.
#[test]
fn a_flood_from_one_sender_is_kept_unread_past_the_hours_share() {
    let (smtp, site) = reminded("[inbound]\nmax_per_sender_hour = 5\n");
    let rossi = received_by(&smtp, ROSSI);
    let dir = site.path("flood");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..7 {
        let ooo = reply(ROSSI, &rossi[0].0, "x", &format!("Fuori ufficio ({i})"))
            .replace("Subject: Re: x", "Subject: Risposta automatica");
        std::fs::write(dir.join(format!("{i}.eml")), ooo).unwrap();
    }
    let handled = site.json(&["inbound", dir.to_str().unwrap(), "--at", "2026-10-08T13:00:00Z"]);
    let states: Vec<&str> =
        handled.as_array().unwrap().iter().map(|h| h["state"].as_str().unwrap_or("duplicate")).collect();
    assert_eq!(
        states,
        ["applied", "applied", "applied", "applied", "applied", "quarantined", "quarantined"],
        "{handled}"
    );
    assert_eq!(handled[6]["kind"], "flood");
    // An hour later the sender is heard again.
    let late = reply(ROSSI, &rossi[0].0, "x", "Fuori ufficio (tardi)")
        .replace("Subject: Re: x", "Subject: Risposta automatica");
    let h = inbound(&site, &site.write("late.eml", &late), "2026-10-08T14:30:00Z");
    assert_eq!(h["state"], "applied", "{h}");
}
