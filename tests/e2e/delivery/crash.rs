//! Crash tests: `sollecito run` killed with SIGKILL mid-delivery, counted at the relay.

use super::*;

// ---------------------------------------------------------------------------
// a. Crash test, resend

#[test]
fn killed_thirty_times_mid_delivery_each_crash_resends_at_most_four() {
    let started = Instant::now();
    let mut counter = Counter::start(&[]);
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));
    let ids = one_invoice_each(&site, 3000);

    let kills = kill_repeatedly(&site, &mut counter, TICK, 40, 80, 0x5eed_0012);
    let in_crashes = counter.lines();
    let reports = run_to_completion(&site, TICK);
    let resent: u64 = reports.iter().map(|r| r["uncertain_resent"].as_u64().unwrap_or(0)).sum();

    let received = counter.received();
    let t = tally(&received, &ids);
    let (counts, duplicates) = (&t.counts, t.duplicates);
    let twice: Vec<&String> = counts.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    eprintln!(
        "resend: {} invoices, {kills} kills, {in_crashes} messages logged during the killed runs, {} in all; \
         {} distinct Message-IDs, {duplicates} received twice ({:.2} per kill, the bound is {CONCURRENCY}), \
         {} lost; the completing runs reported {resent} uncertain resent; {:.1} s",
        ids.len(),
        received.len(),
        counts.len(),
        duplicates as f64 / kills.max(1) as f64,
        t.lost.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 30, "only {kills} kills landed mid-delivery; the test is not testing much");
    let accounted = t.account(|id| site.json(&["history", id]), &site.path(".workers"));
    t.assert_none_lost_and_within_bound(kills, &accounted);
    // A resend keeps its Message-ID: one Message-ID per key, one key per Message-ID.
    let mut ids_of_key: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &received {
        ids_of_key.entry(&r.key).or_default().insert(&r.message_id);
    }
    assert_eq!(ids_of_key.len(), counts.len(), "a key under two Message-IDs or the reverse");
    assert!(ids_of_key.values().all(|s| s.len() == 1));
    // What was received twice says so in its history.
    for id in twice.iter().take(8) {
        let r = received.iter().find(|r| &&r.message_id == id).unwrap();
        let history = history_text(&site, &r.invoice());
        assert!(history.contains("uncertain after an interruption, resent"), "{}: {history}", r.invoice());
    }
}

// ---------------------------------------------------------------------------
// b. Crash test, hold

#[test]
fn killed_thirty_times_with_uncertain_hold_nothing_is_received_twice_or_lost() {
    let started = Instant::now();
    let mut counter = Counter::start(&[]);
    let site = Site::new();
    site.write("sollecito.toml", &relay_config(&counter, "uncertain = \"hold\"\n"));
    let ids = one_invoice_each(&site, 1200);

    let kills = kill_repeatedly(&site, &mut counter, TICK, 30, 60, 0x401d_0012);
    let reports = run_to_completion(&site, TICK);
    let held_reported: u64 = reports.iter().map(|r| r["uncertain_held"].as_u64().unwrap_or(0)).sum();

    let received = counter.received();
    let counts = by_message_id(&received);
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let not_received: Vec<&String> = ids.iter().filter(|id| !invoices.contains(*id)).collect();
    let tasks = site.json(&["tasks"]);
    let tasked: BTreeSet<String> =
        tasks.as_array().unwrap().iter().map(|t| t["invoice_id"].as_str().unwrap_or_default().to_string()).collect();
    eprintln!(
        "hold: {} invoices, {kills} kills, {} messages received, {duplicates} twice, {} not received, \
         {} tasks, {held_reported} held by the completing runs; {:.1} s",
        ids.len(),
        received.len(),
        not_received.len(),
        tasked.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 30, "only {kills} kills landed mid-delivery");
    assert_eq!(duplicates, 0, "with uncertain = \"hold\", nothing is sent twice");
    // Whatever was not received is held, in its history and as a task for a person.
    for id in &not_received {
        let history = site.json(&["history", id]);
        let states: Vec<&str> =
            history["actions"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap_or_default()).collect();
        assert!(states.contains(&"held"), "{id} neither received nor held: {history}");
        assert!(history_text(&site, id).contains("held"), "{id}");
        assert!(tasked.contains(*id), "{id} is held but no task was opened: {tasks}");
    }
    assert!(!not_received.is_empty() || !tasked.is_empty(), "30 kills and nothing was ever uncertain?");
    assert!(tasked.len() <= CONCURRENCY * kills, "{} held after {kills} kills", tasked.len());
}
