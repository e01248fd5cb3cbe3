//! Every method under arbitrary input: a valid request of each, mutated
//! (bytes flipped, cut short, spliced with random bytes) or replaced by
//! random bytes, sent raw. Each call must end with a well-formed status a
//! client can act on (never INTERNAL or UNKNOWN: nothing panicked, nothing
//! was the server's fault), and the server must still answer afterwards.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use prost::{Message, bytes::Bytes};
use quotecast_server::pb;
use quotecast_tests::{TestServer, raw_call};
use tonic::Code;

/// A valid request for each method (the calls that need stored data name
/// data that is not there: they must still be refused cleanly).
fn examples() -> Vec<(&'static str, Vec<u8>)> {
    let line = pb::QuoteLineInput {
        line_id: "1".into(),
        sku: "SRV-2U".into(),
        quantity: "3".into(),
        discount: None,
        configuration: vec![pb::ConfiguredOption {
            sku: "SRV-CPU-32C".into(),
            quantity: 2,
        }],
    };
    let quote = pb::PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-01".into(),
        account_id: "acme".into(),
        lines: vec![line],
        ..Default::default()
    };
    let action = pb::QuoteActionRequest {
        quote_number: 1,
        base_version: 1,
        comment: "fuzz".into(),
    };
    let configure = pb::ConfigureRequest {
        product_sku: "SRV-2U".into(),
        choices: vec![],
        skip_explanations: false,
        explain_skus: vec![],
    };
    let forecast = pb::ForecastRequest {
        pipeline: "demo".into(),
        as_of: "2026-11-20".into(),
        trials: 100,
        ..Default::default()
    };
    let plan = pb::RunPlanRequest {
        pipeline: "demo".into(),
        as_of: "2026-11-20".into(),
        horizon: 26,
        trials: 50,
        ..Default::default()
    };
    let table = pb::PlanTableRequest {
        plan_id: "plan-0123456789abcdef".into(),
    };
    let push = pb::PushInventoryRequest {
        rows: Some(pb::InventoryRows {
            on_hand: vec![pb::OnHand {
                item: "CMP-GPU-L4".into(),
                quantity: "40".into(),
            }],
            receipts: vec![],
        }),
    };
    vec![
        (
            "/quotecast.v1.QuoteService/PriceQuote",
            quote.encode_to_vec(),
        ),
        (
            "/quotecast.v1.CatalogService/ListProducts",
            pb::ListProductsRequest::default().encode_to_vec(),
        ),
        (
            "/quotecast.v1.CatalogService/GetProduct",
            pb::GetProductRequest {
                sku: "SRV-2U".into(),
                price_date: "2026-03-01".into(),
            }
            .encode_to_vec(),
        ),
        (
            "/quotecast.v1.ConfiguratorService/Configure",
            configure.encode_to_vec(),
        ),
        (
            "/quotecast.v1.ConfiguratorService/ConfigureSession",
            configure.encode_to_vec(),
        ),
        (
            "/quotecast.v1.ForecastService/Forecast",
            forecast.encode_to_vec(),
        ),
        (
            "/quotecast.v1.ForecastService/ListPipelines",
            pb::ListPipelinesRequest::default().encode_to_vec(),
        ),
        ("/quotecast.v1.DemandService/RunPlan", plan.encode_to_vec()),
        (
            "/quotecast.v1.DemandService/PlannedOrders",
            table.encode_to_vec(),
        ),
        ("/quotecast.v1.DemandService/Cash", table.encode_to_vec()),
        (
            "/quotecast.v1.DemandService/PushInventory",
            push.encode_to_vec(),
        ),
        (
            "/quotecast.v1.QuoteService/SaveQuote",
            pb::SaveQuoteRequest {
                quote: Some(quote.clone()),
                valid_until: "2026-12-31".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/quotecast.v1.QuoteService/ListQuotes",
            pb::ListQuotesRequest {
                page_size: 10,
                page_token: "3".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "/quotecast.v1.QuoteService/DiffQuoteVersions",
            pb::DiffQuoteVersionsRequest {
                quote_number: 1,
                from_version: 1,
                to_version: 2,
            }
            .encode_to_vec(),
        ),
        ("/quotecast.v1.QuoteService/Submit", action.encode_to_vec()),
        ("/quotecast.v1.QuoteService/Approve", action.encode_to_vec()),
        (
            "/quotecast.v1.ApprovalService/ListPendingApprovals",
            pb::ListPendingApprovalsRequest { page_size: 5 }.encode_to_vec(),
        ),
        (
            "/quotecast.v1.ApprovalService/Delegate",
            pb::DelegateRequest {
                from: String::new(),
                to: "mia@acme.example".into(),
                starts: "2026-05-01".into(),
                ends: "2026-05-09".into(),
            }
            .encode_to_vec(),
        ),
        (
            "/quotecast.v1.OrderService/ListOrders",
            pb::ListOrdersRequest {
                accepted_from: "2026-01-01".into(),
                product_line: "servers".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
    ]
}

/// A mutation of `valid`: random bytes, a cut, flips, or a splice.
fn mutate(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        (0..=len).prop_map({
            let v = valid.clone();
            move |cut| v[..cut].to_vec()
        }),
        proptest::collection::vec((0..len.max(1), any::<u8>()), 1..8).prop_map({
            let v = valid.clone();
            move |flips| {
                let mut v = v.clone();
                for (at, byte) in flips {
                    if let Some(b) = v.get_mut(at) {
                        *b ^= byte | 1;
                    }
                }
                v
            }
        }),
        (0..=len, proptest::collection::vec(any::<u8>(), 1..32)).prop_map({
            let v = valid;
            move |(at, bytes)| {
                let mut v = v.clone();
                v.splice(at..at, bytes);
                v
            }
        }),
    ]
}

#[test]
fn every_method_survives_arbitrary_input_with_a_clean_status() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start());
    let channel = runtime.block_on(server.channel());
    let (refused, answered) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    for (method, valid) in examples() {
        let config = ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..ProptestConfig::default()
        };
        proptest!(config, |(body in mutate(valid.clone()))| {
            let result = runtime.block_on(raw_call(channel.clone(), method, Bytes::from(body)));
            match result {
                Ok(_) => answered.set(answered.get() + 1),
                Err(status) => {
                    refused.set(refused.get() + 1);
                    prop_assert!(
                        !matches!(status.code(), Code::Internal | Code::Unknown | Code::DataLoss),
                        "{method}: {status:?}"
                    );
                }
            }
        });
    }
    // The inputs reached the handlers both ways.
    assert!(
        refused.get() > 100 && answered.get() > 10,
        "{refused:?} {answered:?}"
    );
    // Still serving.
    let alive = runtime.block_on(raw_call(
        channel,
        "/quotecast.v1.CatalogService/ListProducts",
        Bytes::new(),
    ));
    assert!(alive.is_ok(), "{alive:?}");
    runtime.block_on(server.stop());
}
