//! Stored quotes over gRPC: SaveQuote prices exactly as PriceQuote does
//! and keeps every version whole; a change from a stale version is
//! ABORTED naming the current one; lists filter and page; bad requests
//! name their fields.
#![allow(clippy::unwrap_used)]

use quotecast_server::pb::{
    DiffQuoteVersionsRequest, GetQuoteRequest, LineChangeKind, ListQuotesRequest,
    PriceQuoteRequest, QuoteLineInput, QuoteStatus, SaveQuoteRequest,
    quote_service_client::QuoteServiceClient,
};
use quotecast_tests::{TestServer, field_violations, pb_line as line};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt;

fn quote(account: &str, lines: Vec<QuoteLineInput>) -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-02".into(),
        account_id: account.into(),
        lines,
        ..Default::default()
    }
}

fn save(number: i64, base: i64, quote: PriceQuoteRequest) -> SaveQuoteRequest {
    SaveQuoteRequest {
        quote_number: number,
        base_version: base,
        quote: Some(quote),
        valid_until: String::new(),
    }
}

async fn client(server: &TestServer) -> QuoteServiceClient<Channel> {
    QuoteServiceClient::new(server.channel().await)
}

#[tokio::test]
async fn a_saved_quote_holds_the_figures_priced_and_every_version() {
    let server = TestServer::start().await;
    let mut client = client(&server).await;
    let first = quote("acme", vec![line("DSP-24", "10"), line("LT-14-PRO", "3")]);
    let priced = client
        .price_quote(first.clone())
        .await
        .unwrap()
        .into_inner();
    let saved = client
        .save_quote(save(0, 0, first.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((saved.quote_number, saved.version), (1, 1));
    assert_eq!(saved.status, QuoteStatus::Draft as i32);
    assert_eq!(
        saved.priced.as_ref(),
        Some(&priced),
        "the same figures as PriceQuote"
    );
    assert_eq!(saved.account_id, "acme");
    assert_eq!(
        saved.valid_until, "2026-04-01",
        "30 days after the pricing date"
    );
    assert!(saved.rules_fingerprint.starts_with("rules-"));
    assert!(saved.rules_loaded);
    // A second quote takes the next number.
    let other = client
        .save_quote(save(0, 0, quote("", vec![line("DSP-24", "1")])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.quote_number, 2);
    // The rep negotiates: a new version from version 1.
    let mut second = first.clone();
    second.lines[0].quantity = "40".into();
    let revised = client
        .save_quote(SaveQuoteRequest {
            valid_until: "2026-03-31".into(),
            ..save(1, 1, second.clone())
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revised.version, 2);
    assert_eq!(revised.valid_until, "2026-03-31");
    let repriced = client.price_quote(second).await.unwrap().into_inner();
    assert_eq!(revised.priced.as_ref(), Some(&repriced));
    assert_ne!(revised.priced.as_ref(), Some(&priced));
    // Another change made from version 1 is refused, naming version 2.
    let stale = client
        .save_quote(save(1, 1, first.clone()))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let info = stale.get_details_error_info().unwrap();
    assert_eq!(info.metadata["current_version"], "2");
    // Every version reads back as it was priced.
    let get = |version| GetQuoteRequest {
        quote_number: 1,
        version,
    };
    let v1 = client.get_quote(get(1)).await.unwrap().into_inner();
    assert_eq!(v1, saved);
    let latest = client.get_quote(get(0)).await.unwrap().into_inner();
    assert_eq!(latest, revised);
    let missing = client.get_quote(get(3)).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let missing = client
        .get_quote(GetQuoteRequest {
            quote_number: 99,
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    server.stop().await;
}

#[tokio::test]
async fn lists_filter_by_account_and_page_with_tokens() {
    let server = TestServer::start().await;
    let mut client = client(&server).await;
    for i in 0..5 {
        let account = if i % 2 == 0 { "acme" } else { "globex" };
        client
            .save_quote(save(0, 0, quote(account, vec![line("DSP-24", "2")])))
            .await
            .unwrap();
    }
    let list = |account: &str, token: String| ListQuotesRequest {
        account_id: account.into(),
        page_size: 2,
        page_token: token,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_quotes(list("", token))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.quotes.iter().map(|q| q.quote_number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    let acme = client
        .list_quotes(ListQuotesRequest {
            page_size: 10,
            ..list("acme", String::new())
        })
        .await
        .unwrap()
        .into_inner();
    let numbers: Vec<i64> = acme.quotes.iter().map(|q| q.quote_number).collect();
    assert_eq!(numbers, [1, 3, 5]);
    assert!(
        acme.quotes
            .iter()
            .all(|q| q.currency_code == "USD" && !q.net_total.is_empty())
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_saves_name_their_fields_and_store_nothing() {
    let server = TestServer::start().await;
    let mut client = client(&server).await;
    let e = client
        .save_quote(SaveQuoteRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&e)[0].0, "quote");
    let e = client
        .save_quote(save(0, 0, quote("acme", vec![line("DSP-24", "-3")])))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        field_violations(&e)[0].0,
        "quote.lines[0].quantity",
        "{e:?}"
    );
    let e = client
        .save_quote(SaveQuoteRequest {
            valid_until: "2026-01-01".into(),
            ..save(0, 0, quote("acme", vec![line("DSP-24", "3")]))
        })
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e)[0].0, "valid_until", "{e:?}");
    let e = client
        .save_quote(save(7, 0, quote("acme", vec![line("DSP-24", "3")])))
        .await
        .unwrap_err();
    assert_eq!(field_violations(&e)[0].0, "base_version", "{e:?}");
    let e = client
        .list_quotes(ListQuotesRequest {
            page_token: "nonsense".into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    let fields: Vec<String> = field_violations(&e).into_iter().map(|v| v.0).collect();
    assert_eq!(fields, ["page_size", "page_token"]);
    // Nothing was stored by any of them.
    let all = client
        .list_quotes(ListQuotesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(all.quotes.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_diff_names_each_line_and_figure_that_moved_between_versions() {
    let server = TestServer::start().await;
    let mut client = client(&server).await;
    let mut first = quote("acme", vec![line("DSP-24", "10"), line("LT-14-PRO", "3")]);
    first.lines[0].line_id = "displays".into();
    first.lines[1].line_id = "laptops".into();
    client.save_quote(save(0, 0, first.clone())).await.unwrap();
    let mut second = first.clone();
    second.lines[0].quantity = "12".into();
    second.lines.remove(1);
    client.save_quote(save(1, 1, second)).await.unwrap();
    let diff = client
        .diff_quote_versions(DiffQuoteVersionsRequest {
            quote_number: 1,
            from_version: 1,
            to_version: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((diff.from_version, diff.to_version), (1, 2));
    let kinds: Vec<(String, i32)> = diff
        .lines
        .iter()
        .map(|l| (l.line_id.clone(), l.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("displays".to_owned(), LineChangeKind::Changed as i32),
            ("laptops".to_owned(), LineChangeKind::Removed as i32),
        ]
    );
    let quantity = diff.lines[0]
        .figures
        .iter()
        .find(|f| f.figure == "quantity")
        .unwrap();
    assert_eq!(
        (quantity.before.as_str(), quantity.after.as_str()),
        ("10", "12")
    );
    let net = diff.totals.iter().find(|f| f.figure == "net").unwrap();
    assert_eq!(
        (net.before.as_str(), net.after.as_str()),
        ("5337.00", "2268.00")
    );
    let e = client
        .diff_quote_versions(DiffQuoteVersionsRequest {
            quote_number: 1,
            from_version: 5,
            to_version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_metrics_count_the_stores_group_commits_and_their_writes() {
    let kept = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = kept.clone();
    let server = TestServer::start_with_state(
        |_| {},
        move |state| {
            *keep.lock().unwrap() = Some(state.clone());
            state
        },
    )
    .await;
    let state = kept.lock().unwrap().clone().unwrap();
    let page = |state: &quotecast_server::AppState| {
        String::from_utf8(state.metrics.render(state)).unwrap()
    };
    // Before any call opens the store: nothing written.
    assert!(page(&state).contains("quotecast_store_writes_total 0"));
    let mut client = client(&server).await;
    let saves: Vec<_> = (0..8)
        .map(|k| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let quantity = format!("{}", k + 1);
                client
                    .save_quote(save(0, 0, quote("acme", vec![line("DSP-24", &quantity)])))
                    .await
            })
        })
        .collect();
    for saved in saves {
        saved.await.unwrap().unwrap();
    }
    // A stale revision is a write its commit refuses alone.
    let stale = client
        .save_quote(save(1, 7, quote("acme", vec![line("DSP-24", "3")])))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let page = page(&state);
    for expected in [
        "quotecast_store_writes_total 9",
        "quotecast_store_failed_commits_total 0",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    let value = |name: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap()
    };
    let commits = value("quotecast_store_commits_total ");
    assert!((1.0..=9.0).contains(&commits), "{page}");
    assert!(
        value("quotecast_store_commit_seconds_total ") > 0.0,
        "{page}"
    );
}
