//! Segments (policy activations) and channels (adapter activations) live in
//! namespaces of their own, and every name that reaches them is a slug: a
//! segment named like a channel cannot touch the channel, a segment's rollback
//! never changes an adapter, and hostile names are refused with the field named.

use serde_json::json;

use crate::pipeline::Site;
use crate::serve::{Service, TOKEN, wait_for};

#[test]
fn hostile_names_are_refused_and_a_segment_never_touches_a_channel() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let outsider = svc.upload(sollecito_test_artifacts::OUTSIDER);
    let echo = svc.upload(sollecito_test_artifacts::ECHO_CHANNEL);
    let policy = json!({ "plugin": outsider["sha256"] }).to_string();

    // Hostile names, in the path as a client would send them (percent-encoded).
    let long = "x".repeat(10_000);
    for (name, field) in [
        ("channel:email", "segment"),
        ("..%2F..%2Fetc", "segment"),
        ("bad%0D%0Aname", "segment"),
        ("nul%00", "segment"),
        ("Retail", "segment"),
        (long.as_str(), "segment"),
    ] {
        for route in ["policy", "rollback", "shadow"] {
            let body = if route == "rollback" { "" } else { policy.as_str() };
            let (status, answer) = svc.call("POST", &format!("/v1/segments/{name}/{route}"), Some(TOKEN), body);
            let shown = &name[..name.len().min(20)];
            assert_eq!(status, 422, "{shown} {route}: {answer}");
            assert_eq!(answer["field"], field, "{shown} {route}: {answer}");
        }
        let (status, answer) = svc.call(
            "POST",
            &format!("/v1/channels/{name}/adapter"),
            Some(TOKEN),
            &json!({ "plugin": echo["sha256"] }).to_string(),
        );
        assert_eq!((status, answer["field"].as_str()), (422, Some("channel")), "{answer}");
    }
    // Nothing of that was kept.
    let plugins = svc.admin("GET", "/v1/plugins", "");
    assert_eq!(plugins["activated"], json!({}), "{plugins}");

    // A segment named like a channel ("email", a valid slug) and the email channel are apart.
    svc.admin("POST", "/v1/channels/email/adapter", &json!({ "plugin": echo["sha256"] }).to_string());
    svc.admin("POST", "/v1/segments/email/policy", &policy);
    svc.admin("POST", "/v1/segments/email/rollback", "");
    // The segment's rollback left the adapter: a reminder still goes through echo.
    svc.put_customer("c1");
    let today = chrono::Utc::now().date_naive();
    let (issued, due) = (today - chrono::Days::new(38), today - chrono::Days::new(8));
    let invoice = format!(
        r#"{{"number": "N-1", "customer": "c1", "currency": "GBP", "amount_due": "10.00", "issued": "{issued}", "due": "{due}"}}"#
    );
    svc.admin("PUT", "/v1/invoices/inv-1", &invoice);
    wait_for("a reminder", || svc.admin("GET", "/v1/invoices/inv-1/history", "")["actions"][0]["state"] == "sent");
    let history = svc.admin("GET", "/v1/invoices/inv-1/history", "");
    assert!(history["actions"][0]["receipt"].as_str().unwrap().starts_with("echo:"), "{history}");
    assert!(site.emails().is_empty());
    // And the channel's rollback is its own: once, then nothing left to roll back.
    svc.admin("POST", "/v1/channels/email/rollback", "");
    assert_eq!(svc.call("POST", "/v1/channels/email/rollback", Some(TOKEN), "").0, 409);
    assert_eq!(svc.call("POST", "/v1/segments/email/rollback", Some(TOKEN), "").0, 409);
    svc.terminate();

    // After a restart, the same: nothing hostile was stored to come back.
    let svc = Service::start(&site, "");
    let plugins = svc.admin("GET", "/v1/plugins", "");
    assert_eq!(plugins["activated"], json!({}), "{plugins}");
    svc.terminate();
}

#[test]
fn a_config_with_a_hostile_segment_or_channel_name_is_refused_naming_it() {
    let site = Site::new();
    for (config, named) in [
        ("[policies.segments]\n\"channel:email\" = \"b2b-standard\"\n", "policies.segments"),
        ("[channels.\"../../x\"]\nadapter = \"email\"\n", "channels"),
        ("[sending]\nconsolidate = [\"e mail\"]\n", "sending.consolidate"),
    ] {
        site.write("sollecito.toml", config);
        let out = site.run(&["run", "--at", "2026-10-08T12:00:00Z"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {stderr}");
        assert!(stderr.contains(named) && stderr.contains("is not a name"), "{config}: {stderr}");
    }
}

/// An adapter keeps, in its own memory, every message it is handed and names
/// the last one in its next receipt (tests/guests/echo-channel). Each call must
/// find that memory empty: one customer's message is never visible to the
/// call that delivers another's.
#[test]
fn an_adapter_never_sees_the_message_of_the_call_before() {
    let site = Site::new();
    let svc = Service::start(&site, "");
    let echo = svc.upload(sollecito_test_artifacts::ECHO_CHANNEL);
    svc.admin("POST", "/v1/channels/email/adapter", &json!({ "plugin": echo["sha256"] }).to_string());
    let today = chrono::Utc::now().date_naive();
    let (issued, due) = (today - chrono::Days::new(38), today - chrono::Days::new(8));
    let ids = ["c1", "c2", "c3", "c4"];
    for (n, customer) in ids.iter().enumerate() {
        svc.put_customer(customer);
        let invoice = format!(
            r#"{{"number": "N-{n}", "customer": "{customer}", "currency": "GBP", "amount_due": "10.00", "issued": "{issued}", "due": "{due}"}}"#
        );
        svc.admin("PUT", &format!("/v1/invoices/inv-{n}"), &invoice);
    }
    let history = |n: usize| svc.admin("GET", &format!("/v1/invoices/inv-{n}/history"), "");
    wait_for("every reminder", || (0..ids.len()).all(|n| history(n)["actions"][0]["state"] == "sent"));
    let receipts: Vec<String> =
        (0..ids.len()).map(|n| history(n)["actions"][0]["receipt"].as_str().unwrap_or_default().to_string()).collect();
    svc.terminate();
    for (n, receipt) in receipts.iter().enumerate() {
        assert!(receipt.starts_with(&format!("echo:inv-{n}/")), "the echo adapter's receipt for inv-{n}: {receipt}");
        assert!(!receipt.contains("after"), "a call saw an earlier call's message: {receipts:?}");
    }
}
