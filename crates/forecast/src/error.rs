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
    /// A computation failed inside polars: a defect, since every input is
    /// checked before it gets there. Shown without polars' query plan.
    #[error("the forecast's computation failed: {}", without_plan(.0))]
    Polars(#[from] polars::error::PolarsError),
}

/// Polars' message up to the query plan it appends to some errors.
fn without_plan(error: &polars::error::PolarsError) -> String {
    let message = error.to_string();
    let cut = ["\n\nResolved plan", "\nResolved plan", "\n\n"]
        .iter()
        .filter_map(|marker| message.find(marker))
        .min()
        .unwrap_or(message.len());
    message[..cut].trim_end().to_string()
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
    }
}
