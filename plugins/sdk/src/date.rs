//! Calendar arithmetic on the WIT `date`, in UTC, without a clock.
//!
//! Days are counted from 1970-01-01 with Howard Hinnant's civil-calendar
//! algorithms (<https://howardhinnant.github.io/date_algorithms.html>).
//! Nothing here panics: out-of-range input gives a nonsensical but finite date.

use core::cmp::Ordering;
use core::fmt;

use crate::{Date, Timestamp};

/// Seconds in an hour and in a day.
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;

/// Days from 1970-01-01 to the given civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `z` days after 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u8, d as u8)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    pub const fn new(year: i32, month: u8, day: u8) -> Self {
        Date { year, month, day }
    }

    /// True when the date exists in the calendar (no 31 April, no month 13).
    pub fn is_valid(&self) -> bool {
        (1..=12).contains(&self.month) && self.day >= 1 && self.day <= days_in_month(i64::from(self.year), self.month)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn epoch_days(&self) -> i64 {
        days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day))
    }

    pub fn from_epoch_days(days: i64) -> Self {
        let (y, m, d) = civil_from_days(days);
        // Clamp rather than wrap: only absurd inputs get here.
        let year = y.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Date::new(year, m, d)
    }

    /// The UTC date of a timestamp.
    pub fn of(ts: Timestamp) -> Self {
        Date::from_epoch_days(ts.div_euclid(DAY))
    }

    /// 00:00 UTC of this date.
    pub fn midnight(&self) -> Timestamp {
        self.epoch_days().saturating_mul(DAY)
    }

    /// `hour`:00 UTC of this date.
    pub fn at_hour(&self, hour: i64) -> Timestamp {
        self.midnight().saturating_add(hour.saturating_mul(HOUR))
    }

    pub fn add_days(&self, days: i64) -> Self {
        Date::from_epoch_days(self.epoch_days().saturating_add(days))
    }

    /// Days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(&self, later: Date) -> i64 {
        later.epoch_days() - self.epoch_days()
    }

    /// Days from `earlier` to `self` (negative if `earlier` is later).
    pub fn days_since(&self, earlier: Date) -> i64 {
        earlier.days_until(*self)
    }

    /// 0 for Monday up to 6 for Sunday.
    pub fn weekday(&self) -> u8 {
        // 1970-01-01 was a Thursday.
        (self.epoch_days() + 3).rem_euclid(7) as u8
    }

    pub fn is_weekend(&self) -> bool {
        self.weekday() >= 5
    }

    /// The date `n` working days (Monday to Friday) after this one; holidays
    /// are not known. Zero or negative `n` gives the date itself.
    pub fn add_working_days(&self, n: i64) -> Self {
        if n <= 0 {
            return *self;
        }
        // Whole weeks first so large `n` costs nothing, then day by day.
        // Counted in days since the epoch: one calendar conversion, not one a day.
        let weeks = (n - 1) / 5;
        let mut left = n - weeks * 5;
        let mut days = self.epoch_days().saturating_add(weeks.saturating_mul(7));
        while left > 0 {
            days = days.saturating_add(1);
            // 1970-01-01 was a Thursday: weekday 0 is Monday, 5 and 6 the weekend.
            if (days.rem_euclid(7) + 3) % 7 < 5 {
                left -= 1;
            }
        }
        Date::from_epoch_days(days)
    }

    /// Whole years from `self` to `later` (0 if `later` is earlier).
    pub fn years_until(&self, later: Date) -> i64 {
        let mut years = i64::from(later.year) - i64::from(self.year);
        if (later.month, later.day) < (self.month, self.day) {
            years -= 1;
        }
        years.max(0)
    }
}

impl PartialOrd for Date {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Date {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.year, self.month, self.day).cmp(&(other.year, other.month, other.day))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u8, day: u8) -> Date {
        Date::new(y, m, day)
    }

    #[test]
    fn epoch_round_trip() {
        assert_eq!(d(1970, 1, 1).epoch_days(), 0);
        assert_eq!(d(2000, 3, 1).epoch_days(), 11_017);
        assert_eq!(Date::from_epoch_days(-1), d(1969, 12, 31));
        for days in -800_000..800_000 {
            assert_eq!(Date::from_epoch_days(days).epoch_days(), days);
        }
    }

    #[test]
    fn timestamps() {
        // 2025-03-10 09:00:00 UTC
        let ts = 1_741_597_200;
        assert_eq!(Date::of(ts), d(2025, 3, 10));
        assert_eq!(d(2025, 3, 10).midnight(), ts - 9 * HOUR);
        assert_eq!(d(2025, 3, 10).at_hour(10), ts + HOUR);
        assert_eq!(Date::of(-1), d(1969, 12, 31));
    }

    #[test]
    fn adding_days_crosses_months_and_leap_days() {
        assert_eq!(d(2024, 2, 28).add_days(1), d(2024, 2, 29));
        assert_eq!(d(2023, 2, 28).add_days(1), d(2023, 3, 1));
        assert_eq!(d(2024, 12, 25).add_days(7), d(2025, 1, 1));
        assert_eq!(d(2025, 1, 1).add_days(-1), d(2024, 12, 31));
        assert_eq!(d(2025, 1, 1).days_until(d(2025, 3, 1)), 59);
        assert_eq!(d(2025, 3, 1).days_since(d(2025, 1, 1)), 59);
    }

    #[test]
    fn working_days_skip_weekends() {
        // 2025-03-10 is a Monday.
        assert_eq!(d(2025, 3, 10).weekday(), 0);
        assert_eq!(d(2025, 3, 10).add_working_days(5), d(2025, 3, 17));
        assert_eq!(d(2025, 3, 14).add_working_days(1), d(2025, 3, 17)); // Fri -> Mon
        assert_eq!(d(2025, 3, 15).add_working_days(1), d(2025, 3, 17)); // Sat -> Mon
        assert_eq!(d(2025, 3, 12).add_working_days(5), d(2025, 3, 19)); // Wed -> Wed
        assert_eq!(d(2025, 3, 12).add_working_days(0), d(2025, 3, 12));
        // The week shortcut agrees with counting day by day.
        for start in 0..14 {
            let from = d(2025, 3, 1).add_days(start);
            let mut slow = from;
            for n in 1..30 {
                slow = slow.add_days(1);
                while slow.is_weekend() {
                    slow = slow.add_days(1);
                }
                assert_eq!(from.add_working_days(n), slow, "{from} + {n}");
            }
        }
    }

    #[test]
    fn ordering_validity_and_years() {
        assert!(d(2024, 12, 31) < d(2025, 1, 1));
        assert!(d(2025, 2, 1) > d(2025, 1, 31));
        assert!(d(2024, 2, 29).is_valid());
        assert!(!d(2025, 2, 29).is_valid());
        assert!(!d(2025, 13, 1).is_valid());
        assert!(!d(2025, 4, 31).is_valid());
        assert_eq!(d(2022, 3, 10).years_until(d(2025, 3, 10)), 3);
        assert_eq!(d(2022, 3, 11).years_until(d(2025, 3, 10)), 2);
        assert_eq!(d(2026, 1, 1).years_until(d(2025, 3, 10)), 0);
        assert_eq!(d(2025, 3, 7).to_string(), "2025-03-07");
    }

    #[test]
    fn absurd_input_does_not_panic() {
        let _ = Date::of(i64::MIN);
        let _ = Date::of(i64::MAX);
        let _ = d(i32::MAX, 12, 31).add_days(i64::MAX).midnight();
        let _ = d(2025, 0, 0).add_working_days(i64::MAX);
        let _ = d(i32::MIN, 200, 200).weekday();
    }
}
