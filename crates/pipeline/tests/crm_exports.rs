//! Files as CRMs export them: their own stage and outcome labels,
//! timestamps for dates, floating-point amounts, `;` separators. Each is
//! read as the rules mean it, or refused naming the file, row, column,
//! the values found and those expected; never read wrong in silence.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use polars::prelude::*;
use quotecast_model::{Currency, CurrencyCode, RoundingMode};
use quotecast_pipeline::{
    PipelineError, columns as col,
    read::{HistoryTable, Vocabulary, read_history, read_history_table, read_snapshot_noted},
    write::write_table,
};
use rust_decimal::Decimal;

fn currency(code: &str, rounding: RoundingMode) -> Currency {
    Currency {
        code: CurrencyCode::new(code).unwrap(),
        name: match code {
            "EUR" => "Euro".into(),
            _ => format!("{code} money"),
        },
        scale: 2,
        rounding,
        per_corporate: Decimal::ONE,
    }
}

fn vocabulary() -> Vocabulary {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
    let pairs = |w: &[(&str, &str)]| {
        w.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    Vocabulary {
        stages: words(&["qualify", "propose", "won", "lost"]),
        currencies: vec![
            currency("USD", RoundingMode::HalfUp),
            currency("EUR", RoundingMode::HalfEven),
        ],
        forecast_categories: words(&["omitted", "pipeline", "best_case", "commit", "closed"]),
        stage_labels: pairs(&[
            ("Qualification", "qualify"),
            ("Proposal/Price Quote", "propose"),
            ("Closed Won", "won"),
        ]),
        outcome_labels: pairs(&[("Closed Won", "won"), ("Closed Lost", "lost")]),
        column_labels: pairs(&[
            ("Opportunity Owner", "owner"),
            ("Sales Team", "team"),
            ("Created Date", "created"),
            ("Close Date", "expected_close"),
            ("Close Date", "closed"),
            ("Stage", "outcome"),
        ]),
        default_currency: None,
    }
}

fn texts(frame: &DataFrame, name: &str) -> Vec<String> {
    frame
        .column(name)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap_or("").to_owned())
        .collect()
}

fn bad(result: Result<impl std::fmt::Debug, PipelineError>) -> String {
    match result {
        Err(e @ PipelineError::BadRows { .. }) | Err(e @ PipelineError::Format { .. }) => {
            e.to_string()
        }
        other => panic!("expected the file to be refused, got {other:?}"),
    }
}

const SNAPSHOT_HEADER: &str =
    "opportunity_id,owner,team,region,stage,created,expected_close,currency,amount";

/// Writes `rows` under `header` as the CSV file `name` in `dir`.
fn csv_file<R: AsRef<str>>(
    dir: &std::path::Path,
    name: &str,
    header: &str,
    rows: &[R],
) -> std::path::PathBuf {
    let path = dir.join(name);
    let rows: Vec<&str> = rows.iter().map(AsRef::as_ref).collect();
    std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
    path
}

#[test]
fn a_crms_labels_timestamps_and_semicolons_are_read_as_the_rules_mean_them() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1;ann;east;na;Qualification;2026-10-01 09:30:00;2026-12-15T00:00:00;USD;100.50",
        "O-2;bob;east;na;Proposal/Price Quote;2026-10-02;2026-12-20 17:05:59.250;EUR;7",
        "O-3;bob;east;na;Closed Won;2026-10-03;2026-11-01;USD;20.00",
    ];
    let header = SNAPSHOT_HEADER.replace(',', ";");
    let path = csv_file(dir.path(), "export.csv", &header, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    let frame = read.frame;
    assert_eq!(texts(&frame, col::STAGE), ["qualify", "propose", "won"]);
    assert_eq!(
        texts(&frame, col::CREATED),
        ["2026-10-01", "2026-10-02", "2026-10-03"]
    );
    assert_eq!(
        texts(&frame, col::EXPECTED_CLOSE),
        ["2026-12-15", "2026-12-20", "2026-11-01"]
    );
    assert_eq!(texts(&frame, col::AMOUNT), ["100.50", "7.00", "20.00"]);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
}

#[test]
fn a_crms_own_column_names_are_read_as_ours_and_said_once() {
    let dir = tempfile::tempdir().unwrap();
    // A Salesforce report's headers: labels, and names that are ours
    // once written in lower case with `_` (`Opportunity ID`, `Region`).
    let header = "Opportunity ID;Opportunity Owner;Sales Team;Region;Stage;Created Date;Close Date;Currency;Amount";
    let rows = ["O-1;ann;east;na;Qualification;2026-10-01;2026-12-15;USD;100.50"];
    let path = csv_file(dir.path(), "report.csv", header, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1"]);
    assert_eq!(texts(&read.frame, col::OWNER), ["ann"]);
    assert_eq!(texts(&read.frame, col::STAGE), ["qualify"]);
    assert_eq!(texts(&read.frame, col::EXPECTED_CLOSE), ["2026-12-15"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["100.50"]);
    assert_eq!(read.notes.len(), 1, "{:?}", read.notes);
    assert!(
        read.notes[0].contains("`Close Date` as `expected_close`")
            && read.notes[0].contains("`Opportunity ID` as `opportunity_id`"),
        "{:?}",
        read.notes
    );
    // The same label names another column in the outcomes, and `Stage`
    // there is the outcome.
    let header = "Opportunity ID;Sales Team;Stage;Close Date;Currency;Amount";
    let rows = ["O-1;east;Closed Won;2026-11-02;USD;100.50"];
    let path = csv_file(dir.path(), "outcomes.csv", header, &rows);
    let read = read_history_table(&path, HistoryTable::Outcomes, &vocabulary()).unwrap();
    let frame = read.frame.collect().unwrap();
    assert_eq!(texts(&frame, col::OUTCOME), ["won"]);
    assert_eq!(texts(&frame, col::CLOSED), ["2026-11-02"]);
    // A bad value is named by our column, the note says whose it was.
    let rows = ["O-1;ann;east;na;Qualification;2026-10-01;someday;USD;100.50"];
    let path = csv_file(
        dir.path(),
        "bad.csv",
        &SNAPSHOT_HEADER
            .replace(',', ";")
            .replace("expected_close", "Close Date"),
        &rows,
    );
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(message.contains("column `expected_close`"), "{message}");
}

#[test]
fn floating_point_amounts_are_rounded_per_currency_and_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pandas.parquet");
    let mut frame = df!(
        col::OPPORTUNITY_ID => ["O-1", "O-2", "O-3", "O-4"],
        col::OWNER => ["ann"; 4],
        col::TEAM => ["east"; 4],
        col::REGION => ["na"; 4],
        col::STAGE => ["qualify"; 4],
        col::CREATED => ["2026-10-01"; 4],
        col::EXPECTED_CLOSE => ["2026-12-01"; 4],
        col::CURRENCY => ["USD", "EUR", "EUR", "USD"],
        // 2.675 and 0.125 are halves as written, though no binary float
        // holds them exactly; 0.1 + 0.2 is what pandas sums to.
        col::AMOUNT => [2.675f64, 0.125, 0.135, 0.1 + 0.2],
    )
    .unwrap();
    // Timestamps, as pandas writes datetime64 columns.
    for name in [col::CREATED, col::EXPECTED_CLOSE] {
        let stamps = frame
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .as_datetime(
                Some("%Y-%m-%d"),
                TimeUnit::Microseconds,
                false,
                false,
                None,
                &StringChunked::from_iter(std::iter::once(Some("raise"))),
            )
            .unwrap();
        frame.with_column(stamps.into_column()).unwrap();
    }
    write_table(&path, &frame).unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::AMOUNT),
        ["2.68", "0.12", "0.14", "0.30"],
        "USD rounds half up, EUR half to even"
    );
    assert_eq!(texts(&read.frame, col::CREATED)[0], "2026-10-01");
    assert_eq!(read.notes.len(), 1, "{:?}", read.notes);
    assert!(
        read.notes[0].contains("floating-point")
            && read.notes[0].contains("EUR to 2 decimals half_even"),
        "{:?}",
        read.notes
    );
}

