//! Claims on messages in flight, as several workers on one database see them:
//! a message is claimed by one worker only, only its holder settles it, a
//! claim past its lease comes back as uncertain, and due messages come a
//! customer at a time. The same on SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::path::Path;

use sollecito::Runtime;
use sollecito::config::{Config, Uncertain};
use sollecito::store::{Settle, UNCERTAIN};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_holds_a_claim_and_a_lapsed_one_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    claims(&dir.path().join("claims.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_holds_a_claim_and_a_lapsed_one_comes_back_on_postgres() {
    let db = PostgresDatabase::create("claims").await;
    claims(Path::new(&db.url)).await;
    db.drop().await;
}

/// When the example invoices' messages are due.
const NOW: &str = "2026-10-08T12:00:00Z";

/// A runtime on `db` (its files in the folder returned) with the example
/// invoices imported and decided at `NOW`: their messages are due.
async fn decided(db: &Path) -> (Runtime, tempfile::TempDir) {
    let mut catalog = catalog();
    let outbox = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.email.outbox_dir = Some(outbox.path().to_path_buf());
    config.data_dir = Some(outbox.path().to_path_buf());
    let runtime = Runtime::open(db, config, &mut catalog).await.unwrap();
    runtime.store().import(&dataset("invoices.json"), at("2026-09-20T00:00:00Z")).await.unwrap();
    runtime.decide(at(NOW), false).await.unwrap();
    (runtime, outbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_own_lapsed_claim_comes_back_to_it() {
    let dir = tempfile::tempdir().unwrap();
    own_lapsed_claim(&dir.path().join("claims.db")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_own_lapsed_claim_comes_back_to_it_on_postgres() {
    let db = PostgresDatabase::create("own_claim").await;
    own_lapsed_claim(Path::new(&db.url)).await;
    db.drop().await;
}

/// A worker's own claim past its lease comes back to it (a `serve` tick that
/// failed left it, and no other worker may be running); one within its lease
/// is left alone: its adapter call may still be going.
async fn own_lapsed_claim(db: &Path) {
    let (runtime, _outbox) = decided(db).await;
    let store = runtime.store();
    let now = at(NOW);
    let due = store.due_messages(now.timestamp(), "", 10_000).await.unwrap();
    assert!(due.len() >= 2, "{due:?}");
    let me = runtime.worker_id().to_string();
    let wall = chrono::Utc::now().timestamp();
    assert_eq!(store.claim(&[due[0].id], &me, wall - 1).await.unwrap(), [due[0].id]);
    assert_eq!(store.claim(&[due[1].id], &me, wall + 600).await.unwrap(), [due[1].id]);

    let report = runtime.tick(now, false).await.unwrap();
    assert_eq!(report.delivered.uncertain_resent, 1, "{:?}", report.delivered);
    let row = |id: i64, invoice: String| async move {
        store.outbox_of(&invoice).await.unwrap().into_iter().find(|r| r.id == id).unwrap()
    };
    let lapsed = row(due[0].id, due[0].invoice_id.clone()).await;
    assert_ne!(lapsed.state.as_str(), "in-flight", "{lapsed:?}");
    assert!(lapsed.reason.as_deref().is_some_and(|r| r.starts_with(UNCERTAIN)), "{lapsed:?}");
    let held = row(due[1].id, due[1].invoice_id.clone()).await;
    assert_eq!((held.state.as_str(), held.claimed_by.as_deref()), ("in-flight", Some(me.as_str())));
}

async fn claims(db: &Path) {
    let (runtime, _outbox) = decided(db).await;
    let store = &runtime.store();
    let now = at(NOW);

    // Pages of 2: a customer's messages are never split, and none is read twice.
    let mut seen = vec![];
    let mut after = String::new();
    loop {
        let page = store.due_messages(now.timestamp(), &after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.customer_id.clone();
        seen.extend(page);
    }
    let all = store.due_messages(now.timestamp(), "", 10_000).await.unwrap();
    assert!(all.len() >= 4, "{all:?}");
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    let mut paged: Vec<i64> = seen.iter().map(|r| r.id).collect();
    paged.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(paged, expected, "every due message once, whatever the page size");
    let customers: Vec<&str> = seen.iter().map(|r| r.customer_id.as_str()).collect();
    let mut runs: Vec<&str> = customers.clone();
    runs.dedup();
    let distinct: BTreeSet<&str> = customers.iter().copied().collect();
    assert_eq!(runs.len(), distinct.len(), "a customer's messages together: {customers:?}");

    // Two workers race for the same messages: each goes to one of them.
    let lease = chrono::Utc::now().timestamp() + 60;
    let a = store.claim(&ids, "worker-a", lease).await.unwrap();
    let b = store.claim(&ids, "worker-b", lease).await.unwrap();
    assert_eq!(a.len(), ids.len());
    assert!(b.is_empty(), "claimed twice: {b:?}");

    // Only the holder settles; the other's word changes nothing.
    store
        .settle_message(
            ids[0],
            "worker-b",
            Settle::Sent { receipt: "forged".into(), rendered: None, message_id: None },
            now.timestamp(),
        )
        .await
        .unwrap();
    let row = |id: i64| {
        let all = store.outbox_of(&all.iter().find(|r| r.id == id).unwrap().invoice_id);
        async move { all.await.unwrap().into_iter().find(|r| r.id == id).unwrap() }
    };
    let first = row(ids[0]).await;
    assert_eq!((first.state.as_str(), first.attempts), ("in-flight", 1));
    store
        .settle_message(
            ids[0],
            "worker-a",
            Settle::Sent { receipt: "250 ok".into(), rendered: None, message_id: None },
            now.timestamp(),
        )
        .await
        .unwrap();
    assert_eq!(row(ids[0]).await.state.as_str(), "sent");

    // worker-a stops with the rest in flight: worker-b sees them, takes back one
    // to send again and holds another for a person.
    let orphans = store.in_flight().await.unwrap();
    assert_eq!(orphans.len(), ids.len() - 1);
    assert!(orphans.iter().all(|r| r.claimed_by.as_deref() == Some("worker-a")), "{orphans:?}");
    assert!(store.release_uncertain(&orphans[0], Uncertain::Resend, now.timestamp()).await.unwrap());
    assert!(!store.release_uncertain(&orphans[0], Uncertain::Resend, now.timestamp()).await.unwrap(), "once");
    assert!(store.release_uncertain(&orphans[1], Uncertain::Hold, now.timestamp()).await.unwrap());
    let resent = row(orphans[0].id).await;
    assert_eq!(resent.state.as_str(), "pending");
    assert!(resent.reason.as_deref().unwrap().starts_with(UNCERTAIN), "{resent:?}");
    assert_eq!(row(orphans[1].id).await.state.as_str(), "held");
    let tasks = store.tasks(false).await.unwrap();
    assert!(tasks.iter().any(|t| t.invoice_id == orphans[1].invoice_id && t.key.ends_with("/uncertain")), "{tasks:?}");

    // Sent again under worker-b's claim, with the same key; history says so.
    assert_eq!(store.claim(&[orphans[0].id], "worker-b", lease).await.unwrap(), [orphans[0].id]);
    let again = row(orphans[0].id).await;
    assert_eq!(again.key(), orphans[0].key(), "the same key");
    assert_eq!(again.attempts, 2);
    store
        .settle_message(
            again.id,
            "worker-b",
            Settle::Sent { receipt: "250 ok".into(), rendered: None, message_id: None },
            now.timestamp(),
        )
        .await
        .unwrap();
    let done = row(again.id).await;
    assert_eq!(done.state.as_str(), "sent");
    assert_eq!(done.reason.as_deref(), Some("uncertain after an interruption, resent"));
    let events = store.events_of(&again.invoice_id).await.unwrap();
    assert!(events.iter().any(|e| e.kind.name() == "uncertain"), "{events:?}");

    // A failure of the operator's setup gives the attempt back.
    let third = row(orphans[2].id).await;
    assert!(store.release_uncertain(&third, Uncertain::Resend, now.timestamp()).await.unwrap());
    store.claim(&[third.id], "worker-b", lease).await.unwrap();
    let later = now.timestamp() + 60;
    let setup = Settle::SetupFault { not_before: later, reason: "the relay's setup: connection refused".into() };
    store.settle_message(third.id, "worker-b", setup, now.timestamp()).await.unwrap();
    let waiting = row(third.id).await;
    assert_eq!((waiting.state.as_str(), waiting.attempts, waiting.setup_faults), ("pending", 1, 1));
    assert_eq!(waiting.not_before, later);
}
