//! `QuoteService`'s stored quotes: SaveQuote prices a quote exactly as
//! PriceQuote does and stores the request and the whole priced result as a
//! new version; GetQuote and ListQuotes read them back. Reached through
//! the generated `QuoteServiceServer` for every method but PriceQuote and
//! SaveQuote, which [`crate::quote::QuoteApi`] answers itself (SaveQuote
//! through [`save`], as the generated method would).
use chrono::{Days, NaiveDate, Utc};
use prost::Message;
use quotecast_pricing::{QuoteRequest, price_quote};
use quotecast_store::{ListQuotes, QuoteContent, QuoteStatus, QuoteVersion, Store};
use tonic::{Request, Response, Status};

use crate::{
    AppState, ServerError,
    auth_layer::principal,
    convert::{PriceQuoteInput, QuoteResponse},
    error::FieldViolation,
    pb::{self, quote_service_server::QuoteService},
    quote_actions::{Action, act},
};

/// The tenant and name of development mode's caller (a server without an
/// auth file).
pub const TENANT: &str = "default";
pub const ANONYMOUS: &str = "anonymous";
/// How long a quote's offer holds when the save does not say.
pub const DEFAULT_VALIDITY_DAYS: u64 = 30;
/// Quotes per page of ListQuotes unless asked, and at most.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// The quote store, opened on first use (a server started with a
/// database opens it at start instead, to fail there).
#[derive(Clone)]
pub struct QuoteDb {
    url: String,
    store: std::sync::Arc<tokio::sync::OnceCell<Store>>,
}

impl QuoteDb {
    /// The database at `url`, opened when first used.
    pub fn new(url: String) -> Self {
        Self {
            url,
            store: Default::default(),
        }
    }

    /// An already opened store.
    pub fn opened(url: String, store: Store) -> Self {
        Self {
            url,
            store: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(store))),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The store, if a call has opened it yet.
    pub fn if_open(&self) -> Option<&Store> {
        self.store.get()
    }

    pub async fn store(&self) -> Result<&Store, ServerError> {
        Ok(self
            .store
            .get_or_try_init(|| Store::open(&self.url))
            .await?)
    }
}

pub(crate) struct StoredQuotesApi {
    state: AppState,
}

impl StoredQuotesApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The embedded quote's fields, named under `quote.` in errors.
fn under_quote(error: ServerError) -> ServerError {
    use quotecast_pricing::PricingError;
    let prefix = |field: String| format!("quote.{field}");
    match error {
        ServerError::InvalidArgument(violations) => ServerError::InvalidArgument(
            violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: prefix(v.field),
                    description: v.description,
                })
                .collect(),
        ),
        ServerError::Pricing(PricingError::InvalidRequest(mut rejections)) => {
            rejections
                .iter_mut()
                .for_each(|r| r.field = prefix(std::mem::take(&mut r.field)));
            ServerError::Pricing(PricingError::InvalidRequest(rejections))
        }
        ServerError::Pricing(PricingError::RuleViolation(mut rejections)) => {
            rejections
                .iter_mut()
                .for_each(|r| r.field = prefix(std::mem::take(&mut r.field)));
            ServerError::Pricing(PricingError::RuleViolation(rejections))
        }
        other => other,
    }
}

/// Prices `request` under the loaded rules: what a version stores.
fn priced_content(
    state: &AppState,
    mut request: pb::PriceQuoteRequest,
    valid_until: &str,
) -> Result<QuoteContent, ServerError> {
    request.view = pb::PriceQuoteView::Full as i32;
    // Kept as sent; the conversion then takes the request itself.
    let encoded = request.encode_to_vec();
    let domain = QuoteRequest::try_from(PriceQuoteInput {
        request,
        today: (state.today)(),
    })
    .map_err(under_quote)?;
    let priced = price_quote(&state.rules, &state.configurators, &domain)
        .map_err(|e| under_quote(ServerError::from(e)))?;
    let valid_until = match valid_until.trim() {
        "" => domain.price_date + Days::new(DEFAULT_VALIDITY_DAYS),
        text => {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                ServerError::invalid("valid_until", format!("`{text}` is not a date YYYY-MM-DD"))
            })?;
            if date < domain.price_date {
                return Err(ServerError::invalid(
                    "valid_until",
                    format!("{date} is before the pricing date {}", domain.price_date),
                ));
            }
            date
        }
    };
    Ok(QuoteContent {
        account: domain.account.clone().unwrap_or_default(),
        currency: priced.currency.to_string(),
        total: priced.totals.net.to_string(),
        valid_until,
        rules_fingerprint: state.rules.fingerprint().to_owned(),
        request: encoded,
        priced: QuoteResponse {
            quote: &priced,
            view: pb::PriceQuoteView::Full,
        }
        .to_bytes(),
    })
}