#[test]
fn exact_amounts_with_more_decimals_than_their_currency_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,1.005",
        "O-2,ann,east,na,qualify,2026-10-01,2026-12-15,USD,1.50",
    ];
    let path = csv_file(dir.path(), "s.csv", SNAPSHOT_HEADER, &rows);
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains(
            "row 1, column `amount`: `1.005` has more decimals than its currency has (USD 2, EUR 2)"
        ),
        "{message}"
    );
    assert!(message.contains("1 bad value(s)"), "{message}");
}

#[test]
fn text_amounts_carrying_a_floats_noise_are_read_as_the_cents_they_stand_for_and_counted() {
    // pandas writes a sum of cents as its double printed in full; a half
    // cent written on purpose stays refused.
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,24878.379999999997",
        "O-2,ann,east,na,qualify,2026-10-01,2026-12-15,EUR,157559.77000000002",
        "O-3,ann,east,na,qualify,2026-10-01,2026-12-15,USD,1.50",
    ];
    let path = csv_file(dir.path(), "s.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::AMOUNT),
        ["24878.38", "157559.77", "1.50"]
    );
    assert_eq!(read.notes.len(), 1, "{:?}", read.notes);
    assert!(
        read.notes[0].starts_with("2 value(s) of column `amount` carried a double's binary noise"),
        "{:?}",
        read.notes
    );
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,24878.379999999997",
        "O-2,ann,east,na,qualify,2026-10-01,2026-12-15,USD,1.0050000000000001",
    ];
    let half_cent = csv_file(dir.path(), "h.csv", SNAPSHOT_HEADER, &rows);
    let message = bad(read_snapshot_noted(&half_cent, &vocabulary()));
    assert!(
        message.contains(
            "row 2, column `amount`: `1.0050000000000001` has more decimals than its currency has"
        ),
        "{message}"
    );
    assert!(message.contains("1 bad value(s)"), "{message}");
}

#[test]
fn whole_counts_written_as_floats_are_counts_and_fractions_are_refused() {
    // pandas writes a column of counts with a gap as floats.
    let dir = tempfile::tempdir().unwrap();
    let header = format!("{SNAPSHOT_HEADER},sku,quantity");
    let write = |name: &str, quantities: [&str; 3]| {
        let rows: Vec<String> = quantities
            .iter()
            .enumerate()
            .map(|(i, q)| {
                format!("O-{i},ann,east,na,qualify,2026-10-01,2026-12-15,USD,10.00,LT-14-PRO,{q}")
            })
            .collect();
        csv_file(dir.path(), name, &header, &rows)
    };
    let read =
        read_snapshot_noted(&write("whole.csv", ["37.0", "2", "1e2"]), &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::QUANTITY), ["37", "2", "100"]);
    let message = bad(read_snapshot_noted(
        &write("fraction.csv", ["37.5", "2", "-1.0"]),
        &vocabulary(),
    ));
    assert!(
        message.contains("row 1, column `quantity`: `37.5` is not a whole number of units")
            && message.contains("row 3, column `quantity`: `-1.0` is not a whole number of units"),
        "{message}"
    );
}

#[test]
fn iso_timestamps_as_apis_export_them_give_the_date_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let created = [
        "2026-10-01T10:00:00.000Z",
        "2026-10-02T10:00:00Z",
        "2026-10-03T23:30:00-08:00",
        "2026-10-04T00:30:00.123+0100",
        "2026-10-05 10:00",
        "2026-10-06T10:00",
    ];
    let rows: Vec<String> = created
        .iter()
        .enumerate()
        .map(|(i, c)| format!("O-{i},ann,east,na,qualify,{c},2026-12-15,USD,1.50"))
        .collect();
    let path = csv_file(dir.path(), "s.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::CREATED),
        [
            "2026-10-01",
            "2026-10-02",
            "2026-10-03",
            "2026-10-04",
            "2026-10-05",
            "2026-10-06"
        ]
    );
    // A day-month order is not guessed.
    let path = csv_file(
        dir.path(),
        "s.csv",
        SNAPSHOT_HEADER,
        &["O-1,ann,east,na,qualify,10/03/2026,2026-12-15,USD,1.50"],
    );
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("row 1, column `created`: `10/03/2026` is not a date"),
        "{message}"
    );
}

