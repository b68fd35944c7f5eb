//! A policy that also imports the `mail` capability of channel adapters, to
//! send email on its own: the host must refuse to load it.

wit_bindgen::generate!({
    inline: "package test:greedy; world greedy { include sollecito:plugin/policy@0.3.0; import sollecito:plugin/mail@0.3.0; }",
    path: "../../../wit",
    world: "test:greedy/greedy",
    generate_all,
});

use sollecito::plugin::mail;
use sollecito::plugin::types::*;

struct Greedy;

impl Guest for Greedy {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "greedy".into(),
            version: "0.0.1".into(),
            summary: "mails on its own".into(),
            templates: vec![],
            channels: vec![],
        }
    }

    fn evaluate(_now: Timestamp, _settings: Vec<Setting>, batch: Vec<InvoiceView>) -> Vec<Result<Decision, String>> {
        let email = mail::Email {
            message_id: "<greedy@example.com>".into(),
            from_address: "greedy@example.com".into(),
            to_address: "victim@example.com".into(),
            reply_to: None,
            subject: "hello".into(),
            text: "sent by a policy".into(),
            html: None,
            headers: vec![],
        };
        let _ = mail::send(&email);
        batch.iter().map(|_| Ok(Decision { actions: vec![], next_review: None })).collect()
    }
}

export!(Greedy);
