//! Message rendering: the facts of one reminder -> subject, plain text and HTML.
//!
//! Templates live in `host/templates/` (embedded in the binary; an operator's directory
//! with the same layout overrides or adds files). `host/templates/README.md` describes
//! the layout, the placeholders and the start-up checks:
//!
//! ```text
//! layout.j2            the structure every message shares: greeting, facts, call to
//!                      action, consequences (firm tone on), contacts, card warning, sign-off
//! page.html.j2         the HTML document around the body (autoescaped)
//! {lang}/_common.j2    the shared phrases of one language, as macros
//! {lang}/{name}.j2     one message: extends layout.j2, fills `subject` and `core`
//! ```
//!
//! Templates write plain text (blank line between paragraphs, `- ` for list items); the
//! HTML part is made from it, escaped, with links. Every message is rendered at start-up
//! in every language and tone in strict mode, so a bad template stops the service there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use iso_currency::Currency;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use crate::decision::Tone;
use crate::plan::Instalment;

/// The sender of the messages (`[business]` in the config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    /// e.g. "bank transfer IBAN IT60X0542811101000000123456", "card via the payment link"
    #[serde(default)]
    pub payment_methods: Vec<String>,
}

/// An amount as the customer's locale writes it ("1.250,00 €" in Italian).
pub(crate) fn amount_for(minor: i64, currency: &str, locale: &str) -> String {
    let exp = crate::money::currency_exponent(currency).unwrap_or(2) as u32;
    format_amount(minor, exp, currency, locale)
}

/// Facts of one message. Amounts in minor units of `currency` (ISO 4217).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts<'a> {
    pub template: &'a str,
    /// "courteous" | "soft" | "firm" | "final" | "formal"
    pub tone: &'a str,
    /// BCP 47, like "it-IT"
    pub locale: &'a str,
    pub business: &'a Business,
    pub customer_name: &'a str,
    pub invoice_number: &'a str,
    pub currency: &'a str,
    /// The invoice total.
    pub amount_due: i64,
    pub amount_paid: i64,
    pub issued: NaiveDate,
    pub due: NaiveDate,
    /// In the customer's timezone.
    pub today: NaiveDate,
    pub payment_link: Option<&'a str>,
    /// The customer's own page (`[portal]`), signed for this message.
    pub portal_url: Option<&'a str>,
    pub deadline: Option<NaiveDate>,
    /// The customer is a business: only then may a message claim statutory late-payment
    /// interest and the fixed compensation for recovery costs (Directive 2011/7/EU).
    pub business_customer: bool,
    pub extras: Extras<'a>,
}

/// Facts only some messages have.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Extras<'a> {
    /// A plan offer's instalments (or the plan an instalment reminder belongs to).
    pub instalments: &'a [Instalment],
    /// The instalment a reminder is about, and what is left to pay on it.
    pub instalment: Option<(&'a Instalment, i64)>,
    /// Fees added to the invoice after it was issued, with why: (minor units, reason).
    pub fees: &'a [(i64, &'a str)],
    /// The customer's other invoices in the same message: (number, outstanding, due).
    pub others: &'a [(&'a str, i64, NaiveDate)],
}

/// An instalment as the templates see it.
#[derive(Debug, Serialize)]
struct InstalmentCtx {
    number: u32,
    amount: String,
    due: String,
}

/// A line of money with what it is.
#[derive(Debug, Serialize)]
struct LineCtx {
    what: String,
    amount: String,
    due: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The language actually used: "it", "en", ...
    pub language: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
    #[error("cannot read template overrides at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("template {file}, line {line}: unknown placeholder `{placeholder}`")]
    UnknownPlaceholder { file: String, line: usize, placeholder: String },
    #[error(
        "template {file}, line {line}: `{placeholder}` can be empty here; print it inside {{% if {placeholder} %}}"
    )]
    EmptyValue { file: String, line: usize, placeholder: String },
    #[error("template {file}: {message}")]
    Template { file: String, message: String },
    #[error("template {file}: {problem}")]
    Incomplete { file: String, problem: String },
    #[error("no message template named `{0}`")]
    UnknownTemplate(String),
    #[error("unknown tone `{0}` (expected courteous, soft, firm, final or formal)")]
    UnknownTone(String),
    #[error("unknown currency `{0}` (expected an ISO 4217 code)")]
    UnknownCurrency(String),
    #[error("invoice {0}: nothing is outstanding, there is nothing to remind")]
    NothingOutstanding(String),
}

/// Languages with built-in templates; any other locale gets English.
#[cfg(test)]
pub(crate) const LANGUAGES: [&str; 5] = ["it", "en", "fr", "de", "es"];
const FALLBACK: &str = "en";