#[test]
fn parquet_decimals_are_checked_against_their_currency_only_when_their_scale_could_exceed_it() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = |scale: usize, cents: [i128; 2]| {
        let path = dir.path().join(format!("decimal{scale}.parquet"));
        let mut frame = df!(
            col::OPPORTUNITY_ID => ["O-1", "O-2"],
            col::OWNER => ["ann"; 2],
            col::TEAM => ["east"; 2],
            col::REGION => ["na"; 2],
            col::STAGE => ["Qualification"; 2],
            col::CREATED => ["2026-10-01"; 2],
            col::EXPECTED_CLOSE => ["2026-12-01"; 2],
            col::CURRENCY => ["USD", "EUR"],
        )
        .unwrap();
        let amounts = Int128Chunked::from_vec(col::AMOUNT.into(), cents.to_vec())
            .into_decimal_unchecked(18, scale)
            .into_column();
        frame.with_column(amounts).unwrap();
        write_table(&path, &frame).unwrap();
        path
    };
    // Two places: every value fits both currencies, read as written.
    let read = read_snapshot_noted(&snapshot(2, [150, 1_000_001]), &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::AMOUNT), ["1.50", "10000.01"]);
    assert_eq!(texts(&read.frame, col::STAGE), ["qualify", "qualify"]);
    // Three places: the value with a third decimal is named, the other
    // (a whole cent written with three places) is not.
    let message = bad(read_snapshot_noted(
        &snapshot(3, [1_500, 1_005]),
        &vocabulary(),
    ));
    assert!(
        message.contains("row 2, column `amount`: `1.005` has more decimals than its currency has"),
        "{message}"
    );
    assert!(message.contains("1 bad value(s)"), "{message}");
}

fn history_dir(stage_events: &str, outcomes: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stage_events.csv"), stage_events).unwrap();
    std::fs::write(dir.path().join("outcomes.csv"), outcomes).unwrap();
    dir
}

