//! Payment plans: what is owed on an invoice split into instalments that sum
//! to it exactly in minor units, and where an accepted plan stands given what
//! has been paid.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// More instalments than this is not a plan a business offers.
pub(crate) const MAX_INSTALMENTS: u32 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// 1 for the first.
    pub number: u32,
    pub due: NaiveDate,
    /// Minor units of the invoice currency.
    pub amount: i64,
}

/// A plan the customer accepted; it holds dunning while it is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The step that offered it.
    pub step: String,
    pub accepted: DateTime<Utc>,
    /// What the invoice had been paid before the plan: instalments count from there.
    pub paid_before: i64,
    pub instalments: Vec<Instalment>,
}

/// Where an accepted plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing<'a> {
    /// Every instalment so far is paid; this one is next.
    OnTrack(&'a Instalment),
    /// This instalment's due date passed without it being paid: dunning resumes on the rest.
    Missed(&'a Instalment),
    Complete,
}

/// Splits `total` minor units into `count` instalments, `every_days` apart from
/// `first_due`. The remainder of the division goes one minor unit each to the
/// first instalments, so the amounts differ by at most one unit and sum exactly.
pub(crate) fn split(total: i64, count: u32, first_due: NaiveDate, every_days: u32) -> Result<Vec<Instalment>, String> {
    if total <= 0 {
        return Err("nothing is outstanding to split".into());
    }
    if count == 0 || count > MAX_INSTALMENTS {
        return Err(format!("{count} instalments (1 to {MAX_INSTALMENTS})"));
    }
    if i64::from(count) > total {
        return Err(format!("{count} instalments of {total} minor units: an instalment would be zero"));
    }
    if count > 1 && !(1..=366).contains(&every_days) {
        return Err(format!("instalments every {every_days} days (1 to 366)"));
    }
    let (base, extra) = (total / i64::from(count), total % i64::from(count));
    Ok((0..count)
        .map(|k| Instalment {
            number: k + 1,
            due: first_due + chrono::Days::new(u64::from(k) * u64::from(every_days)),
            amount: base + i64::from(i64::from(k) < extra),
        })
        .collect())
}

impl Plan {
    /// The first instalment not yet paid in full, if any.
    pub fn next_unpaid(&self, amount_paid: i64) -> Option<&Instalment> {
        let paid = amount_paid - self.paid_before;
        let mut owed = 0;
        self.instalments.iter().find(|i| {
            owed += i.amount;
            paid < owed
        })
    }

    /// Where the plan stands on `today`, the invoice having been paid `amount_paid` in all.
    pub fn standing(&self, amount_paid: i64, today: NaiveDate) -> Standing<'_> {
        match self.next_unpaid(amount_paid) {
            Some(i) if i.due < today => Standing::Missed(i),
            Some(i) => Standing::OnTrack(i),
            None => Standing::Complete,
        }
    }

    /// What is still owed on instalment `number` (zero once it is paid).
    pub fn left_on(&self, number: u32, amount_paid: i64) -> i64 {
        let paid = amount_paid - self.paid_before;
        let through: i64 = self.instalments.iter().take_while(|i| i.number <= number).map(|i| i.amount).sum();
        let amount = self.instalments.iter().find(|i| i.number == number).map_or(0, |i| i.amount);
        (through - paid).clamp(0, amount)
    }
}

#[cfg(test)]
// Amounts in cents are written 100_00 on purpose.
#[allow(clippy::inconsistent_digit_grouping)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn amounts(total: i64, count: u32) -> Vec<i64> {
        split(total, count, day("2026-12-01"), 30).unwrap().iter().map(|i| i.amount).collect()
    }

    #[test]
    fn awkward_amounts_sum_exactly() {
        // 100.00 EUR in 3: 33.34 + 33.33 + 33.33.
        assert_eq!(amounts(100_00, 3), [33_34, 33_33, 33_33]);
        // 10,000 JPY (no decimals) in 3.
        assert_eq!(amounts(10_000, 3), [3_334, 3_333, 3_333]);
        // 100.000 KWD (three decimals) in 7 is 14.285 and 5 fils over: 14.286 five times, then 14.285 twice.
        assert_eq!(amounts(100_000, 7), [14_286, 14_286, 14_286, 14_286, 14_286, 14_285, 14_285]);
        for (total, count) in [(100_00, 3), (10_000, 3), (100_000, 7), (1, 1), (99_999_99, 60), (7, 7)] {
            let parts = amounts(total, count);
            assert_eq!(parts.iter().sum::<i64>(), total, "{total} in {count}");
            assert_eq!(parts.len(), count as usize);
            assert!(parts.iter().max().unwrap() - parts.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn due_dates_are_every_n_days_from_the_first() {
        let plan = split(90_00, 3, day("2026-12-01"), 30).unwrap();
        let dues: Vec<String> = plan.iter().map(|i| i.due.to_string()).collect();
        assert_eq!(dues, ["2026-12-01", "2026-12-31", "2027-01-30"]);
        assert_eq!(plan.iter().map(|i| i.number).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn impossible_plans_are_refused_with_the_reason() {
        let first = day("2026-12-01");
        assert!(split(0, 3, first, 30).unwrap_err().contains("nothing is outstanding"));
        assert!(split(100, 0, first, 30).unwrap_err().contains("0 instalments"));
        assert!(split(100, 61, first, 30).unwrap_err().contains("61 instalments"));
        assert!(split(2, 3, first, 30).unwrap_err().contains("would be zero"));
        assert!(split(100, 2, first, 0).unwrap_err().contains("every 0 days"));
        assert_eq!(split(100, 1, first, 0).unwrap().len(), 1);
    }

    #[test]
    fn a_plan_stands_on_what_was_paid_by_each_due_date() {
        let plan = Plan {
            step: "plan".into(),
            accepted: "2026-11-20T10:00:00Z".parse().unwrap(),
            paid_before: 10_00,
            instalments: split(100_00, 3, day("2026-12-01"), 30).unwrap(),
        };
        // Nothing paid yet: the first is next, until its due date has passed.
        assert_eq!(plan.standing(10_00, day("2026-12-01")), Standing::OnTrack(&plan.instalments[0]));
        assert_eq!(plan.standing(10_00, day("2026-12-02")), Standing::Missed(&plan.instalments[0]));
        // The first paid (on top of what was paid before): the second is next.
        assert_eq!(plan.standing(43_34, day("2026-12-02")), Standing::OnTrack(&plan.instalments[1]));
        assert_eq!(plan.left_on(2, 43_34), 33_33);
        assert_eq!(plan.left_on(1, 43_34), 0);
        assert_eq!(plan.left_on(2, 50_00), 26_67);
        assert_eq!(plan.standing(110_00, day("2027-03-01")), Standing::Complete);
    }
}
