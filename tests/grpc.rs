//! The service as clients see it: the server on 127.0.0.1:0, called through
//! the generated clients, health and reflection as generic tools use them.
#![allow(clippy::unwrap_used)]

use prost::bytes::Bytes;
use quotecast_server::pb::{
    ConfiguredBy, ConfiguredOption, GetProductRequest, ListProductsRequest, ManualDiscount, Money,
    PriceQuoteRequest, ProductKind, QuoteLineInput, WaterfallStepKind,
    catalog_service_client::CatalogServiceClient, manual_discount,
    quote_service_client::QuoteServiceClient,
};
use quotecast_tests::{TestServer, pb_line as line, raw_call};
use tonic::Code;
use tonic_types::StatusExt;

fn request(currency: &str, on: &str, lines: Vec<QuoteLineInput>) -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: currency.into(),
        price_date: on.into(),
        lines,
        ..Default::default()
    }
}

fn amount(s: &str) -> &str {
    s
}

#[tokio::test]
async fn price_quote_returns_the_explained_waterfall() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let mut req = request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]);
    req.account_id = "acme".into();
    let res = client.price_quote(req).await.unwrap().into_inner();
    // 2 × 1299.00 list, acme contract 1149.00 -> 2298.00 (see golden tests).
    assert_eq!(res.currency_code, "USD");
    assert_eq!(res.segment, "enterprise");
    let l = &res.lines[0];
    assert_eq!(l.line_id, "1");
    assert_eq!(amount(&l.net_extended), "2298.00");
    assert_eq!(amount(&l.net_unit_price), "1149.00");
    let steps: Vec<(WaterfallStepKind, &str)> = l
        .waterfall
        .iter()
        .map(|s| (s.step(), s.rule_id.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (WaterfallStepKind::ListPrice, "usd:LT-14-PRO@2026-01-01"),
            (WaterfallStepKind::ContractPrice, "ctr-acme-lt14pro-2026")
        ]
    );
    assert_eq!(amount(&l.waterfall[1].amount), "-300.00");
    assert!(l.waterfall[1].explanation.contains("1149.00"));
    let totals = res.totals.unwrap();
    assert_eq!(amount(&totals.net), "2298.00");
    assert_eq!(totals.margin_percent, "31.24");
    assert_eq!(res.approval.unwrap().level, "none");
    server.stop().await;
}

#[tokio::test]
async fn the_summary_view_leaves_out_the_waterfall_only() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let mut req = request(
        "USD",
        "2026-03-01",
        vec![line("LT-14-PRO", "2"), line("DSP-24", "3")],
    );
    req.account_id = "acme".into();
    let full = client.price_quote(req.clone()).await.unwrap().into_inner();
    req.view = quotecast_server::pb::PriceQuoteView::Summary as i32;
    let summary = client.price_quote(req.clone()).await.unwrap().into_inner();
    assert!(full.lines.iter().all(|l| !l.waterfall.is_empty()));
    assert!(summary.lines.iter().all(|l| l.waterfall.is_empty()));
    let mut stripped = full.clone();
    stripped.lines.iter_mut().for_each(|l| l.waterfall.clear());
    assert_eq!(stripped, summary, "the same figures, less detail");
    req.view = 42;
    let status = client.price_quote(req).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_empty_price_date_means_today() {
    // The test server's today is 2026-05-12: inside the Q2 laptop promotion.
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let res = client
        .price_quote(request("USD", "", vec![line("LT-14-PRO", "1")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(res.price_date, "2026-05-12");
    // 1299.00 - 5 % = 1234.05.
    assert_eq!(amount(&res.lines[0].net_extended), "1234.05");
}

/// The status of a refused request and its field violations, each as
/// (field, "REASON: description"): the machine-readable reason travels in
/// its own field, never inside the description.
async fn refused(req: PriceQuoteRequest) -> (Code, Vec<(String, String)>) {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let status = client.price_quote(req).await.unwrap_err();
    let violations = status
        .get_details_bad_request()
        .map(|b| b.field_violations)
        .unwrap_or_default();
    let shown = violations
        .into_iter()
        .map(|v| {
            assert!(!v.reason.is_empty(), "{v:?}");
            assert!(!v.description.starts_with(&v.reason), "{v:?}");
            (v.field, format!("{}: {}", v.reason, v.description))
        })
        .collect();
    (status.code(), shown)
}

fn fields(v: &[(String, String)]) -> Vec<&str> {
    v.iter().map(|(f, _)| f.as_str()).collect()
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_line_and_field() {
    let on = "2026-03-01";
    let (code, v) = refused(request(
        "USD",
        on,
        vec![line("DSP-24", "1"), line("NOPE", "1")],
    ))
    .await;
    assert_eq!(code, Code::InvalidArgument);
    assert_eq!(fields(&v), ["lines[1].sku"]);
    assert!(v[0].1.starts_with("UNKNOWN_SKU"), "{}", v[0].1);

    let (code, v) = refused(request("USD", "2027-02-01", vec![line("LT-14-STD", "1")])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["lines[0].sku"])
    );
    assert!(v[0].1.starts_with("NOT_IN_PRICE_BOOK"), "{}", v[0].1);

    let (code, v) = refused(request("USD", on, vec![line("DSP-24", "0")])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["lines[0].quantity"])
    );

    let (code, v) = refused(request("USD", on, vec![line("DSP-24", "three")])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["lines[0].quantity"])
    );
    assert!(v[0].1.contains("not a decimal"), "{}", v[0].1);

    let mut over = line("DSP-24", "1");
    over.discount = Some(ManualDiscount {
        kind: Some(manual_discount::Kind::Percent("120".into())),
    });
    let (code, v) = refused(request("USD", on, vec![over])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["lines[0].discount.percent"])
    );

    let mut foreign = request("USD", on, vec![line("DSP-24", "1")]);
    foreign.header_discount = Some(ManualDiscount {
        kind: Some(manual_discount::Kind::Amount(Money {
            currency_code: "EUR".into(),
            amount: "5".into(),
        })),
    });
    let (code, v) = refused(foreign).await;
    assert_eq!(
        (code, fields(&v)),
        (
            Code::InvalidArgument,
            vec!["header_discount.amount.currency_code"]
        )
    );
    assert!(v[0].1.starts_with("CURRENCY_MISMATCH"), "{}", v[0].1);

    let (code, v) = refused(request("JPY", on, vec![line("DSP-24", "1")])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["currency_code"])
    );

    let (code, v) = refused(request("USD", "01/03/2026", vec![line("DSP-24", "1")])).await;
    assert_eq!(
        (code, fields(&v)),
        (Code::InvalidArgument, vec!["price_date"])
    );
}

