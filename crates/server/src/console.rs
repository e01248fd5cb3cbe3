//! The reference web console, served by the binary itself at `/ui/` on the
//! service port (HTTP/1.1 and HTTP/2): three static files embedded at
//! build time (`crates/server/console/`), plain JavaScript that calls the
//! API from the browser with the Connect protocol. Only GET and HEAD
//! requests under `/ui` are answered here; everything else goes on.
use std::task::{Context, Poll};

use http_body_util::Full;
use tonic::{
    body::Body,
    codegen::{BoxFuture, Bytes, http},
};
use tower::Service;

const PREFIX: &str = "/ui";

/// The console's files: path under `/ui/`, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../console/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../console/style.css"),
    ),
];

/// The page may load only its own files and call only its own origin.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                      base-uri 'none'; frame-ancestors 'none'";

#[derive(Clone, Copy, Default)]
pub(crate) struct ConsoleLayer;

impl<S> tower::Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Console(inner)
    }
}

#[derive(Clone)]
pub(crate) struct Console<S>(S);

impl<S, B> Service<http::Request<B>> for Console<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let read = matches!(*request.method(), http::Method::GET | http::Method::HEAD);
        let path = request.uri().path();
        if !read || !(path == PREFIX || path.starts_with("/ui/")) {
            return Box::pin(self.0.call(request));
        }
        let head = request.method() == http::Method::HEAD;
        Box::pin(std::future::ready(Ok(file(path, head))))
    }
}

/// The response for `path` under `/ui`.
fn file(path: &str, head: bool) -> http::Response<Body> {
    if path == PREFIX {
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
        response.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("/ui/"),
        );
        return response;
    }
    let name = path.trim_start_matches("/ui/");
    let Some((_, content_type, content)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        let mut response = http::Response::new(Body::new(Full::new(Bytes::from_static(
            b"no such file in the console\n",
        ))));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        return response;
    };
    let body = if head {
        Body::empty()
    } else {
        Body::new(Full::new(Bytes::from_static(content.as_bytes())))
    };
    let mut response = http::Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(content.len()),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(POLICY),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_is_served_under_ui_and_nothing_else_is() {
        assert_eq!(file("/ui", false).status(), 308);
        let index = file("/ui/", false);
        assert_eq!(index.status(), 200);
        assert_eq!(index.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(file("/ui/app.js", false).status(), 200);
        assert_eq!(file("/ui/../Cargo.toml", false).status(), 404);
        assert_eq!(file("/ui/secrets", false).status(), 404);
    }
}
