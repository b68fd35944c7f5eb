//! Experiments as stored: started on a segment with their arms, stopped,
//! and what each arm did, read from the decisions (which record the arm)
//! and the outcomes.

use sqlx::Row;

use super::Store;
use crate::experiment::{Arm, ArmResult, ExperimentReport};

/// An experiment's record.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentRow {
    pub name: String,
    pub segment: String,
    pub arms: Vec<Arm>,
    pub started_at: i64,
    pub stopped_at: Option<i64>,
}

/// Why an arm cannot be promoted.
#[derive(Debug, thiserror::Error)]
pub enum CannotPromote {
    #[error("no running experiment {0:?}")]
    NotRunning(String),
    #[error("experiment {0} has no arm {1:?} (arms: {2})")]
    NoArm(String, String, String),
}

/// Why an experiment cannot start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CannotStart(pub String);

impl Store {
    /// Starts an experiment; refused if the name is taken or the segment already has one running.
    pub async fn start_experiment(&self, name: &str, segment: &str, arms: &[Arm], now: i64) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        let taken =
            sqlx::query("SELECT name FROM experiments WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            return Err(CannotStart(format!("experiment {name:?} exists already: pick another name")).into());
        }
        let busy = sqlx::query("SELECT name FROM experiments WHERE segment = $1 AND stopped_at IS NULL")
            .bind(segment)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = busy {
            let other: String = row.try_get("name")?;
            return Err(
                CannotStart(format!("segment {segment:?} already runs experiment {other:?}: stop it first")).into()
            );
        }
        sqlx::query("INSERT INTO experiments (name, segment, arms, started_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(segment)
            .bind(serde_json::to_string(arms)?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stops a running experiment; false if there is none by that name.
    pub async fn stop_experiment(&self, name: &str, now: i64) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE experiments SET stopped_at = $1 WHERE name = $2 AND stopped_at IS NULL")
            .bind(now)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A running experiment and the arm of it to promote.
    pub async fn arm_to_promote(&self, name: &str, arm: &str) -> anyhow::Result<(ExperimentRow, Arm)> {
        let Some(e) = self.experiment(name).await?.filter(|e| e.stopped_at.is_none()) else {
            return Err(CannotPromote::NotRunning(name.into()).into());
        };
        let Some(chosen) = e.arms.iter().find(|a| a.name == arm).cloned() else {
            let arms: Vec<&str> = e.arms.iter().map(|a| a.name.as_str()).collect();
            return Err(CannotPromote::NoArm(name.into(), arm.into(), arms.join(", ")).into());
        };
        Ok((e, chosen))
    }

    pub async fn experiment(&self, name: &str) -> anyhow::Result<Option<ExperimentRow>> {
        let row =
            sqlx::query("SELECT * FROM experiments WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.map(|r| experiment_row(&r)).transpose()
    }

    /// The experiments running now.
    /// Every experiment, the latest started first.
    pub async fn experiments(&self) -> anyhow::Result<Vec<ExperimentRow>> {
        let rows =
            sqlx::query("SELECT * FROM experiments ORDER BY started_at DESC, name").fetch_all(&self.pool).await?;
        rows.iter().map(experiment_row).collect()
    }

    pub async fn running_experiments(&self) -> anyhow::Result<Vec<ExperimentRow>> {
        let rows = sqlx::query("SELECT * FROM experiments WHERE stopped_at IS NULL ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(experiment_row).collect()
    }

    /// An experiment's report; None if there is no such experiment.
    pub async fn experiment_report(&self, name: &str, minimum_effect: f64) -> anyhow::Result<Option<ExperimentReport>> {
        let Some(e) = self.experiment(name).await? else { return Ok(None) };
        let results = self.arm_results(name).await?;
        let running = e.stopped_at.is_none();
        Ok(Some(crate::experiment::report(&e.name, &e.segment, running, &e.arms, &results, minimum_effect)))
    }

    /// Per arm: the invoices decided in it, those paid in full after their
    /// first decision in it, and the days from that decision to the payment.
    pub async fn arm_results(&self, experiment: &str) -> anyhow::Result<Vec<ArmResult>> {
        let rows = sqlx::query(
            "SELECT d.arm, d.invoice_id, MIN(d.at) AS first, \
             (SELECT MIN(o.at) FROM outcomes o WHERE o.invoice_id = d.invoice_id AND o.kind = 'paid') AS paid \
             FROM decisions d WHERE d.experiment = $1 GROUP BY d.arm, d.invoice_id ORDER BY d.arm",
        )
        .bind(experiment)
        .fetch_all(&self.pool)
        .await?;
        // The latest the store knows of the experiment's invoices (a decision or a
        // payment): the unpaid ones were seen unpaid until then.
        let decided: Option<i64> = sqlx::query("SELECT MAX(at) AS last FROM decisions WHERE experiment = $1")
            .bind(experiment)
            .fetch_one(&self.pool)
            .await?
            .try_get("last")?;
        let mut last = decided;
        for r in &rows {
            last = last.max(r.try_get::<Option<i64>, _>("paid")?);
        }
        let mut out: Vec<ArmResult> = vec![];
        for r in &rows {
            let arm: String = r.try_get("arm")?;
            let first: i64 = r.try_get("first")?;
            let paid: Option<i64> = r.try_get("paid")?;
            if out.last().is_none_or(|a| a.arm != arm) {
                let empty =
                    ArmResult { arm: arm.clone(), invoices: 0, recovered: 0, days_to_pay: vec![], days_unpaid: vec![] };
                out.push(empty);
            }
            let result = out.last_mut().expect("just pushed");
            result.invoices += 1;
            if let Some(paid) = paid.filter(|p| *p >= first) {
                result.recovered += 1;
                result.days_to_pay.push((paid - first) as f64 / 86_400.0);
            } else {
                result.days_unpaid.push((last.unwrap_or(first) - first).max(0) as f64 / 86_400.0);
            }
        }
        Ok(out)
    }
}

fn experiment_row(r: &sqlx::any::AnyRow) -> anyhow::Result<ExperimentRow> {
    Ok(ExperimentRow {
        name: r.try_get("name")?,
        segment: r.try_get("segment")?,
        arms: serde_json::from_str(&r.try_get::<String, _>("arms")?)?,
        started_at: r.try_get("started_at")?,
        stopped_at: r.try_get("stopped_at")?,
    })
}
