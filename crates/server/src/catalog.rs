//! `CatalogService`: products and product lines, paged and filtered.
use crate::pb::{
    GetProductRequest, GetProductResponse, ListProductsRequest, ListProductsResponse,
    catalog_service_server::CatalogService,
};
use quotecast_model::ProductKind;
use tonic::{Request, Response, Status};

use crate::pb;

use crate::{
    AppState, ServerError,
    convert::{ProductOn, parse_date},
};

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;

pub(crate) struct CatalogApi {
    state: AppState,
}

impl CatalogApi {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn price_date(text: &str, today: chrono::NaiveDate) -> Result<chrono::NaiveDate, ServerError> {
    let mut violations = Vec::new();
    parse_date("price_date", text, today, &mut violations)
        .ok_or(ServerError::InvalidArgument(violations))
}

#[tonic::async_trait]
impl CatalogService for CatalogApi {
    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let r = request.into_inner();
        let live = self.state.live.current();
        let rules = &live.rules;
        let date = price_date(&r.price_date, (self.state.today)())?;
        let page_size = match r.page_size {
            n if n < 0 => {
                return Err(ServerError::invalid("page_size", "must not be negative").into());
            }
            0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        if !r.product_line.is_empty() && rules.product_line(&r.product_line).is_none() {
            let known: Vec<&str> = rules.product_lines().map(|l| l.id.as_str()).collect();
            return Err(ServerError::invalid(
                "product_line",
                format!(
                    "unknown product line `{}`; known: {}",
                    r.product_line,
                    known.join(", ")
                ),
            )
            .into());
        }
        let kind_filter = pb::ProductKind::try_from(r.kind)
            .map_err(|_| ServerError::invalid("kind", format!("unknown product kind {}", r.kind)))
            .and_then(Option::<ProductKind>::try_from)?;
        // The page token is the last SKU of the previous page: pages stay
        // stable while the catalog is unchanged.
        let query = r.query.to_lowercase();
        let matching: Vec<_> = rules
            .products()
            .filter(|p| r.product_line.is_empty() || p.product_line == r.product_line)
            .filter(|p| kind_filter.is_none_or(|k| p.kind == k))
            .filter(|p| {
                query.is_empty()
                    || p.sku.to_lowercase().contains(&query)
                    || p.name.to_lowercase().contains(&query)
            })
            .collect();
        let start = if r.page_token.is_empty() {
            0
        } else {
            matching.partition_point(|p| p.sku.as_str() <= r.page_token.as_str())
        };
        let page: Vec<_> = matching.iter().skip(start).take(page_size).collect();
        let next_page_token = if start + page.len() < matching.len() {
            page.last().map(|p| p.sku.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListProductsResponse {
            products: page
                .into_iter()
                .map(|product| {
                    pb::Product::from(ProductOn {
                        rules,
                        product,
                        date,
                    })
                })
                .collect(),
            next_page_token,
            total_size: i32::try_from(matching.len()).unwrap_or(i32::MAX),
            product_lines: rules
                .product_lines()
                .map(|l| pb::ProductLine {
                    id: l.id.clone(),
                    name: l.name.clone(),
                })
                .collect(),
        }))
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<GetProductResponse>, Status> {
        let r = request.into_inner();
        if r.sku.trim().is_empty() {
            return Err(ServerError::invalid("sku", "is required").into());
        }
        let date = price_date(&r.price_date, (self.state.today)())?;
        let live = self.state.live.current();
        let rules = &live.rules;
        let product = rules
            .product(r.sku.trim())
            .ok_or_else(|| ServerError::NotFound {
                kind: "product",
                name: r.sku.clone(),
            })?;
        Ok(Response::new(GetProductResponse {
            product: Some(pb::Product::from(ProductOn {
                rules,
                product,
                date,
            })),
        }))
    }
}