#[test]
fn a_single_currency_export_without_a_currency_column_is_read_in_the_corporate_currency() {
    let dir = tempfile::tempdir().unwrap();
    // HubSpot's deal export: no currency, no team, amounts as typed.
    let header = "Record ID,Deal owner,Deal Stage,Create Date,Close Date,Amount";
    let rows = [
        "1001,ann,Qualification,2026-10-01,2026-12-15,100.5",
        "1002,bob,Proposal/Price Quote,2026-10-02,2026-12-20,\"1,200.00\"",
    ];
    let path = csv_file(dir.path(), "deals.csv", header, &rows);
    let mut labels = vocabulary();
    labels.column_labels.extend(
        [
            ("Record ID", "opportunity_id"),
            ("Deal owner", "owner"),
            ("Deal Stage", "stage"),
            ("Create Date", "created"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
    );
    // Without a corporate currency to fall back on, the column is needed.
    let message = bad(read_snapshot_noted(&path, &labels));
    assert!(message.contains("no column `currency`"), "{message}");
    let usd = Vocabulary {
        default_currency: Some("USD".into()),
        ..labels
    };
    let read = read_snapshot_noted(&path, &usd).unwrap();
    assert_eq!(texts(&read.frame, col::CURRENCY), ["USD", "USD"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["100.50", "1200.00"]);
    assert!(
        read.notes
            .iter()
            .any(|n| n.contains("no column `currency`") && n.contains("read in USD")),
        "{:?}",
        read.notes
    );
    // An amount naming another currency is not read as dollars.
    let rows = ["1001,ann,Qualification,2026-10-01,2026-12-15,EUR 100.50"];
    let path = csv_file(dir.path(), "euros.csv", header, &rows);
    let message = bad(read_snapshot_noted(&path, &usd));
    assert!(
        message.contains("row 1, column `amount`") && message.contains("other than the row's"),
        "{message}"
    );
    // A currency written by its name or in other capitals is its code.
    let header = "Record ID,Deal owner,Deal Stage,Create Date,Close Date,Amount,Currency";
    let rows = [
        "1001,ann,Qualification,2026-10-01,2026-12-15,100.5,usd",
        "1002,bob,Qualification,2026-10-01,2026-12-15,100.5,Euro",
    ];
    let path = csv_file(dir.path(), "named.csv", header, &rows);
    let read = read_snapshot_noted(&path, &usd).unwrap();
    assert_eq!(texts(&read.frame, col::CURRENCY), ["USD", "EUR"]);
    // Outcomes too.
    let header = "opportunity_id,Stage,Close Date,Amount";
    let path = csv_file(
        dir.path(),
        "outcomes.csv",
        header,
        &["1001,Closed Won,2026-11-02,100.5"],
    );
    let read = read_history_table(&path, HistoryTable::Outcomes, &usd).unwrap();
    let frame = read.frame.collect().unwrap();
    assert_eq!(texts(&frame, col::CURRENCY), ["USD"]);
    assert_eq!(texts(&frame, col::AMOUNT), ["100.50"]);
}

#[test]
fn an_export_of_every_opportunity_used_as_outcomes_leaves_out_the_undecided() {
    let dir = tempfile::tempdir().unwrap();
    // Salesforce's opportunities report (open stages too) and Pipedrive's
    // statuses `open` and `deleted`, with their open deals' amounts and dates as they are.
    let header = "opportunity_id,team,Stage,Close Date,currency,amount";
    let rows = [
        "O-1,east,Closed Won,2026-02-01,USD,10.00",
        "O-2,east,Qualification,2026-12-01,USD,",
        "O-3,east,Open,,USD,5",
        "O-4,east,closed lost,2026-03-01,USD,0",
        "O-5,east,Deleted,2026-03-02,USD,7",
        "O-6,east,DELETED,2026-03-03,USD,7",
    ];
    let path = csv_file(dir.path(), "outcomes.csv", header, &rows);
    let read = read_history_table(&path, HistoryTable::Outcomes, &vocabulary()).unwrap();
    assert_eq!(read.rows, 2);
    let frame = read.frame.collect().unwrap();
    assert_eq!(texts(&frame, col::OPPORTUNITY_ID), ["O-1", "O-4"]);
    assert_eq!(texts(&frame, col::OUTCOME), ["won", "lost"]);
    assert!(
        read.notes
            .iter()
            .any(|n| n.starts_with("2 row(s) named an open stage")),
        "{:?}",
        read.notes
    );
    // Pipedrive's deleted deals are no outcome either, in any capitals.
    assert!(
        read.notes
            .iter()
            .any(|n| n.starts_with("2 row(s) had the status `deleted`")),
        "{:?}",
        read.notes
    );
    // The open deal's empty amount is not counted as read as 0.
    assert!(
        !read
            .notes
            .iter()
            .any(|n| n.contains("were empty and read as 0")),
        "{:?}",
        read.notes
    );
    // A word that is no stage nor outcome is still refused by name.
    let rows = [
        "O-1,east,Closed Won,2026-02-01,USD,10.00",
        "O-2,east,Pending,2026-03-01,USD,0",
    ];
    let path = csv_file(dir.path(), "outcomes.csv", header, &rows);
    let message = bad(read_history_table(&path, HistoryTable::Outcomes, &vocabulary()).map(|_| ()));
    assert!(message.contains("`Pending`"), "{message}");
}

#[test]
fn hubspots_date_entered_columns_are_read_as_stage_entries() {
    let dir = tempfile::tempdir().unwrap();
    // A deals export with HubSpot's stage properties: one column of dates
    // per stage, empty where the deal never entered it.
    let header = "Record ID,Deal Name,Date entered \"Qualification (Sales Pipeline)\",Date entered \"Proposal/Price Quote (Sales Pipeline)\",Date entered \"Closed Won (Sales Pipeline)\"";
    let rows = [
        "O-1,Acme,2026-01-02 09:30,2026-01-20 10:00,2026-02-01 16:45",
        "O-2,Globex,2026-01-05 11:00,,",
    ];
    let path = csv_file(dir.path(), "stage_events.csv", header, &rows);
    let mut labels = vocabulary();
    labels
        .column_labels
        .push(("Record ID".into(), "opportunity_id".into()));
    let read = read_history_table(&path, HistoryTable::StageEvents, &labels).unwrap();
    assert_eq!(read.rows, 4);
    let frame = read
        .frame
        .sort([col::OPPORTUNITY_ID, col::AT], Default::default())
        .collect()
        .unwrap();
    assert_eq!(
        texts(&frame, col::OPPORTUNITY_ID),
        ["O-1", "O-1", "O-1", "O-2"]
    );
    assert_eq!(
        texts(&frame, col::STAGE),
        ["qualify", "propose", "won", "qualify"]
    );
    assert_eq!(
        texts(&frame, col::AT),
        ["2026-01-02", "2026-01-20", "2026-02-01", "2026-01-05"]
    );
    assert!(
        read.notes
            .iter()
            .any(|n| n.contains("3 `Date entered` column(s)")),
        "{:?}",
        read.notes
    );
    // A bad date is named at the deal's row of the file.
    let rows = ["O-1,Acme,2026-01-02,someday,", "O-2,Globex,2026-01-05,,"];
    let path = csv_file(dir.path(), "stage_events.csv", header, &rows);
    let message = bad(read_history_table(&path, HistoryTable::StageEvents, &labels).map(|_| ()));
    assert!(
        message.contains("row 1, column `at`: `someday` is not a date"),
        "{message}"
    );
}

#[test]
fn a_date_column_whose_days_never_pass_12_is_read_in_the_order_the_files_other_dates_show() {
    let dir = tempfile::tempdir().unwrap();
    // A small US export: `created` alone could be either order, the close
    // dates show the month comes first.
    let rows = [
        "O-1,ann,east,na,Qualification,10/01/2026,01/15/2027,USD,100",
        "O-2,bob,east,na,Qualification,09/02/2026,12/10/2026,USD,100",
    ];
    let path = csv_file(dir.path(), "us.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::CREATED),
        ["2026-10-01", "2026-09-02"]
    );
    assert_eq!(
        texts(&read.frame, col::EXPECTED_CLOSE),
        ["2027-01-15", "2026-12-10"]
    );
    assert!(
        read.notes.iter().any(|n| n.contains("column `created`")
            && n.contains("month first")
            && n.contains("the file's other date columns show it")),
        "{:?}",
        read.notes
    );
    // Where the file shows no one order either, the value is refused.
    let rows = ["O-1,ann,east,na,Qualification,10/01/2026,01/12/2027,USD,100"];
    let path = csv_file(dir.path(), "unknown.csv", SNAPSHOT_HEADER, &rows);
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("row 1, column `created`: `10/01/2026` is not a date"),
        "{message}"
    );
}

#[test]
fn history_labels_and_timestamps_are_read_and_unknown_words_refused_by_name() {
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,Qualification,2026-01-02 10:00:00\nO-1,Closed Won,2026-02-01 16:30:00\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,Closed Won,2026-02-01 16:30:00,USD,10.00\nO-2,east,Closed Lost,2026-02-03,USD,0\n",
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    let events = history.stage_events.collect().unwrap();
    assert_eq!(texts(&events, col::STAGE), ["qualify", "won"]);
    assert_eq!(texts(&events, col::AT), ["2026-01-02", "2026-02-01"]);
    let outcomes = history.outcomes.collect().unwrap();
    assert_eq!(texts(&outcomes, col::OUTCOME), ["won", "lost"]);
    assert!(history.snapshots.is_none());

    // The rules' words and labels in other capitals or with spaces around
    // them (`Qualify`, `WON`, ` closed lost `) are read as what they name;
    // a word that is neither (`Demo`, `Booked`) is refused by name.
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,Qualify,2026-01-02\nO-1,QUALIFICATION,2026-01-03\nO-1,Demo,2026-01-04\nO-1,Demo,2026-01-05\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,WON,2026-02-01,USD,10.00\nO-2,east, closed lost ,2026-02-03,USD,0\nO-3,east,Booked,2026-02-04,USD,5.00\n",
    );
    let message = bad(read_history(dir.path(), &vocabulary()).map(|_| ()));
    assert!(
        message.contains("stage_events.csv: 2 bad value(s)"),
        "{message}"
    );
    assert!(
        message.contains(
            "`Demo` (2 rows) is not a stage of the rules; expected qualify, propose, won, lost"
        ),
        "{message}"
    );
    assert!(
        message.contains("row 3, column `stage`: `Demo` is not a stage of the rules"),
        "{message}"
    );
    let outcomes = dir.path().join("outcomes.csv");
    let message =
        bad(read_history_table(&outcomes, HistoryTable::Outcomes, &vocabulary()).map(|_| ()));
    assert!(
        message.contains("1 bad value(s)")
            && message.contains("`Booked` (1 row) is not an outcome; expected won, lost"),
        "{message}"
    );
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,Qualify,2026-01-02\nO-1,QUALIFICATION,2026-01-03\nO-1, proposal/price quote,2026-01-04\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,WON,2026-02-01,USD,10.00\nO-2,east, closed lost ,2026-02-03,USD,0\n",
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    let events = history.stage_events.collect().unwrap();
    assert_eq!(
        texts(&events, col::STAGE),
        ["qualify", "qualify", "propose"]
    );
    let outcomes = history.outcomes.collect().unwrap();
    assert_eq!(texts(&outcomes, col::OUTCOME), ["won", "lost"]);
}

#[test]
fn salesforce_18_character_ids_match_the_15_character_ids_of_reports() {
    // The API's 18-character ids in one file, a report's 15 in the other:
    // `001D000000IqhSLIAZ` is `001D000000IqhSL` with its case checksum
    // (tools may write the checksum in lower case: `iav`).
    // An id of 18 letters and digits without a valid checksum, and one of
    // another length, are kept as written.
    let dir = history_dir(
        "opportunity_id,stage,at\n001D000000IqhSLIAZ,qualify,2026-01-02\n006Hs00001AbCdEiav,qualify,2026-01-03\n001D000000IqhSLAAA,qualify,2026-01-04\nO-17,qualify,2026-01-05\n",
        "opportunity_id,team,outcome,closed,currency,amount\n001D000000IqhSL,east,won,2026-02-01,USD,10.00\n006Hs00001AbCdE,east,lost,2026-02-03,USD,0\n",
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    let events = history.stage_events.collect().unwrap();
    assert_eq!(
        texts(&events, col::OPPORTUNITY_ID),
        [
            "001D000000IqhSL",
            "006Hs00001AbCdE",
            "001D000000IqhSLAAA",
            "O-17"
        ]
    );
    let outcomes = history.outcomes.collect().unwrap();
    assert_eq!(
        texts(&outcomes, col::OPPORTUNITY_ID),
        ["001D000000IqhSL", "006Hs00001AbCdE"]
    );
    let notes = history.notes.join("\n");
    assert!(
        notes.contains("2 value(s) of column `opportunity_id` were Salesforce 18-character ids, read as their 15-character form"),
        "{notes}"
    );
    // Both forms of one deal in the outcomes are one deal with two outcomes.
    let dir = history_dir(
        "opportunity_id,stage,at\n001D000000IqhSL,qualify,2026-01-02\n",
        "opportunity_id,team,outcome,closed,currency,amount\n001D000000IqhSL,east,won,2026-02-01,USD,10.00\n001D000000IqhSLIAZ,east,lost,2026-02-03,USD,0\n",
    );
    let message = bad(read_history(dir.path(), &vocabulary()).map(|_| ()));
    assert!(message.contains("has more than one outcome"), "{message}");
}

#[test]
fn a_deal_with_two_outcomes_and_a_missing_column_are_named() {
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,qualify,2026-01-02\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,won,2026-02-01,USD,10.00\nO-2,east,lost,2026-02-01,USD,0\nO-1,east,lost,2026-03-01,USD,0\n",
    );
    let message = bad(read_history(dir.path(), &vocabulary()).map(|_| ()));
    assert!(
        message.contains("row 1, column `opportunity_id`: `O-1` has more than one outcome")
            && message.contains("row 3, column `opportunity_id`: `O-1` has more than one outcome")
            && !message.contains("row 2,"),
        "{message}"
    );
    let path = dir.path().join("stage_events.csv");
    std::fs::write(&path, "deal,stage,at\nO-1,qualify,2026-01-02\n").unwrap();
    let message =
        bad(
            read_history_table(Path::new(&path), HistoryTable::StageEvents, &vocabulary())
                .map(|_| ()),
        );
    assert!(
        message.contains("stage_events.csv: no column `opportunity_id` (text); the file's columns are `deal`, `stage`, `at`"),
        "{message}"
    );
}

#[test]
fn report_exports_in_their_users_locale_are_read_as_the_dates_and_amounts_they_show() {
    let dir = tempfile::tempdir().unwrap();
    // A US user's Salesforce report: month first, a time with AM/PM,
    // amounts with their currency code or symbol and grouped digits.
    let us = |created_first: &str| {
        [
            format!("O-1,ann,east,na,qualify,{created_first},11/20/2026,USD,\"USD 12,500.00\""),
            "O-2,bob,east,na,propose,10/02/2026 9:30 AM,12/01/2026,EUR,\"EUR 1,234.5\"".into(),
            "O-3,bob,east,na,propose,10/03/2026,1/2/2027,USD,$7".into(),
        ]
    };
    let path = csv_file(dir.path(), "us.csv", SNAPSHOT_HEADER, &us("10/13/2026"));
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::CREATED),
        ["2026-10-13", "2026-10-02", "2026-10-03"]
    );
    assert_eq!(
        texts(&read.frame, col::EXPECTED_CLOSE),
        ["2026-11-20", "2026-12-01", "2027-01-02"]
    );
    assert_eq!(
        texts(&read.frame, col::AMOUNT),
        ["12500.00", "1234.50", "7.00"]
    );
    let notes = read.notes.join("\n");
    assert!(
        notes.contains("3 value(s) of column `expected_close` were written with the month first"),
        "{notes}"
    );
    assert!(
        notes.contains("3 value(s) of column `amount` were written as reports format numbers"),
        "{notes}"
    );
    // A column whose days are all 12 or less says nothing itself: it is
    // read in the order the file's other date columns show, and said.
    let path = csv_file(dir.path(), "us.csv", SNAPSHOT_HEADER, &us("10/01/2026"));
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::CREATED),
        ["2026-10-01", "2026-10-02", "2026-10-03"]
    );
    assert!(
        read.notes.join("\n").contains(
            "3 value(s) of column `created` were written with the month first (MM/DD/YYYY) and read so (its own days never pass 12"
        ),
        "{:?}",
        read.notes
    );
    // A German user's export: dots, a decimal comma, the euro sign.
    let rows = [
        "O-1;ann;east;na;qualify;01.10.2026;20.11.2026;EUR;12.500,00 €",
        "O-2;bob;east;na;propose;02.10.2026 17:05;01.12.2026;EUR;1.234",
        "O-3;bob;east;na;propose;03.10.2026;02.01.2027;EUR;7,5",
    ];
    let path = csv_file(
        dir.path(),
        "de.csv",
        &SNAPSHOT_HEADER.replace(',', ";"),
        &rows,
    );
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(
        texts(&read.frame, col::EXPECTED_CLOSE),
        ["2026-11-20", "2026-12-01", "2027-01-02"]
    );
    assert_eq!(
        texts(&read.frame, col::AMOUNT),
        ["12500.00", "1234.00", "7.50"]
    );
    // An amount in another currency than its row's is refused.
    let rows = ["O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,\"EUR 12,500.00\""];
    let path = csv_file(dir.path(), "mixed.csv", SNAPSHOT_HEADER, &rows);
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("`EUR 12,500.00` names a currency other than the row's `currency`"),
        "{message}"
    );
}

