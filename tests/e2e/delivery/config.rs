//! The operator's side: the README's config, setup faults, ids that look alike.

use super::*;

// ---------------------------------------------------------------------------
// d. The README's config example

/// The ```toml block under "## Config" in README.md.
fn readme_config() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("## Config").expect("a Config section")..];
    let start = section.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = section[start..].find("```").unwrap();
    section[start..start + end].to_string()
}

/// The value of `key = "..."` in `[table]` of a TOML text (the README's layout: one key a line).
fn toml_line<'a>(toml: &'a str, table: &str, key: &str) -> Option<(usize, &'a str)> {
    let mut current = "";
    for (n, line) in toml.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t.split(']').next().unwrap().trim_start_matches('[');
        } else if current == table
            && let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let value = rest.split('"').nth(1)?;
            return Some((n, value));
        }
    }
    None
}

/// `Name <addr>` or `"Name" <addr>` or `addr` -> (name, addr).
fn mailbox(text: &str) -> (String, String) {
    match text.rsplit_once('<') {
        Some((name, addr)) => {
            (name.trim().trim_matches('"').to_string(), addr.trim_end().trim_end_matches('>').trim().to_string())
        }
        None => (String::new(), text.trim().to_string()),
    }
}

#[test]
fn the_readme_config_example_works_as_written() {
    let started = Instant::now();
    let counter = Counter::start(&[]);
    let site = Site::new();
    let mut toml = readme_config();
    // Only the relays are pointed at the local counter (no credentials, so no STARTTLS needed).
    for table in ["email", "channels.pec"] {
        let (n, _) = toml_line(&toml, table, "smtp_url").unwrap_or_else(|| panic!("[{table}] smtp_url in README"));
        let mut lines: Vec<String> = toml.lines().map(String::from).collect();
        lines[n] = format!("smtp_url = \"{}\"", counter.url());
        toml = lines.join("\n") + "\n";
    }
    let (_, from) = toml_line(&toml, "email", "from").expect("[email] from in README");
    let (name, address) = mailbox(from);
    assert!(!name.is_empty() && address.contains('@'), "{from:?}");
    site.write("sollecito.toml", &toml);

    // What it references: the templates folder (empty: the built-in templates stay), the
    // per-customer policy, the secrets' environment variables.
    let (_, templates) = toml_line(&toml, "templates", "dir").unwrap();
    std::fs::create_dir_all(site.path(templates)).unwrap();
    let (_, override_path) = toml_line(&toml, "policies.customers", "\"cus-verdi\"").unwrap();
    let policy = site.path(override_path);
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::copy(sollecito_test_artifacts::OUTSIDER, &policy).unwrap();
    let env: Vec<(String, String)> = toml
        .split("env:")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .map(|var| (var.clone(), format!("test-value-of-{var}")))
        .collect();
    assert!(env.len() >= 4, "{env:?}");
    let run = |args: &[&str]| {
        let out = site.command(args).envs(env.iter().map(|(k, v)| (k, v))).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };

    // Rossi on the default policy (b2b-standard), Verdi on the outsider's policy by override.
    let data = format!(
        r#"{{"customers": [{}, {}], "invoices": [{}, {}]}}"#,
        customer("cus-rossi", "Europe/Rome", ""),
        customer("cus-verdi", "Europe/Rome", ""),
        invoice("i-rossi", "cus-rossi", ""),
        invoice("i-verdi", "cus-verdi", "")
    );
    let file = site.write("data.json", &data);
    run(&["import", file.to_str().unwrap(), "--at", IMPORTED]);
    // Thursday 11:00 in Rome: inside the README's window (mon-fri, 08:00-19:00).
    let report: Value = serde_json::from_str(&run(&["run", "--at", "2026-11-05T10:00:00Z", "--json"])).unwrap();

    let received = counter.received();
    eprintln!(
        "README config: run {report}; received {:?}; {:.1} s",
        received.iter().map(|r| (&r.key, &r.from)).collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
    let keys: BTreeSet<&str> = received.iter().map(|r| r.key.as_str()).collect();
    assert!(keys.contains("i-rossi/overdue-7"), "{keys:?} {}", run(&["history", "i-rossi"]));
    assert!(keys.contains("i-verdi/outsider-nudge"), "the per-customer policy: {keys:?}");
    for r in &received {
        assert_eq!(mailbox(&r.from), (name.clone(), address.clone()), "From: {}", r.from);
        assert_eq!(r.mail_from, address, "the envelope sender");
        assert_eq!(r.to, vec![format!("{}@example.com", r.invoice().replace("i-", "cus-"))]);
    }
}

// ---------------------------------------------------------------------------
// e. Setup faults

/// Three overdue invoices, a relay at `url` and a From the relay may refuse.
fn faulty_site(url: &str) -> (Site, Vec<String>) {
    let site = Site::new();
    site.write(
        "sollecito.toml",
        &format!("[email]\nsmtp_url = \"{url}\"\nfrom = \"Crediti <crediti@acme.example>\"\n{ALWAYS}"),
    );
    let ids = one_invoice_each(&site, 3);
    (site, ids)
}

/// After a run that could not hand anything over: every step still pending, none failed.
fn assert_all_pending(site: &Site, ids: &[String], report: &Value, what: &str) {
    assert_eq!(report["sent"], 0, "{what}: {report}");
    assert_eq!(report["failed"].as_u64().unwrap_or(0), 0, "{what}: an operator's fault fails no step: {report}");
    for id in ids {
        let actions = site.actions(id);
        assert!(!actions.is_empty(), "{what}: {id} has no step");
        for (step, state, reason) in &actions {
            assert_eq!(state, "pending", "{what}: {id} {step} is {state} ({reason})");
        }
    }
}

/// `run --at TICK` on a site whose relay fails on the operator's setup: it
/// exits 4 (a cron job notices) and says why; its report.
fn run_waiting_on_setup(site: &Site) -> Value {
    let out = site.run(&["run", "--at", TICK, "--json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("3 message(s) wait: a relay failed on the operator's setup"), "{err}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_refused_sender_or_a_relay_down_leaves_the_steps_pending_until_the_relay_works() {
    let started = Instant::now();
    // The relay refuses the configured From at MAIL FROM.
    let mut counter = Counter::start(&["--refuse-from", "crediti@acme.example"]);
    let (site, ids) = faulty_site(&counter.url());
    let refused = run_waiting_on_setup(&site);
    eprintln!("refused sender: {refused}");
    assert!(counter.received().is_empty());
    assert_all_pending(&site, &ids, &refused, "sender refused");
    // The operator fixes the relay; a day later the steps go.
    counter.restart(&[]);
    let fixed = site.json(&["run", "--at", NEXT_DAY]);
    let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    assert_eq!(got, ids.iter().cloned().collect(), "{fixed}");
    assert_eq!(counter.received().len(), ids.len());

    // Nothing listens on the relay's port.
    let port = free_port();
    let (site, ids) = faulty_site(&format!("smtp://127.0.0.1:{port}"));
    let down = run_waiting_on_setup(&site);
    eprintln!("relay down: {down}");
    assert_all_pending(&site, &ids, &down, "relay down");
    let counter = Counter::start_on(port, &[]);
    let up = site.json(&["run", "--at", NEXT_DAY]);
    let got: BTreeSet<String> = counter.received().iter().map(Received::invoice).collect();
    assert_eq!(got, ids.iter().cloned().collect(), "{up}");
    assert_eq!(counter.received().len(), ids.len());
    eprintln!("setup faults: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// f. No collisions

/// Ids that an encoding folding punctuation or non-ASCII letters would confuse, and an ordinary one.
const LOOKALIKES: [&str; 7] = ["mid.X", "mid/X", "mid_X", "mid-X", "mïd", "mid", "inv-1001"];

#[test]
fn invoice_ids_differing_in_punctuation_or_accents_get_distinct_message_ids_and_files() {
    let ids: Vec<String> = LOOKALIKES.iter().map(|s| s.to_string()).collect();

    // Through a real SMTP server.
    let counter = Counter::start(&[]);
    let site = Site::new();
    site.write("sollecito.toml", &format!("[email]\nsmtp_url = \"{}\"\n{ALWAYS}", counter.url()));
    write_invoices(&site, &ids);
    let report = site.json(&["run", "--at", TICK]);
    let received = counter.received();
    let message_ids: BTreeSet<&str> = received.iter().map(|r| r.message_id.as_str()).collect();
    let keys: BTreeSet<&str> = received.iter().map(|r| r.key.as_str()).collect();
    let invoices: BTreeSet<String> = received.iter().map(Received::invoice).collect();
    eprintln!("lookalikes by SMTP: {message_ids:?} {keys:?}");
    assert_eq!(received.len(), ids.len(), "{report}");
    assert_eq!(message_ids.len(), ids.len(), "distinct Message-IDs: {message_ids:?}");
    assert_eq!(invoices, ids.iter().cloned().collect(), "each key names its invoice: {keys:?}");
    assert!(message_ids.contains("<inv-1001.overdue-7@sollecito.example>"), "{message_ids:?}");
    assert!(keys.contains("inv-1001/overdue-7"), "{keys:?}");

    // Into the outbox folder.
    let site = Site::new();
    site.write("sollecito.toml", ALWAYS);
    write_invoices(&site, &ids);
    let report = site.json(&["run", "--at", TICK]);
    let files = site.emails();
    eprintln!("lookalikes in the outbox: {files:?}");
    assert_eq!(files.len(), ids.len(), "distinct .eml files: {files:?} {report}");
    assert!(files.contains("inv-1001.overdue-7.eml"), "{files:?}");
    let mut file_ids = BTreeSet::new();
    for f in &files {
        let raw = site.email(f);
        let m = mail_parser::MessageParser::default().parse(raw.as_bytes()).unwrap();
        file_ids.insert(m.message_id().unwrap().to_string());
    }
    assert_eq!(file_ids.len(), ids.len());
    let smtp_ids: BTreeSet<String> =
        message_ids.iter().map(|id| id.trim_matches(|c| c == '<' || c == '>').to_string()).collect();
    assert_eq!(file_ids, smtp_ids, "the same Message-IDs either way");
}
