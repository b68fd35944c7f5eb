//! A policy that misbehaves on purpose. The setting `mode` picks how:
//! loop, alloc, recurse, panic, oversized, sleep, entropy, poison, short, bad-step, past-review, refuse,
//! undeclared (a template describe did not declare).

wit_bindgen::generate!({ world: "policy", path: "../../../wit" });

use sollecito::plugin::types::*;

struct Hostile;

fn setting<'a>(settings: &'a [Setting], key: &str) -> &'a str {
    settings.iter().find(|s| s.key == key).map_or("", |s| s.value.as_str())
}

fn wait(now: Timestamp) -> Decision {
    Decision { actions: vec![], next_review: Some(now + 86_400) }
}

#[inline(never)]
#[allow(unconditional_recursion)] // the point: recursion without end
fn recurse(depth: u64, sink: &mut [u64; 16]) -> u64 {
    sink[(depth % 16) as usize] = depth;
    let below = recurse(depth + 1, sink);
    below.wrapping_add(sink[(depth % 7) as usize])
}

impl Guest for Hostile {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "hostile".into(),
            version: "6.6.6".into(),
            summary: "misbehaves on purpose".into(),
            templates: vec!["overdue-soft".into()],
            channels: vec!["email".into()],
        }
    }

    fn evaluate(now: Timestamp, settings: Vec<Setting>, batch: Vec<InvoiceView>) -> Vec<Result<Decision, String>> {
        match setting(&settings, "mode") {
            "loop" => {
                let mut x: u64 = 1;
                loop {
                    x = std::hint::black_box(x.wrapping_mul(3).wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<u8> = Vec::with_capacity(1 << 30);
                hoard.push(1);
                std::hint::black_box(&hoard);
            }
            "recurse" => {
                let mut sink = [0u64; 16];
                std::hint::black_box(recurse(0, &mut sink));
            }
            "panic" => panic!("boom on {} invoices", batch.len()),
            "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
            "oversized" => {
                let mb: usize = setting(&settings, "answer_mb").parse().unwrap_or(100);
                let reason = "x".repeat(mb << 20);
                return batch
                    .iter()
                    .map(|_| {
                        Ok(Decision {
                            actions: vec![Action::Escalate(Escalation {
                                step: "big".into(),
                                kind: EscalationKind::ManualReview,
                                reason: reason.clone(),
                            })],
                            next_review: None,
                        })
                    })
                    .collect();
            }
            "short" => return vec![],
            "entropy" => {
                // What a careless plugin might read: the clock and a random seed.
                use std::hash::{BuildHasher, Hasher};
                let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(42);
                return batch.iter().map(|_| Err(format!("clock={clock} hash={}", h.finish()))).collect();
            }
            _ => {}
        }
        batch
            .iter()
            .map(|inv| match setting(&settings, "mode") {
                "poison" if inv.id == "poison" => panic!("poisoned by invoice {}", inv.id),
                "bad-step" => Ok(Decision {
                    actions: vec![Action::Remind(Reminder {
                        step: "Not A Step!".into(),
                        channel: "email".into(),
                        template: "overdue-soft".into(),
                        tone: Tone::Soft,
                        deadline: None,
                    })],
                    next_review: None,
                }),
                "past-review" => Ok(Decision { actions: vec![], next_review: Some(now - 1) }),
                "undeclared" => Ok(Decision {
                    actions: vec![Action::Remind(Reminder {
                        step: "firm".into(),
                        channel: "email".into(),
                        template: "overdue-firm".into(),
                        tone: Tone::Firm,
                        deadline: None,
                    })],
                    next_review: None,
                }),
                "refuse" => Err(format!("cannot handle {}", inv.id)),
                _ => Ok(wait(now)),
            })
            .collect()
    }
}

export!(Hostile);
