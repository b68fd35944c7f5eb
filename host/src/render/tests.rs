//! Unit tests of the renderer.

use super::*;

const LOCALES: [(&str, &str); 5] =
    [("it", "it-IT"), ("en", "en-GB"), ("fr", "fr-FR"), ("de", "de-DE"), ("es", "es-ES")];
/// The card-number warning, in each language (the email and the call-script forms both contain it).
const CARD_WARNING: [(&str, &str); 5] = [
    ("it", "numeri di carta via email"),
    ("en", "card numbers by email"),
    ("fr", "numéros de carte par e-mail"),
    ("de", "Kartennummern niemals per E-Mail"),
    ("es", "números de tarjeta por correo electrónico"),
];

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn business() -> Business {
    Business {
        name: "Officine Rossi Srl".into(),
        email: "amministrazione@rossi.example".into(),
        phone: Some("+39 02 1234 5678".into()),
        address: Some("Via Roma 10, 20121 Milano".into()),
        website: None,
        payment_methods: vec!["bonifico IBAN IT60X0542811101000000123456".into()],
    }
}

fn facts<'a>(template: &'a str, tone: &'a str, locale: &'a str, b: &'a Business) -> Facts<'a> {
    Facts {
        template,
        tone,
        locale,
        business: b,
        customer_name: "Bianchi & Figli <Sas>",
        invoice_number: "FT-2026/0187",
        currency: "EUR",
        amount_due: 125_000,
        amount_paid: 20_000,
        issued: d(2026, 8, 17),
        due: d(2026, 9, 16),
        today: d(2026, 10, 1),
        payment_link: Some("https://pay.rossi.example/i/FT-2026-0187?x=1&y=2"),
        portal_url: Some("https://pay.rossi.example/p/abc.def.ghi"),
        deadline: Some(d(2026, 10, 8)),
        business_customer: true,
        extras: Extras::default(),
    }
}

/// The consequence paragraph of each kind (invoice, service, suspended service) at `tone`.
fn consequences(r: &Renderer, f: &Facts, lang: &str, script: bool) -> Vec<String> {
    let mut ctx = Ctx::new(f, lang, f.locale).unwrap();
    ctx.script = script;
    ["t.consequences()", "t.service_consequences()", "t.service_consequences(suspended=true)"]
        .iter()
        .map(|call| {
            let src = format!("{{% import \"{lang}/_common.j2\" as t %}}{{{{ {call} }}}}");
            normalize(&r.env.render_str(&src, &ctx).unwrap())
        })
        .collect()
}

#[test]
fn every_message_in_every_language_and_tone_carries_the_facts() {
    let r = Renderer::new(None).unwrap();
    let b = business();
    assert_eq!(r.templates().len(), 16);
    for template in r.templates() {
        for (lang, locale) in LOCALES {
            // Messages not yet written in a language come in English (`other_locales_fall_back_to_english`).
            if !r.languages(&template).iter().any(|l| l == lang) {
                continue;
            }
            let card = CARD_WARNING.iter().find(|(l, _)| *l == lang).unwrap().1;
            for (level, tone) in Tone::ALL.map(Tone::name).iter().enumerate() {
                let f = facts(&template, tone, locale, &b);
                let out = r.render(&f).unwrap();
                let what = format!("{lang}/{template} {tone}");
                assert_eq!(out.language, lang);
                assert!(out.subject.contains("FT-2026/0187"), "{what}: {}", out.subject);
                let fixed = "FT-2026/0187|Bianchi & Figli <Sas>|Officine Rossi Srl|amministrazione@rossi.example|\
                    +39 02 1234 5678|https://pay.rossi.example/i/FT-2026-0187?x=1&y=2|IT60X0542811101000000123456|15";
                let mut needles: Vec<String> = fixed.split('|').map(String::from).collect();
                needles.extend([105_000, 125_000, 20_000].map(|m| format_money(m, "EUR", locale)));
                needles.extend([f.due, d(2026, 10, 8)].map(|x| format_date(x, locale)));
                needles.push(card.to_string());
                for needle in &needles {
                    assert!(out.text.contains(needle), "{what}: text lacks {needle:?}\n{}", out.text);
                    assert!(out.html.contains(&html_escape(needle)), "{what}: html lacks {needle:?}");
                }
                assert!(!out.html.contains("<Sas>") && out.html.contains("Bianchi &amp; Figli &lt;Sas&gt;"));
                assert!(out.html.contains("<a href=\"https://pay.rossi.example/i/FT-2026-0187?x=1&amp;y=2\">"));
                let script = template == "phone-call";
                let found = (2..5).any(|l| {
                    let g = facts(&template, Tone::ALL[l].name(), locale, &b);
                    consequences(&r, &g, lang, script).iter().any(|c| out.text.contains(c.as_str()))
                });
                let expected = consequences(&r, &f, lang, script);
                if level >= 2 {
                    assert!(
                        expected.iter().any(|c| c.len() > 40 && out.text.contains(c.as_str())),
                        "{what}: no consequences"
                    );
                } else {
                    assert!(!found, "{what}: consequences at a mild tone\n{}", out.text);
                }
            }
        }
    }
}

