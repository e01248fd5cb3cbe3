//! `DemandService`: plans run from stored pipelines and inventory
//! versions, stored under their id, and their tables streamed. Plans run
//! on a blocking thread under the forecast job permits; inventory pushes
//! are checked whole before a version is stored.
use quotecast_demand::{Inventory, TABLES, firm_demand, learn_plan, plan_taught, tables, unit_of};
use quotecast_forecast::{Bucket, rules_spec, vocabulary, without_ordered};
use quotecast_pipeline::{
    inventory::InventoryState,
    read::{read_history, read_snapshot},
};
use rust_decimal::Decimal;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    AppState, ServerError,
    convert_demand::{PlanJob, PushedRows},
    forecast::{PartStream, run_job, run_with_permit, stream, wire_tables},
    learned::LearnKey,
    pb::{
        self, ListInventoryVersionsRequest, ListInventoryVersionsResponse, PlanTableRequest,
        PlanTableResponse, PushInventoryRequest, PushInventoryResponse, RunPlanRequest,
        RunPlanResponse, demand_service_server::DemandService,
    },
};

pub(crate) struct DemandApi {
    state: AppState,
}

impl DemandApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The named tables of a stored plan of the caller's tenant, streamed.
    async fn plan_tables(
        &self,
        request: &Request<PlanTableRequest>,
        names: &'static [&'static str],
        money: &'static [&'static str],
    ) -> Result<Response<PartStream<PlanTableResponse>>, Status> {
        let tenant = self.state.for_caller(request)?;
        let id = request.get_ref().plan_id.trim().to_owned();
        if id.is_empty() {
            return Err(
                ServerError::invalid("plan_id", "is required: the id RunPlan returned").into(),
            );
        }
        let store = tenant.demand.clone();
        let parts = run_job(&tenant, move |state| {
            let mut frames = Vec::new();
            for name in names {
                frames.push((*name, store.plan_table(&id, name)?));
            }
            let borrowed: Vec<(&str, &quotecast_forecast::DataFrame)> =
                frames.iter().map(|(n, f)| (*n, f)).collect();
            let mut out = Vec::new();
            wire_tables(state, &borrowed, money, unit_of, &mut out)?;
            Ok(out)
        })
        .await?;
        Ok(stream(parts))
    }

    /// Reads a pushed stream whole, checks it and stores it as a version
    /// (`with_on_hand`: keep the latest version's on hand, take the pushed
    /// receipts).
    async fn push(
        &self,
        request: Request<Streaming<PushInventoryRequest>>,
        receipts_only: bool,
    ) -> Result<Response<PushInventoryResponse>, Status> {
        let store = self.state.for_caller(&request)?.demand;
        let mut incoming = request.into_inner();
        let mut rows = PushedRows::default();
        while let Some(message) =
            crate::codec::next_message(&mut incoming, self.state.body_idle).await?
        {
            if let Some(r) = message.rows {
                rows.add(r)?;
            }
        }
        if rows.is_empty() {
            return Err(ServerError::invalid("rows", "the push holds no rows").into());
        }
        let mut state = InventoryState::try_from(rows)?;
        if receipts_only && !state.on_hand.is_empty() {
            return Err(ServerError::invalid(
                "rows.on_hand",
                "PushReceipts takes receipts only: push on hand with PushInventory",
            )
            .into());
        }
        let uploads = self.state.upload_jobs.clone();
        let stored = run_with_permit(&self.state, Some(&uploads), move |_| {
            if receipts_only {
                let latest = store.inventory(None)?.unwrap_or_default();
                state.on_hand = latest.on_hand;
            }
            let version = store.store_inventory(&state)?;
            Ok((version, state.on_hand.len(), state.receipts.len()))
        })
        .await?;
        tracing::info!(version = %stored.0, on_hand = stored.1, receipts = stored.2, "inventory stored");
        Ok(Response::new(PushInventoryResponse {
            version: stored.0,
            on_hand_rows: stored.1 as u64,
            receipt_rows: stored.2 as u64,
        }))
    }
}

