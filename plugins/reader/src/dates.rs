//! The days a reply names, as written: "il 20 dicembre", "bis zum 15.1.",
//! "next Friday", "20/12", "fine mese", "tomorrow". A date written without
//! its month or year is placed by what is being said: a promise looks
//! forward from the day the reply was written, a payment made looks back.

use crate::day::Day;
use crate::text::Token;

/// A date named in the text, not yet placed in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Full(Day),
    DayMonth(u32, u32),
    DayOnly(u32),
    /// Monday 0 ... Sunday 6.
    Weekday(u32),
    /// Days from the day it was written.
    Relative(i64),
    EndOfMonth,
    NextWeek,
}

/// Which way an incomplete date is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looking {
    /// On or after the day written (a promise).
    Forward,
    /// On or before it (a payment made).
    Back,
}

/// A date and the token it begins at.
pub type Found = (usize, Day);

const MONTHS: &[(&str, u32)] = &[
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("marzo", 3),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("agosto", 8),
    ("settembre", 9),
    ("ottobre", 10),
    ("novembre", 11),
    ("dicembre", 12),
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // French
    ("janvier", 1),
    ("fevrier", 2),
    ("mars", 3),
    ("avril", 4),
    ("mai", 5),
    ("juin", 6),
    ("juillet", 7),
    ("aout", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("decembre", 12),
    // German
    ("januar", 1),
    ("jaenner", 1),
    ("februar", 2),
    ("marz", 3),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
];

const WEEKDAYS: &[(&str, u32)] = &[
    ("lunedi", 0),
    ("martedi", 1),
    ("mercoledi", 2),
    ("giovedi", 3),
    ("venerdi", 4),
    ("sabato", 5),
    ("domenica", 6),
    ("monday", 0),
    ("tuesday", 1),
    ("wednesday", 2),
    ("thursday", 3),
    ("friday", 4),
    ("saturday", 5),
    ("sunday", 6),
    ("lundi", 0),
    ("mardi", 1),
    ("mercredi", 2),
    ("jeudi", 3),
    ("vendredi", 4),
    ("samedi", 5),
    ("dimanche", 6),
    ("montag", 0),
    ("dienstag", 1),
    ("mittwoch", 2),
    ("donnerstag", 3),
    ("freitag", 4),
    ("samstag", 5),
    ("sonntag", 6),
    ("lunes", 0),
    ("martes", 1),
    ("miercoles", 2),
    ("jueves", 3),
    ("viernes", 4),
    ("sabado", 5),
    ("domingo", 6),
];

/// Words (or phrases) for a day counted from the day written.
const RELATIVE: &[(&str, i64)] = &[
    ("dopodomani", 2),
    ("day after tomorrow", 2),
    ("apres - demain", 2),
    ("apres demain", 2),
    ("ubermorgen", 2),
    ("pasado manana", 2),
    ("domani", 1),
    ("tomorrow", 1),
    ("demain", 1),
    ("morgen", 1),
    ("manana", 1),
    ("oggi", 0),
    ("today", 0),
    ("aujourd ' hui", 0),
    ("heute", 0),
    ("hoy", 0),
    ("ieri", -1),
    ("yesterday", -1),
    ("hier", -1),
    ("gestern", -1),
    ("ayer", -1),
];

const END_OF_MONTH: &[&str] = &[
    "fine mese",
    "fine del mese",
    "end of the month",
    "end of month",
    "fin du mois",
    "fin de mois",
    "ende des monats",
    "monatsende",
    "ende monat",
    "final de mes",
    "fin de mes",
    "final del mes",
    "fin del mes",
];

const NEXT_WEEK: &[&str] = &[
    "prossima settimana",
    "settimana prossima",
    "next week",
    "semaine prochaine",
    "nachste woche",
    "nachsten woche",
    "proxima semana",
    "semana que viene",
];

/// Words before a bare day of the month ("il 20", "am 15.", "by the 20th").
const BEFORE_A_DAY: &[&str] = &["il", "entro", "le", "am", "zum", "el", "the", "on", "by", "del", "dal", "au", "bis"];

/// Words after a number that make it something other than a day.
const NOT_A_DAY_AFTER: &[&str] = &[
    "euro",
    "euros",
    "eur",
    "giorni",
    "days",
    "jours",
    "tage",
    "tagen",
    "dias",
    "fatture",
    "invoices",
    "factures",
    "rechnungen",
    "facturas",
    "ore",
    "hours",
    "heures",
    "uhr",
    "horas",
    "h",
];

/// Every date the text names, placed as `looking` says, in the order written.
pub fn dates(tokens: &[Token], written: Day, month_first: bool, looking: Looking) -> Vec<Found> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match named_at(tokens, i, month_first) {
            Some((named, used)) => {
                if let Some(day) = place(named, written, looking) {
                    found.push((i, day));
                }
                i += used;
            }
            None => i += 1,
        }
    }
    found
}

fn word(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Word(w)) => Some(w),
        _ => None,
    }
}

fn number(tokens: &[Token], i: usize) -> Option<(u32, usize)> {
    match tokens.get(i) {
        Some(Token::Number(n, d)) => Some((*n, *d)),
        _ => None,
    }
}

