//! The Connect protocol end to end, as a browser's `fetch` or `curl` calls
//! it over HTTP/1.1: unary JSON and protobuf (gzip too) pricing exactly as
//! gRPC does, Connect errors with their HTTP status and field violations,
//! a client stream uploading a pipeline and a server stream forecasting
//! it (JSON and protobuf envelopes), answers compressed as the caller
//! accepts, GET for the methods without side effects, refusals by
//! content type, and the
//! callers' credentials carried as on every other path.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use base64::Engine;
use prost::Message;
use quotecast_server::{
    AppState,
    auth::key_hash,
    pb::{
        ForecastRequest, ForecastResponse, PriceQuoteRequest, PriceQuoteResponse,
        forecast_response, forecast_service_client::ForecastServiceClient,
        quote_service_client::QuoteServiceClient,
    },
    reload::LiveAuth,
};
use quotecast_tests::{TestServer, envelope, envelopes, http1, pb_line};
use serde_json::{Value, json};

const PRICE: &str = "/quotecast.v1.QuoteService/PriceQuote";
const UPLOAD: &str = "/quotecast.v1.ForecastService/UploadPipeline";
const FORECAST: &str = "/quotecast.v1.ForecastService/Forecast";
const JSON: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("connect-protocol-version", "1"),
];
const STREAM_JSON: &[(&str, &str)] = &[("content-type", "application/connect+json")];

fn quote() -> PriceQuoteRequest {
    PriceQuoteRequest {
        currency_code: "USD".into(),
        price_date: "2026-03-01".into(),
        lines: vec![pb_line("LT-14-PRO", "2"), pb_line("SVC-WTY-3Y-LT", "2")],
        ..Default::default()
    }
}

fn quote_json(sku: &str) -> Vec<u8> {
    json!({
        "currencyCode": "USD",
        "priceDate": "2026-03-01",
        "lines": [
            {"sku": sku, "quantity": "2"},
            {"sku": "SVC-WTY-3Y-LT", "quantity": "2"},
        ],
    })
    .to_string()
    .into_bytes()
}

/// A Connect stream's messages and its end-of-stream JSON.
fn stream_parts(body: &[u8]) -> (Vec<Vec<u8>>, Value) {
    let (mut messages, mut end) = (Vec::new(), Value::Null);
    for (flags, payload) in envelopes(body) {
        if flags & 0x02 != 0 {
            end = serde_json::from_slice(&payload).unwrap();
        } else {
            messages.push(payload);
        }
    }
    (messages, end)
}

#[tokio::test]
async fn connect_json_and_protobuf_price_a_quote_exactly_as_grpc_does() {
    let server = TestServer::start().await;
    let plain = QuoteServiceClient::new(server.channel().await)
        .price_quote(quote())
        .await
        .unwrap()
        .into_inner();
    let totals = plain.totals.clone().unwrap();

    let (status, headers, body) =
        http1(&server, "POST", PRICE, JSON, quote_json("LT-14-PRO")).await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.contains_key("x-request-id"));
    let priced: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(priced["totals"]["net"], totals.net.as_str());
    assert_eq!(
        priced["totals"]["marginPercent"],
        totals.margin_percent.as_str()
    );
    assert_eq!(priced["lines"].as_array().unwrap().len(), plain.lines.len());
    assert_eq!(priced["rulesVersion"], plain.rules_version.as_str());

    // Protobuf, and JSON compressed with gzip.
    let proto = [("content-type", "application/proto")];
    let (status, _, body) = http1(&server, "POST", PRICE, &proto, quote().encode_to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(PriceQuoteResponse::decode(&body[..]).unwrap(), plain);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &quote_json("LT-14-PRO")).unwrap();
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let (status, _, body) = http1(&server, "POST", PRICE, &headers, gzip.finish().unwrap()).await;
    assert_eq!(status, 200, "{body:?}");
    let priced: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(priced["totals"]["net"], totals.net.as_str());

    // The answer is compressed with what the caller accepts, as a
    // browser's fetch asks by itself, and not where gzip is refused.
    let (_, _, uncompressed) = http1(&server, "POST", PRICE, JSON, quote_json("LT-14-PRO")).await;
    let accepting = [JSON, &[("accept-encoding", "br, gzip, deflate")]].concat();
    let (status, headers, body) =
        http1(&server, "POST", PRICE, &accepting, quote_json("LT-14-PRO")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(body.len() * 2 < uncompressed.len(), "{} bytes", body.len());
    assert_eq!(gunzip(&body), uncompressed);
    let refusing = [JSON, &[("accept-encoding", "gzip;q=0, identity")]].concat();
    let (_, headers, body) =
        http1(&server, "POST", PRICE, &refusing, quote_json("LT-14-PRO")).await;
    assert!(!headers.contains_key("content-encoding"));
    assert_eq!(body, uncompressed);
    server.stop().await;
}

