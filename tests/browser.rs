//! Every transport path: gRPC-Web over HTTP/1.1 (binary and base64 text),
//! CORS preflights from allowed and other origins, a request that is not
//! gRPC at all (HTTP 415), and TLS with and without client certificates.
#![allow(clippy::unwrap_used)]

use prost::Message;
use quotecast_server::pb::{
    ListProductsRequest, ListProductsResponse, PriceQuoteRequest, PriceQuoteResponse,
    quote_service_client::QuoteServiceClient,
};
use quotecast_tests::{TestServer, envelope, envelopes, http1, pb_line};

fn frame(message: &impl Message) -> Vec<u8> {
    envelope(0, &message.encode_to_vec())
}

/// A gRPC-Web body's frames: the messages, and the trailers as text.
fn frames(body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    for (flags, payload) in envelopes(body) {
        if flags & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(&payload));
        } else {
            messages.push(payload);
        }
    }
    (messages, trailers)
}

fn quote() -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-01".into(),
        lines: vec![pb_line("LT-14-PRO", "2")],
        ..Default::default()
    }
}

const WEB: &[(&str, &str)] = &[
    ("content-type", "application/grpc-web+proto"),
    ("x-grpc-web", "1"),
];

#[tokio::test]
async fn grpc_web_over_http1_prices_as_grpc_does() {
    let server = TestServer::start().await;
    let plain = QuoteServiceClient::new(server.channel().await)
        .price_quote(quote())
        .await
        .unwrap()
        .into_inner();
    // The hand-framed PriceQuote.
    let path = "/quotecast.v1.QuoteService/PriceQuote";
    let (status, headers, body) = http1(&server, "POST", path, WEB, frame(&quote())).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/grpc-web+proto");
    let (messages, trailers) = frames(&body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert_eq!(PriceQuoteResponse::decode(&messages[0][..]).unwrap(), plain);
    // A refusal comes as a status, with its field violations.
    let mut bad = quote();
    bad.lines[0].sku = "NOPE".into();
    let (status, headers, body) = http1(&server, "POST", path, WEB, frame(&bad)).await;
    assert_eq!(status, 200);
    let trailers = frames(&body).1;
    let status_of = headers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        status_of.as_deref() == Some("3") || trailers.contains("grpc-status:3"),
        "{headers:?} {trailers}"
    );
    // The text form (base64), as browsers without binary streams send it.
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(frame(&quote()));
    let (status, headers, body) = http1(
        &server,
        "POST",
        path,
        &[
            ("content-type", "application/grpc-web-text"),
            ("accept", "application/grpc-web-text"),
            ("x-grpc-web", "1"),
        ],
        text.into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/grpc-web-text+proto");
    // Each frame is encoded on its own (padded): decode quantum by
    // quantum.
    let decoded: Vec<u8> = body
        .chunks(4)
        .flat_map(|quantum| {
            base64::engine::general_purpose::STANDARD
                .decode(quantum)
                .unwrap()
        })
        .collect();
    let (messages, trailers) = frames(&decoded);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    assert_eq!(PriceQuoteResponse::decode(&messages[0][..]).unwrap(), plain);
    // A generated service.
    let (status, _, body) = http1(
        &server,
        "POST",
        "/quotecast.v1.CatalogService/ListProducts",
        WEB,
        frame(&ListProductsRequest::default()),
    )
    .await;
    assert_eq!(status, 200);
    let (messages, _) = frames(&body);
    assert!(
        !ListProductsResponse::decode(&messages[0][..])
            .unwrap()
            .products
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_that_is_not_grpc_is_http_415() {
    let server = TestServer::start().await;
    let (status, _, body) = http1(
        &server,
        "POST",
        "/quotecast.v1.QuoteService/PriceQuote",
        &[("content-type", "text/plain")],
        br#"{"currencyCode":"USD"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    assert!(
        String::from_utf8_lossy(&body).contains("text/plain is not taken"),
        "{body:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let server = TestServer::start_with_state(
        |_| {},
        |state| quotecast_server::AppState {
            cors_origins: vec!["https://crm.example.com".into()],
            ..state
        },
    )
    .await;
    let preflight = |origin: &'static str| {
        [
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,x-api-key",
            ),
        ]
    };
    let path = "/quotecast.v1.QuoteService/PriceQuote";
    let (status, headers, _) = http1(
        &server,
        "OPTIONS",
        path,
        &preflight("https://crm.example.com"),
        Vec::new(),
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://crm.example.com"
    );
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("x-api-key"), "{allowed}");
    let (_, headers, _) = http1(
        &server,
        "OPTIONS",
        path,
        &preflight("https://evil.example"),
        Vec::new(),
    )
    .await;
    assert!(headers.get("access-control-allow-origin").is_none());
    // The call itself exposes the status headers to the page.
    let mut call = WEB.to_vec();
    call.push(("origin", "https://crm.example.com"));
    let (status, headers, _) = http1(&server, "POST", path, &call, frame(&quote())).await;
    assert_eq!(status, 200);
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("grpc-status"), "{exposed}");
    server.stop().await;
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tls")
        .join(name)
}

