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
    /// What a process kept of an earlier job's learning cannot be put
    /// back (see [`crate::stored`]).
    #[error("the kept learning is unusable: {0}")]
    Stored(String),
    /// A computation failed inside polars: a defect, since every input is
    /// checked before it gets there. Shown without polars' query plan, and
    /// not given as the error's source: a caller printing the chain of
    /// sources (anyhow's `{:#}`) would print the plan.
    #[error("the forecast's computation failed: {}", quotecast_pipeline::without_plan(.0))]
    Polars(polars::error::PolarsError),
}

impl From<polars::error::PolarsError> for ForecastError {
    fn from(error: polars::error::PolarsError) -> Self {
        ForecastError::Polars(error)
    }
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::ForecastError;

    #[test]
    fn a_failed_computation_says_what_failed_without_the_query_plan() {
        let frame = df!("a" => [1, 2]).unwrap();
        let error = frame.lazy().select([col("missing")]).collect().unwrap_err();
        assert!(error.to_string().contains("plan"), "{error}");
        let shown = ForecastError::from(error).to_string();
        assert!(shown.contains("missing"), "{shown}");
        assert!(!shown.contains("plan"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
        // No source either: a caller printing the chain of sources (as the
        // CLI does) would print polars' message, plan and all.
        let error = df!("a" => [1, 2])
            .unwrap()
            .lazy()
            .select([col("missing")])
            .collect();
        let error = ForecastError::from(error.unwrap_err());
        assert!(std::error::Error::source(&error).is_none());
    }
}
