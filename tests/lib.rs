//! Shared helpers of the end-to-end tests: the example rules, quote
//! builders and a server on an ephemeral loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, str::FromStr, sync::Arc};

use chrono::NaiveDate;
use quotecast_model::RuleSet;
use quotecast_pricing::{Configurators, LineRequest, ManualDiscount, OptionChoice, QuoteRequest};
use quotecast_server::AppState;
use rust_decimal::Decimal;
use tokio::sync::oneshot;

pub mod generated_config;

/// The repository's `rules/` directory.
pub fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// The example rules, loaded and validated.
pub fn example_rules() -> RuleSet {
    quotecast_rules::load_dir(&rules_dir())
        .expect("example rules load")
        .0
}

/// The example rules' configuration models, compiled once per test binary.
pub fn example_configurators() -> &'static Configurators {
    static MODELS: std::sync::OnceLock<Configurators> = std::sync::OnceLock::new();
    MODELS.get_or_init(|| {
        let (models, failed) = quotecast_configurator::compile_all(&example_rules());
        assert!(failed.is_empty(), "{failed:?}");
        models
    })
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

/// A quote with no customer, no lines and no discounts.
pub fn quote(currency: &str, on: &str) -> QuoteRequest {
    QuoteRequest {
        currency: currency.into(),
        price_date: date(on),
        account: None,
        segment: None,
        region: None,
        lines: Vec::new(),
        header_discount: None,
    }
}

pub trait QuoteBuilder {
    fn account(self, id: &str) -> Self;
    fn segment(self, id: &str, region: &str) -> Self;
    fn line(self, sku: &str, quantity: &str) -> Self;
    fn line_discount(self, discount: ManualDiscount) -> Self;
    fn header(self, discount: ManualDiscount) -> Self;
    /// Configures the last line added with these options per unit.
    fn configured(self, options: &[(&str, u32)]) -> Self;
}

impl QuoteBuilder for QuoteRequest {
    fn account(mut self, id: &str) -> Self {
        self.account = Some(id.into());
        self
    }
    fn segment(mut self, id: &str, region: &str) -> Self {
        self.segment = Some(id.into());
        self.region = Some(region.into());
        self
    }
    fn line(mut self, sku: &str, quantity: &str) -> Self {
        let line_id = (self.lines.len() + 1).to_string();
        self.lines.push(LineRequest {
            line_id,
            sku: sku.into(),
            quantity: dec(quantity),
            discount: None,
            configuration: None,
            part_of: None,
        });
        self
    }
    fn configured(mut self, options: &[(&str, u32)]) -> Self {
        self.lines.last_mut().unwrap().configuration = Some(
            options
                .iter()
                .map(|(sku, quantity)| OptionChoice {
                    sku: (*sku).into(),
                    quantity: *quantity,
                })
                .collect(),
        );
        self
    }
    /// Sets the discount of the last line added.
    fn line_discount(mut self, discount: ManualDiscount) -> Self {
        self.lines.last_mut().unwrap().discount = Some(discount);
        self
    }
    fn header(mut self, discount: ManualDiscount) -> Self {
        self.header_discount = Some(discount);
        self
    }
}

pub fn percent(p: &str) -> ManualDiscount {
    ManualDiscount::Percent(dec(p))
}

pub fn amount(currency: &str, a: &str) -> ManualDiscount {
    ManualDiscount::Amount {
        currency: currency.into(),
        amount: dec(a),
    }
}

/// A quote line as the wire has it: `quantity` of `sku`, no discount.
pub fn pb_line(sku: &str, quantity: &str) -> quotecast_server::pb::QuoteLineInput {
    quotecast_server::pb::QuoteLineInput {
        line_id: String::new(),
        sku: sku.into(),
        quantity: quantity.into(),
        discount: None,
        configuration: Vec::new(),
    }
}

/// The names of the entries of `dir` (none when it does not exist).
pub fn files_in(dir: &std::path::Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect()
}

/// The `BadRequest` field violations of a refused call, as (field, why).
pub fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// A running server on 127.0.0.1 with an ephemeral port; stops when
/// dropped.
pub struct TestServer {
    pub url: String,
    /// The server's data directory, removed when the server is dropped.
    pub data: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Serves the example rules; "today" is fixed at 2026-05-12 so tests
    /// that leave the date empty are reproducible.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with `prepare` run on the empty data
    /// directory first (to store pipelines there).
    pub async fn start_with(prepare: impl FnOnce(&std::path::Path)) -> Self {
        Self::start_with_state(prepare, |s| s).await
    }

    /// Like [`TestServer::start_with`], with the state changed by `adjust`
    /// (fewer job permits, say).
    pub async fn start_with_state(
        prepare: impl FnOnce(&std::path::Path),
        adjust: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let data = tempfile::tempdir().unwrap();
        prepare(data.path());
        Self::start_in(data, adjust).await
    }