#[test]
fn a_byte_order_mark_and_windows_line_ends_as_excel_saves_csv_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("excel.csv");
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,12.50",
        "O-2,bob,east,na,propose,2026-10-02,2026-12-01,EUR,7",
    ];
    std::fs::write(
        &path,
        format!("\u{feff}{SNAPSHOT_HEADER}\r\n{}\r\n", rows.join("\r\n")),
    )
    .unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["12.50", "7.00"]);
    assert!(read.notes.is_empty(), "{:?}", read.notes);
}

#[test]
fn forecast_categories_as_salesforce_and_hubspot_write_them_are_read_as_ours() {
    let dir = tempfile::tempdir().unwrap();
    let written = [
        ("Best Case", "best_case"),
        ("BestCase", "best_case"),
        ("BEST_CASE", "best_case"),
        ("Commit", "commit"),
        ("Forecast", "commit"),
        ("Pipeline", "pipeline"),
        ("OMIT", "omitted"),
        ("Not forecasted", "omitted"),
        ("Omitted", "omitted"),
        ("closed", "closed"),
    ];
    let rows: Vec<String> = written
        .iter()
        .enumerate()
        .map(|(i, (category, _))| {
            format!("O-{i},ann,east,na,qualify,2026-10-01,2026-11-20,USD,1.00,{category}")
        })
        .collect();
    let header = format!("{SNAPSHOT_HEADER},forecast_category");
    let path = csv_file(dir.path(), "categories.csv", &header, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    let expected: Vec<&str> = written.iter().map(|(_, ours)| *ours).collect();
    assert_eq!(texts(&read.frame, col::FORECAST_CATEGORY), expected);
    // A word that is none of them is still refused by name.
    let path = csv_file(
        dir.path(),
        "categories.csv",
        &header,
        &["O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,1.00,Upside"],
    );
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("`Upside` (1 row) is not a forecast category"),
        "{message}"
    );
}

