//! The physical limit of a tick's writes, measured beside the tick: the rows
//! the tick added (decisions, outbox rows, whatever else it appended) and its
//! invoices' new state, written into a copy of the store as it stood before
//! the tick, in one transaction, through SQLite's C API with nothing else: no
//! pool, no worker thread, no policy, no checks.

use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::time::{Duration, Instant};

use libsqlite3_sys as ffi;

/// One SQLite connection, closed when dropped.
struct Db(*mut ffi::sqlite3);

impl Drop for Db {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_close(self.0) };
    }
}

impl Db {
    fn open(path: &Path) -> Db {
        let name = CString::new(path.to_str().unwrap()).unwrap();
        let mut db = std::ptr::null_mut();
        let rc = unsafe { ffi::sqlite3_open(name.as_ptr(), &mut db) };
        assert_eq!(rc, ffi::SQLITE_OK, "opening {}", path.display());
        Db(db)
    }

    fn exec(&self, sql: &str) {
        let text = CString::new(sql).unwrap();
        let rc = unsafe { ffi::sqlite3_exec(self.0, text.as_ptr(), None, std::ptr::null_mut(), std::ptr::null_mut()) };
        assert_eq!(rc, ffi::SQLITE_OK, "{sql}: {}", self.error());
    }

    fn error(&self) -> String {
        unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.0)) }.to_string_lossy().into_owned()
    }

    fn prepare(&self, sql: &str) -> Statement<'_> {
        let text = CString::new(sql).unwrap();
        let mut stmt = std::ptr::null_mut();
        let rc = unsafe { ffi::sqlite3_prepare_v2(self.0, text.as_ptr(), -1, &mut stmt, std::ptr::null_mut()) };
        assert_eq!(rc, ffi::SQLITE_OK, "{sql}: {}", self.error());
        Statement { stmt, _db: self }
    }

    /// Every row of a query, each value as SQLite holds it.
    fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        let s = self.prepare(sql);
        let mut out = vec![];
        while unsafe { ffi::sqlite3_step(s.stmt) } == ffi::SQLITE_ROW {
            let n = unsafe { ffi::sqlite3_column_count(s.stmt) };
            out.push((0..n).map(|i| s.column(i)).collect());
        }
        out
    }
}

struct Statement<'a> {
    stmt: *mut ffi::sqlite3_stmt,
    _db: &'a Db,
}

impl Drop for Statement<'_> {
    fn drop(&mut self) {
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

#[derive(Clone, Debug)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
}

impl Statement<'_> {
    fn column(&self, i: c_int) -> Value {
        unsafe {
            match ffi::sqlite3_column_type(self.stmt, i) {
                ffi::SQLITE_INTEGER => Value::Int(ffi::sqlite3_column_int64(self.stmt, i)),
                ffi::SQLITE_FLOAT => Value::Real(ffi::sqlite3_column_double(self.stmt, i)),
                ffi::SQLITE_NULL => Value::Null,
                _ => {
                    let p = ffi::sqlite3_column_blob(self.stmt, i) as *const u8;
                    let n = ffi::sqlite3_column_bytes(self.stmt, i) as usize;
                    Value::Text(if p.is_null() { vec![] } else { std::slice::from_raw_parts(p, n).to_vec() })
                }
            }
        }
    }

    /// Binds a row, runs the statement once and resets it for the next.
    fn run(&self, row: &[Value]) {
        unsafe {
            for (i, v) in row.iter().enumerate() {
                let i = i as c_int + 1;
                match v {
                    Value::Null => ffi::sqlite3_bind_null(self.stmt, i),
                    Value::Int(n) => ffi::sqlite3_bind_int64(self.stmt, i, *n),
                    Value::Real(f) => ffi::sqlite3_bind_double(self.stmt, i, *f),
                    Value::Text(t) => ffi::sqlite3_bind_text(
                        self.stmt,
                        i,
                        t.as_ptr() as *const _,
                        t.len() as c_int,
                        ffi::SQLITE_STATIC(),
                    ),
                };
            }
            let rc = ffi::sqlite3_step(self.stmt);
            assert_eq!(rc, ffi::SQLITE_DONE, "{}", self._db.error());
            ffi::sqlite3_reset(self.stmt);
        }
    }
}