#[test]
fn only_a_business_is_claimed_interest_and_the_fixed_compensation() {
    let r = Renderer::new(None).unwrap();
    let b = business();
    let firm =
        [("overdue-firm", "firm"), ("final-notice", "final"), ("formal-notice", "formal"), ("phone-call", "final")];
    for (lang, locale) in LOCALES {
        let fee = format_amount(40, 0, "EUR", locale);
        for (template, tone) in firm {
            let what = format!("{lang}/{template} {tone}");
            let b2b = r.render(&facts(template, tone, locale, &b)).unwrap();
            assert!(b2b.text.contains(&fee), "{what}: a business is not told of the {fee:?}\n{}", b2b.text);
            assert!(b2b.html.contains(&html_escape(&fee)), "{what}: html lacks {fee:?}");
            let f = Facts { business_customer: false, ..facts(template, tone, locale, &b) };
            let consumer = r.render(&f).unwrap();
            for needle in [fee.as_str(), "2011/7", "231/2002"] {
                assert!(!consumer.text.contains(needle), "{what}: a consumer is claimed {needle:?}\n{}", consumer.text);
                assert!(!consumer.html.contains(needle), "{what}: html claims {needle:?}");
            }
            let graded = consequences(&r, &f, lang, template == "phone-call");
            assert!(consumer.text.contains(graded[0].as_str()), "{what}: a consumer gets no consequences");
        }
        for (template, b2b) in r.templates().iter().flat_map(|t| [(t, true), (t, false)]) {
            let f = Facts { business_customer: b2b, ..facts(template, "courteous", locale, &b) };
            let out = r.render(&f).unwrap();
            assert!(!out.text.contains(&fee), "{lang}/{template} courteous (business {b2b}) names {fee:?}");
            let f = Facts { business_customer: false, ..facts(template, "formal", locale, &b) };
            assert!(!r.render(&f).unwrap().text.contains(&fee), "{lang}/{template} formal, consumer: names {fee:?}");
        }
    }
}

#[test]
fn days_to_go_before_due_and_plain_amounts_when_unpaid() {
    let r = Renderer::new(None).unwrap();
    let b = Business { phone: None, address: None, payment_methods: vec![], ..business() };
    let f = Facts {
        today: d(2026, 9, 11),
        amount_paid: 0,
        payment_link: None,
        portal_url: None,
        deadline: None,
        ..facts("pre-due", "courteous", "it-IT", &b)
    };
    let out = r.render(&f).unwrap();
    assert!(out.text.contains("(tra 5 giorni)"), "{}", out.text);
    assert!(out.text.contains("1.250,00\u{a0}€") && !out.text.contains("Già pagato"), "{}", out.text);
    assert!(out.text.contains("basta rispondere a questa email"), "{}", out.text);
    let en = r.render(&Facts { locale: "en-GB", template: "overdue-soft", today: d(2026, 9, 17), ..f }).unwrap();
    assert!(en.text.contains("16 September 2026 (1 day overdue)"), "{}", en.text);
}

#[test]
fn money_is_formatted_for_the_locale() {
    let (nb, nnb) = ("\u{a0}", "\u{202f}");
    assert_eq!(format_money(125_000, "EUR", "it-IT"), format!("1.250,00{nb}€"));
    assert_eq!(format_money(125_000, "EUR", "de-DE"), format!("1.250,00{nb}€"));
    assert_eq!(format_money(125_000, "EUR", "fr-FR"), format!("1{nnb}250,00{nb}€"));
    assert_eq!(format_money(125_000, "EUR", "es-ES"), format!("1.250,00{nb}€"));
    assert_eq!(format_money(125_000, "EUR", "en-GB"), "€1,250.00");
    assert_eq!(format_money(120_000, "JPY", "en-US"), "¥120,000");
    assert_eq!(format_money(120_000, "JPY", "it-IT"), format!("120.000{nb}¥"));
    assert_eq!(format_money(120_000, "jpy", "ja-JP"), "¥120,000");
    assert_eq!(format_money(1_250_500, "KWD", "en-GB"), format!("KWD{nb}1,250.500"));
    assert_eq!(format_money(1_250_500, "KWD", "it-IT"), format!("1.250,500{nb}KWD"));
    assert_eq!(format_money(99_900, "USD", "en-US"), "$999.00");
    assert_eq!(format_money(99_900, "USD", "en-GB"), format!("USD{nb}999.00"));
    assert_eq!(format_money(99_900, "NZD", "en-NZ"), "$999.00");
    assert_eq!(format_money(123_456_789, "CHF", "de-CH"), format!("CHF{nb}1’234’567.89"));
    assert_eq!(format_money(125_000, "EUR", "de-AT"), format!("€{nb}1.250,00"));
    assert_eq!(format_money(5, "GBP", "en-GB"), "£0.05");
    assert_eq!(format_money(-125_000, "EUR", "en-IE"), "-€1,250.00");
    assert_eq!(format_money(-125_000, "EUR", "it-IT"), format!("-1.250,00{nb}€"));
    assert!(format_money(i64::MIN, "EUR", "it-IT").starts_with("-92.233.720.368.547.758,08"));
}

