//! Checked at start: what the configured policies ask for exists. Each policy
//! is asked, with the operator's settings, about the built-in example
//! invoices at dates over half a year. A template it names must exist: a
//! typo in a setting then stops the start instead of failing the customers'
//! steps one by one at delivery. A channel it reminds on that is not
//! configured is only warned about: a ladder may name channels a business
//! does not have (PEC, say), and falls to the next one when a step fails.

use std::collections::{BTreeSet, HashMap};

use crate::config::{BadConfig, Config};
use crate::decision::Action;
use crate::deliver::Channel;
use crate::intake;
use crate::scheduler::Policies;

/// The dates the policies are asked at: weekly from the examples' first due date on.
fn dates() -> impl Iterator<Item = i64> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("a valid date").and_hms_opt(9, 0, 0);
    let start = start.expect("a valid time").and_utc().timestamp();
    (0..28).map(move |week| start + week * 7 * 86_400)
}

pub fn policies_name_what_exists(
    config: &Config,
    policies: &Policies,
    channels: &HashMap<String, Channel>,
    templates: &[String],
) -> Result<Vec<String>, BadConfig> {
    let bad = |reason: String| BadConfig { file: "config".into(), reason };
    let mut warnings = vec![];
    let mut examples = vec![];
    for (name, text) in intake::EXAMPLES {
        examples.push(intake::parse_dataset(name, text).map_err(|e| bad(format!("built-in example {name}: {e}")))?);
    }
    let views: Vec<_> = examples.iter().flat_map(intake::Dataset::fresh_reviews).collect();
    for (name, plugin) in &policies.by_name {
        let settings = config.settings_for(name);
        let mut asked: BTreeSet<(String, String)> = BTreeSet::new();
        for now in dates() {
            // A policy that fails on an example is reported by the tick; here only its answers count.
            for decision in plugin.decide(now, &settings, &views).into_iter().flatten() {
                for action in &decision.actions {
                    if let Action::Remind(r) = action {
                        asked.insert((r.channel.clone(), r.template.clone()));
                    }
                }
            }
        }
        let whose = format!("policy {name:?} (with [settings.{name}])");
        for (channel, template) in asked {
            if !channels.contains_key(&channel) {
                warnings.push(format!(
                    "{whose} may remind on channel {channel:?}, which is not configured: such a step fails and \
                     the policy moves on (add [channels.{channel}] to use it)"
                ));
            }
            if !templates.contains(&template) {
                return Err(bad(format!(
                    "{whose} names template {template:?}, which does not exist (known: {})",
                    templates.join(", ")
                )));
            }
        }
    }
    warnings.sort();
    warnings.dedup();
    Ok(warnings)
}
