//! A request body must arrive within `server.request_timeout_secs`.
//!
//! actix-web cuts off a client that is slow to send the request head (its client request
//! timeout, 408), but once the head is in it waits for the body as long as the client keeps
//! the connection open. [`Deadline`] gives every request's body the same time, counted from
//! when the head was read: after it, reading the body fails, the handler answers 408 and the
//! connection is closed (its body was never read whole).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_core::Stream;

/// A request body that fails once its time is up.
pub struct Deadline {
    body: Payload,
    up: Pin<Box<tokio::time::Sleep>>,
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("up", &self.up.deadline())
            .finish_non_exhaustive()
    }
}

impl Deadline {
    /// `body`, to be read within `time`.
    #[must_use]
    pub fn new(body: Payload, time: Duration) -> Self {
        Self {
            body,
            up: Box::pin(tokio::time::sleep(time)),
        }
    }

    /// As the request's payload.
    #[must_use]
    pub fn into_payload(self) -> Payload {
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(self);
        Payload::from(stream)
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.body).poll_next(cx) {
            Poll::Pending => match self.up.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ))))),
                Poll::Pending => Poll::Pending,
            },
            read => read,
        }
    }
}

/// Whether a body failed because its time was up.
#[must_use]
pub fn passed(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}
