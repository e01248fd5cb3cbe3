//! `OrderService`: won orders for ERP pulls.
use chrono::NaiveDate;
use prost::Message;
use quotecast_forecast::{WonOrder, WonOrderLine};
use quotecast_store::ListOrdersQuery;
use rust_decimal::Decimal;
use tonic::{Request, Response, Status};

use crate::{
    AppState, FieldViolation, ServerError,
    auth_layer::principal,
    pb::{self, order_service_server::OrderService},
    stored_quotes::{DEFAULT_PAGE, page},
};

pub(crate) struct OrdersApi {
    state: AppState,
}

impl OrdersApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl OrderService for OrdersApi {
    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = principal(&request)?;
        let request = request.into_inner();
        let mut violations = Vec::new();
        let mut date = |field: &str, text: &str| match text.trim() {
            "" => None,
            t => match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    violations.push(FieldViolation {
                        field: field.to_owned(),
                        description: format!("`{t}` is not a date YYYY-MM-DD"),
                    });
                    None
                }
            },
        };
        let from = date("accepted_from", &request.accepted_from);
        let to = date("accepted_to", &request.accepted_to);
        let (limit, after) =
            match page(request.page_size, &request.page_token) {
                Ok(page) => page,
                Err(wrong) => {
                    violations.extend(wrong.into_iter().map(|(field, description)| {
                        FieldViolation {
                            field: field.into(),
                            description: description.into(),
                        }
                    }));
                    (DEFAULT_PAGE, None)
                }
            };
        if !violations.is_empty() {
            return Err(ServerError::InvalidArgument(violations).into());
        }
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let store = self.state.quotes.store().await?;
        let orders = store
            .list_orders(&ListOrdersQuery {
                tenant: caller.tenant.clone(),
                from,
                to,
                account: text(&request.account_id),
                product_line: text(&request.product_line),
                after,
                limit,
            })
            .await
            .map_err(ServerError::from)?;
        let next_page_token = match orders.last() {
            Some(last) if orders.len() == limit as usize => last.number.to_string(),
            _ => String::new(),
        };
        let unreadable = |n: i64, e: prost::DecodeError| {
            ServerError::Internal(format!("order {n}: its stored quote is unreadable: {e}"))
        };
        let orders = orders
            .into_iter()
            .map(|o| {
                Ok(pb::Order {
                    order_number: o.number,
                    quote_version: o.quote_version,
                    account_id: o.account,
                    accepted_on: o.accepted_on.to_string(),
                    accepted_by: o.accepted_by,
                    quote_owner: o.owner,
                    currency_code: o.currency,
                    net_total: o.total,
                    rules_fingerprint: o.rules_fingerprint,
                    quote: Some(
                        pb::PriceQuoteRequest::decode(o.request.as_slice())
                            .map_err(|e| unreadable(o.number, e))?,
                    ),
                    priced: Some(
                        pb::PriceQuoteResponse::decode(o.priced.as_slice())
                            .map_err(|e| unreadable(o.number, e))?,
                    ),
                })
            })
            .collect::<Result<Vec<_>, ServerError>>()?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders,
            next_page_token,
        }))
    }
}

/// The won orders of `tenant` accepted from `from` (when given) to `to`,
/// with their lines, read from the quote store.
pub(crate) async fn won_orders(
    state: &AppState,
    tenant: &str,
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> Result<Vec<WonOrder>, ServerError> {
    let store = state.quotes.store().await?;
    let mut orders = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_orders(&quotecast_store::ListOrdersQuery {
                tenant: tenant.to_owned(),
                from,
                to: Some(to),
                after,
                limit: 500,
                ..Default::default()
            })
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.number);
        for order in &page {
            let lines = store
                .order_lines(tenant, order.number)
                .await?
                .into_iter()
                .map(|l| {
                    let number = |text: &str| {
                        text.parse::<Decimal>().map_err(|_| {
                            ServerError::Internal(format!(
                                "order {}: `{text}` is not a number",
                                order.number
                            ))
                        })
                    };
                    Ok(WonOrderLine {
                        quantity: number(&l.quantity)?,
                        net: number(&l.net)?,
                        sku: l.sku,
                        product_line: l.product_line,
                    })
                })
                .collect::<Result<Vec<_>, ServerError>>()?;
            orders.push(WonOrder {
                number: order.number,
                account: order.account.clone(),
                owner: order.owner.clone(),
                currency: order.currency.clone(),
                accepted_on: order.accepted_on,
                lines,
            });
        }
        if page.len() < 500 {
            break;
        }
    }
    Ok(orders)
}
