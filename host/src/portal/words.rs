//! The words of the customer's page in its five languages, and the
//! business's own where it replaces some (`[portal] words_dir`, files
//! `portal-{lang}.toml` with any of the built-in keys).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// A language's words: key -> text.
pub(crate) type Words = HashMap<String, String>;

/// The page's languages, English the fallback: (language, words).
pub(crate) const LANGUAGES: [(&str, &str); 5] = [
    ("en", include_str!("../../ui/i18n/portal-en.toml")),
    ("it", include_str!("../../ui/i18n/portal-it.toml")),
    ("fr", include_str!("../../ui/i18n/portal-fr.toml")),
    ("de", include_str!("../../ui/i18n/portal-de.toml")),
    ("es", include_str!("../../ui/i18n/portal-es.toml")),
];

/// The language of a locale the page speaks (`it-IT` -> `it`), else English.
pub(crate) fn language(locale: &str) -> &'static str {
    let lang = locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    LANGUAGES.iter().map(|(l, _)| *l).find(|l| *l == lang).unwrap_or("en")
}

/// The built-in words of a locale's language.
pub(crate) fn built_in(locale: &str) -> &'static Words {
    static WORDS: OnceLock<HashMap<&'static str, Words>> = OnceLock::new();
    let all = WORDS.get_or_init(|| {
        LANGUAGES.iter().map(|(l, text)| (*l, toml::from_str::<Words>(text).expect("the page's words parse"))).collect()
    });
    &all[language(locale)]
}

/// The business's words, per language.
#[derive(Default)]
pub(crate) struct Overrides(HashMap<&'static str, Words>);

impl Overrides {
    /// Reads `portal-{lang}.toml` of each language present in `dir`; a key the page does not have is refused.
    pub(crate) fn read(dir: &Path) -> Result<Overrides, String> {
        let mut out = HashMap::new();
        for (lang, _) in LANGUAGES {
            let file = dir.join(format!("portal-{lang}.toml"));
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let words: Words = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if let Some(unknown) = words.keys().find(|k| !built_in("en").contains_key(*k)) {
                return Err(format!("{}: the page has no word {unknown:?}", file.display()));
            }
            out.insert(lang, words);
        }
        Ok(Overrides(out))
    }

    /// A locale's words, the business's over the built-in ones.
    pub(crate) fn words(&self, locale: &str) -> Cow<'static, Words> {
        let base = built_in(locale);
        match self.0.get(language(locale)) {
            None => Cow::Borrowed(base),
            Some(own) => Cow::Owned(base.iter().map(|(k, v)| (k.clone(), own.get(k).unwrap_or(v).clone())).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_business_replaces_words_it_names_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("portal-it.toml"), "hello = \"Gentile\"\n").unwrap();
        let own = Overrides::read(dir.path()).unwrap();
        assert_eq!(own.words("it-IT")["hello"], "Gentile");
        assert_eq!(own.words("it-IT")["invoice"], "Fattura");
        assert_eq!(own.words("en-GB")["hello"], "Hello");
        std::fs::write(dir.path().join("portal-de.toml"), "helo = \"Hallo\"\n").unwrap();
        let refused = Overrides::read(dir.path()).err().unwrap();
        assert!(refused.contains("portal-de.toml") && refused.contains("\"helo\""), "{refused}");
    }

    #[test]
    fn every_language_has_every_word_of_the_english_page() {
        let english = built_in("en");
        for (lang, _) in LANGUAGES {
            let t = built_in(lang);
            let missing: Vec<&String> = english.keys().filter(|k| !t.contains_key(*k)).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            assert_eq!(t.len(), english.len(), "{lang} has words English has not");
        }
        assert_eq!((language("de-AT"), language("pt-BR"), language("")), ("de", "en", "en"));
    }
}
