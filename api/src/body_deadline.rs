//! A request body must arrive in time.
//!
//! actix-web cuts off a client that is slow to send the request head (its client request
//! timeout, 408), but once the head is in it waits for the body as long as the client keeps
//! the connection open. [`guard`] gives each request's body a time counted from when the
//! request is handed to the application: `server.request_timeout_secs`, plus a second for
//! every [`SLOWEST_BODY_BYTES_PER_SEC`] bytes its `Content-Length` declares (a large roster
//! import on a slow school uplink still arrives; a client that stalls is still cut off). After
//! it, reading the body fails, the handler answers 408 and the connection is closed (its body
//! was never read whole).
//!
//! A request answered before its body was read (401 for a missing token, 404, 415) is
//! answered with the connection closed ([`answer_then_close`]): actix would otherwise read
//! and drop the rest of a chunked body to keep the connection, with no time limit, so a
//! client trickling one could hold it without ever authenticating.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
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
struct Deadline {
    /// Shared with the middleware, which may keep it past the handler (see
    /// [`answer_then_close`]).
    body: Rc<RefCell<Payload>>,
    up: Pin<Box<tokio::time::Sleep>>,
    /// Set once the body has been read to its end.
    done: Rc<Cell<bool>>,
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
    fn new(body: Payload, time: Duration) -> Self {
        Self {
            body: Rc::new(RefCell::new(body)),
            up: Box::pin(tokio::time::sleep(time)),
            done: Rc::default(),
        }
    }

    /// What the middleware keeps of the body: whether it was read to the end, and the body
    /// itself.
    fn unread(&self) -> Unread {
        Unread {
            done: Rc::clone(&self.done),
            body: Rc::clone(&self.body),
        }
    }

    /// As the request's payload.
    fn into_payload(self) -> Payload {
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(self);
        Payload::from(stream)
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut *self.body.borrow_mut()).poll_next(cx);
        let read = match polled {
            Poll::Pending => match self.up.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ))))),
                Poll::Pending => Poll::Pending,
            },
            read => read,
        };
        // Only the end of the body counts: a body that failed (its time up) was not read
        // whole, and its connection must close too.
        if matches!(read, Poll::Ready(None)) {
            self.done.set(true);
        }
        read
    }
}

/// Puts the request's body under its deadline, if it declares one (a `Content-Length` above
/// 0 or a `Transfer-Encoding`): what [`answer_then_close`] needs afterwards. A request without
/// a body (every `GET`) has nothing to time or keep.
pub fn guard(req: &mut ServiceRequest, base: Duration) -> Option<Unread> {
    use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_none_or(|n: u64| n == 0) && !req.headers().contains_key(TRANSFER_ENCODING) {
        return None;
    }
    let body = Deadline::new(req.take_payload(), allowance(base, declared));
    let unread = body.unread();
    req.set_payload(body.into_payload());
    Some(unread)
}

/// A request's body as the middleware keeps it while the request is answered.
pub struct Unread {
    done: Rc<Cell<bool>>,
    body: Rc<RefCell<Payload>>,
}

impl std::fmt::Debug for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unread")
            .field("done", &self.done.get())
            .finish_non_exhaustive()
    }
}

/// An answer's body that keeps the request's unread body until it has been sent.
struct Keeping {
    answer: BoxBody,
    _request: Rc<RefCell<Payload>>,
}

impl MessageBody for Keeping {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.answer.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().answer).poll_next(cx)
    }
}

/// Closes the connection after `response` when the request's body (`unread`: it declared
/// one) was not read to its end (see the module documentation).
///
/// actix closes such a connection itself only if the request's body is still held when the
/// answer has been sent; once the handler has dropped it, a chunked body is read on and
/// thrown away, with no deadline. So the answer's body keeps it until it has been sent.
pub fn answer_then_close(
    response: ServiceResponse<BoxBody>,
    unread: Option<Unread>,
) -> ServiceResponse<BoxBody> {
    match unread {
        Some(unread) if !unread.done.get() => response.map_body(|_, answer| {
            BoxBody::new(Keeping {
                answer,
                _request: unread.body,
            })
        }),
        _ => response,
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