/// The command line's quote files are the API's JSON: the example file is
/// a Connect request as it stands, and prices as over gRPC.
#[tokio::test]
async fn the_command_lines_quote_file_is_a_connect_request_as_it_stands() {
    let server = TestServer::start().await;
    let file = std::fs::read_to_string(
        quotecast_tests::rules_dir().join("../examples/quotes/acme-server-refresh.json"),
    )
    .unwrap();
    let request: PriceQuoteRequest =
        quotecast_server::json::from_json("quotecast.v1.PriceQuoteRequest", &file).unwrap();
    let plain = QuoteServiceClient::new(server.channel().await)
        .price_quote(request)
        .await
        .unwrap()
        .into_inner();
    let (status, _, body) = http1(&server, "POST", PRICE, JSON, file.into_bytes()).await;
    assert_eq!(status, 200, "{body:?}");
    let priced: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(priced["totals"]["net"], plain.totals.unwrap().net.as_str());
    assert_eq!(priced["lines"].as_array().unwrap().len(), 10);
    server.stop().await;
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(data), &mut out).unwrap();
    out
}

#[tokio::test]
async fn connect_get_calls_the_methods_without_side_effects_and_only_those() {
    let server = TestServer::start().await;
    let plain = QuoteServiceClient::new(server.channel().await)
        .price_quote(quote())
        .await
        .unwrap()
        .into_inner();
    let get = |path: String| {
        let server = &server;
        async move { http1(server, "GET", &path, &[], Vec::new()).await }
    };
    // Percent-encoded JSON in the query, as a link would carry it.
    let (status, headers, body) = get(
        "/quotecast.v1.CatalogService/GetProduct?connect=v1&encoding=json\
         &message=%7B%22sku%22%3A%22LT-14-PRO%22%7D"
            .into(),
    )
    .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(headers["content-type"], "application/json");
    let product: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(product["product"]["sku"], "LT-14-PRO", "{product}");

    // Protobuf in base64url; gzip-compressed JSON in base64url.
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let (status, _, body) = get(format!(
        "{PRICE}?encoding=proto&base64=1&message={}",
        b64(&quote().encode_to_vec())
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(PriceQuoteResponse::decode(&body[..]).unwrap(), plain);
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gzip, &quote_json("LT-14-PRO")).unwrap();
    let (status, _, body) = get(format!(
        "{PRICE}?encoding=json&compression=gzip&base64=1&message={}",
        b64(&gzip.finish().unwrap())
    ))
    .await;
    assert_eq!(status, 200, "{body:?}");
    let priced: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(priced["totals"]["net"], plain.totals.unwrap().net.as_str());

    // A method with side effects is POST only; an unknown encoding is 415;
    // a bad message is Connect's invalid_argument.
    let (status, headers, _) =
        get("/quotecast.v1.QuoteService/Submit?encoding=json&message=%7B%7D".into()).await;
    assert_eq!(status, 405);
    assert_eq!(headers["allow"], "POST");
    let (status, _, _) = get(format!("{PRICE}?encoding=xml&message=%3Cq%2F%3E")).await;
    assert_eq!(status, 415);
    let (status, _, body) = get(format!(
        "{PRICE}?encoding=json&message=%7B%22nope%22%3A1%7D"
    ))
    .await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "invalid_argument");
    assert!(
        error["message"].as_str().unwrap().contains("nope"),
        "{error}"
    );
    server.stop().await;
}