#[test]
fn blank_lines_and_rows_of_separators_alone_are_left_out_and_counted() {
    // Spreadsheets save empty rows as separators alone; files end in
    // blank lines. Neither is a row of data: left out, counted once, and
    // a bad value after them still named by the file's row.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.csv");
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,12.50",
        ",,,,,,,,",
        "O-2,bob,east,na,propose,2026-10-02,2026-12-01,EUR,7",
    ];
    std::fs::write(&path, format!("{SNAPSHOT_HEADER}\n{}\n\n", rows.join("\n"))).unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
    assert!(
        read.notes
            .iter()
            .any(|n| n.contains("2 row(s) with every value empty (blank lines) were left out")),
        "{:?}",
        read.notes
    );
    let count = quotecast_pipeline::read::check_snapshot(&path, &vocabulary()).unwrap();
    assert_eq!((count.rows, count.opportunities), (2, 2));
    std::fs::write(
        &path,
        format!(
            "{SNAPSHOT_HEADER}\n{}\n,,,,,,,,\nO-3,ann,east,na,qualify,2026-10-01,,USD,1.00\n",
            rows[0]
        ),
    )
    .unwrap();
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("1 bad value(s)")
            && message.contains("row 3, column `expected_close`: is empty"),
        "{message}"
    );

    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,qualify,2026-01-02\n,,\n\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,won,2026-02-01,USD,10.00\n\n",
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    assert_eq!(history.stage_events.collect().unwrap().height(), 1);
    assert_eq!(history.outcomes.collect().unwrap().height(), 1);
    assert_eq!(
        history
            .notes
            .iter()
            .filter(|n| n.contains("with every value empty"))
            .count(),
        2,
        "{:?}",
        history.notes
    );
}

#[test]
fn a_columns_day_month_order_and_separator_hold_over_the_whole_file_however_it_is_read() {
    // A long US export in which only the last row shows the order and
    // the separator: the rows before it, read in pieces (a 30,000-row
    // file was), say nothing on their own.
    let n = 60_000;
    let mut events = String::from("opportunity_id,stage,at\n");
    let mut outcomes = String::from("opportunity_id,team,outcome,closed,currency,amount\n");
    for i in 0..n {
        let day = if i + 1 == n { 20 } else { 1 + i % 12 };
        events.push_str(&format!("O-{i},Qualification,11/{day:02}/2025 9:30 AM\n"));
        let amount = if i + 1 == n {
            "\"USD 1,000.50\""
        } else {
            "\"USD 1,000\""
        };
        outcomes.push_str(&format!(
            "O-{i},east,Closed Won,11/{day:02}/2025,USD,{amount}\n"
        ));
    }
    let dir = history_dir(&events, &outcomes);
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    let events = history.stage_events.collect().unwrap();
    let at = texts(&events, col::AT);
    assert_eq!(at.len(), n);
    assert_eq!(
        (at[0].as_str(), at[n - 1].as_str()),
        ("2025-11-01", "2025-11-20")
    );
    let outcomes = history.outcomes.collect().unwrap();
    let amounts = texts(&outcomes, col::AMOUNT);
    assert_eq!(
        (amounts[0].as_str(), amounts[n - 1].as_str()),
        ("1000.00", "1000.50")
    );
}

#[test]
fn empty_amounts_an_early_opportunity_or_a_lost_deal_leaves_are_zero_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,",
        "O-2,bob,east,na,propose,2026-10-02,2026-12-20,EUR,7",
    ];
    let path = csv_file(dir.path(), "s.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::AMOUNT), ["0.00", "7.00"]);
    assert_eq!(
        read.notes,
        ["1 value(s) of column `amount` were empty and read as 0"]
    );
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,qualify,2026-01-02\nO-2,qualify,2026-01-02\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,Closed Won,2026-02-01,USD,10.00\nO-2,east,Closed Lost,2026-02-03,USD,\n",
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    let outcomes = history.outcomes.collect().unwrap();
    assert_eq!(texts(&outcomes, col::AMOUNT), ["10.00", "0.00"]);
    assert!(
        history
            .notes
            .iter()
            .any(|n| n
                .ends_with("outcomes.csv: 1 value(s) of column `amount` were empty and read as 0")),
        "{:?}",
        history.notes
    );
}

