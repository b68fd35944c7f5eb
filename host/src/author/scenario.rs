//! An author's scenarios: invoices, a start date, days, scripted events and
//! the actions expected by date, played by the real engine (`simulate`) and
//! compared line by line. `sollecito plugin test` runs them.
//!
//! A scenario is TOML. Customers, invoices and events have the fields of an
//! import file (`sollecito import`), checked by the same intake.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::intake;
use crate::sandbox::{FuelUsed, Plugin};
use crate::simulate::{self, Entry, Timeline};

/// A scenario file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    /// What the scenario shows, in a sentence.
    name: Option<String>,
    from: NaiveDate,
    /// Days played, `from` included (default 60); or `to`.
    days: Option<u32>,
    to: Option<NaiveDate>,
    /// The daily tick, UTC (default 09:00).
    tick: Option<String>,
    #[serde(default)]
    settings: BTreeMap<String, Value>,
    #[serde(default)]
    customers: Vec<Value>,
    #[serde(default)]
    invoices: Vec<Value>,
    #[serde(default)]
    events: Vec<Value>,
    /// Every action expected, by date; any other action fails the scenario.
    #[serde(default)]
    expect: Vec<Expected>,
    /// Where invoices stand at the end: `paid`, `open`, `closed`, `closed (collections)`...
    #[serde(default)]
    outcome: BTreeMap<String, String>,
}

/// One expected action.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub on: NaiveDate,
    /// Needed when the scenario has more than one invoice.
    pub invoice: Option<String>,
    /// `remind` (the default), `retry-payment`, `escalate`, `apply-fee`,
    /// `offer-plan`, `instalment`, `close`, `held` (a guardrail stopped it), `error`.
    #[serde(default = "remind")]
    pub what: String,
    pub step: Option<String>,
    pub channel: Option<String>,
    pub tone: Option<String>,
    pub template: Option<String>,
    /// A close's reason (`paid`, `written-off`, `collections`), or an error's message.
    pub reason: Option<String>,
}

fn remind() -> String {
    "remind".into()
}

/// A scenario read and checked, ready to play.
pub struct Scenario {
    pub file: String,
    pub name: String,
    data: intake::Dataset,
    options: simulate::Options,
    expect: Vec<Expected>,
    outcome: BTreeMap<String, String>,
}

/// How a scenario went.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub file: String,
    pub name: String,
    pub passed: bool,
    /// Actions the engine took (events and pauses aside).
    pub actions: usize,
    /// One line per difference, `-` expected and not done, `+` done and not
    /// expected, `~` done otherwise than expected.
    pub differences: Vec<String>,
    pub fuel: FuelUsed,
}

/// A scenario that cannot be played, with the field at fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {field}: {reason}")]
pub struct BadScenario {
    pub file: String,
    pub field: String,
    pub reason: String,
}

fn bad(file: &str, field: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    BadScenario { file: file.into(), field: field.into(), reason: reason.to_string() }.into()
}

/// TOML to JSON, dates and times as strings (the intake's and chrono's forms).
pub(super) fn json_of(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(json_of).collect()),
        toml::Value::Table(t) => Value::Object(t.into_iter().map(|(k, v)| (k, json_of(v))).collect()),
    }
}

