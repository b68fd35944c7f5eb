//! An experiment between two policies on a segment, from the command line:
//! started, every decision made in a customer's own arm, compared, promoted.

use serde_json::{Value, json};
use sollecito::Store;
use sollecito::event::Event;

use crate::common::*;
use crate::pipeline::Site;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 40 customers of segment b2b, one invoice each, due 1 October.
fn forty(path: &std::path::Path) {
    let customers: Vec<Value> = (0..40)
        .map(|i| {
            json!({"id": format!("c{i:02}"), "name": format!("Cliente {i}"), "email": format!("c{i}@example.it"),
                   "locale": "it-IT", "timezone": "Europe/Rome", "segment": "b2b", "business": true,
                   "customer_since": "2024-01-01", "invoices_paid": 2, "paid_on_time": 1})
        })
        .collect();
    let invoices: Vec<Value> = (0..40)
        .map(|i| {
            json!({"id": format!("x{i:02}"), "number": format!("X-{i:02}"), "customer": format!("c{i:02}"),
                   "currency": "EUR", "amount_due": "100.00", "issued": "2026-09-01", "due": "2026-10-01"})
        })
        .collect();
    std::fs::write(path, json!({"customers": customers, "invoices": invoices}).to_string()).unwrap();
}

/// A site with the forty invoices imported.
fn forty_imported() -> Site {
    let site = Site::new();
    let file = site.path("forty.json");
    forty(&file);
    assert!(site.run(&["import", file.to_str().unwrap(), "--at", "2026-09-20T00:00:00Z"]).status.success());
    site
}

