//! Receivables at a date: by how late they are, and the days sales
//! outstanding as an analyst computes them. The textbook formula (owed over
//! the period's sales, times its days) explodes when little was invoiced in
//! the period, the normal case for a store that holds old overdue invoices;
//! the countback method cannot: it walks back through the latest sales until
//! they add up to what is owed, so it never exceeds the age of the oldest
//! invoice still owed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::store::{AGE_BUCKETS, Aging};

/// Receivables at a date, by how late they are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receivables {
    pub at: NaiveDate,
    /// `not due`, `1-30`, `31-60`, `61-90`, `>90` days past due: count and amount per currency.
    pub buckets: Vec<Bucket>,
    /// Days sales outstanding per currency owed in.
    pub dso: BTreeMap<String, Dso>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub label: &'static str,
    pub invoices: usize,
    pub amount: BTreeMap<String, i64>,
}

/// The days sales outstanding of one currency at a date, in days to one decimal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dso {
    /// The countback: the days of the latest sales, back from the date, that
    /// add up to what is owed. The headline figure.
    pub days: f64,
    /// The countback of what is owed and not yet due: the DSO the payment
    /// terms alone would give if every customer paid on time.
    pub best_days: f64,
    /// Average days delinquent: `days - best_days`, what lateness adds.
    pub delinquent_days: f64,
    /// The period method (owed over the period's sales, times its days),
    /// only when the period's sales cover what is owed: a period shorter than
    /// the figure it measures gives a number that means nothing.
    pub period_days: Option<f64>,
}

impl Dso {
    /// The name of the method `days` is computed with, as shown beside it.
    pub const METHOD: &'static str = "countback";
}

/// The receivables at the end of `at` from the store's aging, with the DSO
/// per currency; the period method over `since` to `at`.
pub fn receivables(aging: &Aging, (since, at): (NaiveDate, NaiveDate)) -> Receivables {
    let mut buckets: Vec<Bucket> =
        AGE_BUCKETS.iter().map(|label| Bucket { label, invoices: 0, amount: BTreeMap::new() }).collect();
    // (all owed, owed and not yet due) per currency.
    let mut owed: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (currency, bucket, invoices, amount) in &aging.owed {
        let Some(b) = buckets.get_mut(*bucket) else { continue };
        b.invoices += *invoices as usize;
        *b.amount.entry(currency.clone()).or_default() += amount;
        let o = owed.entry(currency).or_default();
        o.0 += amount;
        if *bucket == 0 {
            o.1 += amount;
        }
    }
    let dso = owed
        .into_iter()
        .filter(|(_, (all, _))| *all > 0)
        .map(|(currency, (all, not_due))| {
            let sales: Vec<(NaiveDate, i64)> =
                aging.sales.iter().filter(|(c, ..)| c == currency).map(|(_, day, amount)| (*day, *amount)).collect();
            (currency.to_string(), dso(all, not_due, &sales, (since, at)))
        })
        .collect();
    Receivables { at, buckets, dso }
}

fn dso(owed: i64, not_due: i64, sales: &[(NaiveDate, i64)], (since, at): (NaiveDate, NaiveDate)) -> Dso {
    let days = countback(owed, sales, at);
    let best_days = countback(not_due, sales, at);
    let period_length = ((at - since).num_days() + 1).max(1);
    let in_period: i64 = sales.iter().filter(|(day, _)| (since..=at).contains(day)).map(|(_, a)| a).sum();
    let period_days =
        (in_period > 0 && in_period >= owed).then(|| owed as f64 / in_period as f64 * period_length as f64);
    Dso {
        days: tenths(days),
        best_days: tenths(best_days),
        delinquent_days: tenths(days - best_days),
        period_days: period_days.map(tenths),
    }
}

/// Walks back from `at` day by day through the sales, counting each day
/// whose sales are used up by what is `owed`, and the share of the last
/// day's sales that the rest is. A day is the countback's period: months
/// would count the whole month of the oldest sale, and the figure could pass
/// the age of the oldest invoice owed, which a finance person reads as wrong.
fn countback(owed: i64, sales: &[(NaiveDate, i64)], at: NaiveDate) -> f64 {
    let mut by_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for (day, amount) in sales.iter().filter(|(day, _)| *day <= at) {
        *by_day.entry(*day).or_default() += amount;
    }
    let mut left = owed as f64;
    if left <= 0.0 {
        return 0.0;
    }
    let mut counted = 0.0;
    for (day, sold) in by_day.iter().rev().filter(|(_, sold)| **sold > 0) {
        // The days after `day` up to `at` are used up in full.
        counted = (at - *day).num_days() as f64;
        if *sold as f64 >= left {
            return counted + left / *sold as f64;
        }
        left -= *sold as f64;
    }
    // Only when more is owed than was ever invoiced (fees added later): every day counted.
    counted + 1.0
}

