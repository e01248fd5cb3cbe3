//! Won orders booked into a snapshot: the opportunity that carried an
//! accepted quote closes won with the order's exact figures, an order no
//! opportunity carried joins as a won deal of its rep's team, and the
//! forecast counts each once. Figures by hand from the example rules'
//! funnel (negotiate 80 %, propose 65 %).
#![allow(clippy::unwrap_used)]

use std::{path::Path, str::FromStr};

use chrono::NaiveDate;
use polars::prelude::*;
use quotecast_forecast::{
    Bucket, Dimension, ForecastSpec, RateTable, WinRates, WonOrder, WonOrderLine, book_won_orders,
    forecast, without_ordered,
};
use quotecast_pipeline::read::read_snapshot;
use rust_decimal::Decimal;

const SNAPSHOT: &str = "\
opportunity_id,owner,team,region,stage,stage_entered,created,expected_close,forecast_category,currency,sku,product_line,quantity,amount,quote_ref
O-1,ann,A,na,negotiate,2026-10-20,2026-08-01,2026-12-10,,USD,SRV-1U,servers,2,8000.00,Q-0042
O-1,ann,A,na,negotiate,2026-10-20,2026-08-01,2026-12-10,,USD,SVC-INSTALL,services,2,600.00,Q-0042
O-3,bob,B,emea,propose,2026-11-01,2026-09-01,2026-12-05,,USD,DSP-27,displays,4,2000.00,
O-4,bob,B,emea,won,2026-11-02,2026-07-01,2026-11-02,,USD,SRV-1U,servers,1,5000.00,
";

fn rules() -> quotecast_model::RuleSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    quotecast_rules::load_dir(&dir).unwrap().0
}

fn snapshot() -> DataFrame {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    std::fs::write(&path, SNAPSHOT).unwrap();
    let rules = rules();
    read_snapshot(&path, &quotecast_forecast::vocabulary(&rules)).unwrap()
}

fn spec() -> ForecastSpec {
    let rules = rules();
    ForecastSpec {
        as_of: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
        bucket: Bucket::Month,
        fiscal_year: quotecast_model::FiscalYear::CALENDAR,
        group_by: vec![Dimension::Team],
        rates: RateTable {
            reporting_currency: "USD".into(),
            scale: 2,
            per_reporting: vec![("USD".into(), 1.0)],
        },
        win_rates: WinRates::StageDefaults,
        stages: rules.stages().to_vec(),
        correction: None,
        new_deal_history: None,
        timing: None,
        amount_factors: None,
    }
}

fn order(number: i64, owner: &str, on: &str, lines: &[(&str, &str, &str, &str)]) -> WonOrder {
    WonOrder {
        number,
        account: "acme".into(),
        owner: owner.into(),
        currency: "USD".into(),
        accepted_on: on.parse().unwrap(),
        lines: lines
            .iter()
            .map(|(sku, product_line, quantity, net)| WonOrderLine {
                sku: (*sku).into(),
                product_line: (*product_line).into(),
                quantity: Decimal::from_str(quantity).unwrap(),
                net: Decimal::from_str(net).unwrap(),
            })
            .collect(),
    }
}

fn orders() -> Vec<WonOrder> {
    vec![
        // Quote 42, which O-1 carried, won at a deeper discount and with
        // one server more, without the installation.
        order(
            42,
            "ann",
            "2026-11-18",
            &[("SRV-1U", "servers", "3", "11400.00")],
        ),
        // Quote 43 never had an opportunity: bob's, so team B.
        order(
            43,
            "bob",
            "2026-11-19",
            &[("LT-14", "laptops", "1", "1000.00")],
        ),
        // Quote 44's rep owns nothing in the snapshot.
        order(
            44,
            "dee",
            "2026-11-19",
            &[("LT-14", "laptops", "2", "1999.99")],
        ),
    ]
}

fn rows(frame: &DataFrame, columns: &[&str]) -> Vec<Vec<String>> {
    (0..frame.height())
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    frame
                        .column(c)
                        .unwrap()
                        .get(r)
                        .unwrap()
                        .str_value()
                        .into_owned()
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_carrying_opportunity_closes_won_with_the_orders_figures_and_the_others_join() {
    let (booked, counts) = book_won_orders(snapshot(), &orders(), &rules()).unwrap();
    assert_eq!((counts.closed, counts.added, counts.lines), (1, 2, 3));
    let got = rows(
        &booked,
        &[
            "opportunity_id",
            "owner",
            "team",
            "stage",
            "created",
            "expected_close",
            "sku",
            "quantity",
            "amount",
        ],
    );
    let expect = [
        [
            "O-3",
            "bob",
            "B",
            "propose",
            "2026-09-01",
            "2026-12-05",
            "DSP-27",
            "4",
            "2000.00",
        ],
        [
            "O-4",
            "bob",
            "B",
            "won",
            "2026-07-01",
            "2026-11-02",
            "SRV-1U",
            "1",
            "5000.00",
        ],
        // O-1 keeps its owner, team and creation day; its lines are the
        // order's, won on the day it was accepted.
        [
            "O-1",
            "ann",
            "A",
            "won",
            "2026-08-01",
            "2026-11-18",
            "SRV-1U",
            "3",
            "11400.00",
        ],
        [
            "order-43",
            "bob",
            "B",
            "won",
            "2026-11-19",
            "2026-11-19",
            "LT-14",
            "1",
            "1000.00",
        ],
        [
            "order-44",
            "dee",
            "unassigned",
            "won",
            "2026-11-19",
            "2026-11-19",
            "LT-14",
            "2",
            "1999.99",
        ],
    ];
    let expect: Vec<Vec<String>> = expect
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(got, expect);

    // The forecast counts each deal once: November's closed won is team
    // A's order 11,400, team B's 5,000 + 1,000, the unassigned 1,999.99;
    // December keeps only O-3 (propose, 0.65 × 2,000 = 1,300).
    let f = forecast(booked.lazy(), &spec()).unwrap();
    let got = rows(
        &f.amounts,
        &["bucket", "team", "opportunities", "closed_won", "weighted"],
    );
    let expect = [
        ["2026-11-01", "A", "1", "11400.0", "11400.0"],
        ["2026-11-01", "B", "2", "6000.0", "6000.0"],
        ["2026-11-01", "unassigned", "1", "1999.99", "1999.99"],
        ["2026-12-01", "B", "1", "0.0", "1300.0"],
    ];
    let expect: Vec<Vec<String>> = expect
        .iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(got, expect);
    assert_eq!(f.explanation.won_opportunities, 4);
    assert_eq!(f.explanation.open_opportunities, 1);
}

#[test]
fn without_orders_the_snapshot_is_unchanged_and_the_roll_down_drops_only_carriers() {
    let (same, counts) = book_won_orders(snapshot(), &[], &rules()).unwrap();
    assert!(same.equals_missing(&snapshot()));
    assert_eq!(counts.lines, 0);
    let (left, dropped) = without_ordered(snapshot(), &orders()).unwrap();
    assert_eq!(dropped, 1);
    let ids = rows(&left, &["opportunity_id"]);
    assert_eq!(ids, [["O-3"], ["O-4"]].map(|r| vec![r[0].to_string()]));
}