#[test]
fn dates_are_written_out_for_the_locale() {
    let oct1 = d(2026, 10, 1);
    assert_eq!(format_date(oct1, "it-IT"), "1 ottobre 2026");
    assert_eq!(format_date(oct1, "en-GB"), "1 October 2026");
    assert_eq!(format_date(oct1, "en-US"), "October 1, 2026");
    assert_eq!(format_date(oct1, "de-DE"), "1. Oktober 2026");
    assert_eq!(format_date(oct1, "fr-FR"), "1er octobre 2026");
    assert_eq!(format_date(d(2026, 10, 15), "fr-CA"), "15 octobre 2026");
    assert_eq!(format_date(oct1, "es-ES"), "1 de octubre de 2026");
    assert_eq!(format_date(d(2027, 1, 5), "de-AT"), "5. Jänner 2027");
    assert_eq!(format_date(oct1, "ja-JP"), "1 October 2026");
    assert_eq!(format_date(oct1, "it_CH"), "1 ottobre 2026");
}

#[test]
fn other_locales_fall_back_to_english() {
    let r = Renderer::new(None).unwrap();
    let b = business();
    let f =
        Facts { currency: "JPY", amount_due: 120_000, amount_paid: 0, ..facts("overdue-soft", "soft", "ja-JP", &b) };
    let out = r.render(&f).unwrap();
    assert_eq!(out.language, "en");
    assert!(out.subject.starts_with("Reminder: invoice FT-2026/0187"), "{}", out.subject);
    assert!(out.text.contains("¥120,000") && out.text.contains("16 September 2026"), "{}", out.text);
    assert!(out.html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
}

fn with_override(files: &[(&str, &str)]) -> Result<Renderer, RenderError> {
    let dir = tempfile::tempdir().unwrap();
    for (path, source) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    Renderer::new(Some(dir.path()))
}

const CUSTOM: &str = "{% extends \"layout.j2\" %}\n{% block subject %}Invoice {{ invoice_number }}: a word from us{% endblock %}\n{% block core %}CUSTOM CORE {{ XX }}{% endblock %}\n";

#[test]
fn an_unknown_placeholder_is_refused_at_start_naming_file_and_placeholder() {
    let err = with_override(&[("en/overdue-soft.j2", &CUSTOM.replace("XX", "unknown_thing"))]).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, RenderError::UnknownPlaceholder { .. }), "{err:?}");
    assert!(msg.contains("en/overdue-soft.j2") && msg.contains("unknown_thing") && msg.contains("line 3"), "{msg}");
    let err = with_override(&[("it/_common.j2", "{% macro greeting() %}{{ customer.name }}{% endmacro %}")]).err();
    assert!(err.unwrap().to_string().contains("it/_common.j2"));
}

#[test]
fn broken_or_incomplete_overrides_are_refused() {
    let syntax = with_override(&[("de/pre-due.j2", "{% if %}")]).err().unwrap().to_string();
    assert!(syntax.contains("de/pre-due.j2") && syntax.contains("syntax error"), "{syntax}");
    let empty = with_override(&[("en/pre-due.j2", &CUSTOM.replace("XX", "business.phone"))]).err().unwrap();
    assert!(
        matches!(empty, RenderError::EmptyValue { ref placeholder, .. } if placeholder == "business.phone"),
        "{empty}"
    );
    let no_number = CUSTOM.replace("Invoice {{ invoice_number }}", "Hello").replace("XX", "tone");
    let err = with_override(&[("en/pre-due.j2", &no_number)]).err().unwrap().to_string();
    assert!(err.contains("subject does not name the invoice"), "{err}");
    let no_layout = "{% block subject %}{{ invoice_number }}{% endblock %}Pay {{ outstanding }}";
    let err = with_override(&[("fr/pre-due.j2", no_layout)]).err().unwrap().to_string();
    assert!(err.contains("fr/pre-due.j2") && err.contains("leaves out"), "{err}");
    let err = with_override(&[("it/grazie.j2", &CUSTOM.replace("XX", "tone"))]).err().unwrap().to_string();
    assert!(err.contains("no English version"), "{err}");
    let fee = CUSTOM.replace("XX", "eu_compensation");
    let err = with_override(&[("en/overdue-firm.j2", &fee)]).err().unwrap().to_string();
    assert!(err.contains("en/overdue-firm.j2") && err.contains("consumer"), "{err}");
    let b2b_only = CUSTOM.replace("{{ XX }}", "{% if business_customer %}{{ eu_compensation }}{% endif %}");
    assert!(with_override(&[("en/overdue-firm.j2", &b2b_only)]).is_ok());
}

