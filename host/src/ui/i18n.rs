//! The viewer's language and locale, from `Accept-Language`: the words in
//! Italian or English, money and dates as the viewer writes them.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{HeaderMap, header};
use chrono::NaiveDate;

type Words = BTreeMap<String, String>;

fn words_of(lang: &str) -> &'static Words {
    static EN: OnceLock<Words> = OnceLock::new();
    static IT: OnceLock<Words> = OnceLock::new();
    let parse = |text: &str| toml::from_str::<Words>(text).expect("the dashboard's words parse");
    match lang {
        "it" => IT.get_or_init(|| parse(include_str!("../../ui/i18n/it.toml"))),
        _ => EN.get_or_init(|| parse(include_str!("../../ui/i18n/en.toml"))),
    }
}

/// Who reads the page: the language of its words and the locale of its numbers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Viewer {
    lang: &'static str,
    /// A BCP 47 tag, as the browser sent it ("it-IT", "en-GB").
    locale: String,
}

impl Viewer {
    /// The first language of `Accept-Language`, by weight, that the dashboard
    /// speaks; English when none is.
    pub(crate) fn of(headers: &HeaderMap) -> Viewer {
        let header = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        Viewer::from_accept_language(header)
    }

    pub(crate) fn from_accept_language(header: &str) -> Viewer {
        let mut ranges: Vec<(f32, usize, &str)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                let tag_ok = !tag.is_empty()
                    && tag.len() <= 35
                    && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                (tag_ok && q > 0.0).then_some((q, i, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, tag) in ranges {
            let lang = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
            if let Some(lang) = ["it", "en"].into_iter().find(|l| *l == lang) {
                return Viewer { lang, locale: tag.to_string() };
            }
        }
        Viewer { lang: "en", locale: "en-GB".into() }
    }

    pub(crate) fn lang(&self) -> &'static str {
        self.lang
    }

    pub(crate) fn words(&self) -> &'static Words {
        words_of(self.lang)
    }

    /// One word by key; the key itself if it is missing (a test keeps them all there).
    pub(crate) fn word(&self, key: &str) -> String {
        self.words().get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    pub(crate) fn money(&self, minor: i64, currency: &str) -> String {
        crate::render::format_money(minor, currency, &self.locale)
    }

    pub(crate) fn date(&self, date: NaiveDate) -> String {
        crate::render::format_date(date, &self.locale)
    }

    /// A moment, as a date and a UTC time.
    pub(crate) fn moment(&self, unix: i64) -> String {
        match chrono::DateTime::from_timestamp(unix, 0) {
            Some(t) => format!("{} {} UTC", self.date(t.date_naive()), t.format("%H:%M")),
            None => "-".into(),
        }
    }

    /// A number of days with one decimal, the locale's decimal mark.
    pub(crate) fn days(&self, days: f64) -> String {
        let text = format!("{days:.1}");
        if self.lang == "it" { text.replace('.', ",") } else { text }
    }

    /// A share as a percentage with one decimal, the locale's decimal mark.
    pub(crate) fn percent(&self, share: f64) -> String {
        let text = format!("{:.1}%", share * 100.0);
        if self.lang == "it" { text.replace('.', ",") } else { text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_spoken_language_by_weight_is_chosen() {
        let lang = |h: &str| Viewer::from_accept_language(h).lang;
        assert_eq!(lang("it-IT,it;q=0.9,en;q=0.8"), "it");
        assert_eq!(lang("de-DE,en-US;q=0.7,it;q=0.5"), "en");
        assert_eq!(lang("en;q=0.4,it;q=0.8"), "it");
        assert_eq!(lang("fr, de"), "en");
        assert_eq!(lang(""), "en");
        assert_eq!(lang("it;q=0"), "en");
        assert_eq!(lang("<script>,it"), "it");
        assert_eq!(Viewer::from_accept_language("it-CH").locale, "it-CH");
    }

    #[test]
    fn money_and_dates_follow_the_viewers_locale() {
        let it = Viewer::from_accept_language("it-IT");
        let en = Viewer::from_accept_language("en-GB");
        assert_eq!(it.money(125_000, "EUR"), "1.250,00\u{a0}€");
        assert_eq!(en.money(125_000, "EUR"), "€1,250.00");
        let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert_eq!(it.date(day), "1 ottobre 2026");
        assert_eq!(en.date(day), "1 October 2026");
        assert_eq!(it.percent(0.061), "6,1%");
        assert_eq!(en.percent(0.061), "6.1%");
    }

    #[test]
    fn both_languages_have_every_word() {
        let (en, it) = (words_of("en"), words_of("it"));
        let missing: Vec<&String> = en.keys().filter(|k| !it.contains_key(*k)).collect();
        let extra: Vec<&String> = it.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "missing in it: {missing:?}; only in it: {extra:?}");
        for kind in crate::event::EventKind::ALL {
            assert!(en.contains_key(&kind.label_key()), "no label for the event {kind}");
        }
    }
}