#[tokio::test]
async fn a_rejecting_floor_is_failed_precondition_with_the_line() {
    let mut l = line("SVC-INST-RACK", "1");
    l.discount = Some(ManualDiscount {
        kind: Some(manual_discount::Kind::Percent("40".into())),
    });
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let status = client
        .price_quote(request("USD", "2026-03-01", vec![l]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.get_details_error_info().unwrap().reason,
        "BELOW_FLOOR"
    );
    let pf = status.get_details_precondition_failure().unwrap();
    assert_eq!(pf.violations[0].subject, "lines[0].discount");
    assert!(pf.violations[0].description.contains("floor-services-list"));
}

#[tokio::test]
async fn list_products_pages_through_the_whole_catalog() {
    let server = TestServer::start().await;
    let mut client = CatalogServiceClient::new(server.channel().await);
    let mut skus = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let res = client
            .list_products(ListProductsRequest {
                page_size: 10,
                page_token: token.clone(),
                price_date: "2026-03-01".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(res.products.len() <= 10);
        assert_eq!(res.total_size, 49);
        skus.extend(res.products.into_iter().map(|p| p.sku));
        pages += 1;
        if res.next_page_token.is_empty() {
            break;
        }
        token = res.next_page_token;
    }
    assert_eq!(pages, 5);
    let mut sorted = skus.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(skus, sorted, "pages are in SKU order without repeats");
    assert_eq!(skus.len(), 49);
}

#[tokio::test]
async fn list_products_filters() {
    let server = TestServer::start().await;
    let mut client = CatalogServiceClient::new(server.channel().await);
    let servers = client
        .list_products(ListProductsRequest {
            product_line: "servers".into(),
            kind: ProductKind::Base as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let skus: Vec<&str> = servers.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["SRV-1U", "SRV-2U", "SRV-TWR"]);
    assert_eq!(servers.product_lines.len(), 4);
    let memory = client
        .list_products(ListProductsRequest {
            query: "rdimm".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(memory.total_size, 3);
    let status = client
        .list_products(ListProductsRequest {
            product_line: "phones".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.get_details_bad_request().unwrap().field_violations[0].field,
        "product_line"
    );
}

#[tokio::test]
async fn get_product_carries_its_sku_and_list_prices() {
    let server = TestServer::start().await;
    let mut client = CatalogServiceClient::new(server.channel().await);
    let p = client
        .get_product(GetProductRequest {
            sku: "SRV-MEM-64".into(),
            price_date: "2026-08-01".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(p.sku, "SRV-MEM-64");
    assert_eq!(p.option_group, "memory");
    let prices: Vec<(String, String)> = p
        .list_prices
        .into_iter()
        .map(|m| (m.currency_code, m.amount))
        .collect();
    // H2 prices: USD 430.00; EUR 430 × 0.95 = 408.50 -> 409.00;
    // CNY 430 × 7.10 = 3053 -> 3050.00.
    assert_eq!(
        prices,
        [
            ("CNY".into(), "3050.00".into()),
            ("EUR".into(), "409.00".into()),
            ("USD".into(), "430.00".into())
        ]
    );
    let missing = client
        .get_product(GetProductRequest {
            sku: "NOPE".into(),
            price_date: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn the_quote_service_refuses_unknown_methods_undecodable_and_oversized_requests() {
    let server = TestServer::start().await;
    let unknown = raw_call(
        server.channel().await,
        "/quotecast.v1.QuoteService/Nope",
        Bytes::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::Unimplemented);
    // Field 6 (lines) as a varint: the wrong wire type.
    let garbage = raw_call(
        server.channel().await,
        "/quotecast.v1.QuoteService/PriceQuote",
        Bytes::from_static(&[0x30, 0x01]),
    )
    .await
    .unwrap_err();
    assert_eq!(garbage.code(), Code::InvalidArgument, "{garbage:?}");
    // A request past the 4 MiB limit is refused, not buffered whole.
    let huge = raw_call(
        server.channel().await,
        "/quotecast.v1.QuoteService/PriceQuote",
        Bytes::from(vec![0u8; 5 << 20]),
    )
    .await
    .unwrap_err();
    assert_eq!(huge.code(), Code::ResourceExhausted, "{huge:?}");
    assert!(huge.message().contains("larger than"), "{huge:?}");
    // The connection and the service are fine afterwards.
    let ok = QuoteServiceClient::new(server.channel().await)
        .price_quote(request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.lines.len(), 1);
}

#[tokio::test]
async fn health_reports_serving() {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "quotecast.v1.QuoteService",
        "quotecast.v1.CatalogService",
    ] {
        let res = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(res.status(), ServingStatus::Serving, "{service}");
    }
}

#[tokio::test]
async fn reflection_lists_and_describes_the_services() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = TestServer::start().await;
    let mut client = ServerReflectionClient::new(server.channel().await);
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "quotecast.v1.QuoteService".into(),
            )),
        },
        // The error details a refusal carries are described too.
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "google.rpc.BadRequest".into(),
            )),
        },
    ];
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "quotecast.v1.QuoteService",
        "quotecast.v1.CatalogService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected file descriptors");
    };
    use prost::Message;
    let file = prost_types_from(&files.file_descriptor_proto[0]);
    assert_eq!(file.0, "quotecast/v1/quote.proto");
    assert!(file.1.contains(&"PriceQuote".to_owned()));
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected the error details' file");
    };
    let name = prost_types_from(&files.file_descriptor_proto[0]).0;
    assert!(name.ends_with("error_details.proto"), "{name}");

    /// (file name, method names) of an encoded FileDescriptorProto.
    fn prost_types_from(bytes: &[u8]) -> (String, Vec<String>) {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Method {
            #[prost(string, tag = "1")]
            name: String,
        }
        #[derive(Clone, PartialEq, prost::Message)]
        struct Service {
            #[prost(string, tag = "1")]
            name: String,
            #[prost(message, repeated, tag = "2")]
            method: Vec<Method>,
        }
        #[derive(Clone, PartialEq, prost::Message)]
        struct File {
            #[prost(string, tag = "1")]
            name: String,
            #[prost(message, repeated, tag = "6")]
            service: Vec<Service>,
        }
        let f = File::decode(bytes).unwrap();
        (
            f.name,
            f.service
                .into_iter()
                .flat_map(|s| s.method)
                .map(|m| m.name)
                .collect(),
        )
    }
}

