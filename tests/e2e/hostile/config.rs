//! The config TOML, mutated.

use super::*;

// ---------------------------------------------------------------------------
// 3. The config TOML.

/// The config block of the README, every key of it, as operators copy it.
fn readme_config() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme.find("```toml\n[business]").expect("the README's config block") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

const TOML_FRAGMENTS: &[&str] = &[
    "",
    "[business]\nname = \"Acme S.r.l.\"\nemail = \"crediti@acme.example\"\n",
    "[policies]\ndefault = \"b2b-standard\"\n[policies.segments]\nsubscription = \"subscription-recovery\"\n",
    "[policies.customers]\n\"cus-verdi\" = \"plugins/acme_gentle.wasm\"\n",
    "[settings.b2b-standard]\nsoft_days = 7\nlate_payment_claims = true\nreference_rate = \"4.15\"\n",
    "[sending]\ncap_per_week = 3\nconsolidate = [\"email\"]\nuncertain = \"hold\"\nclaim_seconds = 120\nconcurrency = 4\n",
    "[sending.windows.default]\ndays = [\"mon\", \"tue\"]\nfrom = \"08:00\"\nto = \"19:00\"\n",
    "[sending.windows.sms]\nfrom = \"09:00\"\nto = \"18:00\"\n",
    "[email]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nfrom = \"Acme <crediti@acme.example>\"\ntls = \"off\"\nconnections = 2\n",
    "[templates]\ndir = \"my-templates\"\n",
    "[channels.sms]\nadapter = \"sms\"\nhttp_hosts = [\"api.twilio.com\"]\nsecrets = [\"sms_auth\"]\n[channels.sms.settings]\nmax_length = \"160\"\n",
    "[channels.letter]\nfolder = \"letters\"\n",
    "[payments]\nadapter = \"stripe\"\nhttp_hosts = [\"api.stripe.com\"]\nsecrets = [\"stripe_secret_key\"]\n",
    "[escalations]\nservice_url = \"https://app.acme.example/hooks\"\nhandover_dir = \"handovers\"\n",
    "[serve]\ntick_seconds = 60\ntoken = \"admin_token\"\nstripe_secret = \"stripe\"\npublic_reads = true\nwatch = \"policies\"\n",
    "[secrets]\nadmin_token = \"env:SOLLECITO_TOKEN\"\nstripe = \"whsec_x\"\n",
];

/// A TOML value: a hostile string (escaped or not), a number out of range, a wrong type.
fn toml_value() -> BoxedStrategy<String> {
    let odd = vec![
        "0",
        "-1",
        "1",
        "64",
        "65",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "1e400",
        "inf",
        "-inf",
        "nan",
        "0.5",
        "true",
        "false",
        "[]",
        "[\"\"]",
        "[1, \"a\"]",
        "{}",
        "{ a = 1 }",
        "1979-05-27T07:32:00Z",
        "07:32:00",
        "2026-02-30",
        "\"\"",
        "''",
        "'''\n'''",
        "\"\"\"\n\"\"\"",
        "[\"sat\", \"sun\", \"xyz\"]",
        "\"25:00\"",
        "\"24:00\"",
        "\"00:00\"",
        "\"23:59:59.999999999\"",
        "\"8:00\"",
        "\"env:\"",
        "\"env:PATH\"",
        "\"smtps://:@:0\"",
        "\"smtp://[::1\"",
        "\"<>\"",
        "\"Name <>\"",
        "\"a@b\"",
        "\"\\u0000\"",
        "\"\\r\\n\"",
    ];
    prop_oneof![
        4 => hostile_text().prop_map(|s| toml_string(&s)),
        3 => select(odd).prop_map(String::from),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => hostile_text(),
    ]
    .boxed()
}

