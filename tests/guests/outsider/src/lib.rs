//! A policy written by someone outside the project, from `wit/` and
//! wit-bindgen alone (no SDK): one polite reminder two days after the due date,
//! on the channel named by the setting `channel` (default email), with the
//! template named by `template` (default overdue-soft).
//!
//! Built against contract 0.1 (wit/0.1) on purpose: every test that runs it
//! runs the host's 0.1 support, and its template and channel come from
//! settings, which 0.2's declared lists would not allow.

wit_bindgen::generate!({ world: "policy", path: "../../../wit/0.1" });

use sollecito::plugin::types::*;

struct Outsider;

const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days(d: &Date) -> i64 {
    let (y, m) =
        if d.month <= 2 { (d.year as i64 - 1, d.month as i64 + 9) } else { (d.year as i64, d.month as i64 - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d.day as i64 - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

impl Guest for Outsider {
    fn describe() -> PluginInfo {
        PluginInfo { name: "outsider".into(), version: "1.2.3".into(), summary: "one reminder, two days late".into() }
    }

    fn evaluate(now: Timestamp, settings: Vec<Setting>, batch: Vec<InvoiceView>) -> Vec<Result<Decision, String>> {
        let channel = settings.iter().find(|s| s.key == "channel").map_or("email", |s| s.value.as_str());
        let template = settings.iter().find(|s| s.key == "template").map_or("overdue-soft", |s| s.value.as_str());
        // A careless author's policy: `reminders` at once, and with `repeat`, asked again daily once done.
        let reminders = settings.iter().find(|s| s.key == "reminders").and_then(|s| s.value.parse().ok()).unwrap_or(1);
        let repeat = settings.iter().any(|s| s.key == "repeat" && s.value == "yes");
        batch
            .into_iter()
            .map(|inv| {
                let remind_at = (days(&inv.due) + 2) * DAY;
                let done = inv.history.iter().any(|c| c.step == "outsider-nudge");
                if inv.status != InvoiceStatus::Open || (done && !repeat) {
                    return Ok(Decision { actions: vec![], next_review: None });
                }
                if now < remind_at {
                    return Ok(Decision { actions: vec![], next_review: Some(remind_at) });
                }
                let step = |n: u32| if n == 1 { "outsider-nudge".to_string() } else { format!("outsider-nudge-{n}") };
                let remind = |n: u32| {
                    Action::Remind(Reminder {
                        step: step(n),
                        channel: channel.into(),
                        template: template.into(),
                        tone: Tone::Courteous,
                        deadline: None,
                    })
                };
                Ok(Decision {
                    actions: (1..=reminders).map(remind).collect(),
                    next_review: repeat.then_some(now + DAY),
                })
            })
            .collect()
    }
}

export!(Outsider);
