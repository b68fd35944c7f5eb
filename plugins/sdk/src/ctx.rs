//! The evaluation context: the time and the policy's settings, typed.

use crate::{Date, Setting, Timestamp};

/// Longest span a `days` setting may hold: a hundred years.
const MAX_DAYS: i64 = 36_500;

/// What a policy knows besides the invoice: when it is and how it is configured.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The evaluation time (the host's tick), seconds since the epoch, UTC.
    pub now: Timestamp,
    /// The UTC date of `now`.
    pub today: Date,
    /// The settings as the host passed them; prefer the typed getters.
    pub settings: Vec<Setting>,
}

impl Ctx {
    pub fn new(now: Timestamp, settings: Vec<Setting>) -> Self {
        Ctx { now, today: Date::of(now), settings }
    }

    /// The raw value of a setting, trimmed; `None` when unset or blank.
    pub fn raw(&self, key: &str) -> Option<&str> {
        // The last occurrence wins, as when a host layers overrides.
        self.settings.iter().rev().find(|s| s.key == key).map(|s| s.value.trim()).filter(|v| !v.is_empty())
    }

    /// A whole number of days (0 to 36500).
    pub fn days(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => parse_days(v).ok_or_else(|| bad(key, v, "a number of days (0-36500)")),
        }
    }

    /// Any integer.
    pub fn int(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| bad(key, v, "an integer")),
        }
    }

    /// An integer within `min..=max`.
    pub fn int_in(&self, key: &str, default: i64, min: i64, max: i64) -> Result<i64, String> {
        let n = self.int(key, default)?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(bad(key, &n.to_string(), &format!("an integer from {min} to {max}")))
        }
    }

    /// Free text.
    pub fn text<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.raw(key).unwrap_or(default)
    }

    /// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`).
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(bad(key, v, "true or false")),
            },
        }
    }

    /// A percentage with up to two decimals (`4.15`, `4,15`), in basis points
    /// (hundredths of a percent): 415. Between 0 and 100%.
    pub fn basis_points(&self, key: &str, default: i64) -> Result<i64, String> {
        let Some(v) = self.raw(key) else { return Ok(default) };
        let text = v.trim().trim_end_matches('%').replace(',', ".");
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let ok = digits(whole) && (fraction.is_empty() || (digits(fraction) && fraction.len() <= 2));
        let bp = ok
            .then(|| Some(whole.parse::<i64>().ok()? * 100 + format!("{fraction:0<2}").parse::<i64>().ok()?))
            .flatten()
            .filter(|bp| (0..=10_000).contains(bp));
        bp.ok_or_else(|| bad(key, v, "a percentage between 0 and 100 with up to two decimals, like 4.15"))
    }

    /// A comma-separated list of days, for example `3,5,7`. Set but blank
    /// means the default; `none` means an empty list.
    pub fn list_days(&self, key: &str, default: &[i64]) -> Result<Vec<i64>, String> {
        match self.raw(key) {
            None => Ok(default.to_vec()),
            Some(v) if v.eq_ignore_ascii_case("none") => Ok(Vec::new()),
            Some(v) => v
                .split(',')
                .map(|item| parse_days(item.trim()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(key, v, "comma-separated numbers of days, or `none`")),
        }
    }

    /// The `min_gap_days` setting (default 5): the fewest days between two reminders.
    pub fn min_gap_days(&self) -> Result<i64, String> {
        self.days("min_gap_days", 5)
    }
}

fn parse_days(v: &str) -> Option<i64> {
    v.parse::<i64>().ok().filter(|n| (0..=MAX_DAYS).contains(n))
}

fn bad(key: &str, value: &str, expected: &str) -> String {
    format!("setting `{key}`: expected {expected}, got {value:?}")
}

#[cfg(test)]
mod tests {
    fn rate(value: &str) -> Ctx {
        Ctx::new(0, vec![Setting { key: "rate".into(), value: value.into() }])
    }

    #[test]
    fn percentages_read_as_basis_points() {
        assert_eq!(rate("4.15").basis_points("rate", 0), Ok(415));
        assert_eq!(rate("4,5%").basis_points("rate", 0), Ok(450));
        assert_eq!(rate("2").basis_points("rate", 0), Ok(200));
        assert_eq!(Ctx::new(0, vec![]).basis_points("rate", 7), Ok(7));
        for bad in ["4.155", "-1", "abc", "101", ".5"] {
            assert!(rate(bad).basis_points("rate", 0).unwrap_err().contains("setting `rate`"), "{bad}");
        }
    }

    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Ctx {
        let settings = pairs.iter().map(|(k, v)| Setting { key: (*k).into(), value: (*v).into() }).collect();
        Ctx::new(1_741_597_200, settings)
    }

    #[test]
    fn defaults_and_values() {
        let c = ctx(&[
            ("soft_days", " 9 "),
            ("blank", "  "),
            ("on", "Yes"),
            ("tz", "Europe/Rome"),
            ("retry_days", "2, 4,8"),
            ("soft_days", "10"),
        ]);
        assert_eq!(c.today, Date::new(2025, 3, 10));
        assert_eq!(c.days("soft_days", 7), Ok(10));
        assert_eq!(c.days("missing", 7), Ok(7));
        assert_eq!(c.days("blank", 7), Ok(7));
        assert_eq!(c.flag("on", false), Ok(true));
        assert_eq!(c.text("tz", "UTC"), "Europe/Rome");
        assert_eq!(c.text("nope", "UTC"), "UTC");
        assert_eq!(c.list_days("retry_days", &[3]), Ok(vec![2, 4, 8]));
        assert_eq!(c.list_days("missing", &[3, 5]), Ok(vec![3, 5]));
        assert_eq!(c.min_gap_days(), Ok(5));
    }

    #[test]
    fn bad_values_name_the_key() {
        let c = ctx(&[
            ("soft_days", "seven"),
            ("neg", "-1"),
            ("flag", "maybe"),
            ("list", "3,,5"),
            ("hour", "25"),
            ("none", "None"),
        ]);
        for err in [
            c.days("soft_days", 7).unwrap_err(),
            c.days("neg", 7).unwrap_err(),
            c.flag("flag", true).unwrap_err(),
            c.list_days("list", &[]).unwrap_err(),
            c.int_in("hour", 10, 0, 23).unwrap_err(),
        ] {
            assert!(err.starts_with("setting `"), "{err}");
        }
        assert!(c.days("soft_days", 7).unwrap_err().contains("soft_days"));
        assert_eq!(c.list_days("none", &[3]), Ok(vec![]));
    }
}
