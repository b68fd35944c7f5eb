//! A decision's actions in the viewer's words, read from the decision log's
//! record ("reminder by email, template overdue-soft, soft tone"), so an
//! operator reads what the policy asked without reading JSON.

use serde_json::Value;

use super::i18n::Viewer;

/// Each action of a logged decision, in words; what the log holds that this
/// version does not know is shown by its name.
pub(crate) fn in_words(v: &Viewer, actions: &Value) -> Vec<String> {
    let empty = vec![];
    actions.as_array().unwrap_or(&empty).iter().map(|a| one(v, a)).collect()
}

/// An action the host refused outright, in words: which, and why.
pub(crate) fn refused_in_words(v: &Viewer, r: &crate::decision::Refused) -> String {
    v.word(&format!("refused_{}", r.why.name())).replace("{step}", &r.step)
}

fn one(v: &Viewer, action: &Value) -> String {
    let Some((kind, body)) = action.as_object().and_then(|o| o.iter().next()) else { return action.to_string() };
    let text = |k: &str| body[k].as_str().unwrap_or("–").to_string();
    let date = |k: &str| body[k].as_str().and_then(|d| d.parse().ok()).map_or_else(|| "–".to_string(), |d| v.date(d));
    let fill = |key: &str, pairs: &[(&str, String)]| {
        pairs.iter().fold(v.word(key), |line, (name, value)| line.replace(&format!("{{{name}}}"), value))
    };
    match kind.as_str() {
        "remind" => fill(
            "action_remind",
            &[
                ("channel", text("channel")),
                ("template", text("template")),
                ("tone", v.word(&format!("tone_{}", text("tone")))),
            ],
        ),
        "retry-payment" => fill("action_retry", &[("at", body["at"].as_i64().map_or("–".into(), |t| v.moment(t)))]),
        "escalate" => fill(
            "action_escalate",
            &[("kind", v.word(&format!("escalation_{}", text("kind")))), ("reason", text("reason"))],
        ),
        "apply-fee" => {
            let amount = body["minor"].as_i64().map_or("–".into(), |m| v.money(m, &text("currency")));
            fill("action_fee", &[("amount", amount), ("reason", text("reason"))])
        }
        "offer-plan" => fill(
            "action_plan",
            &[
                ("instalments", body["instalments"].to_string()),
                ("every", body["every-days"].to_string()),
                ("first", date("first-due")),
            ],
        ),
        "pause" => fill("action_pause", &[("until", body.as_i64().map_or("–".into(), |t| v.moment(t)))]),
        "close" => fill("action_close", &[("reason", v.word(&format!("closed_{}", body.as_str().unwrap_or("–"))))]),
        other => other.to_string(),
    }
}