impl Scenario {
    pub fn read(path: &Path) -> anyhow::Result<Scenario> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| bad(&file, "file", format!("cannot read: {e}")))?;
        Scenario::parse(&file, &text)
    }

    pub fn parse(file: &str, text: &str) -> anyhow::Result<Scenario> {
        let toml: toml::Value = toml::from_str(text).map_err(|e| bad(file, "toml", e.message().trim()))?;
        let raw: ScenarioFile = serde_json::from_value(json_of(toml)).map_err(|e| bad(file, "scenario", e))?;
        let to = match (raw.days, raw.to) {
            (Some(_), Some(_)) => return Err(bad(file, "days", "give days or to, not both")),
            (Some(0), None) => return Err(bad(file, "days", "at least 1")),
            (Some(days), None) if days > 3660 => return Err(bad(file, "days", "at most 3660 (ten years)")),
            (Some(days), None) => raw.from + chrono::Days::new(u64::from(days) - 1),
            (None, Some(to)) if to < raw.from => return Err(bad(file, "to", format!("{to} is before from"))),
            (None, Some(to)) if (to - raw.from).num_days() >= 3660 => {
                return Err(bad(file, "to", format!("{to} is more than ten years after from")));
            }
            (None, Some(to)) => to,
            (None, None) => raw.from + chrono::Days::new(59),
        };
        let tick = match &raw.tick {
            Some(t) => NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| bad(file, "tick", format!("{t:?}: expected HH:MM (UTC)")))?,
            None => NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
        };
        let dataset = serde_json::json!({ "customers": raw.customers, "invoices": raw.invoices, "events": raw.events });
        let data = intake::parse_dataset(file, &dataset.to_string())?;
        if data.invoices.is_empty() {
            return Err(bad(file, "invoices", "a scenario needs at least one invoice"));
        }
        let ids: Vec<&str> = data.invoices.iter().map(|i| i.id.as_str()).collect();
        for (k, e) in raw.expect.iter().enumerate() {
            let field = |f: &str| format!("expect[{k}].{f}");
            match &e.invoice {
                Some(id) if !ids.contains(&id.as_str()) => {
                    return Err(bad(file, &field("invoice"), format!("{id:?} is not an invoice of the scenario")));
                }
                None if ids.len() > 1 => return Err(bad(file, &field("invoice"), "needed: the scenario has several")),
                _ => {}
            }
            if !(raw.from..=to).contains(&e.on) {
                return Err(bad(file, &field("on"), format!("{} is outside {} to {to}", e.on, raw.from)));
            }
            if !WHATS.contains(&e.what.as_str()) {
                return Err(bad(file, &field("what"), format!("{:?}: expected one of {}", e.what, WHATS.join(", "))));
            }
        }
        for id in raw.outcome.keys() {
            if !ids.contains(&id.as_str()) {
                return Err(bad(file, &format!("outcome.{id}"), "not an invoice of the scenario"));
            }
        }
        let settings = raw
            .settings
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                Value::Number(_) | Value::Bool(_) => Ok((k, v.to_string())),
                _ => Err(bad(file, &format!("settings.{k}"), "a string, number or true/false")),
            })
            .collect::<anyhow::Result<_>>()?;
        let mut expect = raw.expect;
        let only = (ids.len() == 1).then(|| ids[0].to_string());
        for e in &mut expect {
            e.invoice = e.invoice.take().or_else(|| only.clone());
        }
        Ok(Scenario {
            file: file.into(),
            name: raw.name.unwrap_or_else(|| file.into()),
            data,
            options: simulate::Options {
                from: raw.from,
                to,
                tick,
                schedule: crate::schedule::Schedule::Service,
                settings,
                progress: None,
                responses: None,
            },
            expect,
            outcome: raw.outcome,
        })
    }

    /// Plays the scenario with `policy` on the real engine and compares.
    pub async fn play(self, config: Config, catalog: &mut Catalog, policy: Arc<Plugin>) -> anyhow::Result<Verdict> {
        policy.fuel().reset();
        let simulation = simulate::run(config, catalog, policy.clone(), self.data.clone(), &self.options).await?;
        let fuel = policy.fuel().read();
        let done: Vec<Expected> = simulation.timelines.iter().flat_map(actions).collect();
        let mut differences = compare(&self.expect, &done);
        for (id, wanted) in &self.outcome {
            let Some(t) = simulation.timelines.iter().find(|t| &t.invoice == id) else { continue };
            let short = t.outcome.split(" (").next().unwrap_or_default();
            if wanted != &t.outcome && wanted != short {
                differences.push(format!("~ {id} at the end: expected {wanted}, was {}", t.outcome));
            }
        }
        Ok(Verdict {
            file: self.file,
            name: self.name,
            passed: differences.is_empty(),
            actions: done.len(),
            differences,
            fuel,
        })
    }
}

/// What a scenario can expect; `refused` is an action the host refused
/// outright (a step already done, a second reminder in one tick).
const WHATS: [&str; 10] = [
    "remind",
    "retry-payment",
    "escalate",
    "apply-fee",
    "offer-plan",
    "instalment",
    "close",
    "held",
    "refused",
    "error",
];

