//! Won orders: written by the change that accepts a quote, in its
//! transaction, from the version accepted (its request and priced result
//! copied inside the database) with the lines the caller read from it;
//! listed for ERP pulls by date, account and product line.
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Row, any::AnyRow};

use crate::{
    Store, StoreError,
    quotes::{stamp, time_of},
};

/// One priced line of a won order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub line_id: String,
    pub sku: String,
    pub product_line: String,
    /// Decimal strings, as priced.
    pub quantity: String,
    pub net: String,
}

/// A won order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub tenant: String,
    /// The accepted quote's number (one order per quote).
    pub number: i64,
    pub quote_version: i64,
    pub account: String,
    pub currency: String,
    pub total: String,
    pub accepted_on: NaiveDate,
    pub accepted_at: DateTime<Utc>,
    pub accepted_by: String,
    /// Who made the quote (saved its first version).
    pub owner: String,
    pub rules_fingerprint: String,
    pub request: Vec<u8>,
    pub priced: Vec<u8>,
}

/// Which orders to list: of a tenant, accepted in a date range (both
/// included), of one account or with a line of one product line, by
/// number after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOrders {
    pub tenant: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub account: Option<String>,
    pub product_line: Option<String>,
    pub after: Option<i64>,
    pub limit: u32,
}

/// Writes the order of quote `number` accepted from version `base` as
/// version `version`, inside the caller's transaction.
pub(crate) async fn insert_order(
    conn: &mut sqlx::AnyConnection,
    tenant: &str,
    number: i64,
    base: i64,
    accepted_by: &str,
    now: DateTime<Utc>,
    lines: &[OrderLine],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO orders (tenant, number, quote_version, account, currency, total, \
         accepted_on, accepted_at, accepted_by, rules_fingerprint, request, priced) \
         SELECT tenant, number, version, account, currency, total, $1, $2, $3, \
         rules_fingerprint, request, priced FROM quote_versions \
         WHERE tenant = $4 AND number = $5 AND version = $6",
    )
    .bind(now.date_naive().to_string())
    .bind(stamp(now))
    .bind(accepted_by)
    .bind(tenant)
    .bind(number)
    .bind(base)
    .execute(&mut *conn)
    .await?;
    for line in lines {
        sqlx::query(
            "INSERT INTO order_lines (tenant, number, line_id, sku, product_line, quantity, net) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant)
        .bind(number)
        .bind(&line.line_id)
        .bind(&line.sku)
        .bind(&line.product_line)
        .bind(&line.quantity)
        .bind(&line.net)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn order_of(tenant: &str, row: &AnyRow) -> Result<Order, StoreError> {
    let accepted_on: String = row.try_get("accepted_on")?;
    Ok(Order {
        tenant: tenant.to_owned(),
        number: row.try_get("number")?,
        quote_version: row.try_get("quote_version")?,
        account: row.try_get("account")?,
        currency: row.try_get("currency")?,
        total: row.try_get("total")?,
        accepted_on: accepted_on
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("`{accepted_on}` is not a date")))?,
        accepted_at: time_of(row, "accepted_at")?,
        accepted_by: row.try_get("accepted_by")?,
        owner: row.try_get("owner")?,
        rules_fingerprint: row.try_get("rules_fingerprint")?,
        request: row.try_get("request")?,
        priced: row.try_get("priced")?,
    })
}

impl Store {
    /// Orders matching `query`, at most `query.limit`, by number.
    pub async fn list_orders(&self, query: &ListOrders) -> Result<Vec<Order>, StoreError> {
        let rows = sqlx::query(
            "SELECT number, quote_version, account, currency, total, accepted_on, accepted_at, \
             accepted_by, rules_fingerprint, request, priced, \
             (SELECT v.saved_by FROM quote_versions v WHERE v.tenant = o.tenant \
             AND v.number = o.number AND v.version = 1) AS owner FROM orders o \
             WHERE tenant = $1 AND ($2 = '' OR accepted_on >= $2) \
             AND ($3 = '' OR accepted_on <= $3) AND ($4 = '' OR account = $4) \
             AND ($5 = '' OR EXISTS (SELECT 1 FROM order_lines l WHERE l.tenant = o.tenant \
             AND l.number = o.number AND l.product_line = $5)) \
             AND number > $6 ORDER BY number LIMIT $7",
        )
        .bind(&query.tenant)
        .bind(query.from.map(|d| d.to_string()).unwrap_or_default())
        .bind(query.to.map(|d| d.to_string()).unwrap_or_default())
        .bind(query.account.as_deref().unwrap_or(""))
        .bind(query.product_line.as_deref().unwrap_or(""))
        .bind(query.after.unwrap_or(0))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| order_of(&query.tenant, r)).collect()
    }

    /// The lines of order `number`, by line id.
    pub async fn order_lines(
        &self,
        tenant: &str,
        number: i64,
    ) -> Result<Vec<OrderLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT line_id, sku, product_line, quantity, net FROM order_lines \
             WHERE tenant = $1 AND number = $2 ORDER BY line_id",
        )
        .bind(tenant)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrderLine {
                    line_id: r.try_get("line_id")?,
                    sku: r.try_get("sku")?,
                    product_line: r.try_get("product_line")?,
                    quantity: r.try_get("quantity")?,
                    net: r.try_get("net")?,
                })
            })
            .collect()
    }
}
