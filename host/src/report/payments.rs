//! How the money came in: payments by source (bank, Stripe, import, the
//! customer's page...), and how well the bank's credits matched on their own.

use chrono::NaiveDate;
use serde::Serialize;

use super::{TimeToPay, time_to_pay};
use crate::bank::state::EntryState;
use crate::store::{CreditRow, DoorPayments};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Payments {
    /// Payments and amounts by the door they came through, per currency.
    pub by_source: Vec<DoorPayments>,
    pub bank: BankMatching,
}

/// The bank credits of a period, by what became of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BankMatching {
    pub credits: usize,
    pub matched_automatically: usize,
    pub matched_by_a_person: usize,
    /// Unsure, unmatched, or naming an invoice paid already: a person has to look.
    pub waiting_for_a_person: usize,
    /// Processors' payouts (Stripe's): their payments came through the processor.
    pub payouts: usize,
    /// Matched, then taken back by the bank.
    pub reversed: usize,
    /// Of the customers' credits (not payouts or reversed), the share the host
    /// matched alone, 0 to 1; none without such credits.
    pub share_automatic: Option<f64>,
    /// Days from the day the bank booked a credit to its match, by the host or a person.
    pub days_to_match: Option<TimeToPay>,
}

/// The figures of the credits received in a period.
pub fn bank_matching(credits: &[CreditRow]) -> BankMatching {
    let count = |states: &[EntryState]| credits.iter().filter(|c| states.contains(&c.state)).count();
    let matched_automatically = count(&[EntryState::Matched]);
    let matched_by_a_person = count(&[EntryState::Confirmed]);
    let waiting_for_a_person = count(&EntryState::WAITING);
    let customers = matched_automatically + matched_by_a_person + waiting_for_a_person;
    let day_start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp();
    let waits: Vec<i64> = credits
        .iter()
        .filter(|c| EntryState::PAID.contains(&c.state))
        .filter_map(|c| Some((c.settled_at? - day_start(c.booked?)).max(0)))
        .collect();
    BankMatching {
        credits: credits.len(),
        matched_automatically,
        matched_by_a_person,
        waiting_for_a_person,
        payouts: count(&[EntryState::Payout]),
        reversed: count(&[EntryState::Reversed]),
        share_automatic: (customers > 0).then(|| matched_automatically as f64 / customers as f64),
        days_to_match: time_to_pay(waits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(state: &str, booked: &str, settled: Option<&str>) -> CreditRow {
        CreditRow {
            state: EntryState::parse(state).unwrap(),
            booked: Some(booked.parse().unwrap()),
            settled_at: settled.map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap().timestamp()),
        }
    }

    #[test]
    fn credits_are_counted_by_what_became_of_them_and_timed_from_their_booking() {
        let credits = [
            // Booked Monday, matched Tuesday 06:00: 1.25 days.
            credit("matched", "2026-11-02", Some("2026-11-03T06:00:00Z")),
            // Booked Monday, a person matched it Wednesday 12:00: 2.5 days.
            credit("confirmed", "2026-11-02", Some("2026-11-04T12:00:00Z")),
            credit("unsure", "2026-11-02", None),
            credit("payout", "2026-11-02", None),
        ];
        let m = bank_matching(&credits);
        assert_eq!((m.credits, m.matched_automatically, m.matched_by_a_person), (4, 1, 1));
        assert_eq!((m.waiting_for_a_person, m.payouts, m.reversed), (1, 1, 0));
        // One of three customers' credits matched alone; the payout is no customer's.
        assert_eq!(m.share_automatic, Some(1.0 / 3.0));
        let days = m.days_to_match.unwrap();
        // Nearest rank of two: the median is the first, the 90th percentile the second.
        assert_eq!((days.payments, days.median_days, days.p90_days), (2, 1.3, 2.5));
    }

    #[test]
    fn no_credits_no_share() {
        let m = bank_matching(&[credit("payout", "2026-11-02", None)]);
        assert_eq!(m.share_automatic, None);
        assert!(m.days_to_match.is_none());
    }
}
