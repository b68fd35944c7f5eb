//! What the host refuses of a policy's answer is never silent: a careless
//! policy that asks for sixteen reminders at once, and asks again each day
//! for a step it already took, sees each refusal and why in the run's
//! report, `history` and `simulate`.

use serde_json::Value;

use crate::pipeline::{Site, customer, invoice};

/// The outsider's policy, made careless by its settings.
fn careless(site: &Site) {
    site.write(
        "sollecito.toml",
        &format!(
            "[policies]\ndefault = {:?}\n[settings.outsider]\nreminders = \"16\"\nrepeat = \"yes\"\n",
            sollecito_test_artifacts::OUTSIDER
        ),
    );
    let data = format!(
        r#"{{"customers": [{}], "invoices": [{}]}}"#,
        customer("c-1", "Europe/Rome", ""),
        invoice("i-1", "c-1", "")
    );
    let file = site.write("data.json", &data);
    site.ok(&["import", file.to_str().unwrap(), "--at", "2026-10-20T00:00:00Z"]);
}

/// (step, why) of each refusal in the decisions of `history --json`.
fn refusals(history: &Value) -> Vec<Vec<(String, String)>> {
    let decisions = history["decisions"].as_array().unwrap();
    let pair = |r: &Value| (r["step"].as_str().unwrap().to_string(), r["why"].as_str().unwrap().to_string());
    decisions.iter().map(|d| d["refused"].as_array().unwrap().iter().map(pair).collect()).collect()
}

#[test]
fn each_action_the_host_refuses_is_kept_with_its_decision_and_shown() {
    let site = Site::new();
    careless(&site);
    // Thursday 5 November, eight days overdue: sixteen reminders asked, one goes.
    let first = site.json(&["run", "--at", "2026-11-05T12:00:00Z"]);
    assert_eq!((first["reminders_queued"].as_u64(), first["refused"].as_u64()), (Some(1), Some(15)), "{first}");
    let history = site.json(&["history", "i-1"]);
    let nudges = |from: u32| (from..=16).map(|n| (format!("outsider-nudge-{n}"), "one-per-tick".to_string()));
    assert_eq!(refusals(&history), [nudges(2).collect::<Vec<_>>()]);
    // The next day the first step is asked again (already done) and the second goes.
    let next = site.json(&["run", "--at", "2026-11-06T12:00:00Z"]);
    assert_eq!((next["reminders_queued"].as_u64(), next["refused"].as_u64()), (Some(1), Some(15)), "{next}");
    let history = site.json(&["history", "i-1"]);
    let mut second = vec![("outsider-nudge".to_string(), "step-done".to_string())];
    second.extend(nudges(3));
    assert_eq!(refusals(&history)[1], second);
    // In words, in the history a person reads.
    let text = site.ok(&["history", "i-1"]);
    assert!(text.contains("remind outsider-nudge: refused, the step was already carried out"), "{text}");
    assert!(text.contains("remind outsider-nudge-16: refused, another reminder of this invoice goes in this tick"));

    // simulate shows them on the day they happened, from the same engine.
    let data = site.path("data.json");
    let outsider = sollecito_test_artifacts::OUTSIDER;
    let days = ["--from", "2026-11-05", "--to", "2026-11-06"];
    let careless = ["--policy", outsider, "--set", "reminders=16", "--set", "repeat=yes"];
    let args = [&["simulate", data.to_str().unwrap()][..], &days, &careless].concat();
    let simulation = site.json(&args);
    let entries = simulation["timelines"][0]["entries"].as_array().unwrap();
    let on = |day: &str| entries.iter().filter(|e| e["date"] == day && e["what"] == "refused").count();
    assert_eq!((on("2026-11-05"), on("2026-11-06")), (15, 15), "{entries:#?}");
    let refused_done = entries.iter().find(|e| e["what"] == "refused" && e["step"] == "outsider-nudge").unwrap();
    assert_eq!(refused_done["date"], "2026-11-06");
}
