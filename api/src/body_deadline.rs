//! A request body must arrive in time.
//!
//! actix-web cuts off a client that is slow to send the request head (its client request
//! timeout, 408), but once the head is in it waits for the body as long as the client keeps
//! the connection open. [`Deadline`] gives each request's body a time counted from when the
//! request is handed to the application: `server.request_timeout_secs`, plus a second for
//! every [`SLOWEST_BODY_BYTES_PER_SEC`] bytes its `Content-Length` declares (a large roster
//! import on a slow school uplink still arrives; a client that stalls is still cut off). After
//! it, reading the body fails, the handler answers 408 and the connection is closed (its body
//! was never read whole).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_core::Stream;

/// The slowest upload still waited for, in bytes a second (128 kbit/s).
pub const SLOWEST_BODY_BYTES_PER_SEC: u64 = 16 * 1024;

/// The time a body of `declared` bytes (its `Content-Length`, if any) gets.
#[must_use]
pub fn allowance(base: Duration, declared: Option<u64>) -> Duration {
    base + Duration::from_secs(declared.unwrap_or(0) / SLOWEST_BODY_BYTES_PER_SEC)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_larger_declared_body_gets_more_time() {
        let base = Duration::from_secs(10);
        assert_eq!(allowance(base, None), base);
        assert_eq!(allowance(base, Some(3_000)), base);
        // An 8 MiB roster at 128 kbit/s.
        assert_eq!(
            allowance(base, Some(8 * 1024 * 1024)),
            Duration::from_secs(10 + 512)
        );
    }
}
