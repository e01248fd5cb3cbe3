//! `DemandService` as an ERP uses it: push an inventory state (a bad one
//! is refused whole, by field, and the stored one kept), run a plan on a
//! stored pipeline with its history, pull its tables; every request field
//! checked.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use chrono::NaiveDate;
use quotecast_pipeline::{
    synthetic::{GenSpec, World, write_dir},
    write::FileFormat,
};
use quotecast_server::pb::{
    InventoryRows, ListInventoryVersionsRequest, OnHand, OpenReceipt, PlanBucket, PlanTableRequest,
    PushInventoryRequest, RunPlanRequest, demand_service_client::DemandServiceClient,
    plan_table_response::Part,
};
use quotecast_tests::{TestServer, example_rules, field_violations, tables_of};
use rust_decimal::Decimal;
use tonic::Code;

const AS_OF: &str = "2026-11-20";

/// A generated pipeline stored as `demo` in the server's data directory.
fn store_pipeline(data: &std::path::Path) {
    let as_of = NaiveDate::from_str(AS_OF).unwrap();
    let world = World::from_rules(&example_rules(), 3, as_of).unwrap();
    let spec = GenSpec {
        seed: 3,
        open_opportunities: 400,
        as_of: quotecast_pipeline::epoch_days(as_of),
        history_days: 730,
        with_history: true,
        snapshots: 10,
        snapshot_every_days: 28,
    };
    write_dir(
        &world,
        &spec,
        &data.join("pipelines/demo"),
        FileFormat::Parquet,
        |_| {},
    )
    .unwrap();
}

fn push(on_hand: &[(&str, &str)], receipts: &[(&str, &str, &str)]) -> Vec<PushInventoryRequest> {
    vec![PushInventoryRequest {
        rows: Some(InventoryRows {
            on_hand: on_hand
                .iter()
                .map(|(i, q)| OnHand {
                    item: (*i).into(),
                    quantity: (*q).into(),
                })
                .collect(),
            receipts: receipts
                .iter()
                .map(|(i, due, q)| OpenReceipt {
                    item: (*i).into(),
                    due: (*due).into(),
                    quantity: (*q).into(),
                    reference: "PO-7".into(),
                })
                .collect(),
        }),
    }]
}

