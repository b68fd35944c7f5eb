//! The message half of the outbox: due messages read a page at a time,
//! claimed right before they leave, settled as soon as their adapter answers,
//! and what a stopped worker left in flight. Claims carry the worker and a
//! lease, so several workers can share one outbox.

use sqlx::Row;

use super::outbox_page::{json_rows_sql, outbox_page};
use super::rows::{in_list, mark};
use super::{OUTBOX_COLUMNS, OutboxRow, Store, insert_event};
use crate::config::Uncertain;

/// The outbox kinds that are messages to the customer.
const MESSAGE_KINDS: &str = "kind IN ('remind', 'offer-plan', 'instalment', 'statement')";

/// The start of the reason of a message a crash left uncertain.
pub const UNCERTAIN: &str = "uncertain after an interruption";

/// Where an outbox step stands. Stored, and shown in JSON, as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboxState {
    Pending,
    /// A message claimed by a worker and being handed to its adapter.
    InFlight,
    Sent,
    /// Carried out by the host (a manual review's task, a fee, a charge's outcome).
    Done,
    Cancelled,
    Failed,
    /// A message left uncertain by a crash and, by the operator's choice, not sent again.
    Held,
    /// An action this version does not carry out: kept as the policy asked.
    Recorded,
}

impl OutboxState {
    const ALL: [OutboxState; 8] = [
        OutboxState::Pending,
        OutboxState::InFlight,
        OutboxState::Sent,
        OutboxState::Done,
        OutboxState::Cancelled,
        OutboxState::Failed,
        OutboxState::Held,
        OutboxState::Recorded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::InFlight => "in-flight",
            OutboxState::Sent => "sent",
            OutboxState::Done => "done",
            OutboxState::Cancelled => "cancelled",
            OutboxState::Failed => "failed",
            OutboxState::Held => "held",
            OutboxState::Recorded => "recorded",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What an outbox step does. Stored, and shown in JSON, as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboxKind {
    /// A message to the customer on a channel.
    Remind,
    /// A plan offered to the customer: a message of its own.
    OfferPlan,
    /// A reminder of one instalment of an accepted plan.
    Instalment,
    RetryPayment,
    Escalate,
    ApplyFee,
    /// The host's own step undoing a suspension once the invoice is paid.
    ReinstateService,
    /// A statement of account the customer (from their page) or a person asked for.
    Statement,
}

impl OutboxKind {
    const ALL: [OutboxKind; 8] = [
        OutboxKind::Remind,
        OutboxKind::OfferPlan,
        OutboxKind::Instalment,
        OutboxKind::RetryPayment,
        OutboxKind::Escalate,
        OutboxKind::ApplyFee,
        OutboxKind::ReinstateService,
        OutboxKind::Statement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Remind => "remind",
            OutboxKind::OfferPlan => "offer-plan",
            OutboxKind::Instalment => "instalment",
            OutboxKind::RetryPayment => "retry-payment",
            OutboxKind::Escalate => "escalate",
            OutboxKind::ApplyFee => "apply-fee",
            OutboxKind::ReinstateService => "reinstate-service",
            OutboxKind::Statement => "statement",
        }
    }

    /// The kind a stored name (or a policy action's name) stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the step is a message to the customer (delivery's, not an action's).
    pub fn is_message(self) -> bool {
        matches!(self, OutboxKind::Remind | OutboxKind::OfferPlan | OutboxKind::Instalment | OutboxKind::Statement)
    }
}

impl std::fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for OutboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a claimed message ended, or why it waits.
#[derive(Debug, Clone)]
pub enum Settle {
    Sent {
        receipt: String,
        /// The subject and text that went, as the customer read them (for the one message, not its companions).
        rendered: Option<String>,
        /// The Message-ID an email left with (without angle brackets), to match what answers it.
        message_id: Option<String>,
    },
    Cancelled(String),
    Failed(String),
    /// Back to pending until `not_before`.
    Retry {
        not_before: i64,
        reason: String,
    },
    /// Back to pending: the operator's setup failed, not the message. The
    /// attempt is given back and counted as a setup fault instead.
    SetupFault {
        not_before: i64,
        reason: String,
    },
}

/// What a deferred step had tried, for its backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tried {
    /// Not tried: it waits for a window, the cap, the next tick.
    Nothing,
    /// A try that failed.
    Attempt,
    /// Not tried because the operator's setup failed (the relay down).
    SetupFault,
}

