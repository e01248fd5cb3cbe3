//! Column names of the pipeline snapshot and history files. One row of a
//! snapshot is one line of an opportunity; the opportunity's own fields
//! repeat on each of its lines (as a CRM's "opportunities with products"
//! export has them), so the file is flat and CSV can hold it too.

pub const OPPORTUNITY_ID: &str = "opportunity_id";
pub const ACCOUNT: &str = "account";
pub const OWNER: &str = "owner";
pub const TEAM: &str = "team";
pub const REGION: &str = "region";
pub const STAGE: &str = "stage";
/// The day the opportunity entered its current stage (optional column).
pub const STAGE_ENTERED: &str = "stage_entered";
pub const CREATED: &str = "created";
pub const EXPECTED_CLOSE: &str = "expected_close";
/// The owner's override of the stage's forecast category (optional, may
/// be empty).
pub const FORECAST_CATEGORY: &str = "forecast_category";
pub const CURRENCY: &str = "currency";
/// The line's number within its opportunity, from 1.
pub const LINE: &str = "line";
pub const SKU: &str = "sku";
pub const PRODUCT_LINE: &str = "product_line";
pub const QUANTITY: &str = "quantity";
/// The line's amount in the opportunity's currency (decimal, 2 places).
pub const AMOUNT: &str = "amount";
/// A quote the line was priced on (optional, may be empty).
pub const QUOTE_REF: &str = "quote_ref";
/// The day a past snapshot was taken (snapshot history only).
pub const SNAPSHOT_DATE: &str = "snapshot_date";
/// Stage-change events: the day an opportunity entered a stage.
pub const AT: &str = "at";
/// Outcomes: `won` or `lost`, and the day.
pub const OUTCOME: &str = "outcome";
pub const CLOSED: &str = "closed";

/// The team the forecast's tables name the company by (its rows sum
/// every team); their other rows of their own start with it too: no
/// file's team may start with it.
pub const COMPANY: &str = "*";

/// Decimal precision and scale of amounts in Parquet.
pub const AMOUNT_PRECISION: usize = 18;
pub const AMOUNT_SCALE: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_know_every_column_of_the_files() {
        // What a rule file's `[[column]]` may label: these columns, no more.
        let ours = [
            OPPORTUNITY_ID,
            ACCOUNT,
            OWNER,
            TEAM,
            REGION,
            STAGE,
            STAGE_ENTERED,
            CREATED,
            EXPECTED_CLOSE,
            FORECAST_CATEGORY,
            CURRENCY,
            LINE,
            SKU,
            PRODUCT_LINE,
            QUANTITY,
            AMOUNT,
            QUOTE_REF,
            SNAPSHOT_DATE,
            AT,
            OUTCOME,
            CLOSED,
        ];
        assert_eq!(quotecast_model::PIPELINE_COLUMNS, ours);
    }
}