#[tokio::test]
async fn connect_errors_carry_their_code_http_status_and_field_violations() {
    let server = TestServer::start().await;
    let call = |body: Vec<u8>| http1(&server, "POST", PRICE, JSON, body);

    // The engine's refusal: 400 with the BadRequest as bytes and as JSON.
    let (status, headers, body) = call(quote_json("NOPE")).await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/json");
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "invalid_argument");
    let details = error["details"].as_array().unwrap();
    let detail = details
        .iter()
        .find(|d| d["type"] == "google.rpc.BadRequest")
        .unwrap_or_else(|| panic!("no BadRequest in {error}"));
    assert!(!detail["value"].as_str().unwrap().is_empty());
    let violation = &detail["debug"]["fieldViolations"][0];
    assert!(
        violation["field"].as_str().unwrap().contains("lines[0]"),
        "{error}"
    );
    assert!(
        violation["description"].as_str().unwrap().contains("NOPE"),
        "{error}"
    );

    // JSON that is not the message: named by field, line and column.
    let (status, _, body) = call(br#"{"currencyCode": "USD", "colour": "red"}"#.to_vec()).await;
    assert_eq!(status, 400);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "invalid_argument");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("colour") && message.contains("column"),
        "{message}"
    );
    let (status, _, body) = call(br#"{"lines": 5"#.to_vec()).await;
    assert_eq!(status, 400, "{body:?}");

    // No such method; a unary content type on a streaming method; a body
    // no encoding this server knows.
    let (status, _, body) = http1(
        &server,
        "POST",
        "/quotecast.v1.QuoteService/Nope",
        JSON,
        b"{}".to_vec(),
    )
    .await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (501, Some("unimplemented"))
    );
    let (status, _, body) = http1(&server, "POST", FORECAST, JSON, b"{}".to_vec()).await;
    assert_eq!(status, 415);
    assert!(String::from_utf8_lossy(&body).contains("application/connect+json"));
    let brotli = [
        ("content-type", "application/json"),
        ("content-encoding", "br"),
    ];
    let (status, _, body) = http1(&server, "POST", PRICE, &brotli, b"{}".to_vec()).await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (501, Some("unimplemented"))
    );
    assert!(error["message"].as_str().unwrap().contains("gzip"));
    let gzip = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let (status, _, body) = http1(&server, "POST", PRICE, &gzip, b"not gzip".to_vec()).await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("invalid_argument"))
    );
    server.stop().await;
}

