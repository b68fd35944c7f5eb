//! What comes back by email, mutated: every fixture (six mailers' bounces,
//! automatic replies, a complaint, a reply) with syntax and hostile text
//! spliced in, cut short or turned to bytes, posted raw to a real `serve`.
//! Whatever comes in: never a 5xx, always a kind and a state, and a message
//! applied only to invoices of the one customer it names.

use super::*;

const FIXTURES: &[&str] = &[
    "postfix.eml",
    "exim.eml",
    "sendmail-delayed.eml",
    "exchange.eml",
    "qmail.eml",
    "gmail.eml",
    "ooo-rfc3834-it.eml",
    "ooo-exchange.eml",
    "ooo-x-autoreply.eml",
    "ooo-de.eml",
    "ooo-fr.eml",
    "ooo-es.eml",
    "complaint-arf.eml",
    "reply-it.eml",
];

#[test]
fn hostile_emails_are_each_handled_or_quarantined_and_touch_only_their_customer() {
    let site = Site::new();
    let examples = root().join("examples/invoices.json").display().to_string();
    site.ok(&["import", &examples, "--at", "2026-09-20T00:00:00Z"]);
    // The first reminders leave with the Message-IDs the fixtures answer.
    site.ok(&["run", "--at", "2026-10-08T12:00:00Z"]);
    site.write(
        "sollecito.toml",
        &format!("[serve]\ntick_seconds = 3600\n[secrets]\nadmin_token = \"{TOKEN}\"\n[inbound]\npause_days = 1\n"),
    );
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let service = Service::launch(&site, port);
    let base = format!("http://127.0.0.1:{port}");
    let db = crate::common::Db::new(&site.db());
    let texts: Vec<String> = FIXTURES
        .iter()
        .map(|f| std::fs::read_to_string(root().join("tests/fixtures/inbound").join(f)).unwrap())
        .collect();
    let strategy = (0..texts.len(), vec(text_op(), 0..4), option::weighted(0.15, vec(any::<u8>(), 0..64)));
    check("POST /v1/inbound/email", 150, strategy, |(which, ops, bytes)| {
        let mut text = texts[which].clone();
        for op in &ops {
            op.apply(&mut text);
        }
        let mut body = text.into_bytes();
        if let Some(bytes) = bytes {
            let at = body.len() / 2;
            body.splice(at..at, bytes);
        }
        let response = match ureq::post(&format!("{base}/v1/inbound/email"))
            .timeout(Duration::from_secs(30))
            .set("Authorization", &format!("Bearer {TOKEN}"))
            .set("Content-Type", "message/rfc822")
            .send_bytes(&body)
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(format!("no answer: {e}")),
        };
        let status = response.status();
        let answer: Value = serde_json::from_str(&response.into_string().unwrap_or_default()).unwrap_or(Value::Null);
        if status >= 500 {
            // What the server logged says why (the error chain of "request failed").
            std::thread::sleep(Duration::from_millis(200));
            return Err(format!("{status}: {answer}; the server said:\n{}", service.said()));
        }
        if status == 400 && answer["field"] == "body" {
            return Ok(Verdict::Refused);
        }
        if status != 200 || !answer["kind"].is_string() {
            return Err(format!("{status}: {answer}"));
        }
        let Some(state) = answer["state"].as_str() else { return Ok(Verdict::Ignored) };
        if !["applied", "task", "recorded", "quarantined"].contains(&state) {
            return Err(format!("state {state}: {answer}"));
        }
        // What it touched belongs to the one customer it names.
        for invoice in answer["invoices"].as_array().cloned().unwrap_or_default() {
            let owner =
                db.strings(&format!("SELECT customer_id FROM invoices WHERE id = '{}'", invoice.as_str().unwrap()));
            if owner.first().map(String::as_str) != answer["customer"].as_str() {
                return Err(format!("{invoice} is not {}'s: {answer}", answer["customer"]));
            }
        }
        Ok(if state == "quarantined" { Verdict::Refused } else { Verdict::Accepted })
    });
    // Nothing was kept twice, and everything kept has a reason a person can read.
    let unexplained = db.strings("SELECT CAST(id AS TEXT) FROM inbound WHERE state <> 'applied' AND reason = ''");
    assert!(unexplained.is_empty(), "{unexplained:?}");
}