#[test]
fn an_override_replaces_a_built_in_and_can_add_a_message() {
    let custom = CUSTOM.replace("XX", "tone");
    let r =
        with_override(&[("en/overdue-soft.j2", &custom), ("en/thank-you.j2", &custom), (".hidden.j2", "{{")]).unwrap();
    assert!(r.templates().contains(&"thank-you".to_string()));
    let b = business();
    let out = r.render(&facts("overdue-soft", "firm", "en-GB", &b)).unwrap();
    assert_eq!(out.subject, "Invoice FT-2026/0187: a word from us");
    assert!(out.text.contains("CUSTOM CORE firm") && out.text.contains("card numbers by email"), "{}", out.text);
    let it = r.render(&facts("overdue-soft", "firm", "it-IT", &b)).unwrap();
    assert!(it.subject.starts_with("Promemoria") && !it.text.contains("CUSTOM"));
    let added = r.render(&facts("thank-you", "soft", "it-IT", &b)).unwrap();
    assert_eq!(added.language, "en");
    assert!(added.text.contains("€1,050.00") && added.text.contains("8 October 2026"), "{}", added.text);
}

#[test]
fn bad_facts_are_errors() {
    let r = Renderer::new(None).unwrap();
    let b = business();
    let f = facts("overdue-soft", "soft", "it-IT", &b);
    assert!(matches!(r.render(&Facts { template: "nope", ..f }), Err(RenderError::UnknownTemplate(_))));
    assert!(matches!(r.render(&Facts { tone: "angry", ..f }), Err(RenderError::UnknownTone(_))));
    assert!(matches!(r.render(&Facts { currency: "XYZ", ..f }), Err(RenderError::UnknownCurrency(_))));
    assert!(matches!(r.render(&Facts { amount_paid: 125_000, ..f }), Err(RenderError::NothingOutstanding(_))));
    let out = r.render(&Facts { template: "phone-call", customer_name: "Evil\r\nBcc: x@y", ..f }).unwrap();
    assert!(!out.subject.contains('\n') && !out.subject.contains('\r'));
    fn shared<T: Send + Sync>() {}
    shared::<Renderer>();
}

#[test]
fn every_built_in_template_passes_the_start_up_check() {
    // `Renderer::new(None)` skips the check at start for speed; it must hold here.
    let renderer = Renderer::new(None).unwrap();
    renderer.check_all().unwrap();
}

#[test]
fn every_message_is_written_in_all_five_languages() {
    // The folder as it is on disk (loaded as an override, so the start-up check runs on
    // every file), then what is built into the binary: a file must be in `BUILTIN` too.
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let on_disk = Renderer::new(Some(&folder)).unwrap();
    let built_in = Renderer::new(None).unwrap();
    let all: BTreeSet<&str> = LANGUAGES.into_iter().collect();
    for (what, r) in [("host/templates/", &on_disk), ("built in (render.rs BUILTIN)", &built_in)] {
        assert_eq!(r.templates().len(), 16, "{what}: {:?}", r.templates());
        for template in r.templates() {
            let langs = r.languages(&template);
            let missing: Vec<_> = all.iter().filter(|l| !langs.iter().any(|x| x == *l)).collect();
            assert!(missing.is_empty(), "{what}: `{template}` has no version in {missing:?}");
        }
    }
}

#[test]
fn the_html_part_escapes_every_word_and_links_addresses() {
    let text = "Scriveteci (a conti@rossi.example), o aprite «https://pay.example/p?a=1&b=2».\nL'importo: <1.000 €> \"netto\".\n\n- una\n- due & tre";
    let expected = concat!(
        "<p style=\"margin:0 0 16px\">Scriveteci (a <a href=\"mailto:conti@rossi.example\">conti@rossi.example</a>),",
        " o aprite «<a href=\"https://pay.example/p?a=1&amp;b=2\">https://pay.example/p?a=1&amp;b=2</a>».<br>\n",
        "L&#x27;importo: &lt;1.000 €&gt; &quot;netto&quot;.</p>\n",
        "<ul style=\"margin:0 0 16px;padding-left:24px\"><li>una</li><li>due &amp; tre</li></ul>\n",
    );
    assert_eq!(text_to_html(text), expected);
    assert_eq!(html_escape("a<b>&'\""), "a&lt;b&gt;&amp;&#x27;&quot;");
}
