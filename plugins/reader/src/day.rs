//! Calendar days as counts from 1970-01-01 (proleptic Gregorian), enough
//! to add days and find weekdays and months' ends without a date library.

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Day {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Day {
    /// The day, if it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Day> {
        (1..=12).contains(&month).then_some(())?;
        (day >= 1 && day <= days_in_month(year, month)).then_some(Day { year, month, day })
    }

    /// Days since 1970-01-01 (H. Hinnant's `days_from_civil`).
    pub fn ordinal(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn from_ordinal(z: i64) -> Day {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Day { year, month, day }
    }

    pub fn add(self, days: i64) -> Day {
        Day::from_ordinal(self.ordinal() + days)
    }

    /// Monday 0 ... Sunday 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.ordinal() + 3).rem_euclid(7) as u32
    }

    pub fn end_of_month(self) -> Day {
        Day { day: days_in_month(self.year, self.month), ..self }
    }

    /// The same day of the next (`+1`) or previous (`-1`) month, if it exists there.
    pub fn month_shifted(self, by: i32, day: u32) -> Option<Day> {
        let index = self.year * 12 + self.month as i32 - 1 + by;
        Day::new(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, day)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_round_trip_and_weekdays_are_right() {
        let d = Day::new(2026, 12, 6).unwrap();
        assert_eq!(Day::from_ordinal(d.ordinal()), d);
        assert_eq!(d.weekday(), 6, "6 December 2026 is a Sunday");
        assert_eq!(Day::new(2024, 2, 29).unwrap().add(1), Day::new(2024, 3, 1).unwrap());
        assert_eq!(Day::new(2026, 12, 31).unwrap().add(1), Day::new(2027, 1, 1).unwrap());
        assert_eq!(Day::new(2026, 2, 29), None);
        assert_eq!(Day::new(2026, 1, 31).unwrap().month_shifted(1, 31), None);
        assert_eq!(Day::new(2026, 1, 10).unwrap().month_shifted(-1, 20), Day::new(2025, 12, 20));
    }
}