/// A TOML basic string holding `s` exactly.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone)]
enum TomlOp {
    /// The value of a `key = value` line (chosen modulo the lines) replaced.
    Value(usize, String),
    /// The key of a `key = value` line replaced (an unknown key, a hostile one).
    Key(usize, String),
    DropLine(usize),
    DuplicateLine(usize),
    /// A fragment inserted before a line (tables twice, keys out of place).
    Insert(usize, &'static str),
    /// Hostile text inside a line.
    Splice(usize, usize, String),
}

fn toml_op() -> BoxedStrategy<TomlOp> {
    prop_oneof![
        6 => (any::<usize>(), toml_value()).prop_map(|(l, v)| TomlOp::Value(l, v)),
        1 => (any::<usize>(), prop_oneof![select(FIELDS).prop_map(String::from), hostile_text().prop_map(|s| toml_string(&s))])
            .prop_map(|(l, k)| TomlOp::Key(l, k)),
        2 => any::<usize>().prop_map(TomlOp::DropLine),
        1 => any::<usize>().prop_map(TomlOp::DuplicateLine),
        2 => (any::<usize>(), select(TOML_FRAGMENTS)).prop_map(|(l, f)| TomlOp::Insert(l, f)),
        2 => (any::<usize>(), any::<usize>(), prop_oneof![select(SYNTAX).prop_map(String::from), hostile_text()])
            .prop_map(|(l, at, t)| TomlOp::Splice(l, at, t)),
    ]
    .boxed()
}

#[test]
fn config_toml_never_panics_and_every_refusal_is_a_bad_config_with_a_reason() {
    let readme = readme_config();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sollecito.toml");
    let strategy = (0..TOML_FRAGMENTS.len() + 1, vec(toml_op(), 0..6));
    check("config TOML", 256, strategy, |(base, ops)| {
        let base = if base == 0 { readme.as_str() } else { TOML_FRAGMENTS[base - 1] };
        let mut lines: Vec<String> = base.lines().map(String::from).collect();
        for op in &ops {
            if lines.is_empty() {
                lines.push(String::new());
            }
            let n = lines.len();
            // Lines with a key: the value and key ops aim at those.
            let keyed: Vec<usize> =
                (0..n).filter(|&i| !lines[i].trim_start().starts_with(['[', '#']) && lines[i].contains('=')).collect();
            match op {
                TomlOp::Value(l, value) if !keyed.is_empty() => {
                    let i = keyed[l % keyed.len()];
                    let key = lines[i].split_once('=').unwrap().0.to_string();
                    lines[i] = format!("{key}= {value}");
                }
                TomlOp::Key(l, key) if !keyed.is_empty() => {
                    let i = keyed[l % keyed.len()];
                    let value = lines[i].split_once('=').unwrap().1.to_string();
                    lines[i] = format!("{key} ={value}");
                }
                TomlOp::Value(..) | TomlOp::Key(..) => {}
                TomlOp::DropLine(l) => {
                    lines.remove(l % n);
                }
                TomlOp::DuplicateLine(l) => {
                    let line = lines[l % n].clone();
                    lines.insert(l % n, line);
                }
                TomlOp::Insert(l, fragment) => {
                    for (k, line) in fragment.lines().enumerate() {
                        lines.insert(l % n + k, line.to_string());
                    }
                }
                TomlOp::Splice(l, at, text) => lines[l % n] = splice(&lines[l % n], *at, text),
            }
        }
        let text = lines.join("\n") + "\n";
        std::fs::write(&path, &text).unwrap();
        match sollecito::config::Config::load(Some(&path)) {
            Ok(config) => {
                // What `load` promises of a config it accepts.
                for (name, w) in &config.sending.windows {
                    if w.from >= w.to || w.days.is_empty() {
                        return Err(format!("window {name} accepted with from {} to {} on {:?}", w.from, w.to, w.days));
                    }
                }
                let s = &config.sending;
                if s.cap_per_week == 0 || s.concurrency == 0 || s.concurrency > 64 || s.claim_seconds < 1 {
                    return Err(format!("sending accepted as {s:?}; input {}", show(&text)));
                }
                config.sender().map_err(|e| format!("accepted, yet no sender: {e}; input {}", show(&text)))?;
                Ok(Verdict::Accepted)
            }
            Err(bad) if bad.file == path.display().to_string() && !bad.reason.trim().is_empty() => Ok(Verdict::Refused),
            Err(bad) => Err(format!("a refusal without its file or reason: {bad:?}; input {}", show(&text))),
        }
    });
}