macro_rules! builtin {
    ([$($lang:literal),*], $names:tt) => {
        &[$(builtin!(@lang $lang, $names)),*]
    };
    (@lang $lang:literal, [$($name:literal),*]) => {
        &[$((
            concat!($lang, "/", $name, ".j2"),
            include_str!(concat!("../templates/", $lang, "/", $name, ".j2")),
        )),*]
    };
}

/// (path, source) of the built-in templates outside the language folders.
const BUILTIN_SHARED: &[(&str, &str)] = &[
    ("layout.j2", include_str!("../templates/layout.j2")),
    ("page.html.j2", include_str!("../templates/page.html.j2")),
];

/// (path, source) of the built-in templates of each language.
#[rustfmt::skip]
const BUILTIN: &[&[(&str, &str)]] = builtin!(
    ["it", "en", "fr", "de", "es"],
    ["_common", "pre-due", "overdue-soft", "overdue-firm", "final-notice", "formal-notice",
     "phone-call", "payment-failed", "payment-failed-hard", "payment-reminder",
     "suspension-warning", "service-suspended", "card-expiring", "setup-incomplete",
     "plan-offer", "instalment-due", "statement"]
);

const PAGE: &str = "page.html.j2";

pub(crate) struct Renderer {
    env: Environment<'static>,
    /// name -> (where it came from, its source) for error messages.
    files: BTreeMap<String, (String, String)>,
    /// Message names -> languages they exist in.
    messages: BTreeMap<String, BTreeSet<String>>,
}