#[tokio::test]
async fn shutdown_finishes_cleanly() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    client
        .price_quote(request("USD", "2026-03-01", vec![line("DSP-24", "1")]))
        .await
        .unwrap();
    // stop() waits for serve() to return Ok after the shutdown signal.
    server.stop().await;
}

fn configured(sku: &str, quantity: &str, options: &[(&str, u32)]) -> QuoteLineInput {
    QuoteLineInput {
        configuration: options
            .iter()
            .map(|(sku, quantity)| ConfiguredOption {
                sku: (*sku).into(),
                quantity: *quantity,
            })
            .collect(),
        ..line(sku, quantity)
    }
}

#[tokio::test]
async fn a_configured_line_comes_back_as_its_options() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let lines = vec![configured("SRV-2U", "1", &[("SRV-CPU-16C", 1)])];
    let res = client
        .price_quote(request("USD", "2026-03-01", lines))
        .await
        .unwrap()
        .into_inner();
    // Base, then the options in model order; 3600 + 690 + 1400 + 4 × 210
    // + 2 × 260 + 2 × 180 = 7410.00 (tests/configured_pricing.rs derives
    // the same configuration with a discount).
    let got: Vec<(&str, &str, ConfiguredBy, &str)> = res
        .lines
        .iter()
        .map(|l| {
            (
                l.sku.as_str(),
                l.parent_line_id.as_str(),
                l.configured_by(),
                l.configured_by_rule.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("SRV-2U", "", ConfiguredBy::Unspecified, ""),
            // A 16-core CPU fits only the SP5 board: the rules add it.
            ("SRV-BRD-SP5", "1", ConfiguredBy::Added, ""),
            ("SRV-CPU-16C", "1", ConfiguredBy::Chosen, ""),
            (
                "SRV-MEM-32",
                "1",
                ConfiguredBy::Default,
                "srv2u-default-memory"
            ),
            (
                "SRV-SSD-960",
                "1",
                ConfiguredBy::Default,
                "srv2u-default-drives"
            ),
            (
                "SRV-PSU-1100",
                "1",
                ConfiguredBy::Default,
                "srv2u-default-psu"
            ),
        ]
    );
    assert_eq!(amount(&res.totals.unwrap().net), "7410.00");
}

