//! Money and dates as a reader in the customer's locale writes them.

use chrono::NaiveDate;
use iso_currency::{Country, Currency};

use super::FALLBACK;

/// Language subtag (lowercase) and region subtag (uppercase) of a BCP 47 locale.
pub(super) fn split_locale(locale: &str) -> (String, Option<String>) {
    let mut parts = locale.split(['-', '_']).filter(|p| !p.is_empty());
    let lang = parts.next().unwrap_or(FALLBACK).to_ascii_lowercase();
    let region = parts
        .find(|p| {
            (p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()))
                || (p.len() == 3 && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|p| p.to_ascii_uppercase());
    (lang, region)
}

/// Symbols several currencies share: shown only where the currency is the local one.
const SHARED_SYMBOLS: &[&str] = &["$", "£", "¥", "₣", "₨", "₩", "₱", "ƒ", "¤"];

fn currency_symbol(cur: Option<Currency>, code: &str, region: Option<&str>) -> String {
    let Some(cur) = cur else { return code.to_string() };
    match code {
        "EUR" => return "€".into(),
        "GBP" => return "£".into(),
        "JPY" => return "¥".into(),
        "CNY" => return "CN¥".into(),
        "CHF" => return "CHF".into(),
        _ => {}
    }
    let sym = cur.symbol().symbol;
    let local =
        region.and_then(|r| r.parse::<Country>().ok()).is_some_and(|c| Currency::from_country(c).contains(&cur));
    let foreign_letters = sym.chars().any(|c| c.is_alphabetic() && !c.is_ascii());
    let letters = sym.chars().any(char::is_alphabetic);
    if sym.is_empty() || foreign_letters || (!local && (letters || SHARED_SYMBOLS.contains(&sym.as_str()))) {
        code.to_string()
    } else {
        sym
    }
}

/// An amount in minor units, formatted for the locale: "1.250,00 €" (it), "€1,250.00" (en),
/// "1 250,00 €" (fr). Exponent and symbol from ISO 4217; an unknown code is shown as is.
pub(crate) fn format_money(minor: i64, currency: &str, locale: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let exp = Currency::from_code(&code).map_or(2, |c| c.exponent().unwrap_or(0));
    format_amount(minor, u32::from(exp), &code, locale)
}

/// `minor` with `exp` decimals, in currency `code` (upper case), for the locale.
pub(super) fn format_amount(minor: i64, exp: u32, code: &str, locale: &str) -> String {
    let cur = Currency::from_code(code);
    let (lang, region) = split_locale(locale);
    let region = region.as_deref();
    let swiss = matches!(region, Some("CH" | "LI"));
    // (grouping, decimal, symbol before the number)
    let (group, decimal, prefix) = match lang.as_str() {
        "it" | "de" if swiss => ("’", ".", true),
        "it" | "de" => (".", ",", region == Some("AT")),
        "fr" => ("\u{202f}", ",", false),
        "es" if matches!(region, Some("MX" | "US" | "PR" | "DO" | "GT" | "HN" | "NI" | "PA" | "PE" | "SV" | "419")) => {
            (",", ".", true)
        }
        "es" => (".", ",", false),
        _ => (",", ".", true),
    };
    let symbol = currency_symbol(cur, code, region);
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(exp);
    let units = (abs / scale).to_string();
    let mut number = String::new();
    for (i, ch) in units.chars().enumerate() {
        if i > 0 && (units.len() - i).is_multiple_of(3) {
            number.push_str(group);
        }
        number.push(ch);
    }
    if exp > 0 {
        number.push_str(decimal);
        number.push_str(&format!("{:0width$}", abs % scale, width = exp as usize));
    }
    let sign = if minor < 0 { "-" } else { "" };
    // A symbol made of letters ("CHF", "USD") takes a space; so does any symbol before the
    // number in German and Italian ("€ 1.250,00" in Austria); "€1,250.00" in English.
    let spaced = symbol.chars().any(char::is_alphabetic) || matches!(lang.as_str(), "it" | "de");
    if prefix {
        let gap = if spaced { "\u{a0}" } else { "" };
        format!("{sign}{symbol}{gap}{number}")
    } else {
        format!("{sign}{number}\u{a0}{symbol}")
    }
}

/// Month names by language, space-separated.
const MONTHS: [(&str, &str); 5] = [
    ("it", "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre"),
    ("en", "January February March April May June July August September October November December"),
    ("fr", "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"),
    ("de", "Januar Februar März April Mai Juni Juli August September Oktober November Dezember"),
    ("es", "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"),
];

/// A date written out for the locale: "1 ottobre 2026", "1 October 2026" (en-GB),
/// "October 1, 2026" (en-US), "1. Oktober 2026", "1er octobre 2026", "1 de octubre de 2026".
pub(crate) fn format_date(date: NaiveDate, locale: &str) -> String {
    use chrono::Datelike;
    let (lang, region) = split_locale(locale);
    let (lang, months) = MONTHS.iter().find(|(l, _)| *l == lang).copied().unwrap_or(MONTHS[1]);
    let (d, y) = (date.day(), date.year());
    let month = months.split(' ').nth(date.month0() as usize).unwrap_or_default();
    match (lang, region.as_deref()) {
        ("de", Some("AT")) if date.month() == 1 => format!("{d}. Jänner {y}"),
        ("de", _) => format!("{d}. {month} {y}"),
        ("fr", _) if d == 1 => format!("1er {month} {y}"),
        ("es", _) => format!("{d} de {month} de {y}"),
        ("en", None | Some("US" | "CA" | "PH" | "PR" | "GU" | "AS" | "VI" | "UM" | "MP")) => {
            format!("{month} {d}, {y}")
        }
        _ => format!("{d} {month} {y}"),
    }
}