fn tenths(days: f64) -> f64 {
    (days * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_countback_walks_back_through_the_latest_sales_until_what_is_owed_is_used_up() {
        // Owed at 31 October: 850.00 EUR, of which 300.00 not yet due. Sold:
        // 300 on 10 October, 50 on the 5th, 200 on the 1st, 100 on 20 September, 400 on 1 July.
        let aging = Aging {
            owed: vec![("EUR".into(), 0, 1, 30_000), ("EUR".into(), 1, 2, 25_000), ("EUR".into(), 4, 1, 30_000)],
            sales: vec![
                ("EUR".into(), day("2026-07-01"), 40_000),
                ("EUR".into(), day("2026-09-20"), 10_000),
                ("EUR".into(), day("2026-10-01"), 20_000),
                ("EUR".into(), day("2026-10-05"), 5_000),
                ("EUR".into(), day("2026-10-10"), 30_000),
                ("USD".into(), day("2026-10-10"), 1_000),
            ],
        };
        let r = receivables(&aging, (day("2026-10-01"), day("2026-10-31")));
        let buckets: Vec<(&str, usize)> = r.buckets.iter().map(|b| (b.label, b.invoices)).collect();
        assert_eq!(buckets, [("not due", 1), ("1-30", 2), ("31-60", 0), ("61-90", 0), (">90", 1)]);
        // By hand: 850 - 300 - 50 - 200 - 100 leaves 200 of 1 July's 400: the 122
        // days from 2 July to 31 October, and half of 1 July: 122.5. Not due: the
        // 300 of 10 October, the 21 days after it and all of it: 22.0. October's
        // 550 do not cover the 850 owed: no period figure. Nothing owed in USD.
        let eur = Dso { days: 122.5, best_days: 22.0, delinquent_days: 100.5, period_days: None };
        assert_eq!(r.dso, BTreeMap::from([("EUR".to_string(), eur)]));
    }

    #[test]
    fn the_period_method_is_shown_when_the_period_sales_cover_what_is_owed() {
        // 15 June: 100 owed, all late; 400 sold on 1 June, 200 on 20 May.
        let aging = Aging {
            owed: vec![("EUR".into(), 1, 1, 10_000)],
            sales: vec![("EUR".into(), day("2026-05-20"), 20_000), ("EUR".into(), day("2026-06-01"), 40_000)],
        };
        let r = receivables(&aging, (day("2026-05-17"), day("2026-06-15")));
        // Countback: the 14 days after 1 June and a quarter of it: 14.25 -> 14.3.
        // Period: 100 over the 600 sold in the 30 days, times 30: 5.0. Nothing not due: best 0.
        let eur = Dso { days: 14.3, best_days: 0.0, delinquent_days: 14.3, period_days: Some(5.0) };
        assert_eq!(r.dso["EUR"], eur);
    }

    #[test]
    fn the_countback_never_exceeds_the_age_of_the_oldest_invoice_owed() {
        // The demo's case: an old invoice still owed, nothing sold lately. The
        // period method gave 42,028 days; the countback counts back to the sale.
        let aging =
            Aging { owed: vec![("EUR".into(), 4, 1, 50_000)], sales: vec![("EUR".into(), day("2026-01-10"), 50_000)] };
        let r = receivables(&aging, (day("2026-11-07"), day("2026-12-06")));
        // The 330 days after 10 January to 6 December (21 + 28 + 31 + 30 + 31 + 30 + 31 + 31 +
        // 30 + 31 + 30 + 6), and all of 10 January: 331, the invoice's age counting both ends.
        assert_eq!(r.dso["EUR"].days, 331.0);
        assert_eq!(r.dso["EUR"].period_days, None);
        // More owed than was ever sold (fees): every day back to the first sale.
        let fees = Aging { owed: vec![("EUR".into(), 4, 1, 60_000)], ..aging };
        assert_eq!(receivables(&fees, (day("2026-11-07"), day("2026-12-06"))).dso["EUR"].days, 331.0);
    }
}