#[tokio::test]
async fn connect_streams_upload_a_pipeline_and_stream_its_forecast() {
    let server = TestServer::start().await;
    let mut csv = String::from(
        "opportunity_id,owner,team,region,stage,created,stage_entered,expected_close,currency,sku,product_line,quantity,amount\n",
    );
    for i in 0..40 {
        let stage = ["qualify", "propose", "negotiate"][i % 3];
        csv += &format!(
            "O-{i:03},ann,na-east,na,{stage},2026-03-01,2026-03-01,2026-06-{:02},USD,SRV-1U,servers,2,8000.00\n",
            1 + i % 28
        );
    }
    let chunks: Vec<&[u8]> = csv.as_bytes().chunks(700).collect();
    let mut upload = envelope(
        0,
        json!({"header": {"pipeline": "web", "file": "PIPELINE_FILE_SNAPSHOT", "format": "FILE_FORMAT_CSV"}})
            .to_string()
            .as_bytes(),
    );
    for chunk in &chunks {
        let chunk = base64::engine::general_purpose::STANDARD.encode(chunk);
        upload.extend(envelope(
            0,
            json!({ "chunk": chunk }).to_string().as_bytes(),
        ));
    }
    let (status, headers, body) = http1(&server, "POST", UPLOAD, STREAM_JSON, upload).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/connect+json");
    let (messages, end) = stream_parts(&body);
    assert_eq!(
        end,
        json!({}),
        "a stream that went well ends without an error"
    );
    let stored: Value = serde_json::from_slice(&messages[0]).unwrap();
    assert_eq!(stored["pipeline"], "web");
    assert_eq!(stored["rows"], "40", "64-bit integers are JSON strings");
    assert_eq!(stored["bytes"], csv.len().to_string());

    // The forecast streamed over Connect is the one gRPC streams.
    let request = ForecastRequest {
        pipeline: "web".into(),
        as_of: "2026-05-12".into(),
        ..Default::default()
    };
    let mut grpc = ForecastServiceClient::new(server.channel().await)
        .forecast(request.clone())
        .await
        .unwrap()
        .into_inner();
    let mut expected = Vec::new();
    while let Some(message) = grpc.message().await.unwrap() {
        expected.push(message);
    }
    let summary_of = |m: &ForecastResponse| match &m.part {
        Some(forecast_response::Part::Summary(s)) => s.clone(),
        other => panic!("the first message is the summary, not {other:?}"),
    };
    let body = envelope(
        0,
        json!({"pipeline": "web", "asOf": "2026-05-12"})
            .to_string()
            .as_bytes(),
    );
    let (status, _, body) = http1(&server, "POST", FORECAST, STREAM_JSON, body).await;
    assert_eq!(status, 200);
    let (messages, end) = stream_parts(&body);
    assert_eq!(end, json!({}));
    assert_eq!(messages.len(), expected.len());
    let summary: Value = serde_json::from_slice(&messages[0]).unwrap();
    let want = summary_of(&expected[0]);
    assert_eq!(
        summary["summary"]["openOpportunities"],
        want.open_opportunities.to_string()
    );
    assert_eq!(summary["summary"]["asOf"], "2026-05-12");
    // A stream compressed per message, as the caller accepts: after the
    // deals' stage time limits, the overdue table's rows are worth
    // compressing.
    let late = envelope(
        0,
        json!({"pipeline": "web", "asOf": "2026-07-15"})
            .to_string()
            .as_bytes(),
    );
    let (_, _, plain) = http1(&server, "POST", FORECAST, STREAM_JSON, late.clone()).await;
    let accepting = [
        ("content-type", "application/connect+json"),
        ("connect-accept-encoding", "gzip"),
    ];
    let (status, headers, compressed) = http1(&server, "POST", FORECAST, &accepting, late).await;
    assert_eq!(status, 200);
    assert_eq!(headers["connect-content-encoding"], "gzip");
    // Messages of 1 KiB and more are compressed, smaller ones are not.
    let mut packed = 0;
    let unpacked: Vec<Value> = envelopes(&compressed)
        .into_iter()
        .filter(|(flags, _)| flags & 0x02 == 0)
        .map(|(flags, m)| {
            let m = if flags & 0x01 != 0 {
                packed += 1;
                let m = gunzip(&m);
                assert!(m.len() >= 1024, "{} bytes compressed", m.len());
                m
            } else {
                assert!(m.len() < 1024, "{} bytes not compressed", m.len());
                m
            };
            serde_json::from_slice(&m).unwrap()
        })
        .collect();
    assert!(packed > 0, "the overdue rows are compressed");
    let (plain, _) = stream_parts(&plain);
    let plain: Vec<Value> = plain
        .iter()
        .map(|m| serde_json::from_slice(m).unwrap())
        .collect();
    assert_eq!(unpacked, plain);
    let proto = [("content-type", "application/connect+proto")];
    let (status, _, body) = http1(
        &server,
        "POST",
        FORECAST,
        &proto,
        envelope(0, &request.encode_to_vec()),
    )
    .await;
    assert_eq!(status, 200);
    let (messages, _) = stream_parts(&body);
    let decoded: Vec<ForecastResponse> = messages
        .iter()
        .map(|m| ForecastResponse::decode(&m[..]).unwrap())
        .collect();
    assert_eq!(decoded.len(), expected.len());
    assert_eq!(summary_of(&decoded[0]), want);

    // A stream's error comes in its end-of-stream message, after HTTP 200.
    let body = envelope(0, json!({"pipeline": "nowhere"}).to_string().as_bytes());
    let (status, _, body) = http1(&server, "POST", FORECAST, STREAM_JSON, body).await;
    assert_eq!(status, 200);
    let (messages, end) = stream_parts(&body);
    assert!(messages.is_empty());
    assert_eq!(end["error"]["code"], "not_found", "{end}");
    server.stop().await;
}

#[tokio::test]
async fn connect_calls_carry_the_callers_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        format!(
            "[[principal]]\nname = \"web@acme.example\"\ntenant = \"acme\"\nrole = \"rep\"\n\
             api_key_blake3 = [\"{}\"]\n",
            key_hash("qc_web_console_key")
        ),
    )
    .unwrap();
    let server = TestServer::start_with_state(
        |_| {},
        |s| AppState {
            auth: Arc::new(LiveAuth::from_file(&path, &s.rules).unwrap()),
            ..s
        },
    )
    .await;
    let (status, _, body) = http1(&server, "POST", PRICE, JSON, quote_json("LT-14-PRO")).await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let with_key = [
        ("content-type", "application/json"),
        ("x-api-key", "qc_web_console_key"),
    ];
    let (status, _, _) = http1(&server, "POST", PRICE, &with_key, quote_json("LT-14-PRO")).await;
    assert_eq!(status, 200);
    // A rep may not reload the rules: 403.
    let reload = "/quotecast.v1.ServerService/ReloadRules";
    let (status, _, body) = http1(&server, "POST", reload, &with_key, b"{}".to_vec()).await;
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, error["code"].as_str()),
        (403, Some("permission_denied"))
    );
    server.stop().await;
}
