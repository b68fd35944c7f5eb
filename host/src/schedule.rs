//! When ticks come: as `serve` runs them (`service`: a tick whenever a
//! waiting step's time comes), or as a cron job runs `sollecito run` (`daily
//! 10:00`, `every 6h`). A cron schedule reaches a customer only when one of
//! its ticks falls inside that customer's sending window, and the operator is
//! told which customers it can never reach.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;

use crate::config::Window;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// As `serve` ticks: the daily tick, and one whenever a waiting step's time comes.
    Service,
    /// Once a day at this time (UTC), as `0 10 * * *` in a crontab.
    Daily(NaiveTime),
    /// Every this many hours from midnight UTC, as `0 */6 * * *`.
    EveryHours(u32),
}

impl Schedule {
    /// `service`, `daily HH:MM` or `every Nh` (N from 1 to 24).
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let wrong = || format!("{text:?}: expected \"service\", \"daily HH:MM\" or \"every Nh\" (N from 1 to 24)");
        if text == "service" {
            return Ok(Schedule::Service);
        }
        if let Some(time) = text.strip_prefix("daily ") {
            return NaiveTime::parse_from_str(time.trim(), "%H:%M").map(Schedule::Daily).map_err(|_| wrong());
        }
        let hours = text.strip_prefix("every ").and_then(|h| h.trim().strip_suffix('h'));
        match hours.and_then(|h| h.trim().parse::<u32>().ok()) {
            Some(n @ 1..=24) => Ok(Schedule::EveryHours(n)),
            _ => Err(wrong()),
        }
    }

    /// The times of day (UTC) its ticks come at; `service` ticks at `daily`
    /// and whenever a waiting step's time comes.
    pub fn times(&self, daily: NaiveTime) -> Vec<NaiveTime> {
        match self {
            Schedule::Service => vec![daily],
            Schedule::Daily(at) => vec![*at],
            Schedule::EveryHours(n) => {
                (0..24).step_by(*n as usize).filter_map(|h| NaiveTime::from_hms_opt(h, 0, 0)).collect()
            }
        }
    }

    /// Whether it also ticks when a waiting step's time comes.
    pub fn follows_waiting_steps(&self) -> bool {
        *self == Schedule::Service
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Service => f.write_str("service"),
            Schedule::Daily(at) => write!(f, "daily {:02}:{:02}", at.hour(), at.minute()),
            Schedule::EveryHours(n) => write!(f, "every {n}h"),
        }
    }
}

/// Whether a tick at one of `times` (UTC) falls inside `window`, in `tz`,
/// on any of the fortnight's days from `from` (both sides of a clock change
/// within it are tried).
pub(crate) fn reaches(window: &Window, tz: Tz, times: &[NaiveTime], from: NaiveDate) -> bool {
    (0..14).any(|d| {
        let day = from + Days::new(d);
        times.iter().any(|t| {
            let at = day.and_time(*t).and_utc();
            crate::guardrails::next_in_window(window, tz, at) == at
        })
    })
}

/// Of the customers whose messages waited for a sending window ((customer,
/// channel) -> timezone), those that ticks at `times` can never reach, as
/// "name (timezone)". Only those are read from the store, for their names.
pub(crate) async fn unreachable(
    store: &crate::store::Store,
    sending: &crate::config::Sending,
    waited: &BTreeMap<(String, String), Tz>,
    times: &[NaiveTime],
    from: NaiveDate,
) -> anyhow::Result<Vec<String>> {
    let never: BTreeSet<&str> = waited
        .iter()
        .filter(|((_, channel), tz)| !reaches(&sending.window(channel), **tz, times, from))
        .map(|((id, _), _)| id.as_str())
        .collect();
    let mut names = BTreeSet::new();
    for id in never {
        if let Some(customer) = store.customer(id).await? {
            names.insert(format!("{} ({})", customer.name, customer.timezone));
        }
    }
    Ok(names.into_iter().collect())
}

/// The warning for customers a schedule never reaches: how many, a few by name, what to do.
pub fn warning(unreachable: &[String], schedule: &str) -> Option<String> {
    let (n, few) = (unreachable.len(), unreachable.iter().take(5).cloned().collect::<Vec<_>>().join(", "));
    let more = if n > 5 { format!(" and {} more", n - 5) } else { String::new() };
    (n > 0).then(|| {
        format!(
            "{n} customer(s) can never be reached {schedule}: their sending window never includes it \
             ({few}{more}); run at another hour or more often, or use `sollecito serve`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays_eight_to_seven() -> Window {
        crate::config::Sending::default().window("email")
    }

    #[test]
    fn schedules_read_as_cron_would_run_them() {
        assert_eq!(Schedule::parse("service"), Ok(Schedule::Service));
        assert_eq!(Schedule::parse("daily 10:00"), Ok(Schedule::Daily(NaiveTime::from_hms_opt(10, 0, 0).unwrap())));
        assert_eq!(Schedule::parse("every 6h"), Ok(Schedule::EveryHours(6)));
        let every6 = Schedule::EveryHours(6).times(NaiveTime::MIN);
        assert_eq!(every6.iter().map(|t| t.hour()).collect::<Vec<_>>(), [0, 6, 12, 18]);
        for bad in ["daily 25:00", "every 0h", "every 25h", "hourly", "daily"] {
            assert!(Schedule::parse(bad).unwrap_err().contains("expected \"service\""), "{bad}");
        }
        assert_eq!(Schedule::parse("daily 09:30").unwrap().to_string(), "daily 09:30");
    }

    #[test]
    fn a_daily_tick_at_ten_utc_never_reaches_auckland_or_tokyo_office_hours() {
        let window = weekdays_eight_to_seven();
        let ten = [NaiveTime::from_hms_opt(10, 0, 0).unwrap()];
        let december: NaiveDate = "2026-12-01".parse().unwrap();
        // 10:00 UTC is 11:00 in Rome, 23:00 in Auckland (NZDT), 19:00 in Tokyo (the window's end).
        assert!(reaches(&window, chrono_tz::Europe::Rome, &ten, december));
        assert!(!reaches(&window, chrono_tz::Pacific::Auckland, &ten, december));
        assert!(!reaches(&window, chrono_tz::Asia::Tokyo, &ten, december));
        // Every six hours, 00:00 UTC is 13:00 in Auckland and 09:00 in Tokyo.
        let every6 = Schedule::EveryHours(6).times(NaiveTime::MIN);
        assert!(reaches(&window, chrono_tz::Pacific::Auckland, &every6, december));
        assert!(reaches(&window, chrono_tz::Asia::Tokyo, &every6, december));
    }
}