fn sign(tokens: &[Token], i: usize, among: &[char]) -> bool {
    matches!(tokens.get(i), Some(Token::Sign(c)) if among.contains(c))
}

fn month(tokens: &[Token], i: usize) -> Option<u32> {
    let w = word(tokens, i)?;
    MONTHS.iter().find(|(name, _)| *name == w).map(|(_, m)| *m)
}

fn year(value: u32, digits: usize) -> Option<i32> {
    match digits {
        4 if (2000..2100).contains(&value) => Some(value as i32),
        2 => Some(2000 + value as i32),
        _ => None,
    }
}

/// An English ordinal's ending, or a German/Italian ordinal's dot or sign.
fn ordinal_mark(tokens: &[Token], i: usize) -> usize {
    match tokens.get(i) {
        Some(Token::Word(w)) if ["st", "nd", "rd", "th", "er", "o"].contains(&w.as_str()) => 1,
        Some(Token::Sign('°' | 'º' | '.')) => 1,
        _ => 0,
    }
}

/// The date named at token `i`, and how many tokens it takes.
fn named_at(tokens: &[Token], i: usize, month_first: bool) -> Option<(Named, usize)> {
    if let Some((n, digits)) = number(tokens, i) {
        return numeric_at(tokens, i, (n, digits), month_first);
    }
    let w = word(tokens, i)?;
    // "December 20(th)(, 2026)"
    if let (Some(m), Some((d, _))) = (month(tokens, i), number(tokens, i + 1)) {
        let mut used = 2 + ordinal_mark(tokens, i + 2);
        let comma = usize::from(sign(tokens, i + used, &[',']));
        if let Some(y) = number(tokens, i + used + comma).and_then(|(v, n)| year(v, n)) {
            used += comma + 1;
            return Some((Named::Full(Day::new(y, m, d)?), used));
        }
        return Some((Named::DayMonth(d, m), used));
    }
    if let Some((_, d)) = WEEKDAYS.iter().find(|(name, _)| *name == w) {
        return Some((Named::Weekday(*d), 1));
    }
    let words = |phrase: &str| phrase.split(' ').count();
    if let Some((phrase, days)) = RELATIVE.iter().find(|(p, _)| crate::text::at(tokens, i, p)) {
        return Some((Named::Relative(*days), words(phrase)));
    }
    if let Some(phrase) = END_OF_MONTH.iter().find(|p| crate::text::at(tokens, i, p)) {
        return Some((Named::EndOfMonth, words(phrase)));
    }
    if let Some(phrase) = NEXT_WEEK.iter().find(|p| crate::text::at(tokens, i, p)) {
        return Some((Named::NextWeek, words(phrase)));
    }
    // "il 20", "am 15.", "by the 20th": a bare day of the month.
    if BEFORE_A_DAY.contains(&w) {
        let at = i + 1 + usize::from(word(tokens, i + 1) == Some("the"));
        let (d, digits) = number(tokens, at)?;
        let after = at + 1 + ordinal_mark(tokens, at + 1);
        // "il 20 dicembre" and "el 20 de diciembre" are read whole where the number is.
        let followed = match tokens.get(after) {
            None => false,
            Some(Token::Word(w)) => {
                NOT_A_DAY_AFTER.contains(&w.as_str())
                    || month(tokens, after).is_some()
                    || (["de", "of"].contains(&w.as_str()) && month(tokens, after + 1).is_some())
            }
            Some(Token::Number(..)) => true,
            Some(Token::Sign(c)) => ['/', '%', '€', '$', '-'].contains(c),
        };
        if digits <= 2 && (1..=31).contains(&d) && !followed && !sign(tokens, at + 1, &['/', '-', ':']) {
            return Some((Named::DayOnly(d), after - i));
        }
    }
    None
}

/// "2026-12-20", "20/12(/2026)", "15.1.", "20 dicembre (2026)", "20 de diciembre".
fn numeric_at(tokens: &[Token], i: usize, (n, digits): (u32, usize), month_first: bool) -> Option<(Named, usize)> {
    if let (Some(y), true) = (year(n, digits).filter(|_| digits == 4), sign(tokens, i + 1, &['-'])) {
        let (m, _) = number(tokens, i + 2)?;
        let (d, _) = number(tokens, i + 4).filter(|_| sign(tokens, i + 3, &['-']))?;
        return Some((Named::Full(Day::new(y, m, d)?), 5));
    }
    if digits > 2 {
        return None;
    }
    if sign(tokens, i + 1, &['/', '.', '-'])
        && let Some((second, second_digits)) = number(tokens, i + 2)
        && second_digits <= 2
    {
        let (d, m) = if month_first { (second, n) } else { (n, second) };
        // A decimal amount ("3.12 €", "1.500") is no date.
        if sign(tokens, i + 3, &['€', '%']) || matches!(word(tokens, i + 3), Some("euro" | "eur")) {
            return None;
        }
        let mut used = 3;
        if sign(tokens, i + 3, &['/', '.', '-'])
            && let Some(y) = number(tokens, i + 4).and_then(|(v, n)| year(v, n))
        {
            return Some((Named::Full(Day::new(y, m, d)?), 5));
        }
        if sign(tokens, i + 3, &['.']) {
            used = 4;
        }
        Day::new(2024, m, d)?;
        return Some((Named::DayMonth(d, m), used));
    }
    // "20 dicembre", "15. Januar", "20th of December", "20 de diciembre"
    let mut at = i + 1 + ordinal_mark(tokens, i + 1);
    if matches!(word(tokens, at), Some("de" | "of")) {
        at += 1;
    }
    let m = month(tokens, at)?;
    let mut used = at + 1 - i;
    let de = usize::from(matches!(word(tokens, at + 1), Some("de")));
    if let Some(y) = number(tokens, at + 1 + de).and_then(|(v, n)| year(v, n).filter(|_| n == 4)) {
        used += de + 1;
        return Some((Named::Full(Day::new(y, m, n)?), used));
    }
    Some((Named::DayMonth(n, m), used))
}

