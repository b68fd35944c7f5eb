//! Statements over many rows at once: a multi-row `VALUES` and an `IN`
//! list, each up to a bound of rows a statement, in the caller's transaction.

use sqlx::any::AnyRow;

/// Rows in one multi-row statement: well under either database's bound parameters.
const ROWS: usize = 500;

/// A value bound to a statement.
pub(super) enum Cell<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bytes(&'a [u8]),
}

pub(super) fn postgres(tx: &sqlx::Transaction<'_, sqlx::Any>) -> bool {
    tx.backend_name() != "SQLite"
}

/// Runs `{head} VALUES (..), (..) {tail}` over `cells`, `columns` a row, up to
/// `ROWS` rows a statement; what the statements return.
pub(super) async fn values(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (head, tail): (&str, &str),
    columns: usize,
    cells: &[Cell<'_>],
) -> anyhow::Result<Vec<AnyRow>> {
    let pg = postgres(tx);
    let mut out = vec![];
    for chunk in cells.chunks(columns * ROWS) {
        let sql = format!("{head} VALUES {} {tail}", placeholders(pg, chunk.len() / columns, columns));
        let mut query = sqlx::query(&sql);
        for cell in chunk {
            query = match cell {
                Cell::Text(t) => query.bind(*t),
                Cell::OptText(t) => query.bind(*t),
                Cell::Int(n) => query.bind(*n),
                Cell::OptInt(n) => query.bind(*n),
                Cell::Bytes(b) => query.bind(*b),
            };
        }
        out.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// Runs `sql`, whose `{}` is an `IN` list, over `keys`, up to `ROWS` a statement.
pub(super) async fn keyed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    sql: impl Fn(&str) -> String,
    keys: &[&str],
) -> anyhow::Result<Vec<AnyRow>> {
    let pg = postgres(tx);
    let mut out = vec![];
    for chunk in keys.chunks(ROWS) {
        let sql = sql(&placeholders(pg, 1, chunk.len()));
        let mut query = sqlx::query(&sql);
        for key in chunk {
            query = query.bind(*key);
        }
        out.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// The numbered parameter `n` (from 1) as each store writes it.
pub(super) fn mark(postgres: bool, n: usize) -> String {
    if postgres { format!("${n}") } else { "?".into() }
}

/// An `IN` list of `n` parameters, numbered from `first`.
pub(super) fn in_list(postgres: bool, first: usize, n: usize) -> String {
    let marks: Vec<String> = (first..first + n).map(|i| mark(postgres, i)).collect();
    format!("({})", marks.join(", "))
}

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` parameters; `(?, ?), (?, ?)`
/// for SQLite, which looks a numbered parameter up by name in a linear list,
/// so that binding n of them costs n squared (40% of a tick before this).
pub(super) fn placeholders(postgres: bool, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            if postgres {
                sql.push('$');
                sql.push_str(&(r * columns + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}
