//! The store's side of the customer's page: links revoked per customer.

use sqlx::Row;

use super::Store;

impl Store {
    /// Every link of the customer's page signed until `at` opens nothing from now on.
    pub(crate) async fn revoke_links(&self, customer_id: &str, at: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO portal_revocations (customer_id, before) VALUES ($1, $2) \
             ON CONFLICT (customer_id) DO UPDATE SET before = excluded.before",
        )
        .bind(customer_id)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the customer's links were last revoked, if ever.
    pub(crate) async fn links_revoked(&self, customer_id: &str) -> anyhow::Result<Option<i64>> {
        let row = sqlx::query("SELECT before FROM portal_revocations WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("before")).transpose()?)
    }
}
