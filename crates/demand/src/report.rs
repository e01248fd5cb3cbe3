//! A whole roll-down job as the CLI and the server both run it: the
//! forecast's spec (calibrated win rates, team correction and slippage
//! when history is given), the snapshot's expected deal lines, then the
//! plan. One place, so a batch job and a `DemandService` call on the same
//! files give the same plan (and the same plan id).
use polars::prelude::*;
use quotecast_forecast::{
    AMOUNT_IF_WON, Bucket, CLOSE_DATE, ForecastOptions, HORIZON, QUANTITY_IF_WON, SLIP_POINT,
    SLIP_POINTS_OF_DEAL, ShockModel, ShockVariances, Simulation, WIN_PROBABILITY, demand_lines,
    forecast_spec, new_deals_by_team,
};
use quotecast_model::RuleSet;
use quotecast_pipeline::{
    columns as col, from_epoch_days, inventory::InventoryState, read::History,
};

use crate::orders::FirmDemand;
use crate::{
    DemandError, DemandLine, Inventory, Names, Placement, Plan, PlanOptions, Receipt, plan,
};

/// Probabilities and quantities are rounded to this many decimals: the
/// forecast's learned rates are sums polars may add in any order, so
/// their last bits vary between runs; rounded, the same inputs give the
/// same lines (and the same plan id).
const PLACES: f64 = 1e9;

fn rounded(value: f64) -> f64 {
    (value * PLACES).round() / PLACES
}

/// The forecast's demand rows as the roll-down's lines (a row without a
/// SKU keeps an empty one: it carries no product, but brings cash), each
/// with the shocks `shocks` gives its team, stage and horizon.
pub fn lines_of(frame: &DataFrame, shocks: &ShockModel) -> Result<Vec<DemandLine>, DemandError> {
    let ids = frame.column(col::OPPORTUNITY_ID)?.str()?;
    let accounts = frame.column(col::ACCOUNT)?.str()?;
    let product_lines = frame.column(col::PRODUCT_LINE)?.str()?;
    let skus = frame.column(col::SKU)?.str()?;
    let quantity = frame.column(QUANTITY_IF_WON)?.f64()?;
    let amount = frame.column(AMOUNT_IF_WON)?.f64()?;
    let close = frame.column(CLOSE_DATE)?.cast(&DataType::Int32)?;
    let close = close.i32()?;
    let probability = frame.column(WIN_PROBABILITY)?.f64()?;
    let point = frame.column(SLIP_POINT)?.u32()?;
    let points = frame.column(SLIP_POINTS_OF_DEAL)?.u32()?;
    let teams = frame.column(col::TEAM)?.str()?;
    let stages = frame.column(col::STAGE)?.str()?;
    let horizons = frame.column(HORIZON)?.i32()?;
    let mut out: Vec<DemandLine> = Vec::with_capacity(frame.height());
    // Every name shared: a deal's lines hold one copy of its id, all lines
    // one of each SKU, team, account and product line.
    let mut names = Names::default();
    // A deal's rows come together and mostly share their account, product
    // line, team, stage and horizon: what the row before found is reused
    // (five million rows on a 200,000-deal pipeline).
    let mut last_shocks: Option<(&str, &str, i32, ShockVariances)> = None;
    for r in 0..frame.height() {
        let (Some(deal), Some(days)) = (ids.get(r), close.get(r)) else {
            continue;
        };
        let (team, stage) = (
            teams.get(r).unwrap_or_default(),
            stages.get(r).unwrap_or_default(),
        );
        let (account, product_line) = (
            accounts.get(r).unwrap_or_default(),
            product_lines.get(r).unwrap_or_default(),
        );
        let horizon = horizons.get(r).unwrap_or(0);
        let row_shocks = match last_shocks {
            Some((t, s, h, v)) if t == team && s == stage && h == horizon => v,
            _ => {
                let v = shocks.variances(team, stage, horizon);
                last_shocks = Some((team, stage, horizon, v));
                v
            }
        };
        let last = out.last();
        let deal = match last {
            Some(l) if *l.deal == *deal => l.deal.clone(),
            _ => deal.into(),
        };
        let account = names.get_after(last.map(|l| &l.account), account);
        let product_line = names.get_after(last.map(|l| &l.product_line), product_line);
        let team = names.get_after(last.map(|l| &l.team), team);
        out.push(DemandLine {
            deal,
            account,
            product_line,
            sku: names.get(skus.get(r).unwrap_or_default()),
            quantity: rounded(quantity.get(r).unwrap_or(0.0)),
            amount: rounded(amount.get(r).unwrap_or(0.0)),
            close_date: from_epoch_days(days),
            probability: rounded(probability.get(r).unwrap_or(0.0)).clamp(0.0, 1.0),
            point: point.get(r).unwrap_or(0),
            points: points.get(r).unwrap_or(1).max(1),
            team,
            horizon,
            shocks: row_shocks,
        });
    }
    Ok(out)
}