#[tokio::test]
async fn a_contradictory_configuration_is_invalid_argument_with_its_explanation() {
    let lines = vec![configured(
        "SRV-2U",
        "1",
        &[("SRV-CPU-16C", 1), ("SRV-HDD-8T", 1), ("SRV-GPU-L4", 1)],
    )];
    let (code, v) = refused(request("USD", "2026-03-01", lines)).await;
    assert_eq!(code, Code::InvalidArgument);
    assert_eq!(fields(&v), ["lines[0].configuration"]);
    assert!(v[0].1.contains("srv2u-hdd-airflow"), "{v:?}");
    assert!(v[0].1.contains("drop SRV-HDD-8T ×1"), "{v:?}");
}

#[tokio::test]
async fn server_info_names_the_rules_every_priced_quote_carries() {
    use quotecast_server::pb::{GetServerInfoRequest, server_service_client::ServerServiceClient};
    let server = TestServer::start().await;
    let info = ServerServiceClient::new(server.channel().await)
        .get_server_info(GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let rules = quotecast_tests::example_rules();
    assert_eq!(info.rules_version, rules.fingerprint());
    assert!(info.rules_version.starts_with("rules-"), "{info:?}");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert!(!info.git_revision.is_empty());
    assert!(info.development_mode);
    let loaded = chrono::DateTime::parse_from_rfc3339(&info.rules_loaded_at).unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(&info.started_at).unwrap();
    assert!(loaded <= chrono::Utc::now() && started <= chrono::Utc::now());
    // The quote says which rules priced it, in both views.
    let mut client = QuoteServiceClient::new(server.channel().await);
    for view in [
        quotecast_server::pb::PriceQuoteView::Full,
        quotecast_server::pb::PriceQuoteView::Summary,
    ] {
        let mut req = request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]);
        req.view = view as i32;
        let priced = client.price_quote(req).await.unwrap().into_inner();
        assert_eq!(priced.rules_version, info.rules_version, "{view:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_id_comes_back_with_the_response_and_one_is_made_when_missing() {
    let server = TestServer::start().await;
    let mut client = QuoteServiceClient::new(server.channel().await);
    let mut sent = tonic::Request::new(request("USD", "2026-03-01", vec![line("LT-14-PRO", "1")]));
    sent.metadata_mut()
        .insert("x-request-id", "crm-7f3a".parse().unwrap());
    let answered = client.price_quote(sent).await.unwrap();
    assert_eq!(answered.metadata().get("x-request-id").unwrap(), "crm-7f3a");
    // Refused calls carry it too; without one the server makes one, each
    // different.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let refused = client
            .price_quote(request("USD", "2026-03-01", vec![line("NOPE", "1")]))
            .await
            .unwrap_err();
        let id = refused
            .metadata()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap();
        ids.push(id.to_owned());
    }
    assert!(!ids[0].is_empty() && ids[0] != ids[1], "{ids:?}");
    server.stop().await;
}

