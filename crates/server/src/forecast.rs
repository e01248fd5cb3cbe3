//! `ForecastService`: pipelines stored by name (uploaded in chunks), and
//! the forecast, funnel and backtest over them. Every polars job runs on a
//! blocking thread, at most `forecast_jobs` at once; the tokio workers only
//! move bytes.
use std::pin::Pin;

use quotecast_forecast::{
    BacktestResult, Booked, ForecastReport, FunnelReport, IntoLazy, MONEY_COLUMNS, backtest_report,
    book_won_orders, forecast_spec, funnel_report, report_with_spec, rules_spec, vocabulary,
};
use quotecast_pipeline::{
    PipelineError,
    read::{read_history, read_snapshot},
    store::PipelineFile,
    write::FileFormat,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::{
    AppState, ServerError,
    convert_forecast::{ForecastJob, WireTable, backtest_job, funnel_job, number_unit},
    learned::LearnKey,
    pb::{
        self, BacktestRequest, BacktestResponse, ForecastRequest, ForecastResponse, FunnelRequest,
        FunnelResponse, ListPipelinesRequest, ListPipelinesResponse, PlanTableResponse,
        UploadPipelineRequest, UploadPipelineResponse, forecast_service_server::ForecastService,
        upload_pipeline_request::Part,
    },
};

pub(crate) struct ForecastApi {
    state: AppState,
}

impl ForecastApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// Runs `job` on a blocking thread once one of the forecast job permits
/// is free (demand plans share them).
pub(crate) async fn run_job<T: Send + 'static>(
    state: &AppState,
    job: impl FnOnce(&AppState) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    run_with_permit(state, Some(&state.forecast_jobs), job).await
}

/// Runs `job` on a blocking thread, after taking a permit of `permits`
/// when given (metadata reads take none: they never wait behind jobs).
pub(crate) async fn run_with_permit<T: Send + 'static>(
    state: &AppState,
    permits: Option<&std::sync::Arc<tokio::sync::Semaphore>>,
    job: impl FnOnce(&AppState) -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    let permit = match permits {
        Some(p) => Some(match p.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(tokio::sync::TryAcquireError::Closed) => {
                return Err(ServerError::Busy("the server is shutting down".into()));
            }
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let _waiting = Waiting::enter(state)?;
                p.clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| ServerError::Busy("the server is shutting down".into()))?
            }
        }),
        None => None,
    };
    // The job runs on the rules in service when it started.
    let state = state.current();
    // The job's spans belong to the request's trace.
    let span = tracing::info_span!("job");
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let done = span.in_scope(|| job(&state));
        if done.as_ref().is_err_and(ServerError::is_cancelled) {
            state.metrics.job_cancelled();
        }
        done
    })
    .await
    .map_err(|e| ServerError::Internal(format!("job failed: {e}")))?
}