pub(crate) fn status_of(status: QuoteStatus) -> pb::QuoteStatus {
    match status {
        QuoteStatus::Draft => pb::QuoteStatus::Draft,
        QuoteStatus::PendingApproval => pb::QuoteStatus::PendingApproval,
        QuoteStatus::Approved => pb::QuoteStatus::Approved,
        QuoteStatus::Rejected => pb::QuoteStatus::Rejected,
        QuoteStatus::Sent => pb::QuoteStatus::Sent,
        QuoteStatus::Accepted => pb::QuoteStatus::Accepted,
        QuoteStatus::Lost => pb::QuoteStatus::Lost,
        QuoteStatus::Expired => pb::QuoteStatus::Expired,
    }
}

fn stored(state: &AppState, version: QuoteVersion) -> Result<pb::StoredQuote, ServerError> {
    stored_quote(state.rules.fingerprint(), version)
}

/// A stored version as the wire shows it; `loaded`: the fingerprint of
/// the rules loaded now.
pub fn stored_quote(loaded: &str, version: QuoteVersion) -> Result<pb::StoredQuote, ServerError> {
    let wire = StoredQuoteBytes::new(loaded, version);
    let unreadable = |what: &str, e: prost::DecodeError| {
        ServerError::Internal(format!(
            "quote {} version {}: its stored {what} is unreadable: {e}",
            wire.quote_number, wire.version
        ))
    };
    let quote = pb::PriceQuoteRequest::decode(wire.quote.as_slice())
        .map_err(|e| unreadable("request", e))?;
    let priced = pb::PriceQuoteResponse::decode(wire.priced.as_slice())
        .map_err(|e| unreadable("priced result", e))?;
    Ok(pb::StoredQuote {
        quote_number: wire.quote_number,
        version: wire.version,
        status: wire.status,
        account_id: wire.account_id,
        valid_until: wire.valid_until,
        rules_loaded: wire.rules_loaded,
        rules_fingerprint: wire.rules_fingerprint,
        saved_by: wire.saved_by,
        saved_at: wire.saved_at,
        quote: Some(quote),
        priced: Some(priced),
        action: wire.action,
        comment: wire.comment,
    })
}

/// A stored version as its `StoredQuote` bytes, with the request and the
/// priced result spliced in as stored: an embedded message and a bytes
/// field of the same number are written alike, so prost encodes this
/// struct into exactly the message [`stored_quote`] would build by
/// decoding them first. A save answers with it (the quote it just priced
/// need not be decoded and encoded again).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredQuoteBytes {
    #[prost(int64, tag = "1")]
    quote_number: i64,
    #[prost(int64, tag = "2")]
    version: i64,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    account_id: String,
    #[prost(string, tag = "5")]
    valid_until: String,
    #[prost(string, tag = "6")]
    rules_fingerprint: String,
    #[prost(bool, tag = "7")]
    rules_loaded: bool,
    #[prost(string, tag = "8")]
    saved_by: String,
    #[prost(string, tag = "9")]
    saved_at: String,
    #[prost(bytes = "vec", tag = "10")]
    quote: Vec<u8>,
    #[prost(bytes = "vec", tag = "11")]
    priced: Vec<u8>,
    #[prost(string, tag = "12")]
    action: String,
    #[prost(string, tag = "13")]
    comment: String,
}

impl StoredQuoteBytes {
    /// `version` as the wire shows it; `loaded`: the fingerprint of the
    /// rules loaded now.
    pub(crate) fn new(loaded: &str, version: QuoteVersion) -> Self {
        let fingerprint = version.content.rules_fingerprint;
        Self {
            quote_number: version.number,
            version: version.version,
            status: status_of(version.status) as i32,
            account_id: version.content.account,
            valid_until: version.content.valid_until.to_string(),
            rules_loaded: !fingerprint.is_empty() && fingerprint == loaded,
            rules_fingerprint: fingerprint,
            saved_by: version.saved_by,
            saved_at: version
                .saved_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            quote: version.content.request,
            priced: version.content.priced,
            action: version.action,
            comment: version.comment,
        }
    }
}

