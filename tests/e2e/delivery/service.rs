//! `serve` while it delivers: a payment through the API, SIGTERM.

use super::*;

// ---------------------------------------------------------------------------
// c. Payment during delivery

/// `serve` with exactly this config, besides its tick and admin token.
fn serve(site: &Site, config: &str) -> Service {
    site.write("sollecito.toml", &format!("[serve]\ntick_seconds = 1\n[secrets]\nadmin_token = \"{TOKEN}\"\n{config}"));
    Service::launch(site, free_port())
}

#[test]
fn an_invoice_paid_during_delivery_gets_no_reminder_after_the_payment() {
    let started = Instant::now();
    // A slow relay: 25 ms a message, about 160 a second at four connections.
    let mut counter = Counter::start(&["--delay-ms", "25"]);
    let site = Site::new();
    let n = 600;
    // Due ten days ago, whenever the test runs: b2b-standard's overdue-7 is due at once for each.
    let ids = overdue_today(&site, n);
    let svc = serve(&site, &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));

    let wait_until = Instant::now() + Duration::from_secs(60);
    while counter.lines() < 100 {
        assert!(Instant::now() < wait_until, "fewer than 100 messages in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Fifty invoices not reminded yet, just ahead of delivery (it goes customer by customer,
    // in id order): every third of the waiting ones, after the next twenty.
    let reminded: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    let waiting: Vec<&String> = ids.iter().filter(|id| !reminded.contains(*id)).collect();
    let chosen: Vec<String> = waiting.iter().skip(20).step_by(3).take(50).map(|s| s.to_string()).collect();
    assert_eq!(chosen.len(), 50);
    let received_at_payment = counter.lines();
    let mut paid_at: BTreeMap<String, f64> = BTreeMap::new();
    for id in &chosen {
        svc.admin("POST", &format!("/v1/invoices/{id}/events"), r#"{"type": "paid"}"#);
        paid_at.insert(id.clone(), unix_now());
    }
    let payments_took = paid_at.values().last().unwrap() - paid_at.values().next().unwrap();
    let received_after_payments = counter.lines();

    // Everything else arrives.
    let unpaid: BTreeSet<&String> = ids.iter().filter(|id| !paid_at.contains_key(*id)).collect();
    let wait_until = Instant::now() + Duration::from_secs(90);
    loop {
        let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
        if unpaid.iter().all(|id| got.contains(*id)) {
            break;
        }
        assert!(Instant::now() < wait_until, "not every unpaid invoice was reminded within 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    svc.terminate();

    let received = counter.received();
    let mut late = vec![];
    let mut reminded_paid = BTreeSet::new();
    for r in &received {
        if let Some(paid) = paid_at.get(&r.invoice()) {
            reminded_paid.insert(r.invoice());
            if r.mail_from_at > paid + 0.2 {
                late.push(format!(
                    "{}: MAIL FROM {:.3} s after the payment returned",
                    r.invoice(),
                    r.mail_from_at - paid
                ));
            }
        }
    }
    let duplicates: usize = by_message_id(&received).values().map(|n| n - 1).sum();
    let span = received.last().unwrap().accepted_at - received[0].mail_from_at;
    eprintln!(
        "payment: {} messages received when the payments began, {} when the 50 payments had returned ({:.2} s); \
         {} of the 50 paid invoices were reminded (all before their payment: {}), {} messages in all \
         ({:.0} a second), {duplicates} twice; {:.1} s",
        received_at_payment,
        received_after_payments,
        payments_took,
        reminded_paid.len(),
        late.is_empty(),
        received.len(),
        received.len() as f64 / span,
        started.elapsed().as_secs_f64()
    );
    assert!(
        late.is_empty(),
        "{} reminded after the payment was recorded: {:?}",
        late.len(),
        &late[..late.len().min(5)]
    );
    assert!(
        reminded_paid.len() <= 10,
        "{} of the 50 paid invoices were reminded: {reminded_paid:?}",
        reminded_paid.len()
    );
    assert_eq!(duplicates, 0);
    for id in chosen.iter().filter(|id| !reminded_paid.contains(*id)) {
        let actions = site.actions(id);
        assert!(actions.iter().all(|a| a.1 != "sent" && a.1 != "pending"), "{id}: {actions:?}");
    }
}

// ---------------------------------------------------------------------------
// g. SIGTERM during delivery

// POSIX kill(2), from the C library std links anyway (libc is not a dependency of the tests):
// the signal leaves within microseconds of the time taken just before it.
unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
}
const SIGTERM: i32 = 15;

/// `n` customers with one invoice each, due ten days before today (imported now, as `serve` ticks
/// at the wall clock): b2b-standard's overdue-7 is due at once for each. Ids in delivery order.
fn overdue_today(site: &Site, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("d-{i:05}")).collect();
    write_invoices_due(site, &ids, Some(10));
    ids
}

#[test]
fn serve_on_sigterm_waits_for_the_messages_in_flight_and_sends_no_more() {
    let started = Instant::now();
    // A slow relay: 200 ms a message, about 20 a second at four connections.
    let mut counter = Counter::start(&["--delay-ms", "200"]);
    let site = Site::new();
    let n = 600;
    let ids = overdue_today(&site, n);
    let config = format!(
        "[email]\nsmtp_url = \"{}\"\n{}",
        counter.url(),
        ALWAYS.replace("[sending]\n", &format!("[sending]\nconcurrency = {CONCURRENCY}\n"))
    );
    let mut svc = serve(&site, &config);

    let wait_until = Instant::now() + Duration::from_secs(60);
    while counter.lines() < 20 {
        assert!(Instant::now() < wait_until, "fewer than 20 messages in 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The four connections go in step (200 ms each, started together): signal halfway through
    // one round, so no call ends, and frees its slot, while the signal is on its way.
    let last_accepted = counter.received().iter().map(|r| r.accepted_at).fold(0.0, f64::max);
    std::thread::sleep(Duration::from_secs_f64((last_accepted + 0.1 - unix_now()).max(0.0)));
    let pid = svc.child.id() as i32;
    let signalled_at = unix_now();
    assert_eq!(unsafe { kill(pid, SIGTERM) }, 0, "kill({pid}, SIGTERM)");
    let status = loop {
        if let Some(status) = svc.child.try_wait().unwrap() {
            break status;
        }
        assert!(unix_now() - signalled_at < 30.0, "serve did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stopped_after = unix_now() - signalled_at;
    drop(svc);

    // At the receiver: what was handed over before the signal, and at most the calls then in flight.
    let received = counter.received();
    let before = received.iter().filter(|r| r.accepted_at <= signalled_at).count();
    let after: Vec<&Received> = received.iter().filter(|r| r.accepted_at > signalled_at).collect();
    let begun_after: Vec<&Received> = received.iter().filter(|r| r.mail_from_at > signalled_at).collect();
    let got: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let duplicates: usize = by_message_id(&received).values().map(|n| n - 1).sum();

    // In the store: the received ones sent, the rest pending (a sample; the whole through a dry run).
    // The sample has every invoice up to 72 past the last received: the host works on 64 customers
    // side by side, so a message claimed and left in flight would be among them.
    let last = ids.iter().rposition(|id| got.contains(id)).unwrap_or(0);
    let sample: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, id)| got.contains(*id) || *i <= last + 72 || i % 20 == 0)
        .map(|(_, id)| id)
        .collect();
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = vec![];
    for id in &sample {
        let actions = site.actions(id);
        let keys: BTreeSet<String> = received
            .iter()
            .filter(|r| &r.invoice() == *id)
            .map(|r| r.key.rsplit('/').next().unwrap().to_string())
            .collect();
        for (step, state, reason) in &actions {
            *states.entry(state.clone()).or_insert(0) += 1;
            let expected = if keys.contains(step) { "sent" } else { "pending" };
            if state != expected {
                wrong.push(format!("{id} {step}: {state} ({reason}), expected {expected}"));
            }
        }
        if actions.is_empty() {
            wrong.push(format!("{id}: no step"));
        }
    }
    let now = chrono::Utc::now().to_rfc3339();
    let dry = site.json(&["run", "--at", &now, "--dry-run"]);
    eprintln!(
        "sigterm: {} received when signalled, {} accepted after the signal ({} begun after it); serve stopped \
         {stopped_after:.2} s after SIGTERM with {status}; {duplicates} twice; {} invoices sampled in the store: \
         {states:?}; a dry run would send {}; after the signal (key, MAIL FROM, accepted, in s): {:?}",
        before,
        after.len(),
        begun_after.len(),
        sample.len(),
        dry["sent"],
        after
            .iter()
            .map(|r| (&r.key, (r.mail_from_at - signalled_at) as f32, (r.accepted_at - signalled_at) as f32))
            .collect::<Vec<_>>()
    );
    assert!(status.success(), "serve did not exit cleanly on SIGTERM: {status}");
    assert!(
        after.len() <= CONCURRENCY,
        "{} messages received after SIGTERM, more than the {CONCURRENCY} in flight: {:?}",
        after.len(),
        after.iter().map(|r| (&r.key, r.mail_from_at - signalled_at, r.accepted_at - signalled_at)).collect::<Vec<_>>()
    );
    assert!(
        begun_after.len() <= CONCURRENCY,
        "{:?}",
        begun_after.iter().map(|r| (&r.key, r.mail_from_at - signalled_at)).collect::<Vec<_>>()
    );
    assert_eq!(duplicates, 0);
    assert!(wrong.is_empty(), "{} rows not as received: {:?}", wrong.len(), &wrong[..wrong.len().min(10)]);
    assert!(received.len() < n / 2, "{} of {n} sent: the tick was not stopped", received.len());
    assert_eq!(dry["sent"].as_u64(), Some((n - received.len()) as u64), "every other message still pending: {dry}");

    // A run after the stop (a fast relay now) sends the rest, each once, nothing uncertain.
    counter.restart(&[]);
    let reports = run_to_completion(&site, &now);
    let sum = |k: &str| reports.iter().map(|r| r[k].as_u64().unwrap_or(0)).sum::<u64>();
    let received = counter.received();
    let counts = by_message_id(&received);
    let twice: Vec<&String> = counts.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    let got: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !got.contains(*id)).collect();
    eprintln!(
        "sigterm: the following runs sent {} ({} uncertain resent, {} held, {} cancelled, {} failed); {} received \
         in all, {} twice, {} missing; {:.1} s",
        sum("sent"),
        sum("uncertain_resent"),
        sum("uncertain_held"),
        sum("cancelled"),
        sum("failed"),
        received.len(),
        twice.len(),
        missing.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(twice.is_empty(), "received twice: {twice:?}");
    assert!(missing.is_empty(), "{} never received, e.g. {:?}", missing.len(), &missing[..missing.len().min(5)]);
    assert_eq!(sum("uncertain_resent") + sum("uncertain_held"), 0, "serve left messages in flight: {reports:?}");
    assert_eq!(sum("sent") as usize, n - before - after.len());
}