/// Stops a job's trials when the request's handler is dropped: its
/// caller cancelled or its deadline passed (or it finished, when there is
/// nothing left to stop).
pub(crate) struct CancelOnDrop(pub quotecast_forecast::Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A request counted among the jobs waiting for a permit while it lives
/// (dropped when the permit comes or the caller goes away).
struct Waiting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Waiting {
    fn enter(state: &AppState) -> Result<Self, ServerError> {
        use std::sync::atomic::Ordering;
        let queued = state.queued_jobs.fetch_add(1, Ordering::SeqCst);
        let waiting = Waiting(state.queued_jobs.clone());
        if queued >= crate::MAX_QUEUED_JOBS {
            return Err(ServerError::Overloaded(format!(
                "{queued} jobs are already waiting; try again later"
            )));
        }
        Ok(waiting)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A streamed response that carries table headers and row batches.
pub(crate) trait TablePart: Sized {
    fn header(header: pb::TableHeader) -> Self;
    fn rows(rows: pb::RowBatch) -> Self;
}

/// One impl per response type: each has `Table` and `Rows` parts.
macro_rules! table_part {
    ($response:ident, $part:path) => {
        impl TablePart for $response {
            fn header(header: pb::TableHeader) -> Self {
                use $part as P;
                $response {
                    part: Some(P::Table(header)),
                }
            }
            fn rows(rows: pb::RowBatch) -> Self {
                use $part as P;
                $response {
                    part: Some(P::Rows(rows)),
                }
            }
        }
    };
}

table_part!(ForecastResponse, pb::forecast_response::Part);
table_part!(FunnelResponse, pb::funnel_response::Part);
table_part!(BacktestResponse, pb::backtest_response::Part);
table_part!(PlanTableResponse, pb::plan_table_response::Part);

/// Each frame as a table header and its row batches, in the reporting
/// currency of the rules, appended to `out`.
fn tables<R: TablePart>(
    state: &AppState,
    frames: &[(&str, &quotecast_forecast::DataFrame)],
    out: &mut Vec<R>,
) -> Result<(), ServerError> {
    wire_tables(state, frames, MONEY_COLUMNS, number_unit, out)
}

/// Each frame as a table header and its row batches: `money` columns in
/// the corporate currency, other numbers with the unit `unit_of` gives.
pub(crate) fn wire_tables<R: TablePart>(
    state: &AppState,
    frames: &[(&str, &quotecast_forecast::DataFrame)],
    money: &[&str],
    unit_of: fn(&str) -> &'static str,
    out: &mut Vec<R>,
) -> Result<(), ServerError> {
    let corporate = state.rules.corporate_currency();
    for (name, frame) in frames {
        let table = WireTable {
            name,
            frame,
            money,
            currency: corporate.code.as_str(),
            scale: corporate.scale,
            unit_of,
        };
        let (header, batches) = table.parts()?;
        out.push(R::header(header));
        out.extend(batches.into_iter().map(R::rows));
    }
    Ok(())
}

fn forecast_parts(
    state: &AppState,
    report: &ForecastReport,
    booked: &Booked,
) -> Result<Vec<ForecastResponse>, ServerError> {
    use pb::forecast_response::Part as P;
    let e = &report.forecast.explanation;
    let spec = &report.spec;
    let summary = pb::ForecastSummary {
        lines: e.lines,
        open_opportunities: e.open_opportunities,
        past_due_moved: e.past_due_moved,
        won_opportunities: e.won_opportunities,
        left_out_opportunities: e.left_out_opportunities,
        win_rate_source: e.win_rate_source.clone(),
        stage_win_rates: e
            .win_rates
            .iter()
            .filter(|(id, _)| state.rules.stage(id).is_some_and(|s| s.is_open()))
            .map(|(id, p)| (id.clone(), crate::convert_forecast::probability(*p)))
            .collect(),
        reporting_currency: spec.rates.reporting_currency.clone(),
        as_of: spec.as_of.to_string(),
        correction_snapshots: spec
            .correction
            .iter()
            .flat_map(|c| c.snapshots_used.iter().map(|d| d.to_string()))
            .collect(),
        trials: report.uncertainty.as_ref().map_or(0, |u| u.trials),
        notes: report.notes.clone(),
        opportunities_closed_by_orders: booked.closed as u64,
        orders_added: booked.added as u64,
    };
    let mut out = vec![ForecastResponse {
        part: Some(P::Summary(summary)),
    }];
    let mut frames = vec![
        ("amounts", &report.forecast.amounts),
        ("quantities", &report.forecast.quantities),
    ];
    if let Some(u) = &report.uncertainty {
        frames.push(("uncertainty", &u.by_group));
        frames.push(("uncertainty_by_bucket", &u.by_bucket));
    }
    frames.push(("overdue", &report.overdue));
    frames.push(("overdue_by_owner", &report.overdue_by_owner));
    if let quotecast_forecast::WinRates::Calibrated(rates) = &spec.win_rates {
        frames.push(("team_win_rates", &rates.table));
    }
    if let Some(c) = &spec.correction {
        frames.push(("team_accuracy", &c.accuracy));
        frames.push(("slippage", &c.slippage));
        frames.push(("close_factors", &c.close_factors));
        frames.push(("size_factors", &c.size_factors));
        frames.push(("calendar", &c.calendar));
    }
    if let Some(new_deals) = &spec.new_deal_history {
        frames.push(("new_deals", new_deals));
    }
    if let Some(timing) = &spec.timing {
        frames.push(("timing", timing));
    }
    if let Some(factors) = &spec.amount_factors {
        frames.push(("amount_factors", factors));
    }
    tables(state, &frames, &mut out)?;
    Ok(out)
}

fn funnel_parts(
    state: &AppState,
    report: &FunnelReport,
) -> Result<Vec<FunnelResponse>, ServerError> {
    let mut out = Vec::new();
    let frames = [
        ("company", &report.company),
        ("leaks", &report.leaks),
        ("by_team", &report.by_team),
    ];
    tables(state, &frames, &mut out)?;
    Ok(out)
}

fn backtest_parts(
    state: &AppState,
    result: &BacktestResult,
) -> Result<Vec<BacktestResponse>, ServerError> {
    let mut out = Vec::new();
    let frames = [
        ("summary", &result.summary),
        ("by_horizon", &result.by_horizon),
        ("by_date", &result.by_date),
        ("reliability", &result.reliability),
        ("cells", &result.cells),
    ];
    tables(state, &frames, &mut out)?;
    Ok(out)
}

pub(crate) type PartStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

pub(crate) fn stream<T: Send + 'static>(parts: Vec<T>) -> Response<PartStream<T>> {
    Response::new(Box::pin(tokio_stream::iter(parts.into_iter().map(Ok))))
}

/// The file and format an upload header names.
fn upload_target(h: &pb::UploadHeader) -> Result<(String, PipelineFile, FileFormat), ServerError> {
    let mut violations = Vec::new();
    let name = h.pipeline.trim().to_owned();
    if let Err(e) = quotecast_pipeline::store::check_name(&name) {
        violations.push(crate::FieldViolation {
            field: "header.pipeline".into(),
            description: e.to_string(),
        });
    }
    let file = match pb::PipelineFile::try_from(h.file) {
        Ok(pb::PipelineFile::Snapshot) => Some(PipelineFile::Snapshot),
        Ok(pb::PipelineFile::StageEvents) => Some(PipelineFile::StageEvents),
        Ok(pb::PipelineFile::Outcomes) => Some(PipelineFile::Outcomes),
        Ok(pb::PipelineFile::Snapshots) => Some(PipelineFile::Snapshots),
        _ => None,
    };
    let format = match pb::FileFormat::try_from(h.format) {
        Ok(pb::FileFormat::Parquet) => Some(FileFormat::Parquet),
        Ok(pb::FileFormat::Csv) => Some(FileFormat::Csv),
        _ => None,
    };
    if file.is_none() {
        violations.push(crate::FieldViolation {
            field: "header.file".into(),
            description: "must say which file: snapshot, stage events, outcomes or snapshots"
                .into(),
        });
    }
    if format.is_none() {
        violations.push(crate::FieldViolation {
            field: "header.format".into(),
            description: "must be Parquet or CSV".into(),
        });
    }
    match (file, format) {
        (Some(file), Some(format)) if violations.is_empty() => Ok((name, file, format)),
        _ => Err(ServerError::InvalidArgument(violations)),
    }
}

#[tonic::async_trait]
impl ForecastService for ForecastApi {
    async fn upload_pipeline(
        &self,
        request: Request<Streaming<UploadPipelineRequest>>,
    ) -> Result<Response<UploadPipelineResponse>, Status> {
        let tenant = self.state.for_caller(&request)?;
        let mut incoming = request.into_inner();
        let header = match crate::codec::next_message(&mut incoming, self.state.body_idle)
            .await?
            .and_then(|m| m.part)
        {
            Some(Part::Header(h)) => h,
            _ => {
                return Err(ServerError::invalid(
                    "header",
                    "the first message of an upload must be its header",
                )
                .into());
            }
        };
        let (name, file, format) = upload_target(&header)?;
        let mut upload = tenant
            .pipelines
            .upload(&name, file, format)
            .map_err(ServerError::from)?;
        while let Some(message) =
            crate::codec::next_message(&mut incoming, self.state.body_idle).await?
        {
            match message.part {
                Some(Part::Chunk(bytes)) => {
                    // Over a quota, the upload ends here: its temporary
                    // file goes, and what was stored stays.
                    upload.write(&bytes).map_err(ServerError::from)?;
                }
                Some(Part::Header(_)) => {
                    return Err(ServerError::invalid("header", "sent more than once").into());
                }
                None => {}
            }
        }
        let uploads = self.state.upload_jobs.clone();
        let stored = run_with_permit(&self.state, Some(&uploads), move |state| {
            upload
                .store(&vocabulary(&state.rules))
                .map_err(|e| match e {
                    e @ PipelineError::Io { .. } => ServerError::Pipeline(e),
                    e => ServerError::BadUpload(e),
                })
        })
        .await?;
        tracing::info!(pipeline = %name, ?file, bytes = stored.bytes, rows = stored.rows, "pipeline file stored");
        Ok(Response::new(UploadPipelineResponse {
            pipeline: name,
            file: header.file,
            bytes: stored.bytes,
            rows: stored.rows,
            opportunities: stored.opportunities,
        }))
    }

    async fn list_pipelines(
        &self,
        request: Request<ListPipelinesRequest>,
    ) -> Result<Response<ListPipelinesResponse>, Status> {
        let tenant = self.state.for_caller(&request)?;
        let pipelines = run_with_permit(&tenant, None, |state| {
            let stored = state.pipelines.list()?;
            Ok(stored
                .into_iter()
                .map(|p| {
                    let rows = state.pipelines.snapshot_rows(&p.name).unwrap_or(0);
                    pb::StoredPipeline {
                        name: p.name,
                        rows,
                        has_history: p.has_history,
                        has_snapshots: p.has_snapshots,
                    }
                })
                .collect())
        })
        .await?;
        Ok(Response::new(ListPipelinesResponse { pipelines }))
    }

    type ForecastStream = PartStream<ForecastResponse>;

    async fn forecast(
        &self,
        request: Request<ForecastRequest>,
    ) -> Result<Response<Self::ForecastStream>, Status> {
        let caller = crate::auth_layer::principal(&request)?;
        let mut job = ForecastJob::try_from((request.get_ref(), (self.state.today)()))?;
        job.options.simulation.budget = self.state.trial_budget;
        let orders = match job.won_orders_since {
            Some(since) => Some(
                crate::orders::won_orders(
                    &self.state,
                    &caller.tenant,
                    Some(since),
                    job.options.as_of,
                )
                .await?,
            ),
            None => None,
        };
        let cancel = job.options.simulation.cancel.clone();
        let _stop = CancelOnDrop(cancel.clone());
        let parts = run_job(&self.state.for_tenant(&caller.tenant)?, move |state| {
            let rules = &state.rules;
            let path = state.pipelines.snapshot(&job.pipeline)?;
            let snapshot = read_snapshot(&path, &vocabulary(rules))?;
            let (snapshot, booked) = match &orders {
                Some(orders) => book_won_orders(snapshot, orders, rules)?,
                None => (snapshot, Booked::default()),
            };
            cancel.check()?;
            let options = &job.options;
            let history = match &job.history {
                Some(name) => Some(state.pipelines.history(name)?),
                None => None,
            };
            let key = history.as_deref().and_then(|dir| {
                LearnKey::of_forecast(&path, dir, rules, options)
                    .map(|k| k.with_orders(orders.as_deref().unwrap_or_default()))
            });
            let base = || rules_spec(rules, options.as_of, options.bucket);
            let (learned, reused) = state.learned.forecast_or(key, base, || {
                let history = match &history {
                    Some(dir) => Some(read_history(dir, &vocabulary(rules))?),
                    None => None,
                };
                cancel.check()?;
                let lazy = Some(snapshot.clone().lazy());
                Ok::<_, ServerError>(forecast_spec(history, lazy, rules, options)?)
            })?;
            let (spec, mut notes) = (*learned).clone();
            notes.extend(reused);
            let report = report_with_spec(snapshot, (spec, notes), options)?;
            forecast_parts(state, &report, &booked)
        })
        .await?;
        Ok(stream(parts))
    }

    type FunnelStream = PartStream<FunnelResponse>;

    async fn funnel(
        &self,
        request: Request<FunnelRequest>,
    ) -> Result<Response<Self::FunnelStream>, Status> {
        let (pipeline, as_of) = funnel_job(request.get_ref(), (self.state.today)())?;
        let parts = run_job(&self.state.for_caller(&request)?, move |state| {
            let history = read_history(
                &state.pipelines.history(&pipeline)?,
                &vocabulary(&state.rules),
            )?;
            let report = funnel_report(history, &state.rules, as_of)?;
            funnel_parts(state, &report)
        })
        .await?;
        Ok(stream(parts))
    }

    type BacktestStream = PartStream<BacktestResponse>;

    async fn backtest(
        &self,
        request: Request<BacktestRequest>,
    ) -> Result<Response<Self::BacktestStream>, Status> {
        let (pipeline, options) = backtest_job(request.get_ref(), (self.state.today)())?;
        let _stop = CancelOnDrop(options.cancel.clone());
        let parts = run_job(&self.state.for_caller(&request)?, move |state| {
            let history = read_history(
                &state.pipelines.history(&pipeline)?,
                &vocabulary(&state.rules),
            )?;
            options.cancel.check()?;
            let result = backtest_report(history, &state.rules, &options)?;
            backtest_parts(state, &result)
        })
        .await?;
        Ok(stream(parts))
    }
}
