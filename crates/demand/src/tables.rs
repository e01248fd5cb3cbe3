//! A demand plan's tables as data frames, for Parquet or CSV files.
//! Exact quantities are decimals of scale 6; money (order values, cash)
//! is decimal in the corporate currency, rounded to its minor unit with
//! its rounding mode; other statistics (expected demand, percentiles,
//! shares) are floating point rounded to 4 decimals, in units of the item.
use crate::Plan;
use polars::prelude::*;
use quotecast_model::Currency;
use rust_decimal::Decimal;

/// Decimal columns of quantities hold this many places.
const QUANTITY_SCALE: u32 = 6;

fn decimal(name: &str, values: impl Iterator<Item = Decimal>, scale: u32) -> Column {
    let mantissas: Vec<i128> = values
        .map(|v| {
            let mut v = v.round_dp(scale);
            v.rescale(scale);
            v.mantissa()
        })
        .collect();
    Int128Chunked::from_vec(name.into(), mantissas)
        .into_decimal_unchecked(38, scale as usize)
        .into_column()
}

/// Amounts rounded to `currency` (null for a missing or non-finite one).
fn money(name: &str, values: impl Iterator<Item = Option<Decimal>>, currency: &Currency) -> Column {
    let mantissas: Vec<Option<i128>> = values
        .map(|v| {
            v.map(|v| {
                let mut v = currency.round(v);
                v.rescale(currency.scale);
                v.mantissa()
            })
        })
        .collect();
    Int128Chunked::from_iter_options(name.into(), mantissas.into_iter())
        .into_decimal_unchecked(38, currency.scale as usize)
        .into_column()
}

fn stat(name: &str, values: impl Iterator<Item = f64>) -> Column {
    let values: Vec<f64> = values.map(|v| (v * 1e4).round() / 1e4).collect();
    Column::new(name.into(), values)
}

fn text<S: AsRef<str>>(name: &str, values: impl Iterator<Item = S>) -> Column {
    StringChunked::from_iter_values(name.into(), values).into_column()
}

fn dates(name: &str, values: impl Iterator<Item = chrono::NaiveDate>) -> PolarsResult<Column> {
    let days: Vec<i32> = values.map(epoch_days).collect();
    Column::new(name.into(), days).cast(&DataType::Date)
}

