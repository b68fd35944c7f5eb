//! Checked at start: what the configured policies ask for exists. Each policy
//! is asked, with the operator's settings, about the built-in example
//! invoices at dates over half a year. A template it names must exist: a
//! typo in a setting then stops the start instead of failing the customers'
//! steps one by one at delivery. A channel it reminds on that is not
//! configured is only warned about: a ladder may name channels a business
//! does not have (PEC, say), and falls to the next one when a step fails.

use std::collections::{BTreeSet, HashMap};

use crate::config::{BadConfig, Config};
use crate::decision::{Action, Contact, ContactOutcome, Review, Setting, Tone};
use crate::deliver::Channel;
use crate::intake;
use crate::sandbox::Plugin;
use crate::scheduler::Policies;

/// The dates the policies are asked at: weekly from the examples' first due date on.
fn dates() -> impl Iterator<Item = i64> {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("a valid date").and_hms_opt(9, 0, 0);
    let start = start.expect("a valid time").and_utc().timestamp();
    (0..28).map(move |week| start + week * 7 * 86_400)
}

/// The channels and templates `plugin` reminds with, given `settings`, asked
/// about the built-in examples at each of the dates.
pub(crate) fn asked_by(plugin: &Plugin, settings: &[Setting]) -> BTreeSet<(String, String)> {
    let examples: Vec<intake::Dataset> =
        intake::EXAMPLES.iter().filter_map(|(name, text)| intake::parse_dataset(name, text).ok()).collect();
    let fresh: Vec<_> = examples.iter().flat_map(intake::Dataset::fresh_reviews).collect();
    let mut asked = BTreeSet::new();
    for now in dates() {
        // Each invoice twice: untouched, and after a reminder a week ago (the
        // steps that never open a conversation show only then).
        let earlier = [Contact {
            step: "preflight-earlier-reminder".into(),
            channel: Some("email".into()),
            tone: Some(Tone::Soft),
            at: now - 7 * 86_400,
            outcome: ContactOutcome::Sent,
        }];
        let reminded = fresh.iter().map(|r| Review { history: &earlier, ..*r });
        let views: Vec<Review> = fresh.iter().copied().chain(reminded).collect();
        // A policy that fails on an example is reported by the tick; here only its answers count.
        for decision in plugin.decide(now, settings, &views).into_iter().flatten() {
            for action in &decision.actions {
                if let Action::Remind(r) = action {
                    asked.insert((r.channel.clone(), r.template.clone()));
                }
            }
        }
    }
    asked
}

/// Why `plugin` cannot be used with these templates: the first it names that does not exist.
pub(crate) fn unknown_template(plugin: &Plugin, settings: &[Setting], templates: &[String]) -> Option<String> {
    first_unknown(plugin, &asked_by(plugin, settings), templates)
}

/// The first template `plugin` declared (contract 0.2 on) or was seen to
/// ask for that does not exist.
fn first_unknown(plugin: &Plugin, asked: &BTreeSet<(String, String)>, templates: &[String]) -> Option<String> {
    let declared = plugin.declared().into_iter().flat_map(|d| d.templates.iter());
    declared
        .chain(asked.iter().map(|(_, t)| t))
        .find(|t| !templates.contains(t))
        .map(|t| format!("names template {t:?}, which does not exist (known: {})", templates.join(", ")))
}

pub(crate) fn policies_name_what_exists(
    config: &Config,
    policies: &Policies,
    channels: &HashMap<String, Channel>,
    templates: &[String],
) -> Result<Vec<String>, BadConfig> {
    let mut warnings = vec![];
    for (configured, plugin) in &policies.by_name {
        let name = &plugin.id.name;
        let settings = config.settings_for(name);
        let whose = format!("policy {configured:?} (with [settings.{name}])");
        let asked = asked_by(plugin, &settings);
        if let Some(why) = first_unknown(plugin, &asked, templates) {
            return Err(BadConfig { file: "config".into(), reason: format!("{whose} {why}") });
        }
        for (channel, _) in asked {
            if !channels.contains_key(&channel) {
                warnings.push(format!(
                    "{whose} may remind on channel {channel:?}, which is not configured: such a step fails and \
                     the policy moves on (add [channels.{channel}] to use it)"
                ));
            }
        }
    }
    warnings.sort();
    warnings.dedup();
    Ok(warnings)
}