/// A timeline's actions as expectations would be written (events and pauses aside).
fn actions(t: &Timeline) -> Vec<Expected> {
    t.entries
        .iter()
        .filter(|e| e.what != "event" && e.what != "pause")
        .map(|e: &Entry| Expected {
            on: e.date,
            invoice: Some(t.invoice.clone()),
            what: e.what.clone(),
            step: e.step.clone(),
            channel: e.channel.clone(),
            tone: e.tone.clone(),
            template: e.template.clone(),
            // A close's reason, or what the policy's error said.
            reason: (e.what == "close" || e.what == "error").then(|| e.note.clone()).flatten(),
        })
        .collect()
}

fn key(e: &Expected) -> (Option<&str>, &str, Option<&str>) {
    (e.invoice.as_deref(), e.what.as_str(), e.step.as_deref().or(e.reason.as_deref()))
}

fn line(e: &Expected) -> String {
    let mut words = vec![e.on.to_string(), e.invoice.clone().unwrap_or_default(), e.what.clone()];
    words.extend(e.step.clone().or(e.reason.clone()));
    let details: Vec<&str> = [&e.channel, &e.tone, &e.template].into_iter().flatten().map(String::as_str).collect();
    if !details.is_empty() {
        words.push(format!("({})", details.join(", ")));
    }
    words.join(" ")
}