#[test]
fn an_export_without_teams_or_regions_reads_its_deals_as_unassigned_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Salesforce's opportunities carry no team or region of their own.
    let rows = [
        "O-1,ann,qualify,2026-10-01,2026-12-15,USD,10",
        "O-2,bob,propose,2026-10-02,2026-12-20,EUR,7",
    ];
    let header = "opportunity_id,owner,stage,created,expected_close,currency,amount";
    let path = csv_file(dir.path(), "s.csv", header, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::TEAM), ["unassigned", "unassigned"]);
    assert_eq!(
        texts(&read.frame, col::REGION),
        ["unassigned", "unassigned"]
    );
    let notes = read.notes.join("\n");
    assert!(
        notes.contains(
            "no column `team` (nor one the rules label it): every row read as `unassigned`"
        ),
        "{notes}"
    );
    // A row without a team among rows with one.
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,10",
        "O-2,bob,,,propose,2026-10-02,2026-12-20,EUR,7",
    ];
    let path = csv_file(dir.path(), "s.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::TEAM), ["east", "unassigned"]);
    assert!(
        read.notes
            .contains(&"1 row(s) had no `team` and were read as `unassigned`".to_owned()),
        "{:?}",
        read.notes
    );
}

#[test]
fn a_reports_title_above_the_header_and_footer_below_the_table_are_skipped_and_said() {
    // Salesforce's report export ends in a blank line, a confidentiality
    // line and a copyright line; report exports of other tools put the
    // report's name and run date above the header.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.csv");
    let rows = [
        "\"O-1\",\"ann\",\"east\",\"na\",\"qualify\",\"2026-10-01\",\"2026-11-20\",\"USD\",\"12.50\"",
        "\"O-2\",\"bob\",\"east\",\"na\",\"propose\",\"2026-10-02\",\"2026-12-01\",\"EUR\",\"7\"",
    ];
    let title = "\"Pipeline, Q4 (all teams)\"\nAs of 11/20/2026 09:07 AM\n\n";
    let footer = "\n\"\"\n\"Confidential Information - Do Not Distribute\"\n\"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.\"\n";
    std::fs::write(
        &path,
        format!("{title}{SNAPSHOT_HEADER}\n{}\n{footer}", rows.join("\n")),
    )
    .unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["12.50", "7.00"]);
    let said = |part: &str| read.notes.iter().any(|n| n.contains(part));
    assert!(
        said("the 3 line(s) above the header (a report's title) were skipped")
            && said(
                "footer line(s) below the table were left out: `Confidential Information - Do Not Distribute`, `Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved.`"
            ),
        "{:?}",
        read.notes
    );
    let count = quotecast_pipeline::read::check_snapshot(&path, &vocabulary()).unwrap();
    assert_eq!((count.rows, count.opportunities), (2, 2));

    // A bad value is still named by its data row, the title not counted;
    // a row that is only an id is data, refused, not a footer.
    let bad_row = "O-3,ann,east,na,qualify,2026-10-01,,USD,1.00";
    std::fs::write(
        &path,
        format!("{title}{SNAPSHOT_HEADER}\n{}\n{bad_row}\n{footer}", rows[0]),
    )
    .unwrap();
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("1 bad value(s)")
            && message.contains("row 2, column `expected_close`: is empty"),
        "{message}"
    );
    std::fs::write(&path, format!("{SNAPSHOT_HEADER}\n{}\nO-9\n", rows[0])).unwrap();
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(message.contains("row 2, column `owner`"), "{message}");

    // History files from the same reports read the same way.
    let dir = history_dir(
        &format!("Stage history\n\nopportunity_id,stage,at\nO-1,qualify,2026-01-02\n{footer}"),
        &format!(
            "opportunity_id,team,outcome,closed,currency,amount\nO-1,east,won,2026-02-01,USD,10.00\n{footer}"
        ),
    );
    let history = read_history(dir.path(), &vocabulary()).unwrap();
    assert_eq!(history.stage_events.collect().unwrap().height(), 1);
    assert_eq!(history.outcomes.collect().unwrap().height(), 1);
}

#[test]
fn tab_delimited_text_as_spreadsheets_save_it_and_capital_extensions_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1\tann\teast\tna\tqualify\t2026-10-01\t2026-11-20\tUSD\t12.50",
        "O-2\tbob\teast\tna\tpropose\t2026-10-02\t2026-12-01\tEUR\t7",
    ];
    let header = SNAPSHOT_HEADER.replace(',', "\t");
    for name in ["saved.txt", "saved.tsv", "REPORT.CSV"] {
        let path = csv_file(dir.path(), name, &header, &rows);
        let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
        assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
        assert_eq!(texts(&read.frame, col::AMOUNT), ["12.50", "7.00"]);
    }
    // Written back as tab-separated text, read the same.
    let read = read_snapshot_noted(&dir.path().join("saved.tsv"), &vocabulary()).unwrap();
    let again = dir.path().join("again.tsv");
    write_table(&again, &read.frame).unwrap();
    let written = std::fs::read_to_string(&again).unwrap();
    assert!(written.contains("O-1\t\tann\teast"), "{written}");
    std::fs::write(dir.path().join("x.pdf"), "%PDF").unwrap();
    let message = bad(read_snapshot_noted(
        &dir.path().join("x.pdf"),
        &vocabulary(),
    ));
    assert!(
        message.contains(".parquet, or .csv, .tsv or .txt"),
        "{message}"
    );
}

#[test]
fn windows_1252_and_excels_utf16_unicode_text_are_read_as_the_text_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    // A German export in Windows-1252: `é` and `€` are one byte each.
    let header =
        "opportunity_id;account;owner;team;region;stage;created;expected_close;currency;amount";
    let row = "O-1;Soci\u{e9}t\u{e9} G\u{e9}n\u{e9}rale;ann;east;na;qualify;2026-10-01;2026-11-20;EUR;12,50";
    let latin: Vec<u8> = format!("{header}\n{row}\n")
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    let path = dir.path().join("latin.csv");
    std::fs::write(&path, latin).unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::ACCOUNT), ["Société Générale"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["12.50"]);
    assert!(
        read.notes
            .iter()
            .any(|n| n.contains("read as Windows-1252")),
        "{:?}",
        read.notes
    );

    // Excel's "Unicode Text": UTF-16 with its byte order mark, tabs.
    let text = format!(
        "{}\n{}\n",
        header.replace(';', "\t"),
        row.replace(';', "\t")
    );
    let mut wide = vec![0xFF, 0xFE];
    wide.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let path = dir.path().join("unicode.txt");
    std::fs::write(&path, wide).unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::ACCOUNT), ["Société Générale"]);
    assert!(
        read.notes.iter().any(|n| n.contains("read as UTF-16LE")),
        "{:?}",
        read.notes
    );
    // A UTF-8 file says nothing about its text.
    let path = csv_file(dir.path(), "plain.csv", header, &[row]);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::ACCOUNT), ["Société Générale"]);
    assert!(
        !read.notes.iter().any(|n| n.contains("text was read as")),
        "{:?}",
        read.notes
    );
}

