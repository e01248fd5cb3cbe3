//! Server errors and how they reach clients as `tonic::Status`.
use quotecast_demand::DemandError;
use quotecast_forecast::ForecastError;
use quotecast_pipeline::PipelineError;
use quotecast_pricing::{PricingError, RejectReason, Rejection};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// A field of a request that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    InvalidArgument(Vec<FieldViolation>),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error("{kind} `{name}` not found")]
    NotFound { kind: &'static str, name: String },
    #[error("server failed: {0}")]
    Startup(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A file sent with `UploadPipeline` that does not hold what it must.
    #[error("upload refused: {0}")]
    BadUpload(PipelineError),
    /// A stored pipeline that cannot be read or is not there.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Forecast(#[from] ForecastError),
    #[error(transparent)]
    Demand(#[from] quotecast_demand::DemandError),
    #[error("too large: {0}")]
    TooLarge(String),
    #[error("busy: {0}")]
    Busy(String),
    /// Too many jobs already waiting.
    #[error("overloaded: {0}")]
    Overloaded(String),
    #[error(transparent)]
    Store(#[from] quotecast_store::StoreError),
    /// The caller is who it says, but may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The thing acted on is not in a state that allows the action.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A body or file that is not valid JSON of its message (the canonical
    /// proto3 JSON mapping), with where it went wrong.
    #[error("not a valid {message} in JSON (line {line}, column {column}): {reason}")]
    BadJson {
        message: String,
        line: usize,
        column: usize,
        reason: String,
    },
    /// A reload found the rule files invalid; the rules in service stay.
    #[error("the rules on disk are refused; the rules in service stay:\n{0}")]
    RulesRefused(String),
}

/// The most field violations an error carries; the rest are counted in
/// one last violation.
pub const MAX_VIOLATIONS: usize = 100;
/// The most characters of an error's message (and of each violation's
/// description): a client must be able to read the error it is sent.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The most characters of a caller's value (a name, a date) an error
/// repeats.
pub const ECHO_CHARS: usize = 200;

/// `text` cut to `limit` characters, saying how long it was.
pub(crate) fn capped(text: String, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text,
        Some((at, _)) => format!("{}… ({} characters)", &text[..at], text.chars().count()),
    }
}

/// Adds at most [`MAX_VIOLATIONS`] field violations (each description
/// capped), then one that counts the rest.
fn add_violations(
    details: &mut ErrorDetails,
    violations: impl IntoIterator<Item = (String, String, &'static str)>,
) {
    let mut kept = Vec::new();
    let mut left_out = 0usize;
    for (i, (field, description, reason)) in violations.into_iter().enumerate() {
        if i < MAX_VIOLATIONS {
            kept.push(tonic_types::FieldViolation {
                field: capped(field, MAX_MESSAGE_CHARS / 4),
                description: capped(description, MAX_MESSAGE_CHARS / 2),
                reason: reason.to_owned(),
                localized_message: None,
            });
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        kept.push(tonic_types::FieldViolation::new(
            "",
            format!("and {left_out} more"),
        ));
    }
    details.set_bad_request(kept);
}

/// The field violations naming each bad row and column of a data file.
fn bad_row_details(error: &PipelineError, field: &str) -> ErrorDetails {
    let mut details = ErrorDetails::new();
    match error {
        PipelineError::BadRows { rows, columns, .. } => add_violations(
            &mut details,
            columns
                .iter()
                .map(|c| {
                    (
                        format!("{field}.columns.{}", c.column),
                        c.message.clone(),
                        "BAD_COLUMN",
                    )
                })
                .chain(rows.iter().map(|r| {
                    (
                        format!("{field}.rows[{}].{}", r.row, r.column),
                        r.reason.clone(),
                        "BAD_VALUE",
                    )
                })),
        ),
        other => add_violations(
            &mut details,
            [(field.to_owned(), other.to_string(), "BAD_FILE")],
        ),
    }
    details
}

impl ServerError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

fn reason_code(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::MissingField => "MISSING_FIELD",
        RejectReason::UnknownCurrency => "UNKNOWN_CURRENCY",
        RejectReason::UnknownSku => "UNKNOWN_SKU",
        RejectReason::NotInPriceBook => "NOT_IN_PRICE_BOOK",
        RejectReason::NonPositiveQuantity => "NON_POSITIVE_QUANTITY",
        RejectReason::QuantityOutOfRange => "QUANTITY_OUT_OF_RANGE",
        RejectReason::DiscountOutOfRange => "DISCOUNT_OUT_OF_RANGE",
        RejectReason::DiscountExceedsAmount => "DISCOUNT_EXCEEDS_AMOUNT",
        RejectReason::CurrencyMismatch => "CURRENCY_MISMATCH",
        RejectReason::UnknownAccount => "UNKNOWN_ACCOUNT",
        RejectReason::UnknownSegment => "UNKNOWN_SEGMENT",
        RejectReason::UnknownRegion => "UNKNOWN_REGION",
        RejectReason::ConflictsWithAccount => "CONFLICTS_WITH_ACCOUNT",
        RejectReason::DuplicateLineId => "DUPLICATE_LINE_ID",
        RejectReason::TooManyLines => "TOO_MANY_LINES",
        RejectReason::BelowFloor => "BELOW_FLOOR",
        RejectReason::NotConfigurable => "NOT_CONFIGURABLE",
        RejectReason::UnknownOption => "UNKNOWN_OPTION",
        RejectReason::InvalidConfiguration => "INVALID_CONFIGURATION",
        RejectReason::IncompleteConfiguration => "INCOMPLETE_CONFIGURATION",
    }
}

/// A stored quote's error: what the caller can do about it.
fn store_status(error: quotecast_store::StoreError, message: String) -> Status {
    use quotecast_store::StoreError;
    match error {
        StoreError::NotFound { number, .. } => {
            let mut details = ErrorDetails::new();
            details.set_resource_info("quote", number.to_string(), "", message.clone());
            Status::with_error_details(Code::NotFound, message, details)
        }
        // A concurrent change got there first: read again and retry.
        StoreError::Stale { current, .. } => {
            let mut details = ErrorDetails::new();
            details.set_error_info(
                "STALE_VERSION",
                "quotecast",
                std::collections::HashMap::from([(
                    "current_version".to_owned(),
                    current.to_string(),
                )]),
            );
            Status::with_error_details(Code::Aborted, message, details)
        }
        StoreError::IllegalTransition { from, to, .. } => {
            let mut details = ErrorDetails::new();
            details.add_precondition_failure_violation(
                "ILLEGAL_TRANSITION",
                format!("{from} → {to}"),
                message.clone(),
            );
            Status::with_error_details(Code::FailedPrecondition, message, details)
        }
        // The database is down or refused: nothing was stored; the
        // details go to the log.
        StoreError::Database(e) => {
            tracing::error!(error = %e, "quote store failed");
            Status::unavailable("the quote store is unavailable: nothing was stored")
        }
        StoreError::NewerSchema { .. } | StoreError::BadUrl(_) | StoreError::Corrupt(_) => {
            tracing::error!(%message, "quote store unusable");
            Status::internal(message)
        }
    }
}

impl ServerError {
    /// Whether a job stopped because its caller went away.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            ServerError::Forecast(ForecastError::Cancelled)
                | ServerError::Demand(DemandError::Cancelled)
                | ServerError::Demand(DemandError::Forecast(ForecastError::Cancelled))
        )
    }
}

impl From<ServerError> for Status {
    fn from(error: ServerError) -> Self {
        let message = capped(error.to_string(), MAX_MESSAGE_CHARS);
        match error {
            ServerError::BadJson { .. } => {
                let mut details = ErrorDetails::new();
                add_violations(
                    &mut details,
                    std::iter::once(("body".to_owned(), message.clone(), "INVALID_JSON")),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServerError::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                add_violations(
                    &mut details,
                    violations
                        .into_iter()
                        .map(|v| (v.field, v.description, "INVALID_VALUE")),
                );
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            ServerError::Pricing(e) => pricing_status(e, message),
            ServerError::NotFound { kind, name } => {
                let mut details = ErrorDetails::new();
                details.set_resource_info(kind, capped(name, ECHO_CHARS), "", message.clone());
                Status::with_error_details(Code::NotFound, message, details)
            }
            ServerError::Startup(_) | ServerError::Internal(_) => Status::internal(message),
            ServerError::PermissionDenied(_) => Status::permission_denied(message),
            ServerError::FailedPrecondition(_) | ServerError::RulesRefused(_) => {
                Status::failed_precondition(message)
            }
            ServerError::BadUpload(e) => Status::with_error_details(
                Code::InvalidArgument,
                message,
                bad_row_details(&e, "chunk"),
            ),
            ServerError::Pipeline(e) => pipeline_status(e, message),
            ServerError::Forecast(ForecastError::Polars(_)) => Status::internal(message),
            ServerError::Forecast(ForecastError::TooLarge(_)) | ServerError::TooLarge(_) => {
                Status::resource_exhausted(message)
            }
            ServerError::Forecast(ForecastError::Cancelled)
            | ServerError::Demand(DemandError::Cancelled)
            | ServerError::Demand(DemandError::Forecast(ForecastError::Cancelled)) => {
                Status::cancelled(message)
            }
            ServerError::Forecast(_) => Status::failed_precondition(message),
            ServerError::Demand(DemandError::TooLarge(_)) => Status::resource_exhausted(message),
            ServerError::Demand(DemandError::Invalid(_)) => Status::invalid_argument(message),
            ServerError::Demand(DemandError::Forecast(ForecastError::Polars(_)))
            | ServerError::Demand(DemandError::Polars(_)) => Status::internal(message),
            ServerError::Demand(DemandError::Forecast(_)) => Status::failed_precondition(message),
            ServerError::Busy(_) => Status::unavailable(message),
            ServerError::Overloaded(_) => Status::resource_exhausted(message),
            ServerError::Store(e) => store_status(e, message),
        }
    }
}

/// A pricing refusal: INVALID_ARGUMENT for a malformed request,
/// FAILED_PRECONDITION for one a rule refuses, with the fields to change.
fn pricing_status(error: PricingError, message: String) -> Status {
    match error {
        PricingError::InvalidRequest(rejections) => {
            let mut details = ErrorDetails::new();
            if let Some(first) = rejections.first() {
                details.set_error_info(
                    reason_code(first.reason),
                    "quotecast",
                    std::collections::HashMap::new(),
                );
            }
            rejection_violations(&mut details, &rejections);
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        PricingError::RuleViolation(rejections) => {
            // The request is well-formed but a pricing rule refuses it:
            // FAILED_PRECONDITION, with the fields to change.
            let mut details = ErrorDetails::new();
            let first = rejections
                .first()
                .map_or("RULE_VIOLATION", |r| reason_code(r.reason));
            details.set_error_info(first, "quotecast", std::collections::HashMap::new());
            for r in rejections.iter().take(MAX_VIOLATIONS) {
                details.add_precondition_failure_violation(
                    reason_code(r.reason),
                    r.field.clone(),
                    capped(r.message.clone(), MAX_MESSAGE_CHARS / 2),
                );
            }
            rejection_violations(&mut details, &rejections);
            Status::with_error_details(Code::FailedPrecondition, message, details)
        }
    }
}

/// Each rejection as a bad-request field violation, with its reason.
fn rejection_violations(details: &mut ErrorDetails, rejections: &[Rejection]) {
    add_violations(
        details,
        rejections
            .iter()
            .map(|r| (r.field.clone(), r.message.clone(), reason_code(r.reason))),
    );
}

/// A pipeline store's failure: not stored, a bad name, over quota, the
/// disk (logged, not told), or a stored file no longer readable.
fn pipeline_status(error: PipelineError, message: String) -> Status {
    match error {
        PipelineError::NotStored(what) => {
            let mut details = ErrorDetails::new();
            details.set_resource_info("pipeline", capped(what, ECHO_CHARS), "", message.clone());
            Status::with_error_details(Code::NotFound, message, details)
        }
        PipelineError::Name(_) => {
            Status::with_error_details(Code::InvalidArgument, message.clone(), {
                let mut details = ErrorDetails::new();
                add_violations(&mut details, [("pipeline".to_owned(), message, "BAD_NAME")]);
                details
            })
        }
        PipelineError::OverQuota { kind, .. } => {
            let mut details = ErrorDetails::new();
            details.add_quota_failure_violation(kind.setting(), message.clone());
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        // Storage failed: the path goes to the log, not to the caller.
        PipelineError::Io { path, source } => {
            tracing::error!(path = %path.display(), error = %source, "storage failed");
            if source.raw_os_error() == Some(28) || source.kind() == std::io::ErrorKind::StorageFull
            {
                Status::resource_exhausted("the data directory is full: nothing was stored")
            } else {
                Status::internal("storage failed: see the server log")
            }
        }
        // A stored file that is not readable: it has to be replaced.
        e => Status::with_error_details(
            Code::FailedPrecondition,
            message,
            bad_row_details(&e, "pipeline"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(code: i32) -> ServerError {
        ServerError::Pipeline(PipelineError::Io {
            path: "/srv/secret/pipelines/demo/.upload-1.csv".into(),
            source: std::io::Error::from_raw_os_error(code),
        })
    }

    #[test]
    fn a_full_disk_is_resource_exhausted_and_no_error_shows_a_server_path() {
        let full = Status::from(io(28));
        assert_eq!(full.code(), Code::ResourceExhausted);
        let denied = Status::from(io(13));
        assert_eq!(denied.code(), Code::Internal);
        for status in [full, denied] {
            assert!(!status.message().contains("/srv"), "{}", status.message());
        }
    }

    #[test]
    fn errors_are_cut_to_a_readable_size() {
        let violations = (0..5000)
            .map(|i| FieldViolation {
                field: format!("lines[{i}].sku"),
                description: "x".repeat(10_000),
            })
            .collect();
        let status = Status::from(ServerError::InvalidArgument(violations));
        assert!(status.message().chars().count() <= MAX_MESSAGE_CHARS + 40);
        assert!(
            status.details().len() < 200_000,
            "{}",
            status.details().len()
        );
    }
}