/// SaveQuote: checks `request`, prices it under the rules loaded now and
/// stores it as `caller`'s new quote or new version; the version stored,
/// with the fingerprint of the rules it was priced with.
pub(crate) async fn save(
    state: &AppState,
    caller: &crate::auth::Principal,
    request: pb::SaveQuoteRequest,
) -> Result<(String, QuoteVersion), ServerError> {
    let mut violations = Vec::new();
    if request.quote_number < 0 {
        violations.push((
            "quote_number",
            "must be 0 (a new quote) or a quote's number",
        ));
    }
    match (request.quote_number, request.base_version) {
        (0, 0) => {}
        (0, _) => violations.push(("base_version", "must be 0 for a new quote")),
        (_, v) if v < 1 => violations.push((
            "base_version",
            "is required: the version the change was made from",
        )),
        _ => {}
    }
    let Some(quote) = request.quote else {
        violations.push(("quote", "is required: the quote to price and store"));
        return Err(invalid(violations));
    };
    if !violations.is_empty() {
        return Err(invalid(violations));
    }
    // Priced and reported on one rule set, whatever a reload swaps in
    // meanwhile.
    let state = state.current();
    let content = priced_content(&state, quote, &request.valid_until)?;
    let store = state.quotes.store().await?;
    let now = Utc::now();
    let by = caller.actor();
    let saved = if request.quote_number == 0 {
        store.create(&caller.tenant, &by, content, now).await
    } else {
        store
            .revise(
                &caller.tenant,
                request.quote_number,
                request.base_version,
                &by,
                content,
                now,
            )
            .await
    }?;
    tracing::debug!(quote = saved.number, version = saved.version, "quote saved");
    Ok((state.rules.fingerprint().to_owned(), saved))
}

#[tonic::async_trait]
impl QuoteService for StoredQuotesApi {
    /// Not reached in the server ([`crate::quote::QuoteApi`] answers
    /// PriceQuote on its own path); the same figures, decoded.
    async fn price_quote(
        &self,
        request: Request<pb::PriceQuoteRequest>,
    ) -> Result<Response<pb::PriceQuoteResponse>, Status> {
        let content = priced_content(&self.state.current(), request.into_inner(), "")?;
        pb::PriceQuoteResponse::decode(content.priced.as_slice())
            .map(Response::new)
            .map_err(|e| Status::internal(e.to_string()))
    }

    async fn save_quote(
        &self,
        request: Request<pb::SaveQuoteRequest>,
    ) -> Result<Response<pb::StoredQuote>, Status> {
        let caller = principal(&request)?;
        let (loaded, saved) = save(&self.state, &caller, request.into_inner()).await?;
        Ok(Response::new(stored_quote(&loaded, saved)?))
    }