/// The key of one step of one invoice: the idempotency key, the root of the
/// Message-ID and of file names. Injective: `/` only separates, and anything
/// outside `A-Z a-z 0-9 _ -` (`.`, `/` and `%` included) is percent-encoded,
/// so ordinary keys read as they always did and no two steps share one.
pub fn outbox_key(invoice_id: &str, step: &str) -> String {
    fn escape(out: &mut String, part: &str) {
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b"_-".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut key = String::with_capacity(invoice_id.len() + step.len() + 1);
    escape(&mut key, invoice_id);
    key.push('/');
    escape(&mut key, step);
    key
}

impl OutboxRow {
    /// The step's key; a row from before keys were encoded keeps the form it may have left with.
    pub fn key(&self) -> String {
        match self.legacy_key {
            true => format!("{}/{}", self.invoice_id, self.step),
            false => outbox_key(&self.invoice_id, &self.step),
        }
    }

    /// What became of the step, in words: done (and how), waiting (until
    /// when, why), failed or cancelled (why).
    pub fn result_in_words(&self) -> String {
        let why = self.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default();
        let receipt = self.receipt.as_ref().map(|r| format!(" ({r})")).unwrap_or_default();
        match (self.state, self.done_at) {
            (OutboxState::Sent | OutboxState::Done, Some(t)) => {
                format!("{} {}{why}{receipt}", self.state.as_str(), minute(t))
            }
            (OutboxState::Pending, _) if self.attempts > 0 => {
                format!("waiting until {}, after {} tries{why}", minute(self.not_before), self.attempts)
            }
            (OutboxState::Pending, _) => format!("waiting until {}{why}", minute(self.not_before)),
            (state, _) => format!("{}{why}", state.as_str()),
        }
    }
}

/// Due messages after a customer (`$2`), in order, at most `$3`; with
/// `one_customer`, all of that customer's. SQLite took the index by state and
/// time and sorted every due message for each page (a run took longer the
/// more were due); the partial index by customer gives them in order.
pub(super) fn due_page_sql(postgres: bool, one_customer: bool) -> String {
    let index = if postgres { "" } else { " INDEXED BY outbox_due_messages" };
    let tail = if one_customer {
        "customer_id = $2 ORDER BY id"
    } else {
        "customer_id > $2 ORDER BY customer_id, id LIMIT $3"
    };
    let page = format!(
        "SELECT {OUTBOX_COLUMNS} FROM outbox{index} WHERE state = 'pending' AND {MESSAGE_KINDS} \
         AND not_before <= $1 AND {tail}"
    );
    // One text for the page, not a row at a time through sqlx's thread.
    json_rows_sql(postgres, "customer_id, id", &format!("({page}) AS p"))
}

/// A time to the minute, UTC, as the history shows it.
pub fn minute(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map_or(ts.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

impl Store {
    /// Due messages, a page of at most about `limit`, customer by customer
    /// after `after` (a customer's messages always come in one page, so they
    /// can go together). An empty page means none is left.
    pub async fn due_messages(&self, now: i64, after: &str, limit: i64) -> anyhow::Result<Vec<OutboxRow>> {
        let page = due_page_sql(self.postgres, false);
        let first = sqlx::query(&page).bind(now).bind(after).bind(limit);
        let mut rows = outbox_page(first.fetch_one(&self.pool).await?.try_get("page")?)?;
        if rows.len() as i64 == limit {
            let last = rows[rows.len() - 1].customer_id.clone();
            if rows[0].customer_id == last {
                // One customer fills the page: all of theirs, whatever the number.
                let all = due_page_sql(self.postgres, true);
                let theirs = sqlx::query(&all).bind(now).bind(&last);
                rows = outbox_page(theirs.fetch_one(&self.pool).await?.try_get("page")?)?;
            } else {
                // The last customer may go on in the next page: all of theirs come then.
                rows.retain(|r| r.customer_id != last);
            }
        }
        Ok(rows)
    }

    /// Puts a waiting step off until `not_before`, saying why, counting what
    /// was tried (each try and each fault of the setup has its own backoff):
    /// `record_unclaimed` for one step.
    pub async fn defer(&self, id: i64, not_before: i64, reason: &str, tried: Tried) -> anyhow::Result<()> {
        let wait = super::Unclaimed::Wait { not_before, reason: reason.to_string(), tried };
        // A step that waits keeps its time done (none), so no time is needed.
        self.record_unclaimed(&[(id, wait)], 0).await
    }

    /// Leases a customer to `worker` until `until` (wall clock) for delivery,
    /// unless another worker holds a lease on them that has not run out, or
    /// one that `gone` says is a stopped worker's. Two workers never deliver
    /// to one customer at once, so the gap and the weekly cap hold across them.
    pub async fn lease_customer(
        &self,
        customer_id: &str,
        worker: &str,
        until: i64,
        gone: impl Fn(&str) -> bool,
    ) -> anyhow::Result<bool> {
        if self.alone {
            return Ok(true);
        }
        let wall = chrono::Utc::now().timestamp();
        let take = "INSERT INTO customer_leases (customer_id, worker, until) VALUES ($1, $2, $3) \
                    ON CONFLICT (customer_id) DO UPDATE SET worker = excluded.worker, until = excluded.until \
                    WHERE customer_leases.until < $4 OR customer_leases.worker = $5";
        // Taken if the lease ran out or is held by `holder` (this worker, or a stopped one).
        let taken = |holder: &str| {
            sqlx::query(take).bind(customer_id).bind(worker).bind(until).bind(wall).bind(holder.to_string())
        };
        if taken(worker).execute(&self.pool).await?.rows_affected() == 1 {
            return Ok(true);
        }
        // Held: taken over only if its holder is known to have stopped.
        let holder: Option<String> = sqlx::query_scalar("SELECT worker FROM customer_leases WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await?;
        match holder {
            Some(holder) if gone(&holder) => Ok(taken(&holder).execute(&self.pool).await?.rows_affected() == 1),
            _ => Ok(false),
        }
    }

    /// Sends a message on another channel than its decision named (a PEC as a
    /// registered letter), so its history says how it went.
    pub async fn reroute(&self, ids: &[i64], channel: &str) -> anyhow::Result<()> {
        // One statement for a message and the invoices riding along with it.
        let (channel_mark, list) = (mark(self.postgres, 1), in_list(self.postgres, 2, ids.len()));
        let sql = format!("UPDATE outbox SET channel = {channel_mark} WHERE id IN {list}");
        let query = ids.iter().fold(sqlx::query(&sql).bind(channel), |q, id| q.bind(*id));
        query.execute(&self.pool).await?;
        Ok(())
    }

    /// The other workers holding customers leased for delivery.
    pub async fn customer_lease_holders(&self, worker: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT DISTINCT worker FROM customer_leases WHERE worker <> $1")
            .bind(worker)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Lets go of every customer a stopped worker held for delivery.
    pub async fn release_customers_of(&self, worker: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM customer_leases WHERE worker = $1").bind(worker).execute(&self.pool).await?;
        Ok(())
    }

    /// Messages in flight, with each claim's holder and end.
    pub async fn in_flight(&self) -> anyhow::Result<Vec<OutboxRow>> {
        self.outbox_where("state = 'in-flight'", &[]).await
    }

    /// Decides a message a stopped worker left in flight: pending again now
    /// (resent with the same key) or held for a person, with a task and an
    /// event saying why. Nothing happens if its claim changed meanwhile.
    pub async fn release_uncertain(&self, row: &OutboxRow, choice: Uncertain, now: i64) -> anyhow::Result<bool> {
        let (state, reason) = match choice {
            Uncertain::Resend => {
                (OutboxState::Pending, format!("{UNCERTAIN} (attempt {}); sent again with the same key", row.attempts))
            }
            Uncertain::Hold => (
                OutboxState::Held,
                format!("{UNCERTAIN} (attempt {}), held: not sent again until a person checks", row.attempts),
            ),
        };
        let mut tx = self.begin_write().await?;
        let released = sqlx::query(
            "UPDATE outbox SET state = $1, reason = $2, not_before = $3, claimed_by = NULL, claim_until = NULL \
             WHERE id = $4 AND state = 'in-flight' AND claimed_by = $5",
        )
        .bind(state.as_str())
        .bind(&reason)
        .bind(now)
        .bind(row.id)
        .bind(row.claimed_by.as_deref().unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        if released.rows_affected() != 1 {
            return Ok(false);
        }
        let key = row.key();
        let channel = row.channel.as_deref().unwrap_or_default();
        if choice == Uncertain::Hold {
            let task = crate::outgoing::Task {
                key: format!("{key}/uncertain"),
                title: format!("Check whether {channel} message {} of invoice {} left", row.step, row.invoice_id),
                customer: row.customer_id.clone(),
                phone: None,
                script: format!(
                    "The {channel} message {key} was being handed over when sollecito stopped, so it may or may \
                     not have reached the customer. Look for the key {key} in the relay's or provider's log: if it \
                     left, nothing more is needed; if not, contact the customer or send it again by hand."
                ),
            };
            self.open_task(&mut tx, &row.invoice_id, &task, now).await?;
        }
        let detail = format!("{channel} message {}: {reason}", row.step);
        insert_event(&mut tx, &row.invoice_id, now, crate::event::EventKind::Uncertain, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The earliest moment after `after` that a pending step waits for (a
    /// sending window, a retry's time), if any.
    pub async fn next_waiting(&self, after: i64) -> anyhow::Result<Option<i64>> {
        let row = sqlx::query("SELECT MIN(not_before) AS next FROM outbox WHERE state = 'pending' AND not_before > $1")
            .bind(after)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("next")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_kinds_read_back_and_the_message_filter_names_the_message_kinds() {
        for state in OutboxState::ALL {
            assert_eq!(OutboxState::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for kind in OutboxKind::ALL {
            assert_eq!(OutboxKind::parse(kind.as_str()), Some(kind));
            assert_eq!(MESSAGE_KINDS.contains(&format!("'{kind}'")), kind.is_message(), "{kind}");
        }
        assert_eq!(OutboxState::parse("delivered"), None);
    }

    #[test]
    fn keys_are_injective_and_ordinary_ones_unchanged() {
        assert_eq!(outbox_key("inv-1001", "overdue-7"), "inv-1001/overdue-7");
        let ids = ["mid.X", "mid/X", "mid_X", "mid-X", "mïd", "mid", "mid%2FX", "mid X"];
        let keys: std::collections::BTreeSet<String> = ids.iter().map(|i| outbox_key(i, "s")).collect();
        assert_eq!(keys.len(), ids.len(), "{keys:?}");
        assert_eq!(outbox_key("mid/X", "s"), "mid%2FX/s");
        assert_eq!(outbox_key("mid.X", "s"), "mid%2EX/s");
        assert_eq!(outbox_key("mid%2FX", "s"), "mid%252FX/s");
        assert_eq!(outbox_key("a", "b/c"), "a/b%2Fc");
        assert_ne!(outbox_key("a/b", "c"), outbox_key("a", "b/c"));
    }
}