#[tokio::test]
async fn an_erp_pushes_inventory_runs_a_plan_and_pulls_its_tables() {
    let server = TestServer::start_with(store_pipeline).await;
    let mut client = DemandServiceClient::new(server.channel().await);
    let good = push(
        &[("CMP-FAN-60", "400"), ("ASM-FAN-MODULE", "20")],
        &[("CMP-GPU-L4", "2026-12-01", "16")],
    );
    let first = client
        .push_inventory(tokio_stream::iter(good))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((first.on_hand_rows, first.receipt_rows), (2, 1));
    // A bad push is refused whole, each bad value by field.
    let bad = push(
        &[("CMP-FAN-60", "-3"), ("", "1")],
        &[("CMP-GPU-L4", "2026-13-01", "x")],
    );
    let e = client
        .push_inventory(tokio_stream::iter(bad))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "on_hand[0].quantity",
            "on_hand[1].item",
            "receipts[0].due",
            "receipts[0].quantity"
        ]
    );
    let versions = client
        .list_inventory_versions(ListInventoryVersionsRequest {})
        .await
        .unwrap()
        .into_inner()
        .versions;
    assert_eq!(versions.len(), 1);
    assert!(versions[0].latest && versions[0].version == first.version);
    // Receipts pushed alone keep the latest on hand.
    let receipts = push(&[], &[("CMP-CPU-SRV-64C", "2026-12-10", "40")]);
    let second = client
        .push_receipts(tokio_stream::iter(receipts))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((second.on_hand_rows, second.receipt_rows), (2, 1));

    let request = RunPlanRequest {
        pipeline: "demo".into(),
        history: "demo".into(),
        as_of: AS_OF.into(),
        horizon: 26,
        bucket: PlanBucket::Week as i32,
        trials: 200,
        seed: 4,
        ..RunPlanRequest::default()
    };
    let plan = client.run_plan(request.clone()).await.unwrap().into_inner();
    assert_eq!(plan.inventory_version, second.version);
    assert!(plan.planned_orders > 0 && plan.levels >= 4, "{plan:?}");
    assert_eq!(plan.currency, "USD");
    let reused = |notes: &[String]| notes.iter().any(|n| n.contains("reused"));
    assert!(!reused(&plan.forecast_notes), "{:?}", plan.forecast_notes);
    // The same plan again: what the history taught is reused, and the
    // plan is the same to its id.
    let again = client.run_plan(request.clone()).await.unwrap().into_inner();
    assert_eq!(plan.plan_id, again.plan_id);
    assert!(reused(&again.forecast_notes), "{:?}", again.forecast_notes);
    // An older inventory version gives another plan, from the same
    // learning.
    let older = RunPlanRequest {
        inventory_version: first.version.clone(),
        ..request.clone()
    };
    let older = client.run_plan(older).await.unwrap().into_inner();
    assert_ne!(older.plan_id, plan.plan_id);
    assert!(reused(&older.forecast_notes));
    // Another plan date learns again.
    let later = RunPlanRequest {
        as_of: "2026-11-27".into(),
        ..request.clone()
    };
    let later = client.run_plan(later).await.unwrap().into_inner();
    assert!(!reused(&later.forecast_notes));

    let table = PlanTableRequest {
        plan_id: plan.plan_id.clone(),
    };
    let split = |m: quotecast_server::pb::PlanTableResponse| match m.part.unwrap() {
        Part::Table(h) => (Some(h), None),
        Part::Rows(r) => (None, Some(r)),
    };
    let stream = client
        .planned_orders(table.clone())
        .await
        .unwrap()
        .into_inner();
    let tables = tables_of(stream, split).await;
    let orders = &tables["planned_orders"];
    assert_eq!(orders.rows.len() as u64, plan.planned_orders);
    let value = orders.sum("value");
    assert_eq!(value.round_dp(2).to_string(), plan.planned_value);
    let value_column = &orders.columns[orders.column("value")];
    assert_eq!((value_column.2.as_str()), "USD");
    let quantity = orders.column("quantity");
    assert!(
        orders
            .rows
            .iter()
            .all(|r| Decimal::from_str(&r[quantity]).unwrap() > Decimal::ZERO)
    );
    // Exact quantities without trailing zeros.
    assert!(
        orders
            .rows
            .iter()
            .all(|r| !r[quantity].ends_with('0') || !r[quantity].contains('.')),
        "{:?}",
        &orders.rows[0]
    );
    assert!(!tables["pegging"].rows.is_empty());
    // Without pegging: the same orders, no deals behind them, another id.
    let bare = client
        .run_plan(RunPlanRequest {
            without_pegging: true,
            ..request.clone()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(bare.without_pegging && !plan.without_pegging);
    assert_ne!(bare.plan_id, plan.plan_id);
    assert_eq!(
        (bare.planned_orders, &bare.planned_value),
        (plan.planned_orders, &plan.planned_value)
    );
    let stream = client
        .planned_orders(PlanTableRequest {
            plan_id: bare.plan_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let bare_tables = tables_of(stream, split).await;
    assert_eq!(bare_tables["planned_orders"].rows, orders.rows);
    assert!(bare_tables["pegging"].rows.is_empty());
    let stream = client
        .component_demand(table.clone())
        .await
        .unwrap()
        .into_inner();
    let demand = tables_of(stream, split).await;
    let d = &demand["component_demand"];
    assert_eq!(d.columns[d.column("p90")].2, "units");
    let stream = client.capacity(table.clone()).await.unwrap().into_inner();
    assert!(!tables_of(stream, split).await["capacity"].rows.is_empty());
    let stream = client
        .safety_stock(table.clone())
        .await
        .unwrap()
        .into_inner();
    let ss = tables_of(stream, split).await;
    assert!(ss.contains_key("safety_stock") && ss.contains_key("projected"));
    // Cash-in through the example payment terms, in dollars and cents.
    let stream = client.cash(table).await.unwrap().into_inner();
    let cash = &tables_of(stream, split).await["cash"];
    assert!(!cash.rows.is_empty());
    assert_eq!(cash.columns[cash.column("p90")].2, "USD");
    let expected = cash.sum("expected");
    let total = Decimal::from_str(&plan.expected_cash).unwrap();
    let slack = Decimal::new(cash.rows.len() as i64, 2);
    assert!((expected - total).abs() <= slack, "{expected} vs {total}");
    assert!(total > Decimal::ZERO, "{plan:?}");
    let (p10, p90) = (cash.column("p10"), cash.column("p90"));
    for row in &cash.rows {
        assert!(
            row[p10]
                .split('.')
                .nth(1)
                .is_some_and(|cents| cents.len() == 2)
        );
        let low = Decimal::from_str(&row[p10]).unwrap();
        let high = Decimal::from_str(&row[p90]).unwrap();
        assert!(low <= high, "{row:?}");
    }

    // Every field checked.
    let bad = RunPlanRequest {
        pipeline: "../etc".into(),
        as_of: "2026-02-30".into(),
        horizon: 10_000,
        service_level: 1.5,
        trials: 10_000_000,
        ..RunPlanRequest::default()
    };
    let e = client.run_plan(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&e).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        ["pipeline", "as_of", "horizon", "service_level", "trials"]
    );
    let missing = client
        .planned_orders(PlanTableRequest {
            plan_id: "plan-0000000000000000".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let missing = client
        .run_plan(RunPlanRequest {
            pipeline: "demo".into(),
            inventory_version: "inv-0".into(),
            ..RunPlanRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn a_won_order_is_planned_as_firm_demand_through_its_exact_configuration() {
    use quotecast_server::pb::{ConfiguredOption, PriceQuoteRequest, QuoteLineInput};
    let server = TestServer::start_with(store_pipeline).await;
    let mut client = DemandServiceClient::new(server.channel().await);
    // Two R2 2U servers with two 32-core CPUs each, accepted today.
    let saved = quotecast_tests::won_quote(
        server.channel().await,
        PriceQuoteRequest {
            currency_code: "USD".into(),
            price_date: "2026-03-01".into(),
            segment: "mid_market".into(),
            region: "na".into(),
            lines: vec![QuoteLineInput {
                sku: "SRV-2U".into(),
                quantity: "2".into(),
                configuration: vec![
                    ConfiguredOption {
                        sku: "SRV-CPU-32C".into(),
                        quantity: 2,
                    },
                    ConfiguredOption {
                        sku: "SRV-RACK-KIT".into(),
                        quantity: 1,
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        },
    )
    .await;
    let n = saved.quote_number;
    let today = chrono::Utc::now().date_naive().to_string();
    let request = |won_orders| RunPlanRequest {
        pipeline: "demo".into(),
        as_of: today.clone(),
        horizon: 26,
        won_orders,
        ..RunPlanRequest::default()
    };
    let without = client.run_plan(request(false)).await.unwrap().into_inner();
    let with = client.run_plan(request(true)).await.unwrap().into_inner();
    let priced_lines = saved.priced.as_ref().unwrap().lines.len() as u64;
    assert_eq!((with.won_orders, with.won_order_lines), (1, priced_lines));
    assert_eq!((without.won_orders, without.won_order_lines), (0, 0));
    assert_eq!(with.deals, without.deals + 1);
    assert_eq!(with.lines, without.lines + priced_lines);
    assert_ne!(with.plan_id, without.plan_id);
    // Exactly its configuration: the CPU chips planned for the order are
    // its 2 servers × 2 CPUs, one chip each.
    let split = |m: quotecast_server::pb::PlanTableResponse| match m.part.unwrap() {
        Part::Table(h) => (Some(h), None),
        Part::Rows(r) => (None, Some(r)),
    };
    let stream = client
        .planned_orders(PlanTableRequest {
            plan_id: with.plan_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let tables = tables_of(stream, split).await;
    let (orders, pegging) = (&tables["planned_orders"], &tables["pegging"]);
    let (id, item) = (orders.column("order"), orders.column("item"));
    let cpu_orders: Vec<&str> = orders
        .rows
        .iter()
        .filter(|r| r[item] == "CMP-CPU-SRV-32C")
        .map(|r| r[id].as_str())
        .collect();
    let (order, deal, sku, units) = (
        pegging.column("order"),
        pegging.column("opportunity_id"),
        pegging.column("sku"),
        pegging.column("expected_units"),
    );
    let pegged: Vec<(&str, f64)> = pegging
        .rows
        .iter()
        .filter(|r| cpu_orders.contains(&r[order].as_str()) && r[deal] == format!("order-{n}"))
        .map(|r| (r[sku].as_str(), r[units].parse::<f64>().unwrap()))
        .collect();
    assert!(
        pegged.iter().all(|(s, _)| *s == "SRV-CPU-32C"),
        "{pegged:?}"
    );
    let total: f64 = pegged.iter().map(|(_, u)| u).sum();
    assert!((total - 4.0).abs() < 1e-6, "{pegged:?}");
}