#[tokio::test]
async fn gzip_and_zstd_are_taken_and_offered_on_every_service() {
    use quotecast_server::pb::{ListProductsRequest, catalog_service_client::CatalogServiceClient};
    use tonic::codec::CompressionEncoding::{Gzip, Zstd};
    let server = TestServer::start().await;
    let plain = QuoteServiceClient::new(server.channel().await)
        .price_quote(request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]))
        .await
        .unwrap()
        .into_inner();
    for encoding in [Gzip, Zstd] {
        let name = encoding.to_string();
        // The hand-framed PriceQuote: the same figures both ways.
        let mut quotes = QuoteServiceClient::new(server.channel().await)
            .send_compressed(encoding)
            .accept_compressed(encoding);
        let priced = quotes
            .price_quote(request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]))
            .await
            .unwrap();
        assert_eq!(
            priced.metadata().get("grpc-encoding").unwrap(),
            name.as_str()
        );
        assert_eq!(priced.into_inner(), plain, "{name}");
        // A refusal still reads.
        let refused = quotes
            .price_quote(request("USD", "2026-03-01", vec![line("NOPE", "1")]))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{name}");
        // A generated service.
        let mut catalog = CatalogServiceClient::new(server.channel().await)
            .send_compressed(encoding)
            .accept_compressed(encoding);
        let listed = catalog
            .list_products(ListProductsRequest::default())
            .await
            .unwrap();
        assert_eq!(
            listed.metadata().get("grpc-encoding").unwrap(),
            name.as_str()
        );
        assert!(!listed.into_inner().products.is_empty());
    }
    // An encoding the server does not take: UNIMPLEMENTED, naming those it
    // does.
    let mut unknown =
        tonic::Request::new(request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]));
    unknown
        .metadata_mut()
        .insert("grpc-encoding", "snappy".parse().unwrap());
    let refused = QuoteServiceClient::new(server.channel().await)
        .price_quote(unknown)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unimplemented);
    assert!(
        refused.message().contains("zstd,gzip,identity"),
        "{refused:?}"
    );
    server.stop().await;
}

/// `from` copied whole into `to`.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn rules_reload_live_and_an_invalid_set_leaves_the_old_one_in_service() {
    use quotecast_server::pb::{
        GetServerInfoRequest, ReloadRulesRequest, server_service_client::ServerServiceClient,
    };
    let rules = tempfile::tempdir().unwrap();
    copy_dir(&quotecast_tests::rules_dir(), rules.path());
    let dir = rules.path().to_owned();
    let server = TestServer::start_with_state(
        |_| {},
        move |state| quotecast_server::AppState {
            reloader: Some(std::sync::Arc::new(move || {
                let loaded = quotecast_rules::load_dir_with(&dir, &quotecast_rules::Fresh)
                    .map_err(|e| e.to_string())?;
                Ok((
                    loaded.rules,
                    loaded.configurators,
                    loaded.summary.to_string(),
                ))
            })),
            ..state
        },
    )
    .await;
    let mut admin = ServerServiceClient::new(server.channel().await);
    let mut quotes = QuoteServiceClient::new(server.channel().await);
    let list_price =
        |q: &quotecast_server::pb::PriceQuoteResponse| q.lines[0].list_unit_price.clone();
    let price = || request("USD", "2026-03-01", vec![line("LT-14-PRO", "2")]);
    let before = quotes.price_quote(price()).await.unwrap().into_inner();
    assert_eq!(list_price(&before), "1299.00");
    let first = admin
        .get_server_info(GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    // The pricing team raises the laptop's list price.
    let book = rules.path().join("price_books/usd.toml");
    let text = std::fs::read_to_string(&book).unwrap();
    std::fs::write(&book, text.replacen("\"1299.00\"", "\"1399.00\"", 1)).unwrap();
    let reloaded = admin
        .reload_rules(ReloadRulesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reloaded.previous_rules_version, first.rules_version);
    assert_ne!(reloaded.rules_version, first.rules_version);
    let after = quotes.price_quote(price()).await.unwrap().into_inner();
    assert_eq!(list_price(&after), "1399.00");
    assert_eq!(after.rules_version, reloaded.rules_version);
    // A broken file: refused with its file and line; the new prices stay.
    let broken = rules.path().join("currencies.toml");
    let mut text = std::fs::read_to_string(&broken).unwrap();
    text.push_str("\n[[currency]]\ncode = 7\n");
    std::fs::write(&broken, text).unwrap();
    let refused = admin.reload_rules(ReloadRulesRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("currencies.toml:"),
        "{}",
        refused.message()
    );
    let still = quotes.price_quote(price()).await.unwrap().into_inner();
    assert_eq!(list_price(&still), "1399.00");
    let info = admin
        .get_server_info(GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.rules_version, reloaded.rules_version);
    server.stop().await;
}
