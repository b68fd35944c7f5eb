//! Group commit: the claims, outcomes and waits of the messages of the
//! customers in progress, written together. Each customer still waits for
//! its own to be written before it goes on (a message's outcome is written
//! before anything else is claimed for its customer, and a claim before the
//! hand-over), so a crash leaves no more in flight than before: at most the
//! adapter calls under way. What changes is that the writes of the customers
//! side by side share a statement, where each was one statement (and, on
//! SQLite, one hand-over to its thread) a message.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, oneshot};

use crate::invoice::{Customer, Invoice};
use crate::store::{Settle, Store, Unclaimed};

/// Invoices as they are now, by id, read with the claim.
pub(super) type Current = HashMap<String, (Invoice, Customer)>;

/// One write asked for, with where its answer goes.
enum Job {
    Claim(Vec<i64>, oneshot::Sender<Result<(HashSet<i64>, Current), String>>),
    Settle(Vec<(i64, Settle)>, oneshot::Sender<Result<(), String>>),
    Unclaimed(Vec<(i64, Unclaimed)>, oneshot::Sender<Result<(), String>>),
}

/// The writer of a run's claims and outcomes.
pub(super) struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
    writer: tokio::task::JoinHandle<()>,
}

/// The writes taken in one go at most: a statement's worth.
const BATCH: usize = 500;

impl Committer {
    /// Starts the writer for `worker`, whose claims last `claim_seconds`; `now` is the tick's time.
    pub(super) fn start(store: Store, worker: String, claim_seconds: i64, now: i64) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let writer = tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut batch = vec![first];
                while batch.len() < BATCH
                    && let Ok(job) = queue.try_recv()
                {
                    batch.push(job);
                }
                write(&store, batch, &worker, claim_seconds, now).await;
            }
        });
        Committer { jobs, writer }
    }

    /// Claims `ids` right before they are handed over: those claimed (another
    /// worker's are left), and their invoices as they are then.
    pub(super) async fn claim(&self, ids: Vec<i64>) -> anyhow::Result<(HashSet<i64>, Current)> {
        let (answer, answered) = oneshot::channel();
        self.send(Job::Claim(ids, answer))?;
        answered.await?.map_err(anyhow::Error::msg)
    }

    /// Writes the outcomes of messages this worker holds in flight.
    pub(super) async fn settle(&self, settled: Vec<(i64, Settle)>) -> anyhow::Result<()> {
        let (answer, answered) = oneshot::channel();
        self.send(Job::Settle(settled, answer))?;
        answered.await?.map_err(anyhow::Error::msg)
    }

    /// Writes what the checks before a claim decided about pending messages.
    pub(super) async fn unclaimed(&self, decided: Vec<(i64, Unclaimed)>) -> anyhow::Result<()> {
        if decided.is_empty() {
            return Ok(());
        }
        let (answer, answered) = oneshot::channel();
        self.send(Job::Unclaimed(decided, answer))?;
        answered.await?.map_err(anyhow::Error::msg)
    }

    fn send(&self, job: Job) -> anyhow::Result<()> {
        self.jobs.send(job).map_err(|_| anyhow::anyhow!("the delivery's writer stopped"))
    }

    /// Waits for what was asked to be written.
    pub(super) async fn finish(self) -> anyhow::Result<()> {
        drop(self.jobs);
        Ok(self.writer.await?)
    }
}

/// One batch: outcomes first (they let go of claims), then the waits, then
/// the claims, each kind in one statement; every asker answered.
async fn write(store: &Store, batch: Vec<Job>, worker: &str, claim_seconds: i64, now: i64) {
    let (mut claims, mut settles, mut unclaimed) = (vec![], vec![], vec![]);
    for job in batch {
        match job {
            Job::Claim(ids, answer) => claims.push((ids, answer)),
            Job::Settle(rows, answer) => settles.push((rows, answer)),
            Job::Unclaimed(rows, answer) => unclaimed.push((rows, answer)),
        }
    }
    if !settles.is_empty() {
        let rows: Vec<(i64, Settle)> = settles.iter().flat_map(|(rows, _)| rows.iter().cloned()).collect();
        let written = store.settle_messages(&rows, worker, now).await.map_err(|e| format!("{e:#}"));
        for (_, answer) in settles {
            let _ = answer.send(written.clone());
        }
    }
    if !unclaimed.is_empty() {
        let mut rows = vec![];
        let mut answers = vec![];
        for (decided, answer) in unclaimed {
            rows.extend(decided);
            answers.push(answer);
        }
        let written = store.record_unclaimed(&rows, now).await.map_err(|e| format!("{e:#}"));
        for answer in answers {
            let _ = answer.send(written.clone());
        }
    }
    if !claims.is_empty() {
        let ids: Vec<i64> = claims.iter().flat_map(|(ids, _)| ids.iter().copied()).collect();
        // The lease counts from the claim, on the wall clock: a simulated tick's `now` is not the time.
        let until = chrono::Utc::now().timestamp() + claim_seconds;
        match store.claim_and_read(&ids, worker, until).await {
            Ok((claimed, current)) => {
                for (ids, answer) in claims {
                    let theirs: HashSet<i64> = ids.iter().copied().filter(|id| claimed.contains_key(id)).collect();
                    let invoices = (theirs.iter())
                        .filter_map(|id| current.get_key_value(&claimed[id]))
                        .map(|(id, found)| (id.clone(), found.clone()))
                        .collect();
                    let _ = answer.send(Ok((theirs, invoices)));
                }
            }
            Err(e) => {
                let why = format!("{e:#}");
                for (_, answer) in claims {
                    let _ = answer.send(Err(why.clone()));
                }
            }
        }
    }
}