/// A copy of the store as it stands, taken before the tick.
pub fn snapshot(db: &Path, to: &Path) {
    Db::open(db).exec(&format!("VACUUM INTO '{}'", to.display()));
}

/// What the tick wrote, read back from `db` against the `before` copy.
pub struct TickRows {
    /// (table, its rows added by the tick, all columns).
    added: Vec<(String, Vec<Vec<Value>>)>,
    /// Each invoice's review after the tick: invoice_id, next_review, closed.
    reviews: Vec<Vec<Value>>,
    /// The invoices whose document the tick changed (a fee): id, status, data, updated_at.
    invoices: Vec<Vec<Value>>,
}

impl TickRows {
    pub fn read(db: &Path, before: &Path) -> TickRows {
        let (after_db, before_db) = (Db::open(db), Db::open(before));
        // Tables with a rowid: the reviews table (WITHOUT ROWID) is only ever updated.
        let tables: Vec<String> = before_db
            .rows(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND sql NOT LIKE '%WITHOUT ROWID%'",
            )
            .into_iter()
            .filter_map(|r| match &r[0] {
                Value::Text(t) => Some(String::from_utf8(t.clone()).unwrap()),
                _ => None,
            })
            .collect();
        // The plugin ids first: decisions refer to them.
        let mut tables = tables;
        tables.sort_by_key(|t| t != "plugin_ids");
        let mut added = vec![];
        for table in tables {
            let last = match before_db.rows(&format!("SELECT COALESCE(MAX(rowid), 0) FROM \"{table}\""))[0][0] {
                Value::Int(n) => n,
                _ => 0,
            };
            let rows = after_db.rows(&format!("SELECT * FROM \"{table}\" WHERE rowid > {last} ORDER BY rowid"));
            if !rows.is_empty() {
                added.push((table, rows));
            }
        }
        let reviews = after_db.rows("SELECT invoice_id, next_review, closed FROM reviews");
        let touched = match before_db.rows("SELECT COALESCE(MAX(updated_at), 0) FROM invoices")[0][0] {
            Value::Int(n) => n,
            _ => 0,
        };
        let invoices =
            after_db.rows(&format!("SELECT id, status, data, updated_at FROM invoices WHERE updated_at > {touched}"));
        TickRows { added, reviews, invoices }
    }

    /// Rows added, by table, for the report.
    pub fn counts(&self) -> String {
        let mut parts: Vec<String> = self.added.iter().map(|(t, rows)| format!("{} {t}", rows.len())).collect();
        parts.push(format!("{} reviews moved", self.reviews.len()));
        parts.push(format!("{} invoices changed", self.invoices.len()));
        parts.join(", ")
    }

    /// Writes them into `into` (a fresh copy of the pre-tick store) in one
    /// transaction, with the store's own pragmas. Returns the time of the
    /// whole transaction, and where it went, by table.
    pub fn write(&self, into: &Path) -> (Duration, String) {
        let db = Db::open(into);
        db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON");
        let t = Instant::now();
        let mut spent = vec![];
        db.exec("BEGIN IMMEDIATE");
        for (table, rows) in &self.added {
            let started = Instant::now();
            let marks = vec!["?"; rows[0].len()].join(", ");
            let insert = db.prepare(&format!("INSERT INTO \"{table}\" VALUES ({marks})"));
            for row in rows {
                insert.run(row);
            }
            spent.push((table.clone(), started.elapsed()));
        }
        let started = Instant::now();
        let update = db.prepare("UPDATE reviews SET next_review = ?2, closed = ?3 WHERE invoice_id = ?1");
        for row in &self.reviews {
            update.run(row);
        }
        let update = db.prepare("UPDATE invoices SET status = ?2, data = ?3, updated_at = ?4 WHERE id = ?1");
        for row in &self.invoices {
            update.run(row);
        }
        spent.push(("reviews".into(), started.elapsed()));
        let started = Instant::now();
        db.exec("COMMIT");
        spent.push(("commit".into(), started.elapsed()));
        let total = t.elapsed();
        let parts: Vec<String> = spent
            .iter()
            .map(|(what, d)| format!("{what} {:.0}%", 100.0 * d.as_secs_f64() / total.as_secs_f64()))
            .collect();
        (total, parts.join(", "))
    }
}