#[tonic::async_trait]
impl DemandService for DemandApi {
    async fn run_plan(
        &self,
        request: Request<RunPlanRequest>,
    ) -> Result<Response<RunPlanResponse>, Status> {
        let caller = crate::auth_layer::principal(&request)?;
        let mut job = PlanJob::try_from((request.get_ref(), (self.state.today)()))?;
        job.options.budget = self.state.trial_budget;
        let orders = if job.won_orders {
            crate::orders::won_orders(
                &self.state,
                &caller.tenant,
                None,
                job.options.calendar.as_of,
            )
            .await?
        } else {
            Vec::new()
        };
        let orders_read = orders.len() as u64;
        let _stop = crate::forecast::CancelOnDrop(job.options.cancel.clone());
        let tenant = self.state.for_tenant(&caller.tenant)?;
        let store = tenant.demand.clone();
        let response = run_job(&tenant, move |state| {
            let rules = &state.rules;
            let path = state.pipelines.snapshot(&job.pipeline)?;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            job.options
                .fingerprints
                .push(format!("{}:{bytes}", job.pipeline));
            let snapshot = read_snapshot(&path, &vocabulary(rules))?;
            let (snapshot, ordered) = without_ordered(snapshot, &orders)?;
            let history = match &job.history {
                Some(name) => Some(state.pipelines.history(name)?),
                None => None,
            };
            let key = history.as_deref().and_then(|dir| {
                LearnKey::of_plan(&path, dir, rules, job.options.calendar.as_of)
                    .map(|k| k.with_orders(&orders))
            });
            let base = || rules_spec(rules, job.options.calendar.as_of, Bucket::Week);
            let (taught, reused) = state.learned.plan_or(key, base, || {
                let history = match &history {
                    Some(dir) => Some(read_history(dir, &vocabulary(rules))?),
                    None => None,
                };
                Ok::<_, ServerError>(learn_plan(&snapshot, history, rules, &job.options)?)
            })?;
            let mut taught = (*taught).clone();
            taught.notes.extend(reused);
            let inventory = match store.inventory(job.inventory_version.as_deref())? {
                Some(s) => Inventory::from(s),
                None => Inventory {
                    version: "none".into(),
                    ..Inventory::default()
                },
            };
            let firm = firm_demand(rules, &orders, job.options.calendar.as_of);
            let won_order_lines = firm.lines.len() as u64;
            let plan = plan_taught(snapshot, taught, rules, &inventory, &job.options, firm)?;
            store.store_plan(&plan.id, &tables(&plan)?)?;
            let corporate = rules.corporate_currency();
            let value: Decimal = plan.planned_orders.iter().map(|o| o.value).sum();
            let statistic = |v: f64| corporate.round_statistic(v).unwrap_or_default().to_string();
            let e = &plan.explanation;
            Ok(RunPlanResponse {
                plan_id: plan.id.clone(),
                inventory_version: plan.inventory_version.clone(),
                as_of: job.options.calendar.as_of.to_string(),
                deals: e.deals as u64,
                lines: e.lines as u64,
                configured_lines: e.configured_lines as u64,
                attach_rate_lines: e.attach_rate_lines as u64,
                items_planned: e.items_planned as u64,
                levels: e.levels,
                planned_orders: plan.planned_orders.len() as u64,
                expedite_orders: plan.planned_orders.iter().filter(|o| o.expedite).count() as u64,
                planned_value: corporate.round(value).to_string(),
                currency: corporate.code.to_string(),
                unplanned_skus: e.unplanned_skus.iter().map(|(s, _)| s.clone()).collect(),
                unknown_inventory_items: e.unknown_inventory.clone(),
                trials: e.trials,
                expected_only: e.expected_only.clone().unwrap_or_default(),
                expected_cash: statistic(plan.cash.iter().map(|c| c.expected).sum()),
                cash_before_plan_date: statistic(e.cash_before_plan_date),
                lines_without_terms: e.lines_without_terms as u64,
                won_orders: orders_read,
                won_order_lines,
                opportunities_ordered: ordered as u64,
                without_pegging: e.without_pegging,
                forecast_notes: e.forecast_notes.clone(),
            })
        })
        .await?;
        tracing::info!(plan = %response.plan_id, orders = response.planned_orders, "plan stored");
        Ok(Response::new(response))
    }

    type ComponentDemandStream = PartStream<PlanTableResponse>;

    async fn component_demand(
        &self,
        request: Request<PlanTableRequest>,
    ) -> Result<Response<Self::ComponentDemandStream>, Status> {
        self.plan_tables(&request, &TABLES[0..1], &[]).await
    }

    type PlannedOrdersStream = PartStream<PlanTableResponse>;

    async fn planned_orders(
        &self,
        request: Request<PlanTableRequest>,
    ) -> Result<Response<Self::PlannedOrdersStream>, Status> {
        self.plan_tables(&request, &TABLES[1..3], &["value"]).await
    }

    type CapacityStream = PartStream<PlanTableResponse>;

    async fn capacity(
        &self,
        request: Request<PlanTableRequest>,
    ) -> Result<Response<Self::CapacityStream>, Status> {
        self.plan_tables(&request, &TABLES[4..5], &[]).await
    }

    type SafetyStockStream = PartStream<PlanTableResponse>;

    async fn safety_stock(
        &self,
        request: Request<PlanTableRequest>,
    ) -> Result<Response<Self::SafetyStockStream>, Status> {
        static NAMES: [&str; 2] = [TABLES[3], TABLES[5]];
        self.plan_tables(&request, &NAMES, &[]).await
    }

    type CashStream = PartStream<PlanTableResponse>;

    async fn cash(
        &self,
        request: Request<PlanTableRequest>,
    ) -> Result<Response<Self::CashStream>, Status> {
        static MONEY: [&str; 5] = ["expected", "from_won", "p10", "p50", "p90"];
        self.plan_tables(&request, &TABLES[6..7], &MONEY).await
    }

    async fn push_inventory(
        &self,
        request: Request<Streaming<PushInventoryRequest>>,
    ) -> Result<Response<PushInventoryResponse>, Status> {
        self.push(request, false).await
    }

    async fn push_receipts(
        &self,
        request: Request<Streaming<PushInventoryRequest>>,
    ) -> Result<Response<PushInventoryResponse>, Status> {
        self.push(request, true).await
    }

    async fn list_inventory_versions(
        &self,
        request: Request<ListInventoryVersionsRequest>,
    ) -> Result<Response<ListInventoryVersionsResponse>, Status> {
        let store = self.state.for_caller(&request)?.demand;
        let versions =
            run_with_permit(&self.state, None, move |_| Ok(store.inventory_versions()?)).await?;
        Ok(Response::new(ListInventoryVersionsResponse {
            versions: versions
                .into_iter()
                .map(|v| pb::InventoryVersion {
                    version: v.version,
                    on_hand_rows: v.on_hand_rows,
                    receipt_rows: v.receipt_rows,
                    latest: v.latest,
                })
                .collect(),
        }))
    }
}
