//! Where a shadow policy differs from the active one: per step, channel and
//! tone, from the decisions both made on the same invoices at the same ticks.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::store::ShadowRow;

/// What a decision does, reduced to what an operator compares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Gist {
    /// `remind`, another action kind, `nothing` or `error`.
    pub action: String,
    pub step: Option<String>,
    pub channel: Option<String>,
    pub tone: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Difference {
    pub active: Gist,
    pub shadow: Gist,
    pub count: usize,
    /// A few invoices where it happened.
    pub examples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// `name version` of each candidate compared.
    pub candidates: Vec<String>,
    pub compared: usize,
    pub same: usize,
    pub differences: Vec<Difference>,
}

/// The reminder of a decision if it has one, else its first action.
fn gist(actions: &str) -> Gist {
    let value: Value = serde_json::from_str(actions).unwrap_or(Value::Null);
    if value.get("error").is_some() {
        return Gist { action: "error".into(), step: None, channel: None, tone: None };
    }
    let list = value.as_array().cloned().unwrap_or_default();
    let pick = list.iter().find(|a| a.get("remind").is_some()).or(list.first());
    let Some((kind, body)) = pick.and_then(Value::as_object).and_then(|o| o.iter().next()) else {
        return Gist { action: "nothing".into(), step: None, channel: None, tone: None };
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    Gist { action: kind.clone(), step: text("step"), channel: text("channel"), tone: text("tone") }
}

pub(crate) fn report(rows: &[ShadowRow]) -> Report {
    let mut same = 0;
    let mut differences: BTreeMap<(Gist, Gist), (usize, Vec<String>)> = BTreeMap::new();
    let mut candidates: Vec<String> = rows.iter().map(|r| format!("{} {}", r.plugin_name, r.plugin_version)).collect();
    candidates.sort();
    candidates.dedup();
    for r in rows {
        let (active, shadow) = (gist(&r.active_actions), gist(&r.actions));
        if active == shadow {
            same += 1;
            continue;
        }
        let entry = differences.entry((active, shadow)).or_default();
        entry.0 += 1;
        if entry.1.len() < 5 && !entry.1.contains(&r.invoice_id) {
            entry.1.push(r.invoice_id.clone());
        }
    }
    let mut differences: Vec<Difference> = differences
        .into_iter()
        .map(|((active, shadow), (count, examples))| Difference { active, shadow, count, examples })
        .collect();
    differences.sort_by_key(|d| std::cmp::Reverse(d.count));
    Report { candidates, compared: rows.len(), same, differences }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(active: &str, shadow: &str) -> ShadowRow {
        ShadowRow {
            invoice_id: "i".into(),
            segment: "b2b".into(),
            at: 0,
            plugin_name: "candidate".into(),
            plugin_version: "2".into(),
            plugin_sha256: "x".into(),
            actions: shadow.into(),
            active_plugin: "b2b-standard 0.1.0".into(),
            active_actions: active.into(),
        }
    }

    #[test]
    fn differences_are_counted_by_step_channel_and_tone() {
        let soft = r#"[{"remind": {"step": "overdue-7", "channel": "email", "tone": "soft", "template": "x"}}]"#;
        let firm = r#"[{"remind": {"step": "overdue-7", "channel": "email", "tone": "firm", "template": "x"}}]"#;
        let rows = [row(soft, soft), row(soft, firm), row(soft, firm), row("[]", r#"{"error": "boom"}"#)];
        let r = report(&rows);
        assert_eq!((r.compared, r.same), (4, 1));
        assert_eq!(r.differences[0].count, 2);
        assert_eq!(r.differences[0].active.tone.as_deref(), Some("soft"));
        assert_eq!(r.differences[0].shadow.tone.as_deref(), Some("firm"));
        assert_eq!(r.differences[1].shadow.action, "error");
        assert_eq!(r.differences[1].active.action, "nothing");
    }
}