/// A server over TLS with `client_ca` required of clients when given.
async fn tls_server(
    client_ca: Option<&str>,
) -> (TestServer, std::sync::Arc<quotecast_server::tls::Tls>) {
    let tls = std::sync::Arc::new(
        quotecast_server::tls::Tls::load(quotecast_server::tls::TlsFiles {
            cert: fixture("server.pem"),
            key: fixture("server.key"),
            client_ca: client_ca.map(fixture),
        })
        .unwrap(),
    );
    let given = tls.clone();
    let server = TestServer::start_with_state(
        |_| {},
        move |state| quotecast_server::AppState {
            tls: Some(given),
            ..state
        },
    )
    .await;
    (server, tls)
}

/// A TLS channel to `server` trusting the test CA, with `identity` as the
/// client certificate when given.
async fn tls_channel(
    server: &TestServer,
    identity: Option<&str>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let read = |name: &str| std::fs::read(fixture(name)).unwrap();
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .domain_name("localhost");
    if let Some(who) = identity {
        config = config.identity(Identity::from_pem(
            read(&format!("{who}.pem")),
            read(&format!("{who}.key")),
        ));
    }
    let url = server.url.replace("http://", "https://");
    Endpoint::from_shared(url)
        .unwrap()
        .tls_config(config)?
        .connect()
        .await
}

#[tokio::test]
async fn over_tls_quotes_price_and_clear_text_is_not_served() {
    let (server, tls) = tls_server(None).await;
    let channel = tls_channel(&server, None).await.unwrap();
    let priced = QuoteServiceClient::new(channel.clone())
        .price_quote(quote())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(priced.totals.unwrap().list, "2598.00");
    // Clear text gets no answer.
    let clear = tonic::transport::Endpoint::from_shared(server.url.clone())
        .unwrap()
        .connect()
        .await;
    let refused = match clear {
        Ok(channel) => QuoteServiceClient::new(channel)
            .price_quote(quote())
            .await
            .is_err(),
        Err(_) => true,
    };
    assert!(refused);
    // A reload that cannot read its files keeps the certificates in
    // service; one that can swaps them.
    let broken = quotecast_server::tls::Tls::load(quotecast_server::tls::TlsFiles {
        cert: fixture("server.pem"),
        key: fixture("other.key"),
        client_ca: None,
    });
    assert!(broken.is_err(), "a certificate with another key is refused");
    tls.reload().unwrap();
    let again = tls_channel(&server, None).await.unwrap();
    assert!(
        QuoteServiceClient::new(again)
            .price_quote(quote())
            .await
            .is_ok()
    );
    server.stop().await;
}

#[tokio::test]
async fn with_a_client_ca_only_its_certificates_get_in() {
    let (server, _tls) = tls_server(Some("ca.pem")).await;
    let call = |channel: Result<tonic::transport::Channel, tonic::transport::Error>| async move {
        match channel {
            Ok(channel) => QuoteServiceClient::new(channel)
                .price_quote(quote())
                .await
                .is_ok(),
            Err(_) => false,
        }
    };
    assert!(call(tls_channel(&server, Some("client")).await).await);
    assert!(!call(tls_channel(&server, None).await).await);
    assert!(!call(tls_channel(&server, Some("other")).await).await);
    server.stop().await;
}