/// The SKUs of each deal the history's outcomes say was won before
/// `as_of`, as its last past snapshot before then lists them (empty
/// without past snapshots). Sorted by deal, so the result is the same
/// however the files are ordered.
pub fn won_before(
    history: &History,
    as_of: chrono::NaiveDate,
) -> Result<Vec<Vec<String>>, DemandError> {
    let Some(snapshots) = &history.snapshots else {
        return Ok(Vec::new());
    };
    let as_of = lit(as_of).cast(DataType::Date);
    let won = history
        .outcomes
        .clone()
        .filter(
            col(col::OUTCOME)
                .eq(lit("won"))
                .and(col(col::CLOSED).lt(as_of.clone())),
        )
        .select([col(col::OPPORTUNITY_ID)])
        .unique(None, UniqueKeepStrategy::First);
    let seen = snapshots
        .clone()
        .filter(col(col::SNAPSHOT_DATE).lt(as_of))
        .select([
            col(col::OPPORTUNITY_ID),
            col(col::SNAPSHOT_DATE),
            col(col::SKU),
        ])
        .join(
            won,
            [col(col::OPPORTUNITY_ID)],
            [col(col::OPPORTUNITY_ID)],
            JoinArgs::new(JoinType::Inner),
        );
    let last = seen
        .clone()
        .group_by([col(col::OPPORTUNITY_ID)])
        .agg([col(col::SNAPSHOT_DATE).max()]);
    let frame = seen
        .join(
            last,
            [col(col::OPPORTUNITY_ID), col(col::SNAPSHOT_DATE)],
            [col(col::OPPORTUNITY_ID), col(col::SNAPSHOT_DATE)],
            JoinArgs::new(JoinType::Inner),
        )
        .select([col(col::OPPORTUNITY_ID), col(col::SKU)])
        .sort(
            [col::OPPORTUNITY_ID, col::SKU],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let ids = frame.column(col::OPPORTUNITY_ID)?.str()?;
    let skus = frame.column(col::SKU)?.str()?;
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut current: Option<&str> = None;
    for r in 0..frame.height() {
        let (Some(id), Some(sku)) = (ids.get(r), skus.get(r)) else {
            continue;
        };
        if current != Some(id) {
            out.push(Vec::new());
            current = Some(id);
        }
        if let Some(deal) = out.last_mut() {
            deal.push(sku.to_owned());
        }
    }
    Ok(out)
}

/// Plans a checked snapshot with its history against `inventory`; the
/// configurations of deals the history saw won teach the attach rates.
pub fn plan_pipeline(
    snapshot: DataFrame,
    history: Option<History>,
    rules: &RuleSet,
    inventory: &Inventory,
    options: &PlanOptions,
) -> Result<Plan, DemandError> {
    plan_with_orders(
        snapshot,
        history,
        rules,
        inventory,
        options,
        FirmDemand::default(),
    )
}

/// What a history teaches a roll-down (see [`learn_plan`]): the
/// forecast's spec and notes, and the deals won before the plan date.
#[derive(Debug, Clone)]
pub struct Taught {
    pub spec: quotecast_forecast::ForecastSpec,
    pub notes: Vec<String>,
    /// [`won_before`] (`None` without history: the options' own are kept).
    pub won_before: Option<Vec<Vec<String>>>,
}

/// The part of a roll-down that depends only on the snapshot, the history,
/// the rules and the plan date: the forecast's spec (weekly buckets, the
/// prior strength estimated) and the deals won before the plan date. A
/// server keeps it for later plans on the same files.
pub fn learn_plan(
    snapshot: &DataFrame,
    history: Option<History>,
    rules: &RuleSet,
    options: &PlanOptions,
) -> Result<Taught, DemandError> {
    let won_before = match &history {
        Some(h) => Some(
            tracing::info_span!("won_before").in_scope(|| won_before(h, options.calendar.as_of))?,
        ),
        None => None,
    };
    let forecast = ForecastOptions {
        as_of: options.calendar.as_of,
        bucket: Bucket::Week,
        group_by: vec![],
        prior_strength: None,
        simulation: Simulation {
            cancel: options.cancel.clone(),
            ..Simulation::default()
        },
    };
    let (spec, notes) = forecast_spec(history, Some(snapshot.clone().lazy()), rules, &forecast)?;
    options.cancel.check()?;
    Ok(Taught {
        spec,
        notes,
        won_before,
    })
}

/// [`plan_pipeline`] with won orders besides the pipeline: their lines not
/// yet delivered as firm demand, their configurations as won deals for
/// the attach rates.
pub fn plan_with_orders(
    snapshot: DataFrame,
    history: Option<History>,
    rules: &RuleSet,
    inventory: &Inventory,
    options: &PlanOptions,
    firm: FirmDemand,
) -> Result<Plan, DemandError> {
    let taught = learn_plan(&snapshot, history, rules, options)?;
    plan_taught(snapshot, taught, rules, inventory, options, firm)
}

/// [`plan_with_orders`] with what the history teaches already learned by
/// [`learn_plan`] from the same snapshot, history, rules and plan date.
pub fn plan_taught(
    snapshot: DataFrame,
    taught: Taught,
    rules: &RuleSet,
    inventory: &Inventory,
    options: &PlanOptions,
    firm: FirmDemand,
) -> Result<Plan, DemandError> {
    let Taught {
        spec,
        notes,
        won_before,
    } = taught;
    let mut options = options.clone();
    if let Some(won) = won_before {
        options.won_before = won;
    }
    options.won_before.extend(firm.won);
    let options = &options;
    let shocks = ShockModel::new(spec.correction.as_deref()).with_rates(&spec.win_rates);
    let frame =
        tracing::info_span!("demand_lines").in_scope(|| demand_lines(snapshot.lazy(), &spec))?;
    let mut lines = tracing::info_span!("lines_of").in_scope(|| lines_of(&frame, &shocks))?;
    drop(frame);
    let mut new = match options.pipeline_only {
        true => Vec::new(),
        false => crate::new_deals::new_deal_lines(
            rules,
            &lines,
            &new_deals_by_team(&spec),
            options.calendar.as_of,
        ),
    };
    // Only the buckets the plan covers.
    new.retain(|l| !matches!(options.calendar.place(l.close_date), Placement::Beyond));
    let mut notes = notes;
    notes.extend(crate::new_deals::note(&new, &spec.rates.reporting_currency));
    lines.extend(new);
    lines.extend(firm.lines);
    let mut plan = plan(rules, lines, inventory, options)?;
    plan.explanation.forecast_notes = notes;
    Ok(plan)
}

impl From<InventoryState> for Inventory {
    fn from(state: InventoryState) -> Self {
        Inventory {
            version: state.version,
            on_hand: state.on_hand,
            receipts: state
                .receipts
                .into_iter()
                .map(|r| Receipt {
                    item: r.item,
                    due: r.due,
                    quantity: r.quantity,
                    reference: r.reference,
                })
                .collect(),
        }
    }
}
