//! `reader`: reads what a customer's reply says, in Italian, English,
//! French, German and Spanish: that they paid (with the day and a payment
//! reference when they give them), a promise to pay by a day ("pagheremo
//! il 20", "bis zum 15.1.", "next Friday"), a dispute, a question, or
//! something else. Days written without a month or year are placed from
//! the day the reply was written. A business that reads its customers
//! differently swaps it (`[inbound] reader`) for its own.

wit_bindgen::generate!({ world: "reader", path: "../../wit" });

mod dates;
mod day;
mod intent;
mod text;

use day::Day;
pub use intent::{Said, read};
use sollecito::plugin::reading::SaysPaid;
use sollecito::plugin::types::Date;

pub struct Reader;

/// US English writes the month first ("1/15"); everyone else the day.
fn month_first(locale: &str) -> bool {
    locale.eq_ignore_ascii_case("en-US")
}

fn day(d: &Date) -> Option<Day> {
    Day::new(d.year, d.month.into(), d.day.into())
}

fn date(d: Day) -> Date {
    Date { year: d.year, month: d.month as u8, day: d.day as u8 }
}

impl Guest for Reader {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: env!("CARGO_PKG_DESCRIPTION").into(),
        }
    }

    fn read_replies(_settings: Vec<Setting>, replies: Vec<WrittenReply>) -> Vec<Result<Intent, String>> {
        replies
            .into_iter()
            .map(|r| {
                let written = day(&r.written_on).ok_or("written-on is not a date")?;
                Ok(match read(&r.text, &r.subject, written, month_first(&r.locale)) {
                    Said::Paid { on, reference } => Intent::SaysPaid(SaysPaid { on: on.map(date), reference }),
                    Said::Promise(until) => Intent::Promise(date(until)),
                    Said::Dispute(reason) => Intent::Dispute(reason),
                    Said::Question => Intent::Question,
                    Said::Other => Intent::Other,
                })
            })
            .collect()
    }
}

export!(Reader);

#[cfg(test)]
mod tests;