impl Renderer {
    /// Built-in templates plus operator overrides from `override_dir` (same layout). Every
    /// message is rendered here with sample facts for every tone, so a template with an
    /// unknown placeholder, a syntax error or a missing fact is an error now, not later.
    pub(crate) fn new(override_dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut files: BTreeMap<String, (String, String)> = BUILTIN_SHARED
            .iter()
            .chain(BUILTIN.iter().flat_map(|l| l.iter()))
            .map(|(p, s)| (p.to_string(), (format!("built-in {p}"), s.to_string())))
            .collect();
        if let Some(dir) = override_dir {
            read_overrides(dir, dir, &mut files)?;
        }

        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_auto_escape_callback(
            |name| {
                if name.ends_with(".html.j2") { AutoEscape::Html } else { AutoEscape::None }
            },
        );
        env.set_formatter(|out, state, value| {
            if value.is_none() || value.is_undefined() {
                return Err(minijinja::Error::new(ErrorKind::InvalidOperation, EMPTY));
            }
            minijinja::escape_formatter(out, state, value)
        });
        let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, (origin, source)) in &files {
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|e| RenderError::Template { file: origin.clone(), message: e.to_string() })?;
            if let Some((lang, file)) = name.split_once('/')
                && (2..=3).contains(&lang.len())
                && lang.chars().all(|c| c.is_ascii_lowercase())
                && let Some(msg) = file.strip_suffix(".j2")
                && !msg.starts_with('_')
                && !msg.contains('/')
            {
                let entry = messages.entry(msg.to_string()).or_default();
                entry.insert(lang.to_string());
            }
        }
        let renderer = Renderer { env, files, messages };
        // The built-in templates are checked by the test suite; at start, check
        // everything only when an operator's folder may have changed any of it.
        if override_dir.is_some() {
            renderer.check_all()?;
        }
        Ok(renderer)
    }

    /// Message template names available.
    pub(crate) fn templates(&self) -> Vec<String> {
        self.messages.keys().cloned().collect()
    }

    /// Languages a message exists in.
    #[cfg(test)]
    pub(crate) fn languages(&self, template: &str) -> Vec<String> {
        self.messages.get(template).map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }

    pub(crate) fn render(&self, facts: &Facts) -> Result<Rendered, RenderError> {
        let langs = self
            .messages
            .get(facts.template)
            .ok_or_else(|| RenderError::UnknownTemplate(facts.template.to_string()))?;
        let (primary, region) = split_locale(facts.locale);
        let (lang, fmt_locale) = if langs.contains(&primary) {
            (primary, facts.locale.to_string())
        } else {
            let en = region.map_or_else(|| FALLBACK.to_string(), |r| format!("{FALLBACK}-{r}"));
            (FALLBACK.to_string(), en)
        };
        let ctx = Ctx::new(facts, &lang, &fmt_locale)?;
        self.render_ctx(&format!("{lang}/{}.j2", facts.template), &ctx)
    }

    fn render_ctx(&self, name: &str, ctx: &Ctx) -> Result<Rendered, RenderError> {
        let err = |e: minijinja::Error| self.error(name, &e);
        let tmpl = self.env.get_template(name).map_err(err)?;
        // The facts made a template value once, for the message and the page around it.
        let facts = Value::from_serialize(ctx);
        let mut captured = tmpl.render_captured(&facts).map_err(err)?;
        let subject = captured.with_state_mut(|st| st.render_block("subject")).map_err(err)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = normalize(captured.output());
        let page = self.env.get_template(PAGE).map_err(err)?;
        let html = page
            .render(minijinja::context! {
                subject => &subject,
                body => Value::from_safe_string(text_to_html(&text)),
                ..facts
            })
            .map_err(|e| self.error(PAGE, &e))?;
        Ok(Rendered { subject, text, html, language: ctx.lang.clone() })
    }

    /// Render every message in every language with sample facts for every tone, with and
    /// without the optional facts, before and after the due date, for a business and for a
    /// consumer.
    fn check_all(&self) -> Result<(), RenderError> {
        let (rich, plain) = (sample_business(true), sample_business(false));
        for (msg, langs) in &self.messages {
            if !langs.contains(FALLBACK) {
                let file = self.origin(&format!("{}/{msg}.j2", langs.first().map_or("?", |l| l.as_str())));
                let problem = format!("has no English version (en/{msg}.j2), the fallback for other locales");
                return Err(RenderError::Incomplete { file, problem });
            }
            for (lang, tone) in langs.iter().flat_map(|l| Tone::ALL.map(|t| (l, t.name()))) {
                let name = format!("{lang}/{msg}.j2");
                let samples = [(&rich, true), (&plain, false), (&rich, false), (&plain, true)];
                for ((business, overdue), b2b) in samples.into_iter().flat_map(|s| [(s, true), (s, false)]) {
                    let facts = Facts { business_customer: b2b, ..sample_facts(msg, tone, lang, business, overdue) };
                    let ctx = Ctx::new(&facts, lang, lang)?;
                    let out = self.render_ctx(&name, &ctx).map_err(|e| match e {
                        RenderError::Template { file, message } => {
                            RenderError::Template { file, message: format!("{message} (sample facts, tone {tone})") }
                        }
                        e => e,
                    })?;
                    self.check_complete(&name, &facts, &ctx, &out)?;
                }
            }
        }
        Ok(())
    }

    /// The start-up check that a message carries the facts every message must carry.
    fn check_complete(&self, name: &str, facts: &Facts, ctx: &Ctx, out: &Rendered) -> Result<(), RenderError> {
        let problem = |p: String| RenderError::Incomplete {
            file: self.origin(name),
            problem: format!("{p} (tone {})", ctx.tone),
        };
        if !out.subject.contains(facts.invoice_number) {
            return Err(problem("the subject does not name the invoice number".into()));
        }
        let required = [
            ("the sender", Some(facts.business.name.as_str())),
            ("the customer's name", Some(facts.customer_name)),
            ("the invoice number", Some(facts.invoice_number)),
            ("the outstanding amount", Some(ctx.outstanding.as_str())),
            ("the due date", Some(ctx.due.as_str())),
            ("the payment link", facts.payment_link),
            // A script is read out by a person: a link is for the written messages.
            ("the link to the customer's page", facts.portal_url.filter(|_| facts.template != "phone-call")),
            ("the deadline", ctx.deadline.as_deref()),
        ];
        for (what, value) in required.iter().filter_map(|(w, v)| Some((w, (*v)?))) {
            if !out.text.contains(value) || !out.html.contains(&html_escape(value)) {
                return Err(problem(format!("the message leaves out {what} ({value:?})")));
            }
        }
        if !facts.business_customer && out.text.contains(&ctx.eu_compensation) {
            let p = "a consumer is charged the fixed compensation for recovery costs, which applies only between \
                businesses; use `{% if business_customer %}`";
            return Err(problem(p.into()));
        }
        Ok(())
    }

    fn origin(&self, name: &str) -> String {
        self.files.get(name).map_or_else(|| name.to_string(), |(o, _)| o.clone())
    }

    /// A minijinja error as a RenderError naming the innermost template file at fault.
    fn error(&self, rendering: &str, err: &minijinja::Error) -> RenderError {
        let mut inner = err;
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cur {
            if let Some(m) = e.downcast_ref::<minijinja::Error>()
                && m.name().is_some()
            {
                inner = m;
            }
            cur = e.source();
        }
        let name = inner.name().unwrap_or(rendering);
        let file = self.origin(name);
        let line = inner.line().unwrap_or(0);
        let snippet = inner.range().and_then(|r| {
            let src = &self.files.get(name)?.1;
            Some(src.get(r)?.trim().to_string())
        });
        match (inner.kind(), snippet) {
            (ErrorKind::UndefinedError, Some(placeholder)) => {
                RenderError::UnknownPlaceholder { file, line, placeholder }
            }
            (ErrorKind::InvalidOperation, Some(placeholder)) if inner.detail() == Some(EMPTY) => {
                RenderError::EmptyValue { file, line, placeholder }
            }
            _ => RenderError::Template {
                file,
                message: if name == rendering { inner.to_string() } else { format!("{inner} (rendering {rendering})") },
            },
        }
    }
}