/// The differences between what was expected and what was done, in date order.
fn compare(expected: &[Expected], done: &[Expected]) -> Vec<String> {
    let mut left: Vec<Option<&Expected>> = done.iter().map(Some).collect();
    let mut lines: Vec<(NaiveDate, String)> = vec![];
    for e in expected {
        // The same action on the same day first, else the same action on another day.
        let same = |d: &&Expected| key(d) == key(e);
        let found = left
            .iter()
            .position(|d| d.filter(same).is_some_and(|d| d.on == e.on))
            .or_else(|| left.iter().position(|d| d.filter(same).is_some()));
        let Some(i) = found else {
            lines.push((e.on, format!("- {}: expected, not done", line(e))));
            continue;
        };
        let d = left[i].take().expect("found above");
        let name = format!("{} {} {}", d.invoice.as_deref().unwrap_or(""), d.what, key(d).2.unwrap_or(""));
        if d.on != e.on {
            lines.push((e.on, format!("~ {}: expected on {}, done on {}", name.trim_end(), e.on, d.on)));
        }
        for (field, wanted, got) in
            [("channel", &e.channel, &d.channel), ("tone", &e.tone, &d.tone), ("template", &e.template, &d.template)]
        {
            if let Some(wanted) = wanted.as_ref().filter(|w| Some(*w) != got.as_ref()) {
                let got = got.as_deref().unwrap_or("none");
                lines.push((d.on, format!("~ {} on {}: {field} expected {wanted}, was {got}", name.trim_end(), d.on)));
            }
        }
    }
    for d in left.into_iter().flatten() {
        lines.push((d.on, format!("+ {}: done, not expected", line(d))));
    }
    lines.sort_by_key(|l| l.0);
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVOICE: &str = r#"
[[customers]]
id = "cus-1"
name = "Rossi S.r.l."
email = "conti@rossi.example"
locale = "it-IT"
timezone = "Europe/Rome"
segment = "b2b"
business = true

[[invoices]]
id = "inv-1"
number = "F-1"
customer = "cus-1"
currency = "EUR"
amount_due = "1200.00"
issued = "2026-09-01"
due = "2026-10-01"
"#;

    fn expected(on: &str, step: &str) -> Expected {
        Expected {
            on: on.parse().unwrap(),
            invoice: Some("inv-1".into()),
            what: "remind".into(),
            step: Some(step.into()),
            channel: Some("email".into()),
            tone: None,
            template: None,
            reason: None,
        }
    }

    #[test]
    fn a_wrong_date_names_the_date_and_the_step() {
        let diff = compare(&[expected("2026-10-04", "nudge")], &[expected("2026-10-05", "nudge")]);
        assert_eq!(diff, ["~ inv-1 remind nudge: expected on 2026-10-04, done on 2026-10-05"]);
    }

    #[test]
    fn missing_and_unexpected_actions_are_listed_in_date_order() {
        let mut sms = expected("2026-10-10", "second");
        sms.channel = Some("sms".into());
        let diff = compare(
            &[expected("2026-10-04", "nudge"), sms],
            &[expected("2026-10-04", "nudge"), expected("2026-10-10", "second"), expected("2026-10-20", "third")],
        );
        assert_eq!(
            diff,
            [
                "~ inv-1 remind second on 2026-10-10: channel expected sms, was email",
                "+ 2026-10-20 inv-1 remind third (email): done, not expected",
            ]
        );
        let diff = compare(&[expected("2026-10-04", "nudge")], &[]);
        assert_eq!(diff, ["- 2026-10-04 inv-1 remind nudge (email): expected, not done"]);
    }

    #[test]
    fn a_scenario_reads_dates_bare_or_quoted_and_fills_the_only_invoice() {
        let text =
            format!("from = 2026-10-01\ndays = 30\n{INVOICE}\n[[expect]]\non = \"2026-10-04\"\nstep = \"nudge\"\n");
        let s = Scenario::parse("s.toml", &text).unwrap();
        assert_eq!(s.options.to, "2026-10-30".parse::<NaiveDate>().unwrap());
        assert_eq!(s.expect[0].invoice.as_deref(), Some("inv-1"));
        assert_eq!(s.expect[0].what, "remind");
    }

    /// Each bad scenario with the exact error it gets.
    #[test]
    fn bad_scenarios_are_refused_with_the_field_named() {
        let cases = [
            ("days = 30\n", "s.toml: scenario: missing field `from`"),
            ("from = \"2026-10-01\"\ndays = 0\n", "s.toml: days: at least 1"),
            ("from = \"2026-10-01\"\ndays = 3\nto = \"2026-10-02\"\n", "s.toml: days: give days or to, not both"),
            (
                "from = \"2026-10-01\"\nto = \"9999-12-31\"\n",
                "s.toml: to: 9999-12-31 is more than ten years after from",
            ),
            ("from = \"2026-10-01\"\ntick = \"9\"\n", "s.toml: tick: \"9\": expected HH:MM (UTC)"),
            ("from = \"2026-10-01\"\n", "s.toml: invoices: a scenario needs at least one invoice"),
            (
                "from = \"2026-10-01\"\n[[expect]]\non = \"2026-12-30\"\nstep = \"x\"\n",
                "s.toml: expect[0].on: 2026-12-30 is outside 2026-10-01 to 2026-11-29",
            ),
            (
                "from = \"2026-10-01\"\n[[expect]]\non = \"2026-10-02\"\nwhat = \"wave\"\n",
                "s.toml: expect[0].what: \"wave\": expected one of remind, retry-payment, escalate, apply-fee, \
                 offer-plan, instalment, close, held, refused, error",
            ),
            (
                "from = \"2026-10-01\"\n[[expect]]\non = \"2026-10-02\"\ninvoice = \"inv-9\"\n",
                "s.toml: expect[0].invoice: \"inv-9\" is not an invoice of the scenario",
            ),
            (
                "from = \"2026-10-01\"\n[outcome]\ninv-9 = \"paid\"\n",
                "s.toml: outcome.inv-9: not an invoice of the scenario",
            ),
        ];
        for (head, error) in cases {
            // The invoice's tables close the head's: its keys stay where they are.
            let invoice = if error.contains("at least one invoice") { "" } else { INVOICE };
            let text = format!("{head}{invoice}");
            let err = Scenario::parse("s.toml", &text).err().unwrap_or_else(|| panic!("accepted: {text}"));
            assert_eq!(err.to_string(), error, "{text}");
        }
        let err = Scenario::parse("s.toml", &format!("from = \"2026-10-01\"\nbogus = 1\n{INVOICE}")).err().unwrap();
        assert!(err.to_string().starts_with("s.toml: scenario: unknown field `bogus`"), "{err}");
    }
}