    /// Like [`TestServer::start_with_state`], on a data directory a
    /// stopped server left (see [`TestServer::stop_keeping_data`]).
    pub async fn start_in(
        data: tempfile::TempDir,
        adjust: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let state = adjust(AppState {
            today: || NaiveDate::from_ymd_opt(2026, 5, 12).unwrap(),
            ..AppState::new(Arc::new(example_rules()), data.path())
        });
        let handle = tokio::spawn(async move {
            quotecast_server::serve(listener, state, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            url,
            data,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// Stops the server, waits until it has finished and hands over its
    /// data directory, for a server started again on it.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().unwrap());
        self.stop().await;
        data
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A gRPC codec on raw bytes: sends an already encoded request as it is and
/// takes the response body's size, leaving it undecoded. For what the
/// generated clients cannot send, and for load without client-side decoding.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = prost::bytes::Bytes;
    type Decode = usize;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = prost::bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: prost::bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        prost::bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = usize;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<usize>, tonic::Status> {
        let size = prost::bytes::Buf::remaining(src);
        prost::bytes::Buf::advance(src, size);
        Ok(Some(size))
    }
}

/// One unary call of `path` with `body` as the encoded request; the size of
/// the response body.
pub async fn raw_call(
    channel: tonic::transport::Channel,
    path: &'static str,
    body: prost::bytes::Bytes,
) -> Result<usize, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    grpc.unary(
        tonic::Request::new(body),
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A streamed table: its columns and rows of text.
#[derive(Debug, Default)]
pub struct Table {
    pub columns: Vec<(String, i32, String)>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|(c, _, _)| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }

    pub fn sum(&self, name: &str) -> Decimal {
        let i = self.column(name);
        self.rows
            .iter()
            .map(|r| <Decimal as std::str::FromStr>::from_str(&r[i]).unwrap())
            .sum()
    }
}

/// Reassembles streamed headers and row batches into tables by name.
pub fn assemble(
    parts: Vec<(
        Option<quotecast_server::pb::TableHeader>,
        Option<quotecast_server::pb::RowBatch>,
    )>,
) -> std::collections::HashMap<String, Table> {
    let mut tables: std::collections::HashMap<String, Table> = std::collections::HashMap::new();
    let mut current = String::new();
    for (header, rows) in parts {
        if let Some(h) = header {
            current = h.name.clone();
            tables.insert(
                h.name,
                Table {
                    columns: h
                        .columns
                        .into_iter()
                        .map(|c| (c.name, c.kind, c.unit))
                        .collect(),
                    rows: vec![],
                },
            );
        }
        if let Some(batch) = rows {
            let table = tables.get_mut(&current).expect("rows after a header");
            table.rows.extend(batch.rows.into_iter().map(|r| r.values));
        }
    }
    tables
}

/// A streamed header or row batch.
pub type TablePart = (
    Option<quotecast_server::pb::TableHeader>,
    Option<quotecast_server::pb::RowBatch>,
);

/// Every message of `stream`, split into its part, as tables.
pub async fn tables_of<T>(
    mut stream: tonic::Streaming<T>,
    split: impl Fn(T) -> TablePart,
) -> std::collections::HashMap<String, Table> {
    let mut parts = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        parts.push(split(message));
    }
    assemble(parts)
}

/// Saves `quote` (valid to 2099), then submits, sends and accepts it, as
/// the development mode's admin: the saved version, whose quote is now a
/// won order.
pub async fn won_quote(
    channel: tonic::transport::Channel,
    quote: quotecast_server::pb::PriceQuoteRequest,
) -> quotecast_server::pb::StoredQuote {
    use quotecast_server::pb::{
        QuoteActionRequest, SaveQuoteRequest, quote_service_client::QuoteServiceClient,
    };
    let mut quotes = QuoteServiceClient::new(channel);
    let saved = quotes
        .save_quote(SaveQuoteRequest {
            quote: Some(quote),
            valid_until: "2099-12-31".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let act = |base| QuoteActionRequest {
        quote_number: saved.quote_number,
        base_version: base,
        comment: String::new(),
    };
    let approved = quotes.submit(act(1)).await.unwrap().into_inner();
    let sent = quotes.mark_sent(act(approved.version)).await.unwrap();
    quotes
        .mark_accepted(act(sent.into_inner().version))
        .await
        .unwrap();
    saved
}

/// One HTTP/1.1 exchange: status, headers and the whole body.
pub async fn http1(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, http::HeaderMap, hyper::body::Bytes) {
    let authority = server.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(
            request
                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                .unwrap(),
        )
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes(),
    )
}

/// One message in the 5-byte envelope gRPC, gRPC-Web and Connect share:
/// the flags, the big-endian length, the bytes.
pub fn envelope(flags: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// The envelopes of a whole body, each with its flags, in order; a body
/// must end on a whole envelope.
pub fn envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        out.push((body[0], body[5..5 + length].to_vec()));
        body = &body[5 + length..];
    }
    assert!(body.is_empty(), "a body ends on a whole envelope");
    out
}

/// The messages of a CSV upload of `file` to pipeline `pipeline`: the
/// header, then the bytes in one chunk.
pub fn csv_upload(
    pipeline: &str,
    file: quotecast_server::pb::PipelineFile,
    csv: &[u8],
) -> Vec<quotecast_server::pb::UploadPipelineRequest> {
    use quotecast_server::pb::{
        FileFormat, UploadHeader, UploadPipelineRequest, upload_pipeline_request::Part,
    };
    vec![
        UploadPipelineRequest {
            part: Some(Part::Header(UploadHeader {
                pipeline: pipeline.into(),
                file: file as i32,
                format: FileFormat::Csv as i32,
            })),
        },
        UploadPipelineRequest {
            part: Some(Part::Chunk(csv.to_vec())),
        },
    ]
}
