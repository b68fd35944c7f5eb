//! Outcomes tied to the messages before them, through the real pipeline: a
//! payment is attributed to the last message that left in the window, with
//! the path, in the transaction of its event; `sollecito report` reads them.

use chrono::{Days, NaiveDate};
use serde_json::Value;
use sollecito::Runtime;
use sollecito::event::Event;
use sollecito::intake::Dataset;

use crate::common::*;
use crate::pipeline::Site;

fn noon(day: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    day.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_tied_to_the_last_message_in_the_window_and_the_report_counts_it() {
    let site = Site::new();
    let db = site.db_path();
    let mut catalog = catalog();
    let mut config = site.config();
    config.outcomes.attribution_days = 7;
    let runtime = Runtime::open(&db, config, &mut catalog).await.unwrap();
    let data = dataset("invoices.json");
    let start: NaiveDate = "2026-09-24".parse().unwrap();
    runtime.store().import(&Dataset { events: vec![], ..data }, noon(start)).await.unwrap();
    for offset in 0..18 {
        runtime.tick(noon(start + Days::new(offset)), false).await.unwrap();
    }
    // inv-1004 got its pre-due reminder on 28 September and overdue-7 on 8 October; paid on the 12th.
    let paid_on = noon("2026-10-12".parse().unwrap());
    runtime.store().apply_event("inv-1004", &Event::Paid, sollecito::event::Door::Api, paid_on).await.unwrap();
    // Told twice (a webhook retried, an operator's second click): one recovery.
    runtime.store().apply_event("inv-1004", &Event::Paid, sollecito::event::Door::Api, paid_on).await.unwrap();
    // inv-1001 paid in part on the same day: an outcome of its own, not a recovery in full.
    runtime
        .store()
        .apply_event("inv-1001", &Event::PaymentReceived { amount: 50_000 }, sollecito::event::Door::Api, paid_on)
        .await
        .unwrap();

    let outcomes = runtime.store().outcomes(0, i64::MAX).await.unwrap();
    let harbour = outcomes.iter().find(|o| o.invoice_id == "inv-1004").unwrap();
    assert_eq!((harbour.kind.name(), harbour.recovered, harbour.currency.as_str()), ("paid", 98_000, "GBP"));
    assert_eq!(harbour.touch_step.as_deref(), Some("overdue-7"));
    assert_eq!(harbour.touch_channel.as_deref(), Some("email"));
    assert_eq!(harbour.touch_policy.as_deref(), Some("b2b-standard"));
    // The pre-due reminder left more than 7 days before: outside the window, not in the path.
    assert_eq!(harbour.path, ["overdue-7"]);
    let history = runtime.store().outbox_of("inv-1004").await.unwrap();
    let touch = history.iter().find(|o| o.step == "overdue-7").unwrap();
    assert_eq!(harbour.after_touch, Some(paid_on.timestamp() - touch.done_at.unwrap()));
    let rossi = outcomes.iter().find(|o| o.invoice_id == "inv-1001").unwrap();
    assert_eq!((rossi.kind.name(), rossi.recovered), ("paid-in-part", 50_000));
    // The dispute scripted for inv-1005 was not applied here: no other outcome.
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    drop(runtime);

    let out = site.run(&["report", "--from", "2026-09-24", "--to", "2026-10-12", "--by", "step", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["total"]["recovered"], 1);
    assert_eq!(report["total"]["amount_recovered"]["GBP"], 98_000);
    assert_eq!(report["total"]["amount_recovered"]["EUR"], 50_000);
    let overdue = report["lines"].as_array().unwrap().iter().find(|l| l["key"]["step"] == "overdue-7").unwrap();
    assert_eq!(overdue["recovered"], 1);
    // By the last tick (11 October, noon), overdue-7 left for Rossi, Nordwind
    // and Harbour. The loyal Bianchi's is due+10, the 11th, a Sunday: it waits
    // for Monday. Noon UTC is night in Tokyo and Auckland: with ticks only at
    // noon, their windows never open.
    let dunned: Vec<&str> = ["inv-1001", "inv-1003", "inv-1004"].into();
    assert_eq!(overdue["dunned"], dunned.len());

    let bad = site.run(&["report", "--by", "mood"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--by \"mood\": not a dimension"));
    let csv = site.run(&["report", "--from", "2026-09-24", "--to", "2026-10-12", "--csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("dunned,recovered,recovery_rate,currency,"), "{text}");
}

/// The billing system's export sent twice at once (two schedulers, a retry
/// racing the first try), with an invoice paid in it: one payment, one
/// recovery. On PostgreSQL both imports run at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_payment_imported_by_eight_at_once_is_one_recovery() {
    let site = Site::new();
    let mut catalog = catalog();
    let runtime = Runtime::open(&site.db_path(), site.config(), &mut catalog).await.unwrap();
    let data = Dataset { events: vec![], ..dataset("invoices.json") };
    let start = noon("2026-10-01".parse().unwrap());
    runtime.store().import(&data, start).await.unwrap();
    let mut paid = data.clone();
    let harbour = paid.invoices.iter_mut().find(|i| i.id == "inv-1004").unwrap();
    harbour.amount_paid = harbour.amount_due;
    harbour.status = sollecito::invoice::InvoiceStatus::Paid;
    let later = noon("2026-10-12".parse().unwrap());
    let imports: Vec<_> = (0..8)
        .map(|_| {
            let (store, paid) = (runtime.store().clone(), paid.clone());
            tokio::spawn(async move { store.import(&paid, later).await })
        })
        .collect();
    let mut updated = 0;
    for import in imports {
        updated += import.await.unwrap().unwrap().invoices_updated;
    }
    assert_eq!(updated, 1, "one import saw the payment, the others an unchanged invoice");
    let events = runtime.store().events_of("inv-1004").await.unwrap();
    assert_eq!(events.iter().filter(|e| e.kind.name() == "paid").count(), 1, "{events:?}");
    let outcomes = runtime.store().outcomes(0, i64::MAX).await.unwrap();
    let recoveries: Vec<i64> = outcomes.iter().filter(|o| o.invoice_id == "inv-1004").map(|o| o.recovered).collect();
    assert_eq!(recoveries, [98_000]);
}

/// Six invoices whose ages at 31 October 2026 are worked out by hand.
fn aging_fixture() -> Dataset {
    let invoice = |id: &str, amount: &str, paid: &str, issued: &str, due: &str, status: &str| {
        serde_json::json!({
            "id": id, "number": format!("F-{id}"), "customer": "cus-a", "currency": "EUR",
            "amount_due": amount, "amount_paid": paid, "issued": issued, "due": due, "status": status,
        })
    };
    let doc = serde_json::json!({
        "customers": [{
            "id": "cus-a", "name": "Alfa S.r.l.", "email": "a@alfa.example", "locale": "it-IT",
            "timezone": "Europe/Rome", "segment": "b2b", "business": true,
        }],
        "invoices": [
            // Paid on 20 October (below): nothing owed at the end of the month.
            invoice("a", "100.00", "0.00", "2026-09-20", "2026-10-05", "open"),
            invoice("b", "200.00", "0.00", "2026-10-01", "2026-10-15", "open"),
            invoice("c", "300.00", "0.00", "2026-10-10", "2026-11-10", "open"),
            invoice("d", "400.00", "100.00", "2026-07-01", "2026-07-15", "open"),
            // Paid on 5 November: still owed at the end of October.
            invoice("e", "50.00", "0.00", "2026-10-05", "2026-10-20", "open"),
            // Void: not a receivable, nor a sale.
            invoice("f", "990.00", "0.00", "2026-10-02", "2026-10-09", "void"),
        ],
        "events": [],
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aging.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    sollecito::intake::read_dataset(&path).unwrap()
}

/// The store at `location` with the fixture imported on 1 October, `a` paid
/// on 20 October and `e` on 5 November.
pub(crate) async fn aged_store(location: &str) -> sollecito::Store {
    let store = sollecito::Store::open(location).await.unwrap();
    store.import(&aging_fixture(), noon("2026-10-01".parse().unwrap())).await.unwrap();
    store
        .apply_event("a", &Event::Paid, sollecito::event::Door::Api, noon("2026-10-20".parse().unwrap()))
        .await
        .unwrap();
    store
        .apply_event("e", &Event::Paid, sollecito::event::Door::Api, noon("2026-11-05".parse().unwrap()))
        .await
        .unwrap();
    store
}

async fn age_the_fixture(location: &str) {
    let store = aged_store(location).await;
    let period = ("2026-10-01".parse().unwrap(), "2026-10-31".parse().unwrap());
    let report = sollecito::report::from_store(&store, &[], &Default::default(), period).await.unwrap();
    let buckets: Vec<(&str, usize, i64)> = report
        .receivables
        .buckets
        .iter()
        .map(|b| (b.label, b.invoices, b.amount.get("EUR").copied().unwrap_or(0)))
        .collect();
    // At 31 October: c not due (300), b 16 days late (200) and e 11 (50), d 108 (400 - 100 paid).
    assert_eq!(
        buckets,
        [("not due", 1, 30_000), ("1-30", 2, 25_000), ("31-60", 0, 0), ("61-90", 0, 0), (">90", 1, 30_000)],
        "{location}"
    );
    // The countback, by hand: 850 owed, less c's 300 (10 Oct), e's 50 (5 Oct), b's 200 (1 Oct)
    // and a's 100 (20 Sep), leaves 200 of d's 400 (1 Jul): the 122 days after 1 July and half
    // of it. Not due, c's 300: the 21 days after 10 October and all of it. October's sales
    // (550) do not cover the 850 owed, so no period figure.
    let dso = |r: &sollecito::report::Report| {
        let d = &r.receivables.dso["EUR"];
        (d.days, d.best_days, d.delinquent_days, d.period_days)
    };
    assert_eq!(dso(&report), (122.5, 22.0, 100.5, None), "{location}");
    // At 30 September only a (not due, 100) and d (77 days late, 300) were owed.
    let september = ("2026-09-01".parse().unwrap(), "2026-09-30".parse().unwrap());
    let before = sollecito::report::from_store(&store, &[], &Default::default(), september).await.unwrap();
    let owed: Vec<(usize, i64)> =
        before.receivables.buckets.iter().map(|b| (b.invoices, b.amount.get("EUR").copied().unwrap_or(0))).collect();
    assert_eq!(owed, [(1, 10_000), (0, 0), (0, 0), (1, 30_000), (0, 0)], "{location}");
    // 400 owed: a's 100 (20 Sep) then 300 of d's 400: 91 days after 1 July and three quarters;
    // not due, a's 100: 10 days and all of 20 September; 80.75 late on average.
    assert_eq!(dso(&before), (91.8, 11.0, 80.8, None), "{location}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivables_by_age_and_dso_of_a_small_fixture_match_the_hand_count_on_both_stores() {
    let dir = tempfile::tempdir().unwrap();
    age_the_fixture(&dir.path().join("aging.db").display().to_string()).await;
    let pg = PostgresDatabase::create("aging").await;
    age_the_fixture(&pg.url).await;
    pg.drop().await;
}

async fn raw(location: &str) -> sqlx::SqliteConnection {
    <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{location}")).await.unwrap()
}

/// A store written before the ledger existed gets it filled from the
/// invoices' documents when it is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_store_gets_its_ledger_filled_from_the_documents() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("older.db");
    let location = db.display().to_string();
    {
        let store = sollecito::Store::open(&location).await.unwrap();
        store.import(&aging_fixture(), noon("2026-10-01".parse().unwrap())).await.unwrap();
        store.close().await;
    }
    // Back to before migration 11, as a store of the previous release was.
    let mut conn = raw(&location).await;
    for undo in [
        "DROP TABLE ledger",
        "DROP INDEX customers_segment",
        "ALTER TABLE customers DROP COLUMN segment",
        "ALTER TABLE outbox DROP COLUMN rendered",
    ] {
        sqlx::query(undo).execute(&mut conn).await.unwrap();
    }
    sqlx::query("DELETE FROM schema_migrations WHERE version = 11").execute(&mut conn).await.unwrap();
    sqlx::Connection::close(conn).await.unwrap();

    let store = sollecito::Store::open(&location).await.unwrap();
    let due = store.due_dates().await.unwrap();
    let segments: Vec<String> =
        sqlx::query_scalar("SELECT segment FROM customers").fetch_all(&mut raw(&location).await).await.unwrap();
    assert_eq!(segments, ["b2b"]);
    assert_eq!(due.len(), 6);
    assert_eq!(due["d"], "2026-07-15".parse::<NaiveDate>().unwrap());
    let period = ("2026-10-01".parse().unwrap(), "2026-10-31".parse().unwrap());
    let report = sollecito::report::from_store(&store, &[], &Default::default(), period).await.unwrap();
    // Nothing paid yet: a (26 days late) joins b and e in 1-30.
    let counts: Vec<usize> = report.receivables.buckets.iter().map(|b| b.invoices).collect();
    assert_eq!(counts, [1, 3, 0, 0, 1]);
}

/// The report sums outcomes no message preceded in the store instead of
/// reading them: the same report as one computed from every outcome's row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summing_untouched_outcomes_in_the_store_gives_the_report_of_every_row() {
    use sollecito::report::{self, Dimension};
    let site = Site::new();
    let mut catalog = catalog();
    let runtime = Runtime::open(&site.db_path(), site.config(), &mut catalog).await.unwrap();
    let data = dataset("invoices.json");
    let start: NaiveDate = "2026-09-24".parse().unwrap();
    runtime.store().import(&Dataset { events: vec![], ..data }, noon(start)).await.unwrap();
    for offset in 0..18 {
        runtime.tick(noon(start + Days::new(offset)), false).await.unwrap();
    }
    let store = runtime.store();
    // One paid just after a reminder (touched), one promise, then every other
    // invoice three weeks after the last message (untouched), one in part.
    store
        .apply_event("inv-1004", &Event::Paid, sollecito::event::Door::Api, noon("2026-10-12".parse().unwrap()))
        .await
        .unwrap();
    store
        .apply_event(
            "inv-1003",
            &Event::PromiseToPay { until: "2026-11-20".parse().unwrap() },
            sollecito::event::Door::Api,
            noon("2026-10-12".parse().unwrap()),
        )
        .await
        .unwrap();
    let late = noon("2026-11-02".parse().unwrap());
    let ids = store.invoice_ids().await.unwrap();
    for id in ids.iter().filter(|id| *id != "inv-1004") {
        let event = if id == "inv-1002" { Event::PaymentReceived { amount: 1_000 } } else { Event::Paid };
        store.apply_event(id, &event, sollecito::event::Door::Api, late).await.unwrap();
    }
    let period: (NaiveDate, NaiveDate) = ("2026-09-24".parse().unwrap(), "2026-11-05".parse().unwrap());
    let (from, to) = (noon(period.0).timestamp() - 43_200, noon(period.1).timestamp() + 43_199);
    let untouched = store.untouched_outcomes(from, to).await.unwrap();
    assert!(untouched.paid_invoices >= 3 && !untouched.paid_and_dunned.is_empty(), "{untouched:?}");

    let by = [Dimension::Step, Dimension::Channel];
    let costs = std::collections::BTreeMap::from([("email".to_string(), 1)]);
    let summed = report::from_store(store, &by, &costs, period).await.unwrap();
    let sent = store.sent_between(from, to).await.unwrap();
    let every = store.outcomes(from, to).await.unwrap();
    let rows = report::report(&sent, (&every, &Default::default()), &Default::default(), &by, &costs, period);
    assert_eq!(summed.total, rows.total);
    assert_eq!(summed.lines, rows.lines);
    assert_eq!(summed.messages_per_recovered, rows.messages_per_recovered);
    assert!(summed.total.recovered >= 2 && summed.total.promised == 1, "{:?}", summed.total);
}
