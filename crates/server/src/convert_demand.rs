//! `DemandService` requests to plan options, and pushed inventory rows to
//! a checked inventory state (every bad value named by its field).
use chrono::NaiveDate;
use quotecast_demand::{Calendar, MAX_BUCKETS, Period, PlanOptions};
use quotecast_pipeline::inventory::{InventoryState, ReceiptRow, parse_quantity};
use rust_decimal::Decimal;

use crate::{
    FieldViolation, ServerError,
    convert::parse_date,
    convert_forecast::{MAX_TRIALS, pipeline_name},
    pb,
};

/// The most rows one push may hold.
pub const MAX_PUSH_ROWS: usize = 1_000_000;

fn violation(field: String, description: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field,
        description: description.into(),
    }
}

/// A checked `RunPlanRequest`.
pub struct PlanJob {
    pub pipeline: String,
    pub history: Option<String>,
    pub inventory_version: Option<String>,
    pub options: PlanOptions,
    /// Plan the store's won orders too.
    pub won_orders: bool,
}

impl TryFrom<(&pb::RunPlanRequest, NaiveDate)> for PlanJob {
    type Error = ServerError;

    fn try_from((r, today): (&pb::RunPlanRequest, NaiveDate)) -> Result<Self, ServerError> {
        let mut v = Vec::new();
        let pipeline = pipeline_name("pipeline", &r.pipeline, &mut v);
        let history =
            (!r.history.trim().is_empty()).then(|| pipeline_name("history", &r.history, &mut v));
        let inventory_version = r.inventory_version.trim();
        let inventory_version =
            (!inventory_version.is_empty()).then(|| inventory_version.to_owned());
        let as_of = parse_date("as_of", &r.as_of, today, &mut v).unwrap_or(today);
        let horizon = match r.horizon {
            0 => 52,
            h if h > MAX_BUCKETS => {
                v.push(violation(
                    "horizon".into(),
                    format!("{h} buckets is more than the {MAX_BUCKETS} allowed"),
                ));
                52
            }
            h => h,
        };
        let period = match pb::PlanBucket::try_from(r.bucket) {
            Ok(pb::PlanBucket::Unspecified | pb::PlanBucket::Week) => Period::Week,
            Ok(pb::PlanBucket::Month) => Period::Month,
            Err(_) => {
                v.push(violation(
                    "bucket".into(),
                    format!("unknown bucket {}", r.bucket),
                ));
                Period::Week
            }
        };
        let service_level = if r.service_level == 0.0 {
            0.95
        } else {
            r.service_level
        };
        if !(0.5..=0.9999).contains(&service_level) {
            v.push(violation(
                "service_level".into(),
                "must be 0.5 to 0.9999 (0: 0.95)",
            ));
        }
        if r.trials > MAX_TRIALS {
            v.push(violation(
                "trials".into(),
                format!("{} is more than the {MAX_TRIALS} allowed", r.trials),
            ));
        }
        let calendar = match Calendar::new(as_of, period, horizon) {
            Ok(c) => Some(c),
            Err(e) => {
                v.push(violation("as_of".into(), e.to_string()));
                None
            }
        };
        match calendar {
            Some(calendar) if v.is_empty() => Ok(PlanJob {
                pipeline,
                history,
                inventory_version,
                options: PlanOptions {
                    calendar,
                    service_level,
                    trials: r.trials,
                    seed: r.seed,
                    fingerprints: vec![],
                    won_before: vec![],
                    cancel: Default::default(),
                    budget: Default::default(),
                    pipeline_only: r.pipeline_only,
                    pegging: !r.without_pegging,
                },
                won_orders: r.won_orders,
            }),
            _ => Err(ServerError::InvalidArgument(v)),
        }
    }
}

/// Pushed rows, numbered across the whole stream.
#[derive(Default)]
pub struct PushedRows {
    on_hand: Vec<pb::OnHand>,
    receipts: Vec<pb::OpenReceipt>,
}

impl PushedRows {
    pub fn add(&mut self, rows: pb::InventoryRows) -> Result<(), ServerError> {
        self.on_hand.extend(rows.on_hand);
        self.receipts.extend(rows.receipts);
        if self.on_hand.len() + self.receipts.len() > MAX_PUSH_ROWS {
            return Err(ServerError::TooLarge(format!(
                "a push may hold at most {MAX_PUSH_ROWS} rows"
            )));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.on_hand.is_empty() && self.receipts.is_empty()
    }
}

fn quantity(field: String, text: &str, v: &mut Vec<FieldViolation>) -> Decimal {
    parse_quantity(text).unwrap_or_else(|reason| {
        v.push(violation(field, reason));
        Decimal::ZERO
    })
}

fn item(field: String, text: &str, v: &mut Vec<FieldViolation>) -> String {
    let t = text.trim();
    if t.is_empty() || t.len() > 128 {
        v.push(violation(
            field,
            "must be an item id of 1 to 128 characters",
        ));
    } else if t.contains([',', '"', '\n', '\r']) {
        v.push(violation(
            field,
            "may not hold a comma, a quote or a line break",
        ));
    }
    t.to_owned()
}

impl TryFrom<PushedRows> for InventoryState {
    type Error = ServerError;

    fn try_from(rows: PushedRows) -> Result<Self, ServerError> {
        let mut v = Vec::new();
        let mut state = InventoryState::default();
        for (i, r) in rows.on_hand.iter().enumerate() {
            let id = item(format!("on_hand[{i}].item"), &r.item, &mut v);
            let q = quantity(format!("on_hand[{i}].quantity"), &r.quantity, &mut v);
            state.on_hand.push((id, q));
        }
        for (i, r) in rows.receipts.iter().enumerate() {
            let id = item(format!("receipts[{i}].item"), &r.item, &mut v);
            let mut dv = Vec::new();
            let due = if r.due.trim().is_empty() {
                dv.push(violation(
                    format!("receipts[{i}].due"),
                    "is required (YYYY-MM-DD)",
                ));
                None
            } else {
                parse_date(
                    &format!("receipts[{i}].due"),
                    &r.due,
                    NaiveDate::MIN,
                    &mut dv,
                )
            };
            v.extend(dv);
            let q = quantity(format!("receipts[{i}].quantity"), &r.quantity, &mut v);
            if r.reference.contains(['\n', '\r', ',', '"']) {
                v.push(violation(
                    format!("receipts[{i}].reference"),
                    "may not hold a comma, a quote or a line break",
                ));
            }
            if let Some(due) = due {
                state.receipts.push(ReceiptRow {
                    item: id,
                    due,
                    quantity: q,
                    reference: r.reference.clone(),
                });
            }
        }
        if v.is_empty() {
            Ok(state)
        } else {
            v.truncate(100);
            Err(ServerError::InvalidArgument(v))
        }
    }
}
