//! A request body that must keep arriving: once a request has started, a
//! peer that sends nothing more of its body for the idle time gets the
//! call ended with DEADLINE_EXCEEDED instead of holding its stream (and a
//! handler) open. Unary calls and uploads get [`crate::BODY_IDLE`];
//! configuration sessions, where a person thinks between clicks, get
//! [`crate::SESSION_IDLE`].
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use http_body::{Body, Frame, SizeHint};
use tonic::codegen::{Bytes, http};

/// The method whose requests are a person's clicks.
const SESSION_PATH: &str = "/quotecast.v1.ConfiguratorService/ConfigureSession";

/// `request` with its body ended after `idle` (or `session_idle` on a
/// configuration session) without a frame.
pub(crate) fn with_idle_limit(
    request: http::Request<tonic::body::Body>,
    idle: Duration,
    session_idle: Duration,
) -> http::Request<tonic::body::Body> {
    let idle = if request.uri().path() == SESSION_PATH {
        session_idle
    } else {
        idle
    };
    request.map(|body| {
        if body.is_end_stream() {
            body
        } else {
            tonic::body::Body::new(IdleBody {
                inner: body,
                idle,
                waiting: false,
                deadline: Box::pin(tokio::time::sleep(idle)),
            })
        }
    })
}

/// The time counts only while the handler waits for the body and none
/// comes: a handler busy elsewhere (the peer then blocked by flow
/// control) never makes the peer late.
struct IdleBody {
    inner: tonic::body::Body,
    idle: Duration,
    /// Whether the handler asked for a frame and has not had one since.
    waiting: bool,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Body for IdleBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.waiting = false;
                Poll::Ready(frame)
            }
            Poll::Pending => {
                if !self.waiting {
                    self.waiting = true;
                    let next = tokio::time::Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(tonic::Status::deadline_exceeded(format!(
                            "the request's body stopped arriving: nothing for {} s",
                            self.idle.as_secs_f64()
                        )))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