/// Where a named date falls, counted from the day written.
fn place(named: Named, written: Day, looking: Looking) -> Option<Day> {
    let forward = looking == Looking::Forward;
    Some(match named {
        Named::Full(day) => day,
        Named::DayMonth(d, m) => {
            let this_year = Day::new(written.year, m, d);
            match (this_year, forward) {
                (Some(day), true) if day >= written => day,
                (Some(day), false) if day <= written => day,
                (_, true) => Day::new(written.year + 1, m, d)?,
                (_, false) => Day::new(written.year - 1, m, d)?,
            }
        }
        Named::DayOnly(d) => match (Day::new(written.year, written.month, d), forward) {
            (Some(day), true) if day >= written => day,
            (Some(day), false) if day <= written => day,
            (_, true) => written.month_shifted(1, d)?,
            (_, false) => written.month_shifted(-1, d)?,
        },
        Named::Weekday(w) => {
            let today = i64::from(written.weekday());
            let ahead = (i64::from(w) - today).rem_euclid(7);
            match forward {
                true => written.add(if ahead == 0 { 7 } else { ahead }),
                false => written.add(-(today - i64::from(w)).rem_euclid(7)),
            }
        }
        Named::Relative(days) => written.add(days),
        Named::EndOfMonth => written.end_of_month(),
        // By the end of next week: its Friday.
        Named::NextWeek => written.add(7 - i64::from(written.weekday()) + 4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{fold, tokens};

    /// Sunday 6 December 2026.
    fn sunday() -> Day {
        Day::new(2026, 12, 6).unwrap()
    }

    fn first(text: &str, looking: Looking) -> Option<Day> {
        dates(&tokens(&fold(text)), sunday(), false, looking).first().map(|(_, d)| *d)
    }

    fn day(y: i32, m: u32, d: u32) -> Option<Day> {
        Day::new(y, m, d)
    }

    #[test]
    fn dates_as_people_write_them() {
        use Looking::{Back, Forward};
        assert_eq!(first("pagheremo il 20 dicembre", Forward), day(2026, 12, 20));
        assert_eq!(first("pagheremo il 20", Forward), day(2026, 12, 20));
        assert_eq!(first("pagheremo il 3", Forward), day(2027, 1, 3), "the 3rd has passed: next month's");
        assert_eq!(first("bonifico del 3/12", Back), day(2026, 12, 3));
        assert_eq!(first("bis zum 15.1.", Forward), day(2027, 1, 15));
        assert_eq!(first("bis zum 15. Januar", Forward), day(2027, 1, 15));
        assert_eq!(first("next Friday", Forward), day(2026, 12, 11));
        assert_eq!(first("vendredi prochain", Forward), day(2026, 12, 11));
        assert_eq!(first("el 20 de diciembre", Forward), day(2026, 12, 20));
        assert_eq!(first("el 5 de febrero", Forward), day(2027, 2, 5));
        assert_eq!(first("après-demain", Forward), day(2026, 12, 8));
        assert_eq!(first("by December 20th, 2026", Forward), day(2026, 12, 20));
        assert_eq!(first("on 2027-01-08", Forward), day(2027, 1, 8));
        assert_eq!(first("entro fine mese", Forward), day(2026, 12, 31));
        assert_eq!(first("domani", Forward), day(2026, 12, 7));
        assert_eq!(first("gestern überwiesen", Back), day(2026, 12, 5));
        assert_eq!(first("la semaine prochaine", Forward), day(2026, 12, 11));
        assert_eq!(first("20/12/2026", Forward), day(2026, 12, 20));
        assert_eq!(first("il 20% di sconto", Forward), None);
        assert_eq!(first("pagheremo 3.12 €", Forward), None);
        assert_eq!(first("the 40 euros", Forward), None);
        assert_eq!(first("il 31/02", Forward), None, "no such day");
    }

    #[test]
    fn month_first_where_the_customer_writes_so() {
        let t = tokens(&fold("by 1/15"));
        assert_eq!(dates(&t, sunday(), true, Looking::Forward).first().map(|f| f.1), day(2027, 1, 15));
    }
}