#[test]
fn an_experiment_keeps_each_customer_in_one_arm_and_its_arm_can_be_promoted() {
    let site = forty_imported();
    let db = site.db();
    let run = |args: &[&str]| site.run(args);
    let arms = ["--arm", "control=b2b-standard:50", "--arm", "other=subscription-recovery"];
    let mut start = vec!["experiment", "start", "ladder", "--segment", "b2b"];
    start.extend_from_slice(&arms);
    let started = run(&start);
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(stdout(&started).contains("control b2b-standard (50%), other subscription-recovery (50%)"));

    // Refused, each with its reason, and nothing changed.
    let again = run(&start);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("experiment \"ladder\" exists already"), "{}", stderr(&again));
    let mut second = vec!["experiment", "start", "other", "--segment", "b2b"];
    second.extend_from_slice(&arms);
    assert!(stderr(&run(&second)).contains("segment \"b2b\" already runs experiment \"ladder\""));
    let bad = run(&[
        "experiment",
        "start",
        "x",
        "--segment",
        "b2b",
        "--arm",
        "a=b2b-standard:80",
        "--arm",
        "b=b2b-standard:30",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("the shares add up to 110%"), "{}", stderr(&bad));
    let unknown = run(&["experiment", "start", "y", "--segment", "b2b", "--arm", "a=b2b-standard", "--arm", "b=nope"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));

    // Two ticks: every decision is made in the customer's arm, and nobody moves.
    for at in ["2026-09-28T09:00:00Z", "2026-10-08T09:00:00Z", "2026-10-16T09:00:00Z"] {
        let tick = run(&["run", "--at", at]);
        assert!(tick.status.success(), "{}", stderr(&tick));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = rt.block_on(Store::open(&db)).unwrap();
    for i in 0..8 {
        rt.block_on(store.apply_event(
            &format!("x{i:02}"),
            &Event::Paid,
            sollecito::event::Door::Api,
            at("2026-10-18T10:00:00Z"),
        ))
        .unwrap();
    }
    drop(store);
    let status = run(&["experiment", "status", "ladder", "--json"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    let arms = report["arms"].as_array().unwrap();
    let invoices: Vec<u64> = arms.iter().map(|a| a["invoices"].as_u64().unwrap()).collect();
    // Each invoice in exactly one arm (a customer who moved would count twice), and both arms used.
    assert_eq!(invoices.iter().sum::<u64>(), 40, "{report}");
    assert!(invoices.iter().all(|n| *n > 5), "{invoices:?}");
    let recovered: u64 = arms.iter().map(|a| a["recovered"].as_u64().unwrap()).sum();
    assert_eq!(recovered, 8);
    // 40 invoices cannot tell two policies apart: the verdict says how many it would take.
    let verdict = report["versus"][0]["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("not enough data yet (needs about "), "{verdict}");
    let text = run(&["experiment", "status", "ladder"]);
    assert!(stdout(&text).contains("other against control: not enough data yet"), "{}", stdout(&text));

    // The report breaks recovery down by arm, by the arm of each payment's last touch.
    let by_arm = run(&["report", "--from", "2026-09-20", "--to", "2026-10-31", "--by", "arm", "--json"]);
    let by_arm: Value = serde_json::from_slice(&by_arm.stdout).unwrap();
    let keys: Vec<&str> =
        by_arm["lines"].as_array().unwrap().iter().map(|l| l["key"]["arm"].as_str().unwrap()).collect();
    assert!(keys.contains(&"ladder/control"), "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("ladder/")), "{keys:?}");
    let dunned: u64 = by_arm["lines"].as_array().unwrap().iter().map(|l| l["dunned"].as_u64().unwrap()).sum();
    assert_eq!(dunned, by_arm["total"]["dunned"].as_u64().unwrap(), "an invoice in two arms");

    let wrong = run(&["experiment", "promote", "ladder", "nobody"]);
    assert!(stderr(&wrong).contains("experiment ladder has no arm \"nobody\" (arms: control, other)"));
    let promoted = run(&["experiment", "promote", "ladder", "control"]);
    assert!(promoted.status.success(), "{}", stderr(&promoted));
    let after: Value = serde_json::from_slice(&run(&["experiment", "status", "ladder", "--json"]).stdout).unwrap();
    assert_eq!(after["running"], false);
    let store = rt.block_on(Store::open(&db)).unwrap();
    let active = rt.block_on(store.activations(sollecito::store::Scope::Segment)).unwrap();
    assert!(active.iter().any(|(segment, _, _)| segment == "b2b"), "{active:?}");
}

/// The same reports over HTTP: read access needs the token, bad queries are
/// 422 naming the field, an unknown experiment is a 404.
#[test]
fn reports_and_experiments_are_served_with_their_refusals() {
    use crate::serve::{Service, TOKEN};
    let site = Site::new();
    let svc = Service::start(&site, "");
    let (status, _) = svc.call("GET", "/v1/reports", None, "");
    assert_eq!(status, 401);
    let (status, body) = svc.call("GET", "/v1/reports?from=2026-09-01&to=2026-10-31&by=step,tone", Some(TOKEN), "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["by"], json!(["step", "tone"]));
    assert_eq!(body["total"]["dunned"], 0);
    assert_eq!(body["receivables"]["buckets"].as_array().unwrap().len(), 5);
    for (query, field) in [
        ("by=mood", "by"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-10-02&to=2026-10-01", "from"),
    ] {
        let (status, body) = svc.call("GET", &format!("/v1/reports?{query}"), Some(TOKEN), "");
        assert_eq!((status, body["field"].as_str()), (422, Some(field)), "{query}: {body}");
    }
    let (status, body) = svc.call("GET", "/v1/experiments/nope", Some(TOKEN), "");
    assert_eq!((status, body["field"].as_str()), (404, Some("name")), "{body}");
    let (status, body) = svc.call("GET", "/v1/experiments/nope?min_effect=3", Some(TOKEN), "");
    assert_eq!((status, body["field"].as_str()), (422, Some("min_effect")), "{body}");

    // Started and stopped over the API, each refusal naming its field.
    let arm = |name: &str, policy: &str, share: u32| json!({"name": name, "policy": policy, "share": share});
    let body = |arms: Vec<Value>| json!({"name": "api", "segment": "b2b", "arms": arms}).to_string();
    let good = body(vec![
        arm("a", "b2b-standard", 60),
        json!({"name": "b", "policy": "b2b-standard", "share": 40, "settings": {"soft_days": "10"}}),
    ]);
    assert_eq!(svc.call("POST", "/v1/experiments", None, &good).0, 401);
    for (sent, status, field) in [
        (body(vec![arm("a", "b2b-standard", 60), arm("b", "b2b-standard", 60)]), 422, "arms"),
        (body(vec![arm("a", "b2b-standard", 100)]), 422, "arms"),
        (body(vec![arm("a", "b2b-standard", 50), arm("a", "b2b-standard", 50)]), 422, "arms[1].name"),
        (body(vec![arm("a", "b2b-standard", 50), arm("b", "nope", 50)]), 404, "arms[1].policy"),
        (body(vec![arm("a", "b2b-standard", 50), arm("../b", "b2b-standard", 50)]), 422, "arms[1].name"),
        (json!({"name": "x y", "segment": "b2b", "arms": []}).to_string(), 422, "name"),
        (json!({"name": "x", "segment": "b2b", "arms": [], "extra": 1}).to_string(), 422, "body"),
    ] {
        let (got, answer) = svc.call("POST", "/v1/experiments", Some(TOKEN), &sent);
        assert_eq!((got, answer["field"].as_str()), (status, Some(field)), "{sent}: {answer}");
    }
    let (status, started) = svc.call("POST", "/v1/experiments", Some(TOKEN), &good);
    assert_eq!(status, 200, "{started}");
    assert_eq!((started["running"].as_bool(), started["arms"][1]["share"].as_u64()), (Some(true), Some(40)));
    let (status, again) = svc.call("POST", "/v1/experiments", Some(TOKEN), &good);
    assert_eq!((status, again["field"].as_str()), (409, Some("name")), "{again}");
    let (status, wrong) = svc.call("POST", "/v1/experiments/api/promote", Some(TOKEN), r#"{"arm": "c"}"#);
    assert_eq!((status, wrong["field"].as_str()), (422, Some("arm")), "{wrong}");
    assert!(wrong["error"].as_str().unwrap().contains("(arms: a, b)"), "{wrong}");
    let (status, promoted) = svc.call("POST", "/v1/experiments/api/promote", Some(TOKEN), r#"{"arm": "b"}"#);
    assert_eq!(status, 200, "{promoted}");
    assert_eq!(promoted["active"]["name"], "b2b-standard");
    // The arm's own settings do not travel with an activation: the answer says where they go.
    assert!(promoted["note"].as_str().unwrap().contains("[settings.b2b-standard]"), "{promoted}");
    assert_eq!(svc.call("DELETE", "/v1/experiments/api", Some(TOKEN), "").0, 404);
    let (_, stopped) = svc.call("GET", "/v1/experiments/api", Some(TOKEN), "");
    assert_eq!(stopped["running"], false);
    svc.terminate();
}

/// The same policy with other settings is an experiment too: the arm's
/// settings go over the config's for its customers only.
#[test]
fn an_arm_can_be_the_same_policy_with_other_settings() {
    let site = forty_imported();
    let run = |args: &[&str]| site.run(args);
    let start = |set: &str| {
        let arms = ["--arm", "now=b2b-standard", "--arm", "later=b2b-standard", "--arm-set", set];
        run(&[&["experiment", "start", "days", "--segment", "b2b"][..], &arms].concat())
    };
    let bad = start("nobody:soft_days=12");
    assert!(stderr(&bad).contains("--arm-set \"nobody:soft_days=12\": no arm \"nobody\""), "{}", stderr(&bad));
    let started = start("later:soft_days=12");
    assert!(started.status.success(), "{}", stderr(&started));
    assert!(stdout(&started).contains("later b2b-standard soft_days=12 (50%)"), "{}", stdout(&started));
    // Due 1 October: overdue-7 is decided on the 8th in arm `now`, on the 13th in arm `later`.
    for day in 5..=14 {
        assert!(run(&["run", "--at", &format!("2026-10-{day:02}T09:00:00Z")]).status.success());
    }
    let (mut now, mut later) = (0, 0);
    for i in 0..40 {
        let history: Value = serde_json::from_slice(&run(&["history", &format!("x{i:02}"), "--json"]).stdout).unwrap();
        let arm = history["decisions"][0]["arm"].as_str().unwrap().to_string();
        assert!(history["decisions"].as_array().unwrap().iter().all(|d| d["arm"] == arm.as_str()), "x{i:02} moved");
        let step = history["actions"].as_array().unwrap().iter().find(|a| a["step"] == "overdue-7").unwrap();
        let decided = chrono::DateTime::from_timestamp(step["created_at"].as_i64().unwrap(), 0).unwrap();
        let expected = if arm == "now" { "2026-10-08" } else { "2026-10-13" };
        assert_eq!(decided.date_naive().to_string(), expected, "x{i:02} in {arm}");
        if arm == "now" { now += 1 } else { later += 1 }
    }
    assert!(now > 5 && later > 5, "{now} {later}");
}

/// A running service takes up an experiment started from the command line at
/// its next tick, without a restart.
#[test]
fn a_running_service_takes_up_an_experiment_at_its_next_tick() {
    use crate::serve::{Service, TOKEN, wait_for};
    let site = Site::new();
    let due = (chrono::Utc::now() - chrono::Days::new(10)).date_naive();
    let text = std::fs::read_to_string({
        let dir = site.path("gen");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("forty.json");
        forty(&file);
        file
    })
    .unwrap()
    .replace("2026-10-01", &due.to_string());
    let data = site.write("data.json", &text);
    site.ok(&["import", data.to_str().unwrap()]);
    let svc = Service::start_with(&site, "public_reads = true\n", "");
    let decided = |id: &str| -> Vec<Value> {
        let (_, history) = svc.call("GET", &format!("/v1/invoices/{id}/history"), Some(TOKEN), "");
        history["decisions"].as_array().cloned().unwrap_or_default()
    };
    wait_for("the first tick", || !decided("x00").is_empty());
    assert!(decided("x00").iter().all(|d| d["arm"].is_null()));

    site.ok(&["experiment", "start", "live", "--segment", "b2b", "--arm", "a=b2b-standard", "--arm", "b=b2b-standard"]);
    // An event wakes the invoice: its next decision is made in its arm.
    let (status, body) = svc.call(
        "POST",
        "/v1/invoices/x00/events",
        Some(TOKEN),
        r#"{"type": "promise-to-pay", "until": "2099-01-01"}"#,
    );
    assert_eq!(status, 200, "{body}");
    wait_for("a decision in an arm", || decided("x00").iter().any(|d| d["experiment"] == "live"));
    let arm = decided("x00").into_iter().find(|d| d["experiment"] == "live").unwrap()["arm"].clone();
    assert!(arm == "a" || arm == "b", "{arm}");
    // Paid: the dashboard shows the verdict and the log-rank test, in Italian for an Italian reader.
    let (status, body) = svc.call("POST", "/v1/invoices/x00/events", Some(TOKEN), r#"{"type": "paid"}"#);
    assert_eq!(status, 200, "{body}");
    let page = ureq::get(&format!("{}/ui/experiments", svc.base))
        .set("Accept-Language", "it-IT,it;q=0.9")
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(page.contains("Esito: dati ancora insufficienti"), "{page}");
    assert!(page.contains("test log-rank su tutte le fatture") && page.contains("(b – a): p = "), "{page}");
    svc.terminate();
}

/// A population with a known truth, through the store and the experiment's
/// report: 20,000 invoices, arm B's customers truly pay 5 points more often.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_five_point_effect_on_20000_invoices_is_reported_with_its_interval() {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use sollecito::intake::Dataset;

    let site = Site::new();
    let db = site.db_path();
    // 2,000 customers with ten invoices each, all due on 1 October.
    let customers: Vec<Value> = (0..2_000)
        .map(|i| {
            json!({"id": format!("t{i:04}"), "name": format!("Cliente {i}"), "email": format!("t{i}@example.it"),
                   "locale": "it-IT", "timezone": "Europe/Rome", "segment": "b2b", "business": true,
                   "customer_since": "2024-01-01", "invoices_paid": 2, "paid_on_time": 1})
        })
        .collect();
    let invoices: Vec<Value> = (0..20_000)
        .map(|i| {
            json!({"id": format!("v{i:05}"), "number": format!("V-{i:05}"), "customer": format!("t{:04}", i % 2_000),
                   "currency": "EUR", "amount_due": "100.00", "issued": "2026-09-01", "due": "2026-10-01"})
        })
        .collect();
    let text = json!({"customers": customers, "invoices": invoices}).to_string();
    let data: Dataset = sollecito::intake::parse_dataset("truth.json", &text).unwrap();
    let mut catalog = catalog();
    let runtime = sollecito::Runtime::open(&db, site.config(), &mut catalog).await.unwrap();
    runtime.store().import(&data, at("2026-09-20T00:00:00Z")).await.unwrap();
    drop(runtime);
    let arms = ["--arm", "a=b2b-standard", "--arm", "b=b2b-standard"];
    let started = site.run(&[&["experiment", "start", "truth", "--segment", "b2b"][..], &arms].concat());
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));

    let runtime = sollecito::Runtime::open(&db, site.config(), &mut catalog).await.unwrap();
    // Decisions alone: the arm is what counts here, not the messages.
    let decided = runtime.decide(at("2026-10-08T09:00:00Z"), false).await.unwrap();
    assert_eq!(decided.evaluated, 20_000);
    // Each invoice's arm, as its decision recorded it.
    let rows: Vec<(String, String)> = Db::new(&site.db())
        .strings("SELECT invoice_id || '|' || arm FROM decisions WHERE experiment = 'truth' ORDER BY invoice_id")
        .into_iter()
        .map(|row| {
            let (invoice, arm) = row.split_once('|').unwrap();
            (invoice.to_string(), arm.to_string())
        })
        .collect();
    assert_eq!(rows.len(), 20_000);
    // The truth: in arm a 30% pay, in arm b 35%; seeded.
    let mut rng = StdRng::seed_from_u64(5);
    let paid_at = at("2026-10-12T10:00:00Z");
    for (id, arm) in rows {
        let p = if arm == "a" { 0.30 } else { 0.35 };
        if rng.random::<f64>() < p {
            runtime
                .store()
                .apply_event(&id, &sollecito::event::Event::Paid, sollecito::event::Door::Api, paid_at)
                .await
                .unwrap();
        }
    }
    drop(runtime);
    let status = site.run(&["experiment", "status", "truth", "--json"]);
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    let versus = &report["versus"][0];
    let (difference, p) =
        (versus["recovery"]["difference"].as_f64().unwrap(), versus["recovery"]["p_value"].as_f64().unwrap());
    let (lo, hi) =
        (versus["recovery"]["interval"][0].as_f64().unwrap(), versus["recovery"]["interval"][1].as_f64().unwrap());
    assert!(p < 0.05, "{report}");
    assert!(lo <= 0.05 && 0.05 <= hi, "the interval {lo}-{hi} misses the true 5 points (measured {difference})");
    let verdict = versus["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("b recovers ") && verdict.contains("significant"), "{verdict}");
    // Time to pay over every invoice, the unpaid ones censored when the last payment came: b's
    // invoices pay sooner as a whole. Among the paid alone (all on the same day) nothing differs.
    let log_rank = versus["time_to_pay_log_rank_p_value"].as_f64().unwrap();
    assert!(log_rank < 0.05, "{versus}");
    let mann_whitney = versus["time_to_pay_p_value"].as_f64().unwrap();
    assert!(mann_whitney > 0.5, "{versus}");
    // Customers are split, their invoices follow: 2,000 customers put about half in each arm
    // (three standard deviations of a fair split are 3.4 points).
    let a = report["arms"][0]["invoices"].as_f64().unwrap();
    assert!((a / 20_000.0 - 0.5).abs() < 0.034, "{a}");
}
