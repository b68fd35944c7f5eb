//! The plugin author's kit, as an author uses it: `plugin new`, the documented
//! build, `plugin test` with scenarios, the bundled plugins' own scenarios.

use std::path::Path;
use std::process::Command;

use crate::common::{root, sollecito, stderr, stdout};
use crate::pipeline::Site;

pub(crate) fn scenarios(plugin_dir: &str) -> Vec<String> {
    let dir = root().join(plugin_dir).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no scenario", dir.display());
    files
}

/// The fuel figure of a PASS line: "mean N".
fn mean_fuel(line: &str) -> u64 {
    let after = line.split("fuel per invoice: mean ").nth(1).unwrap_or_else(|| panic!("no fuel in {line:?}"));
    after.split(',').next().unwrap().trim().parse().unwrap()
}

#[test]
fn the_bundled_adapters_pass_their_own_scenarios() {
    for adapter in ["email", "sms", "webhook", "billing-webhook"] {
        let files = scenarios(&format!("plugins/{adapter}"));
        let mut args = vec!["plugin", "test", adapter];
        args.extend(files.iter().map(String::as_str));
        let out = sollecito(&args);
        let text = stdout(&out);
        assert!(out.status.success(), "{adapter}: {text}{}", stderr(&out));
        assert_eq!(text.lines().filter(|l| l.starts_with("PASS ")).count(), files.len(), "{text}");
    }
}

#[test]
fn the_bundled_policies_pass_their_own_scenarios() {
    let policies = [
        ("b2b-standard", "plugins/b2b-standard"),
        ("subscription-recovery", "plugins/subscription-recovery"),
        (sollecito_test_artifacts::ACME_GENTLE, "examples/custom-policy"),
        // The Python twin passes the same scenarios as the Rust policy.
        (sollecito_test_artifacts::acme_gentle_py(), "examples/custom-policy"),
    ];
    for (plugin, dir) in policies {
        let files = scenarios(dir);
        let mut args = vec!["plugin", "test", plugin];
        args.extend(files.iter().map(String::as_str));
        let out = sollecito(&args);
        let text = stdout(&out);
        assert!(out.status.success(), "{plugin}: {text}{}", stderr(&out));
        let passed: Vec<&str> = text.lines().filter(|l| l.starts_with("PASS ")).collect();
        assert_eq!(passed.len(), files.len(), "{text}");
        for line in passed {
            // A policy evaluation costs some fuel, and far less than the limit per invoice.
            let fuel = mean_fuel(line);
            assert!(fuel > 1_000 && fuel < 5_000_000, "{line}");
        }
    }
}

#[test]
fn plugin_test_answers_in_json_for_a_ci() {
    let files = scenarios("plugins/b2b-standard");
    let mut args = vec!["plugin", "test", "b2b-standard", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = sollecito(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["plugin"]["name"], "b2b-standard");
    let verdicts = doc["scenarios"].as_array().unwrap();
    assert_eq!(verdicts.len(), files.len());
    for v in verdicts {
        assert_eq!(v["passed"], true, "{v}");
        assert_eq!(v["differences"], serde_json::json!([]), "{v}");
        let fuel = &v["fuel"];
        assert!(fuel["invoices"].as_u64().unwrap() >= fuel["calls"].as_u64().unwrap(), "{v}");
        let (most, invoices) = (fuel["most_per_invoice"].as_u64().unwrap(), fuel["invoices"].as_u64().unwrap());
        // Each call's fuel over its invoices is at most the largest share (rounded down).
        assert!((most + 1) * invoices >= fuel["fuel"].as_u64().unwrap(), "{v}");
    }
}

#[test]
fn a_scenario_expecting_the_wrong_date_fails_naming_the_date_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("plugins/b2b-standard/scenarios/whole-ladder.toml")).unwrap();
    // The firm reminder goes 15 days after the due date (20 October), not 21.
    let wrong = good.replacen("on = 2026-10-20\nstep = \"overdue-15\"", "on = 2026-10-21\nstep = \"overdue-15\"", 1);
    assert_ne!(wrong, good);
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, wrong).unwrap();
    let out = sollecito(&["plugin", "test", "b2b-standard", file.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("FAIL "), "{text}");
    assert!(text.contains("~ inv-1 remind overdue-15: expected on 2026-10-21, done on 2026-10-20"), "{text}");
    assert!(stderr(&out).contains("1 of 1 scenario(s) failed"), "{}", stderr(&out));
}

