//! A policy's decisions on a batch of invoices, in the host's terms, whatever
//! the contract version it was built against: the batch goes in chunks, a
//! call that traps is retried on halves, and every answer is checked.

use std::ops::Range;

use super::answers::{answer_size, truncate};
use super::{Plugin, PluginBody, PolicyError, count_fuel, latest};
use crate::decision::{Decision, Review, Setting};

/// One call's answers (or why the whole call failed), for a range of the batch.
type Answers = Result<Vec<Result<Decision, String>>, String>;

impl Plugin {
    /// A policy's decisions on invoices, one result each, in order.
    pub fn decide(&self, now: i64, settings: &[Setting], batch: &[Review]) -> Vec<Result<Decision, PolicyError>> {
        let ids: Vec<&str> = batch.iter().map(|r| r.invoice.id.as_str()).collect();
        match &self.body {
            PluginBody::Wasm(prepared) => self.in_batches(now, &ids, |range| {
                let mut store = self.store(now, range.len());
                let Some(answer) = prepared.decide(&mut store, now, settings, &batch[range.clone()]) else {
                    return Err(format!("{} is not a policy", self.id));
                };
                self.fuel.record(range.len(), count_fuel(&store, self.limits.fuel_for(range.len())));
                answer.map_err(|e| self.explain(&store, range.len(), e))
            }),
            PluginBody::Native(_) => {
                let views: Vec<_> = batch.iter().map(latest::convert::view).collect();
                self.evaluate(now, &latest::convert::settings(settings), &views)
            }
        }
    }

    /// [`Plugin::decide`] on invoices already in the newest contract's terms
    /// (benchmarks and tests of the contract itself).
    pub fn evaluate(
        &self,
        now: i64,
        settings: &[latest::Setting],
        views: &[latest::InvoiceView],
    ) -> Vec<Result<Decision, PolicyError>> {
        let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
        let decisions = |range: Range<usize>, answer: Vec<Result<latest::Decision, String>>| {
            answer
                .into_iter()
                .zip(&views[range])
                .map(|(r, view)| r.map(|d| latest::convert::decision(d, &view.currency)))
                .collect()
        };
        let pre = match &self.body {
            PluginBody::Wasm(prepared) => prepared.as_latest_policy(),
            PluginBody::Native(evaluate) => {
                return self.in_batches(now, &ids, |range| {
                    Ok(decisions(range.clone(), evaluate(now, settings, &views[range])))
                });
            }
        };
        let Some(pre) = pre else {
            let reason = format!("{} is not a policy of the newest contract", self.id);
            return ids.iter().map(|id| Err(self.error(&[id], reason.clone()))).collect();
        };
        self.in_batches(now, &ids, |range| {
            let mut store = self.store(now, range.len());
            let answer = pre
                .instantiate(&mut store)
                .and_then(|p| p.call_evaluate(&mut store, now, settings, &views[range.clone()]));
            self.fuel.record(range.len(), count_fuel(&store, self.limits.fuel_for(range.len())));
            let answer = answer.map_err(|e| self.explain(&store, range.len(), e))?;
            Ok(decisions(range, answer))
        })
    }

    /// Runs `call` over the batch in chunks. A call that fails as a whole is
    /// retried on halves (within a budget) so that one poisonous invoice does
    /// not fail the others.
    fn in_batches(
        &self,
        now: i64,
        ids: &[&str],
        call: impl Fn(Range<usize>) -> Answers,
    ) -> Vec<Result<Decision, PolicyError>> {
        // WASI writes a guest's panic message to stderr by blocking on tokio:
        // on a worker thread of a multi-thread runtime, say so first.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.in_batches_here(now, ids, &call))
            }
            _ => self.in_batches_here(now, ids, &call),
        }
    }

    fn in_batches_here(
        &self,
        now: i64,
        ids: &[&str],
        call: &dyn Fn(Range<usize>) -> Answers,
    ) -> Vec<Result<Decision, PolicyError>> {
        let mut out = Vec::with_capacity(ids.len());
        let size = self.limits.batch_size.max(1);
        for start in (0..ids.len()).step_by(size) {
            let chunk = start..(start + size).min(ids.len());
            let mut results: Vec<Option<Result<Decision, PolicyError>>> = vec![None; chunk.len()];
            let mut pending = vec![chunk.clone()];
            let mut calls_left = 16;
            while let Some(range) = pending.pop() {
                calls_left -= 1;
                let slots = range.start - start..range.end - start;
                match self.checked(now, &ids[range.clone()], call(range.clone())) {
                    Ok(decisions) => {
                        for (slot, d) in results[slots].iter_mut().zip(decisions) {
                            *slot = Some(d);
                        }
                    }
                    Err(reason) if range.len() > 1 && calls_left >= 2 => {
                        tracing::debug!(plugin = %self.id, %reason, invoices = range.len(), "batch failed; splitting it");
                        let mid = range.start + range.len() / 2;
                        pending.push(mid..range.end);
                        pending.push(range.start..mid);
                    }
                    Err(reason) => {
                        let error = self.error(&ids[range], reason);
                        for slot in &mut results[slots] {
                            *slot = Some(Err(error.clone()));
                        }
                    }
                }
            }
            out.extend(results.into_iter().map(|r| r.expect("every invoice gets a result")));
        }
        out
    }

    pub(super) fn error(&self, invoices: &[&str], reason: String) -> PolicyError {
        PolicyError { plugin: self.id.to_string(), invoices: invoices.iter().map(|i| i.to_string()).collect(), reason }
    }

    /// One call's answers, checked. `Err` fails the whole call.
    fn checked(&self, now: i64, ids: &[&str], answer: Answers) -> Result<Vec<Result<Decision, PolicyError>>, String> {
        let answer = answer?;
        if answer.len() != ids.len() {
            return Err(format!("returned {} results for {} invoices", answer.len(), ids.len()));
        }
        let cap = self.limits.answer_bytes_per_invoice;
        let size: usize = answer.iter().map(answer_size).sum();
        if size > cap * ids.len() {
            return Err(format!("answer of {size} bytes exceeds the cap of {} bytes", cap * ids.len()));
        }
        Ok(answer
            .into_iter()
            .zip(ids)
            .map(|(result, id)| {
                let checked = match result {
                    Ok(decision) => self.check(&decision, now).map(|_| decision),
                    Err(message) => Err(format!("refused the invoice: {}", truncate(&message, 500))),
                };
                checked.map_err(|reason| self.error(&[id], reason))
            })
            .collect())
    }
}
