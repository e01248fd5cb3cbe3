//! The forecast crate's one error type.

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("the funnel has no stages: define them in rules/pipeline/stages.toml")]
    NoStages,
    #[error("no rate for currency {0} to the reporting currency")]
    NoRate(String),
    #[error("too large to simulate: {0}")]
    TooLarge(String),
    #[error("not enough history: {0}")]
    NoHistory(String),
    #[error("cancelled: the caller went away")]
    Cancelled,
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}