#[test]
fn a_spreadsheet_report_as_pandas_or_a_crm_writes_it_is_read_like_its_csv() {
    // `tests/data/salesforce_report.xlsx`: pandas' `to_excel` below a
    // report's title, dates as Excel dates (one with a time), amounts as
    // numbers, an account with a comma and one with accents.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/salesforce_report.xlsx");
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    let frame = read.frame;
    assert_eq!(
        texts(&frame, col::OPPORTUNITY_ID),
        ["006A000001", "006A000002", "006A000003"]
    );
    assert_eq!(
        texts(&frame, col::ACCOUNT),
        ["Société Générale", "Acme, Inc.", "Globex"]
    );
    assert_eq!(texts(&frame, col::STAGE), ["qualify", "propose", "qualify"]);
    assert_eq!(
        texts(&frame, col::CREATED),
        ["2026-10-01", "2026-10-02", "2026-10-03"]
    );
    assert_eq!(
        texts(&frame, col::EXPECTED_CLOSE),
        ["2026-12-15", "2026-12-20", "2027-01-10"]
    );
    assert_eq!(texts(&frame, col::AMOUNT), ["12500.50", "7.00", "24878.38"]);
    let said = |part: &str| read.notes.iter().any(|n| n.contains(part));
    assert!(
        said("the workbook's sheet `Report` was read")
            && said("the 3 line(s) above the header (a report's title) were skipped"),
        "{:?}",
        read.notes
    );
    // A file named as a spreadsheet that is none is refused by name.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.xlsx");
    std::fs::write(&fake, "opportunity_id,team\n").unwrap();
    let message = bad(read_snapshot_noted(&fake, &vocabulary()));
    assert!(
        message.contains("fake.xlsx") && message.contains("not a spreadsheet that can be read"),
        "{message}"
    );
}

#[test]
fn quoted_empty_values_as_salesforce_quotes_every_field_are_empty() {
    // Salesforce's report CSV quotes every value, empty ones too.
    let dir = tempfile::tempdir().unwrap();
    let header = format!("{SNAPSHOT_HEADER},forecast_category");
    let quoted = |row: &str| {
        let fields: Vec<String> = row.split(',').map(|f| format!("\"{f}\"")).collect();
        fields.join(",")
    };
    let rows = [
        quoted("O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,12.50,"),
        quoted("O-2,bob,east,na,propose,2026-10-02,2026-12-01,EUR,,Commit"),
    ];
    let path = csv_file(dir.path(), "quoted.csv", &quoted(&header), &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::FORECAST_CATEGORY), ["", "commit"]);
    assert_eq!(texts(&read.frame, col::AMOUNT), ["12.50", "0.00"]);
    assert!(
        read.notes
            .iter()
            .any(|n| n.contains("1 value(s) of column `amount` were empty and read as 0")),
        "{:?}",
        read.notes
    );
    // A needed value left empty inside quotes is named as empty.
    let path = csv_file(
        dir.path(),
        "quoted.csv",
        &quoted(&header),
        &[quoted("O-3,ann,east,na,qualify,2026-10-01,,USD,1.00,")],
    );
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("row 1, column `expected_close`: is empty"),
        "{message}"
    );
}

#[test]
fn a_reports_totals_row_ending_the_table_is_left_out_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-11-20,USD,12.50",
        "O-2,bob,east,na,propose,2026-10-02,2026-12-01,USD,7",
        "Grand Totals (2 records),,,,,,,,19.50",
    ];
    let footer = "\n\"\"\n\"Confidential Information - Do Not Distribute\"\n";
    let path = dir.path().join("totals.csv");
    std::fs::write(
        &path,
        format!("{SNAPSHOT_HEADER}\n{}\n{footer}", rows.join("\n")),
    )
    .unwrap();
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
    assert!(
        read.notes.iter().any(|n| n.contains(
            "the report's totals row ending the table (`Grand Totals (2 records)`) was left out"
        )),
        "{:?}",
        read.notes
    );
    // Without a footer after it too; a row named `Total` inside the table
    // is data.
    let path = csv_file(dir.path(), "totals.csv", SNAPSHOT_HEADER, &rows);
    let read = read_snapshot_noted(&path, &vocabulary()).unwrap();
    assert_eq!(texts(&read.frame, col::OPPORTUNITY_ID), ["O-1", "O-2"]);
    let inside = [rows[2], rows[0]];
    let path = csv_file(dir.path(), "inside.csv", SNAPSHOT_HEADER, &inside);
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(message.contains("row 1, column `owner`"), "{message}");
}

#[test]
fn a_team_named_as_the_forecast_names_the_company_is_refused_by_row() {
    // `*` is the company's row in every table the forecast learns; a team
    // so named would be mixed into it.
    let dir = tempfile::tempdir().unwrap();
    let rows = [
        "O-1,ann,east,na,qualify,2026-10-01,2026-12-15,USD,100.00",
        "O-2,bob,*,na,qualify,2026-10-01,2026-12-15,USD,100.00",
        "O-3,cat,*pooled,na,qualify,2026-10-01,2026-12-15,USD,100.00",
        "O-4,dan,east*,na,qualify,2026-10-01,2026-12-15,USD,100.00",
    ];
    let path = csv_file(dir.path(), "star.csv", SNAPSHOT_HEADER, &rows);
    let message = bad(read_snapshot_noted(&path, &vocabulary()));
    assert!(
        message.contains("row 2, column `team`: `*` starts with `*`, which the forecast's tables keep for their own rows")
            && message.contains("row 3, column `team`: `*pooled` starts with `*`")
            && !message.contains("row 1,")
            && !message.contains("row 4,"),
        "{message}"
    );
    let dir = history_dir(
        "opportunity_id,stage,at\nO-1,qualify,2026-01-02\n",
        "opportunity_id,team,outcome,closed,currency,amount\nO-1,*,won,2026-02-01,USD,10.00\n",
    );
    let message = bad(read_history(dir.path(), &vocabulary()).map(|_| ()));
    assert!(
        message.contains("row 1, column `team`: `*` starts with `*`"),
        "{message}"
    );
}