const EMPTY: &str = "printed an empty value";

fn read_overrides(root: &Path, dir: &Path, files: &mut BTreeMap<String, (String, String)>) -> Result<(), RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    let mut entries = std::fs::read_dir(dir).map_err(io(dir))?.collect::<Result<Vec<_>, _>>().map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            read_overrides(root, &path, files)?;
        } else if file_name.ends_with(".j2") {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            let name = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            let source = std::fs::read_to_string(&path).map_err(io(&path))?;
            files.insert(name, (path.display().to_string(), source));
        }
    }
    Ok(())
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct Ctx<'a> {
    template: &'a str,
    tone: &'a str,
    level: usize,
    consequences: bool,
    script: bool,
    lang: String,
    locale: &'a str,
    business: &'a Business,
    customer_name: &'a str,
    invoice_number: &'a str,
    currency: String,
    amount_due: String,
    amount_paid: String,
    outstanding: String,
    partly_paid: bool,
    issued: String,
    due: String,
    today: String,
    deadline: Option<String>,
    overdue: bool,
    days_overdue: i64,
    days_until_due: i64,
    payment_link: Option<&'a str>,
    portal_url: Option<&'a str>,
    business_customer: bool,
    eu_compensation: String,
    instalments: Vec<InstalmentCtx>,
    instalment: Option<InstalmentCtx>,
    fees: Vec<LineCtx>,
    /// The customer's other invoices in this message.
    others: Vec<LineCtx>,
}

impl<'a> Ctx<'a> {
    fn new(f: &Facts<'a>, lang: &str, fmt_locale: &str) -> Result<Self, RenderError> {
        let tone =
            Tone::parse(&f.tone.to_ascii_lowercase()).ok_or_else(|| RenderError::UnknownTone(f.tone.to_string()))?;
        let level = tone.level();
        let currency = f.currency.trim().to_ascii_uppercase();
        if Currency::from_code(&currency).is_none() {
            return Err(RenderError::UnknownCurrency(f.currency.to_string()));
        }
        let fees: i64 = f.extras.fees.iter().map(|(m, _)| m).sum();
        let outstanding = f.amount_due.saturating_add(fees).saturating_sub(f.amount_paid);
        if outstanding <= 0 {
            return Err(RenderError::NothingOutstanding(f.invoice_number.to_string()));
        }
        let money = |m| format_money(m, &currency, fmt_locale);
        let date = |d| format_date(d, fmt_locale);
        let late = (f.today - f.due).num_days();
        let extras = f.extras;
        let instalments = extras.instalments.iter().map(|i| InstalmentCtx {
            number: i.number,
            amount: money(i.amount),
            due: date(i.due),
        });
        let instalment = extras.instalment.map(|(i, left)| InstalmentCtx {
            number: i.number,
            amount: money(left),
            due: date(i.due),
        });
        let fee_lines =
            extras.fees.iter().map(|(m, why)| LineCtx { what: why.to_string(), amount: money(*m), due: None });
        let others = extras.others.iter().map(|(number, m, due)| LineCtx {
            what: number.to_string(),
            amount: money(*m),
            due: Some(date(*due)),
        });
        Ok(Ctx {
            instalments: instalments.collect(),
            instalment,
            fees: fee_lines.collect(),
            others: others.collect(),
            template: f.template,
            tone: tone.name(),
            level,
            consequences: level >= 2,
            script: false,
            lang: lang.to_string(),
            locale: f.locale,
            business: f.business,
            customer_name: f.customer_name,
            invoice_number: f.invoice_number,
            // The total with the fees added since the invoice was issued.
            amount_due: money(f.amount_due.saturating_add(fees)),
            amount_paid: money(f.amount_paid),
            outstanding: money(outstanding),
            partly_paid: f.amount_paid > 0 || fees != 0,
            currency,
            issued: date(f.issued),
            due: date(f.due),
            today: date(f.today),
            deadline: f.deadline.map(date),
            overdue: late > 0,
            days_overdue: late.max(0),
            days_until_due: (-late).max(0),
            payment_link: f.payment_link.map(str::trim).filter(|l| !l.is_empty()),
            portal_url: f.portal_url,
            business_customer: f.business_customer,
            eu_compensation: format_amount(40, 0, "EUR", fmt_locale),
        })
    }
}

/// Tidy the text part: no trailing spaces or indentation, one blank line between blocks.
fn normalize(raw: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in raw.lines().map(str::trim) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

mod html;
mod locale;
mod samples;
use html::{html_escape, text_to_html};
use locale::{format_amount, split_locale};
pub(crate) use locale::{format_date, format_money};
use samples::{sample_business, sample_facts};

#[cfg(test)]
mod tests;