#[test]
fn a_bad_scenario_is_refused_before_anything_runs_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "from = 2026-10-01\ndays = 0\n").unwrap();
    let out = sollecito(&["plugin", "test", "b2b-standard", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.toml: days: at least 1"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

/// Builds a scaffolded crate as its README says, into the test guests' target dir.
fn build(crate_dir: &Path) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("wasm");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target)
        .current_dir(crate_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap();
    assert!(status.success(), "the scaffold did not build");
}

/// The scaffold's `plugin.toml` asks for what its component uses: `plugin
/// pack` makes a package of it, its scenarios inside, as its README says.
fn packs_as_scaffolded(crate_dir: &Path, built: &Path) {
    // The tests build into a shared target folder; the README's build puts it here.
    let component = crate_dir.join("target/wasm32-wasip2/release").join(built.file_name().unwrap());
    std::fs::create_dir_all(component.parent().unwrap()).unwrap();
    std::fs::copy(built, &component).unwrap();
    let out_file = crate_dir.join("package.tar");
    let out = sollecito(&["plugin", "pack", crate_dir.to_str().unwrap(), "--out", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("digest sha256:"), "{}", stdout(&out));
    let readme = std::fs::read_to_string(crate_dir.join("README.md")).unwrap();
    assert!(readme.contains("sollecito plugin pack ."), "{readme}");
}

#[test]
fn a_new_policy_builds_with_one_command_and_passes_its_own_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("acme-first");
    let out = sollecito(&["plugin", "new", "policy", "acme-first", "--dir", crate_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cargo build --release --target wasm32-wasip2"), "{}", stdout(&out));
    build(&crate_dir);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("wasm/wasm32-wasip2/release/acme_first.wasm");
    let scenario = crate_dir.join("scenarios/ladder.toml");
    let out = sollecito(&["plugin", "test", target.to_str().unwrap(), scenario.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.starts_with("acme-first 0.1.0"), "{text}");
    assert!(text.contains("PASS ") && text.contains("(4 actions as expected;"), "{text}");
    packs_as_scaffolded(&crate_dir, &target);

    // A second scaffold never writes over the first.
    let out = sollecito(&["plugin", "new", "policy", "acme-first", "--dir", crate_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    let out = sollecito(&["plugin", "new", "policy", "Acme_First"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("NAME \"Acme_First\""), "{}", stderr(&out));
}

#[test]
fn settings_are_under_the_plugins_own_name_and_a_stray_section_is_refused() {
    let site = Site::new();
    let config = site.path("sollecito.toml");
    let acme = sollecito_test_artifacts::ACME_GENTLE;
    // A policy given by path: its settings go under the name it gives itself.
    std::fs::write(&config, format!("[policies]\ndefault = {acme:?}\n[settings.acme-gentle]\nmin_gap_days = 3\n"))
        .unwrap();
    let run = |extra: &[&str]| site.run(&[&["run"][..], extra].concat());
    let out = run(&["--at", "2026-10-01T09:00:00Z"]);
    // It starts, and finds the store empty: nothing to do (exit 5), not a refused config (2).
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    // The path as a section name, as older configs had it, names no policy.
    std::fs::write(&config, format!("[policies]\ndefault = {acme:?}\n[settings.{acme:?}]\nmin_gap_days = 3\n"))
        .unwrap();
    let out = run(&["--at", "2026-10-01T09:00:00Z"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains(&format!("settings.{acme}: no policy is named")), "{said}");
    assert!(said.contains("(configured: acme-gentle)"), "{said}");
}

#[test]
fn a_policy_naming_a_template_that_does_not_exist_is_refused_when_loaded() {
    let site = Site::new();
    let config = site.path("sollecito.toml");
    let outsider = sollecito_test_artifacts::OUTSIDER;
    std::fs::write(
        &config,
        format!("[policies]\ndefault = {outsider:?}\n[settings.outsider]\ntemplate = \"overdue-sotf\"\n"),
    )
    .unwrap();
    let out = site.run(&["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("names template \"overdue-sotf\", which does not exist"), "{}", stderr(&out));
    // The same policy with a template that exists starts.
    std::fs::write(
        &config,
        format!("[policies]\ndefault = {outsider:?}\n[settings.outsider]\ntemplate = \"overdue-firm\"\n"),
    )
    .unwrap();
    let out = site.run(&["run"]);
    // It starts, and finds the store empty: nothing to do (exit 5), not a refused config (2).
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn a_python_exception_reaches_the_author_with_its_type_message_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = std::fs::read_to_string(root().join("examples/custom-policy/scenarios/gentle-ladder.toml")).unwrap();
    // A setting that is not a number: the policy's int() raises ValueError.
    let broken = scenario.replacen("days = 60\n", "days = 3\n\n[settings]\nmin_gap_days = \"five\"\n", 1);
    let broken = &broken[..broken.find("[[expect]]").unwrap()];
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, broken).unwrap();
    let out = sollecito(&["plugin", "test", sollecito_test_artifacts::acme_gentle_py(), file.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let said = "Python raised ValueError: invalid literal for int() with base 10: 'five'";
    assert_eq!(text.matches(said).count(), 3, "one error a day: {text}");
    assert!(text.contains("in days_setting)"), "the last place in the traceback: {text}");
}

/// A component's bytes with every `from` replaced by `to` (the same length,
/// so it is still a component): a variant no build would give.
fn renamed(path: &str, from: &[u8], to: &[u8]) -> Vec<u8> {
    replaced(std::fs::read(path).unwrap(), from, to)
}

/// `bytes` with every `from` replaced by `to`, of the same length; `from` must occur.
fn replaced(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let (mut i, mut found) = (0, 0);
    while let Some(at) = bytes[i..].windows(from.len()).position(|w| w == from) {
        bytes[i + at..i + at + from.len()].copy_from_slice(to);
        i += at + from.len();
        found += 1;
    }
    assert!(found > 0, "no {} in the component", String::from_utf8_lossy(from));
    bytes
}

#[test]
fn a_component_of_a_newer_contract_is_refused_naming_the_versions() {
    // The example policy with its contract imports renamed to 0.9.0.
    let newer =
        renamed(sollecito_test_artifacts::ACME_GENTLE, b"sollecito:plugin/log@0.3.0", b"sollecito:plugin/log@0.9.0");
    let newer = replaced(newer, b"sollecito:plugin/types@0.3.0", b"sollecito:plugin/types@0.9.0");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("newer.wasm");
    std::fs::write(&file, newer).unwrap();
    let out = sollecito(&["plugins", "--plugin", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(
            "built for contract sollecito:plugin@0.9.0; this host supports sollecito:plugin@0.1.0, @0.2.0, @0.3.0"
        ),
        "{said}"
    );
}

/// `POST /v1/plugins` with a component: the status and the answer's text.
fn upload(service: &crate::serve::Service, component: &[u8]) -> (u16, String) {
    crate::packages::upload(service, component, "application/wasm")
}

#[test]
fn an_uploaded_policy_naming_a_template_that_does_not_exist_is_refused_naming_it() {
    let site = crate::pipeline::Site::new();
    let service = crate::serve::Service::start(&site, "");
    // The outsider policy, its template misspelt in the component itself.
    let misspelt = renamed(sollecito_test_artifacts::OUTSIDER, b"overdue-soft", b"overdue-sotf");
    let (status, said) = upload(&service, &misspelt);
    assert_eq!(status, 422);
    assert!(said.contains("outsider names template \\\"overdue-sotf\\\", which does not exist"), "{said}");
    let known = service.admin("GET", "/v1/plugins", "");
    assert!(!known.to_string().contains("outsider"), "the refused component is not kept: {known}");
    // A contract 0.2 policy declares its templates in `describe`: a misspelt
    // one (there and in its rules) is refused, named.
    let declared = renamed(sollecito_test_artifacts::ACME_GENTLE, b"overdue-firm", b"overdue-form");
    let (status, said) = upload(&service, &declared);
    assert_eq!(status, 422);
    assert!(said.contains("names template \\\"overdue-form\\\", which does not exist"), "{said}");
    // The component as built uploads.
    let built = std::fs::read(sollecito_test_artifacts::OUTSIDER).unwrap();
    assert_eq!(upload(&service, &built).0, 201);
}

/// A b2b-standard built for an older contract (kept in `tests/fixtures/`)
/// loads as that version and passes today's bundled scenarios.
fn old_fixture_loads_and_passes_the_bundled_scenarios(version: &str, sha256: &str) {
    let fixture = root().join(format!("tests/fixtures/contract-{version}/b2b_standard.wasm"));
    let fixture = fixture.to_str().unwrap();
    let out = sollecito(&["plugins", "--plugin", fixture, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plugins: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let loaded = plugins.as_array().unwrap().iter().find(|p| p["source"]["path"] == fixture).expect("listed");
    assert_eq!(loaded["world"], format!("sollecito:plugin/policy@{version}.0"));
    assert_eq!(loaded["sha256"], sha256);
    let files = scenarios("plugins/b2b-standard");
    let mut args = vec!["plugin", "test", fixture];
    args.extend(files.iter().map(String::as_str));
    let out = sollecito(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).matches("PASS ").count(), files.len(), "{}", stdout(&out));
}

#[test]
fn the_contract_0_1_fixture_loads_and_passes_the_bundled_scenarios() {
    old_fixture_loads_and_passes_the_bundled_scenarios(
        "0.1",
        "4ee3fe7b8e57a95bd512c658f6abfb87d88696ca284ac4b718e38bf0c469a864",
    );
}

#[test]
fn the_contract_0_2_fixture_loads_and_passes_the_bundled_scenarios() {
    old_fixture_loads_and_passes_the_bundled_scenarios(
        "0.2",
        "ce6d4ba6e4d5329d8a4f2712058ea89396420bef2ab3c7bebd0cc252999d73ab",
    );
}

/// Contract 0.1 kept working: the b2b-standard built for 0.1 (the checked-in
/// fixture) decides as the one built now on every example invoice, weekly
/// for half a year, untouched and after a first reminder. The one difference
/// allowed is 0.1's `pause`, which 0.2 dropped: both ask for the same review.
#[test]
fn the_contract_0_1_fixture_decides_as_the_current_build() {
    use sollecito::decision::{Action, Contact, ContactOutcome, Review, Tone};
    use sollecito::sandbox::PluginSource;

    let sandbox = crate::common::sandbox();
    let fixture = root().join("tests/fixtures/contract-0.1/b2b_standard.wasm");
    let old = sandbox.load(&std::fs::read(&fixture).unwrap(), PluginSource::File(fixture)).unwrap();
    assert_eq!(old.id.world, "sollecito:plugin/policy@0.1.0");
    assert!(old.declared().is_none(), "0.1 declares nothing");
    let catalog = crate::common::catalog();
    let new = catalog.plugins().iter().find(|p| p.id.name == "b2b-standard").unwrap();
    assert_eq!(new.id.world, "sollecito:plugin/policy@0.3.0");
    assert!(new.declared().unwrap().templates.contains("formal-notice"));

    let examples: Vec<_> = sollecito::intake::EXAMPLES
        .iter()
        .map(|(name, text)| sollecito::intake::parse_dataset(name, text).unwrap())
        .collect();
    let mut fresh: Vec<Review> = examples.iter().flat_map(|d| d.fresh_reviews()).collect();
    // Three more of the first: promised, on an accepted plan, disputed.
    let first = fresh[0];
    let mut promised = first.invoice.clone();
    promised.id = "promised".into();
    promised.promise_to_pay =
        Some(sollecito::invoice::PromiseToPay { until: first.invoice.due + chrono::Days::new(40), amount: None });
    let mut planned = serde_json::to_value(first.invoice).unwrap();
    let due = first.invoice.due;
    let third = first.invoice.outstanding() / 3;
    let instalment = |n: u64, amount: i64| serde_json::json!({ "number": n, "due": (due + chrono::Days::new(30 * n)).to_string(), "amount": amount });
    planned["id"] = "planned".into();
    planned["plan"] = serde_json::json!({
        "step": "plan-offer", "accepted": "2026-08-01T10:00:00Z", "paid_before": first.invoice.amount_paid,
        "instalments": [instalment(1, third), instalment(2, third), instalment(3, first.invoice.outstanding() - 2 * third)]
    });
    let planned: sollecito::invoice::Invoice = serde_json::from_value(planned).unwrap();
    let mut disputed = first.invoice.clone();
    disputed.id = "disputed".into();
    disputed.dispute = Some(sollecito::invoice::Dispute {
        opened: crate::common::at("2026-08-10T12:00:00Z"),
        reason: "not received".into(),
    });
    for invoice in [&promised, &planned, &disputed] {
        fresh.push(Review { invoice, ..first });
    }
    let start = crate::common::at("2026-08-03T09:00:00Z").timestamp();
    let (mut compared, mut reminders, mut paused) = (0, 0, 0);
    for week in 0..26 {
        let now = start + week * 7 * 86_400;
        let earlier = [Contact {
            step: "overdue-7".into(),
            channel: Some("email".into()),
            tone: Some(Tone::Soft),
            at: now - 7 * 86_400,
            outcome: ContactOutcome::Sent,
        }];
        let reviews: Vec<Review> =
            fresh.iter().copied().chain(fresh.iter().map(|r| Review { history: &earlier, ..*r })).collect();
        let before = old.decide(now, &[], &reviews);
        let after = new.decide(now, &[], &reviews);
        for ((review, b), a) in reviews.iter().zip(before).zip(after) {
            let (mut b, a) = (b.unwrap(), a.unwrap());
            paused += b.actions.iter().filter(|x| matches!(x, Action::Pause(_))).count();
            b.actions.retain(|x| !matches!(x, Action::Pause(_)));
            assert_eq!(b, a, "invoice {} in week {week}", review.invoice.id);
            reminders += a.actions.iter().filter(|x| matches!(x, Action::Remind(_))).count();
            compared += 1;
        }
    }
    // The comparison saw real work: reminders sent and promises kept.
    assert!(compared > 100 && reminders > 20, "{compared} decisions, {reminders} reminders");
    assert!(paused > 0, "no promise to pay among the examples: the pause case went untested");
}

/// `plugin new channel|payment`, the documented build, and `plugin test`:
/// the scenarios pass out of the box; a wrong expectation and a missing grant fail.
#[test]
fn new_adapters_build_with_one_command_and_pass_their_own_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let wasm_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("wasm/wasm32-wasip2/release");
    for (kind, name) in [("channel", "acme-hook"), ("payment", "acme-billing")] {
        let crate_dir = dir.path().join(name);
        let out = sollecito(&["plugin", "new", kind, name, "--dir", crate_dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", stderr(&out));
        build(&crate_dir);
        let wasm = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        let mut args = vec!["plugin".to_string(), "test".into(), wasm.to_str().unwrap().into()];
        for entry in std::fs::read_dir(crate_dir.join("scenarios")).unwrap() {
            args.push(entry.unwrap().path().to_str().unwrap().into());
        }
        let out = sollecito(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let text = stdout(&out);
        assert!(out.status.success(), "{text}{}", stderr(&out));
        assert!(text.starts_with(&format!("{name} 0.1.0")), "{text}");
        assert_eq!(text.matches("PASS ").count(), 2, "{text}");
        assert_eq!(text.matches("(1 sent as expected)").count(), 2, "{text}");
        packs_as_scaffolded(&crate_dir, &wasm);
    }

    // The channel's scenario with the server refusing: another result, and the request it did send.
    let hook = wasm_dir.join("acme_hook.wasm");
    let delivered = std::fs::read_to_string(dir.path().join("acme-hook/scenarios/delivered.toml")).unwrap();
    let refused = dir.path().join("refused.toml");
    std::fs::write(&refused, delivered.replace("status = 202", "status = 400")).unwrap();
    let out = sollecito(&["plugin", "test", hook.to_str().unwrap(), refused.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("FAIL ") && text.contains("~ result: expected delivered, got permanent:"), "{text}");
    assert!(text.contains("HTTP 400"), "{text}");
    // Without the host granted, the adapter is denied and nothing is sent.
    let ungranted = dir.path().join("ungranted.toml");
    std::fs::write(&ungranted, delivered.replace("http = [\"hooks.example.com\"]", "http = []")).unwrap();
    let out = sollecito(&["plugin", "test", hook.to_str().unwrap(), ungranted.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("denied: hooks.example.com:443 is not granted to this adapter"), "{text}");
    assert!(text.contains("- POST https://hooks.example.com/sollecito"), "the request listed as not sent: {text}");
}
