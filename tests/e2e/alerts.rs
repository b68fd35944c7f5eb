//! Alerts reach the operator's hook, signed, once each: a failed payment and
//! a recovery (written with their events), a relay failing on the
//! operator's setup (raised by the tick), through refusals and retries.

use std::sync::Mutex;

use serde_json::Value;
use sollecito::Runtime;
use sollecito::config::Config;
use sollecito::event::Event;
use sollecito::intake::Dataset;

use crate::channels::Recorder;
use crate::common::*;
use crate::pipeline::Site;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_arrive_signed_once_each_even_when_the_hook_fails_first() {
    // The hook answers 503 to its first request, then 204.
    let first = Mutex::new(true);
    let hook = Recorder::answering(move |_| {
        let mut first = first.lock().unwrap();
        let status = if *first { 503 } else { 204 };
        *first = false;
        (status, String::new())
    });
    let dir = tempfile::tempdir().unwrap();
    // An SMTP relay that nothing listens on: the operator's setup fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config: Config = toml::from_str(&format!(
        "[alerts]\nurl = \"http://127.0.0.1:{}/alerts\"\nsecret = \"ops\"\n[secrets]\nops = \"0ps-s3cret\"\n\
         [email]\nsmtp_url = \"smtp://127.0.0.1:{dead}\"\n",
        hook.port
    ))
    .unwrap();
    config.dir = dir.path().to_path_buf();
    let site = Site::new();
    config.data_dir = site.config().data_dir;
    let mut catalog = catalog();
    let runtime = Runtime::open(&site.db_path(), config, &mut catalog).await.unwrap();
    let data = dataset("invoices.json");
    runtime.store().import(&Dataset { events: vec![], ..data }, at("2026-09-24T00:00:00Z")).await.unwrap();

    let declined = Event::PaymentFailed { decline_code: "insufficient_funds".into() };
    runtime
        .store()
        .apply_event("inv-1002", &declined, sollecito::event::Door::Api, at("2026-09-27T08:00:00Z"))
        .await
        .unwrap();
    runtime
        .store()
        .apply_event("inv-1004", &Event::Paid, sollecito::event::Door::Api, at("2026-09-27T08:30:00Z"))
        .await
        .unwrap();
    // Monday, inside Rome's window: reminders are due, the relay is down.
    for tick in ["2026-09-28T09:00:00Z", "2026-09-28T10:00:00Z", "2026-09-28T11:00:00Z", "2026-09-28T12:00:00Z"] {
        runtime.tick(at(tick), false).await.unwrap();
    }
    let got = hook.received();
    let mut kinds: Vec<String> = got
        .iter()
        .filter(|r| r.header("X-Sollecito-Signature").is_some())
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_string())
        .collect();
    // The first request (refused with a 503) came again with its key; every
    // other alert came once. The relay failed at every tick from 09:00 to
    // 12:00: an alert at 09:00, quiet for an hour, another at 11:00.
    let keys: Vec<&str> = got.iter().map(|r| r.header("Idempotency-Key").unwrap()).collect();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((got.len(), distinct.len()), (5, 4), "{keys:?}");
    // The refused one (the first) came back after its backoff, at a later tick.
    assert_eq!(keys.iter().filter(|k| **k == keys[0]).count(), 2, "{keys:?}");
    kinds.sort();
    assert_eq!(kinds, ["payment-failed", "payment-failed", "recovered", "relay-failing", "relay-failing"]);
    for r in &got {
        let signature = r.header("X-Sollecito-Signature").unwrap();
        assert!(sollecito_signing::verify("0ps-s3cret", signature, r.body.as_bytes()), "{signature}");
        assert!(r.header("Idempotency-Key").unwrap().starts_with("alert-"));
    }
    let recovered: Value =
        got.iter().map(|r| serde_json::from_str::<Value>(&r.body).unwrap()).find(|b| b["type"] == "recovered").unwrap();
    assert_eq!((recovered["invoice_id"].as_str(), recovered["recovered"].as_i64()), (Some("inv-1004"), Some(98_000)));
    let failing: Value = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .find(|b| b["type"] == "relay-failing")
        .unwrap();
    assert_eq!(failing["channel"], "email");
}

#[test]
fn an_alerts_url_must_be_http_and_its_secret_defined() {
    let dir = tempfile::tempdir().unwrap();
    for (text, why) in [
        (
            "[alerts]\nurl = \"ftp://ops.example/x\"\n[secrets]\nalerts_signing = \"s\"\n",
            "alerts.url: \"ftp://ops.example/x\" must be an http(s) URL with a host",
        ),
        ("[alerts]\nurl = \"https://ops.example/x\"\n", "alerts.secret: secrets.alerts_signing: not defined"),
        ("[alerts]\nplugin_errors = 0\n", "alerts.plugin_errors: must be at least 1"),
    ] {
        let path = dir.path().join("sollecito.toml");
        std::fs::write(&path, text).unwrap();
        let err = Config::load(Some(&path)).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
}

/// The shipped Prometheus rules parse, each has what Alertmanager needs, and
/// every metric they use is one the service exports.
#[test]
fn the_prometheus_rules_are_well_formed_and_use_real_metrics() {
    use yaml_rust2::YamlLoader;
    let text = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yml")).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let exported = std::fs::read_to_string(root().join("host/src/api/metrics.rs")).unwrap();
    let rules = docs[0]["groups"][0]["rules"].as_vec().expect("groups[0].rules");
    assert!(rules.len() >= 6, "{}", rules.len());
    let mut names = std::collections::BTreeSet::new();
    for rule in rules {
        let alert = rule["alert"].as_str().expect("every rule names its alert");
        assert!(names.insert(alert.to_string()), "{alert} twice");
        assert!(["warning", "critical"].contains(&rule["labels"]["severity"].as_str().unwrap_or("")), "{alert}");
        assert!(rule["annotations"]["summary"].as_str().is_some_and(|s| s.len() > 20), "{alert}");
        let expr = rule["expr"].as_str().expect("an expression");
        let used: Vec<&str> = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("sollecito_"))
            .collect();
        assert!(!used.is_empty(), "{alert}: {expr}");
        for metric in used {
            // A histogram's series carry a suffix the service does not write in its source.
            let base = metric.trim_end_matches("_bucket");
            assert!(
                exported.contains(&format!("\"{base}\"")),
                "{alert} uses {metric}, which the service does not export"
            );
        }
    }
    assert!(names.contains("SollecitoRelayFailing") && names.contains("SollecitoActionsRetryLoop"));
    // Prometheus's own checker (Debian's prometheus package, which test.sh installs) agrees.
    let checked = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/alerts.yml"))
        .output()
        .expect("promtool is installed by test.sh (Debian package prometheus)");
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{said}{}", String::from_utf8_lossy(&checked.stderr));
    assert!(said.contains(&format!("SUCCESS: {} rules found", rules.len())), "{said}");
}