/// Days since 1970-01-01, as Parquet and polars store dates.
fn epoch_days(date: chrono::NaiveDate) -> i32 {
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

fn frame(columns: Vec<Column>) -> PolarsResult<DataFrame> {
    let height = columns.first().map_or(0, Column::len);
    DataFrame::new(height, columns)
}

/// Each table with its name (the file name without extension), in the
/// order of [`TABLES`].
pub fn tables(plan: &Plan) -> Result<Vec<(&'static str, DataFrame)>, crate::DemandError> {
    Ok(frames(plan)?)
}

fn frames(plan: &Plan) -> PolarsResult<Vec<(&'static str, DataFrame)>> {
    let d = &plan.component_demand;
    let pct = |i: usize| {
        d.iter()
            .map(move |r| r.percentiles.map_or(f64::NAN, |p| p[i]))
    };
    let component_demand = frame(vec![
        text("item", d.iter().map(|r| &*r.item)),
        dates("bucket", d.iter().map(|r| r.bucket))?,
        stat("expected", d.iter().map(|r| r.expected)),
        stat("past_due", d.iter().map(|r| r.past_due)),
        stat("p10", pct(0)),
        stat("p50", pct(1)),
        stat("p90", pct(2)),
    ])?;
    let o = &plan.planned_orders;
    let planned_orders = frame(vec![
        text("order", o.iter().map(|r| r.id.as_str())),
        text("item", o.iter().map(|r| &*r.item)),
        text("supply", o.iter().map(|r| r.supply)),
        text(
            "supplier",
            o.iter().map(|r| r.supplier.as_deref().unwrap_or_default()),
        ),
        decimal("quantity", o.iter().map(|r| r.quantity), QUANTITY_SCALE),
        decimal(
            "net_requirement",
            o.iter().map(|r| r.net_requirement),
            QUANTITY_SCALE,
        ),
        dates("release_date", o.iter().map(|r| r.release_date))?,
        dates("need_date", o.iter().map(|r| r.need_date))?,
        Column::new(
            "expedite".into(),
            o.iter().map(|r| r.expedite).collect::<Vec<_>>(),
        ),
        money("value", o.iter().map(|r| Some(r.value)), &plan.currency),
    ])?;
    let g = &plan.pegging;
    let pegging = frame(vec![
        text(
            "order",
            g.iter()
                .map(|r| plan.peg_order(r).map_or("", |o| o.id.as_str())),
        ),
        text("opportunity_id", g.iter().map(|r| plan.peg_deal(r))),
        text("sku", g.iter().map(|r| plan.peg_sku(r))),
        stat("expected_units", g.iter().map(|r| r.expected_units)),
        stat("share", g.iter().map(|r| r.share)),
        stat("probability", g.iter().map(|r| r.probability)),
    ])?;
    let s = &plan.safety_stock;
    let safety_stock = frame(vec![
        text("item", s.iter().map(|r| &*r.item)),
        Column::new(
            "cumulative_lead_days".into(),
            s.iter().map(|r| r.cumulative_lead_days).collect::<Vec<_>>(),
        ),
        stat("demand_mean", s.iter().map(|r| r.mean)),
        stat("demand_p10", s.iter().map(|r| r.percentiles[0])),
        stat("demand_p50", s.iter().map(|r| r.percentiles[1])),
        stat("demand_p90", s.iter().map(|r| r.percentiles[2])),
        stat("suggested", s.iter().map(|r| r.suggested)),
        stat("textbook_z_sigma_sqrt_lt", s.iter().map(|r| r.textbook)),
        stat("used", s.iter().map(|r| r.used)),
    ])?;
    let c = &plan.capacity;
    let capacity = frame(vec![
        text("skill", c.iter().map(|r| r.skill.as_str())),
        dates("bucket", c.iter().map(|r| r.bucket))?,
        stat("expected_hours", c.iter().map(|r| r.expected_hours)),
        stat(
            "p90_hours",
            c.iter().map(|r| r.p90_hours.unwrap_or(f64::NAN)),
        ),
    ])?;
    let p = &plan.projections;
    let projected = frame(vec![
        text("item", p.iter().map(|r| &*r.item)),
        dates("bucket", p.iter().map(|r| r.bucket))?,
        stat("gross", p.iter().map(|r| r.gross)),
        stat("receipts", p.iter().map(|r| r.receipts)),
        stat("planned_receipts", p.iter().map(|r| r.planned_receipts)),
        stat("on_hand", p.iter().map(|r| r.on_hand)),
        stat("safety_stock", p.iter().map(|r| r.safety_stock)),
    ])?;
    let c = &plan.cash;
    let statistic = |v: f64| plan.currency.round_statistic(v);
    let cash_pct = |i: usize| {
        c.iter()
            .map(move |r| r.percentiles.and_then(|p| statistic(p[i])))
    };
    let cash = frame(vec![
        dates("bucket", c.iter().map(|r| r.bucket))?,
        money(
            "expected",
            c.iter().map(|r| statistic(r.expected)),
            &plan.currency,
        ),
        money(
            "from_won",
            c.iter().map(|r| statistic(r.from_won)),
            &plan.currency,
        ),
        money("p10", cash_pct(0), &plan.currency),
        money("p50", cash_pct(1), &plan.currency),
        money("p90", cash_pct(2), &plan.currency),
    ])?;
    Ok(vec![
        ("component_demand", component_demand),
        ("planned_orders", planned_orders),
        ("pegging", pegging),
        ("safety_stock", safety_stock),
        ("capacity", capacity),
        ("projected", projected),
        ("cash", cash),
    ])
}

/// The tables' names, in the order [`tables`] gives them.
pub const TABLES: [&str; 7] = [
    "component_demand",
    "planned_orders",
    "pegging",
    "safety_stock",
    "capacity",
    "projected",
    "cash",
];

/// The unit of a table's number column.
pub fn unit_of(column: &str) -> &'static str {
    match column {
        "share" | "probability" => "probability",
        "cumulative_lead_days" => "days",
        c if c.contains("hours") => "hours",
        _ => "units",
    }
}