    async fn get_quote(
        &self,
        request: Request<pb::GetQuoteRequest>,
    ) -> Result<Response<pb::StoredQuote>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let mut violations = Vec::new();
        if request.quote_number < 1 {
            violations.push(("quote_number", "is required: a quote's number"));
        }
        if request.version < 0 {
            violations.push(("version", "must be 0 (the latest) or a version"));
        }
        if !violations.is_empty() {
            return Err(invalid(violations).into());
        }
        let version = (request.version > 0).then_some(request.version);
        Ok(Response::new(
            self.read(&caller.tenant, request.quote_number, version)
                .await?,
        ))
    }

    async fn diff_quote_versions(
        &self,
        request: Request<pb::DiffQuoteVersionsRequest>,
    ) -> Result<Response<pb::DiffQuoteVersionsResponse>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let mut violations = Vec::new();
        if request.quote_number < 1 {
            violations.push(("quote_number", "is required: a quote's number"));
        }
        if request.from_version < 1 {
            violations.push(("from_version", "is required: the version compared from"));
        }
        if request.to_version < 0 {
            violations.push(("to_version", "must be 0 (the latest) or a version"));
        }
        if !violations.is_empty() {
            return Err(invalid(violations).into());
        }
        let from = self
            .read(
                &caller.tenant,
                request.quote_number,
                Some(request.from_version),
            )
            .await?;
        let to = self
            .read(
                &caller.tenant,
                request.quote_number,
                (request.to_version > 0).then_some(request.to_version),
            )
            .await?;
        Ok(Response::new(crate::quote_diff::diff(&from, &to)))
    }

    async fn list_quotes(
        &self,
        request: Request<pb::ListQuotesRequest>,
    ) -> Result<Response<pb::ListQuotesResponse>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let mut violations = Vec::new();
        let (limit, after) = match page(request.page_size, &request.page_token) {
            Ok(page) => page,
            Err(wrong) => {
                violations.extend(wrong);
                (DEFAULT_PAGE, None)
            }
        };
        let status = match pb::QuoteStatus::try_from(request.status) {
            Ok(pb::QuoteStatus::Unspecified) => None,
            Ok(s) => QuoteStatus::ALL.into_iter().find(|x| status_of(*x) == s),
            Err(_) => {
                violations.push(("status", "is not a quote status"));
                None
            }
        };
        if !violations.is_empty() {
            return Err(invalid(violations).into());
        }
        let account = request.account_id.trim();
        let store = self.state.quotes.store().await?;
        let quotes = store
            .list(&ListQuotes {
                tenant: caller.tenant.clone(),
                account: (!account.is_empty()).then(|| account.to_owned()),
                status,
                after,
                newest_first: request.newest_first,
                limit,
            })
            .await
            .map_err(ServerError::from)?;
        let next_page_token = match quotes.last() {
            Some(last) if quotes.len() == limit as usize => last.number.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListQuotesResponse {
            quotes: quotes
                .into_iter()
                .map(|q| pb::QuoteSummary {
                    quote_number: q.number,
                    version: q.version,
                    status: status_of(q.status) as i32,
                    account_id: q.account,
                    currency_code: q.currency,
                    net_total: q.total,
                    valid_until: q.valid_until.to_string(),
                    updated_at: q
                        .updated_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn submit(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Submit, request).await
    }

    async fn recall(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Recall, request).await
    }

    async fn approve(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Approve, request).await
    }

    async fn reject(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Reject, request).await
    }

    async fn mark_sent(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Send, request).await
    }

    async fn mark_accepted(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Accept, request).await
    }

    async fn mark_lost(
        &self,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        self.act(Action::Lose, request).await
    }
}

impl StoredQuotesApi {
    async fn act(
        &self,
        action: Action,
        request: Request<pb::QuoteActionRequest>,
    ) -> Result<Response<pb::QuoteActionResponse>, Status> {
        let caller = principal(&request)?;
        Ok(Response::new(
            act(&self.state.current(), &caller, action, request.into_inner()).await?,
        ))
    }

    /// Version `version` of quote `number` as the wire shows it (`None`:
    /// the latest).
    async fn read(
        &self,
        tenant: &str,
        number: i64,
        version: Option<i64>,
    ) -> Result<pb::StoredQuote, ServerError> {
        let store = self.state.quotes.store().await?;
        let found = store.get(tenant, number, version).await?;
        stored(&self.state.current(), found)
    }
}

/// A request's fields that are wrong, and why.
pub(crate) type Wrong = Vec<(&'static str, &'static str)>;

/// A list's page size (0: [`DEFAULT_PAGE`]) and where it starts: after
/// the number in a `page_token` the list gave; else each field that is
/// wrong and why.
pub(crate) fn page(page_size: i32, page_token: &str) -> Result<(u32, Option<i64>), Wrong> {
    let mut wrong = Vec::new();
    let limit = match u32::try_from(page_size) {
        Ok(0) => DEFAULT_PAGE,
        Ok(n) if n <= MAX_PAGE => n,
        _ => {
            wrong.push(("page_size", "must be 0 (50) to 500"));
            DEFAULT_PAGE
        }
    };
    let after = match page_token.trim() {
        "" => None,
        token => match token.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                wrong.push((
                    "page_token",
                    "is not a token the list gave: leave it empty for the first page",
                ));
                None
            }
        },
    };
    if wrong.is_empty() {
        Ok((limit, after))
    } else {
        Err(wrong)
    }
}

fn invalid(violations: Vec<(&str, &str)>) -> ServerError {
    ServerError::InvalidArgument(
        violations
            .into_iter()
            .map(|(field, description)| FieldViolation {
                field: field.to_owned(),
                description: description.to_owned(),
            })
            .collect(),
    )
}
