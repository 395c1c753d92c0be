//! A whole request body must arrive by a deadline.
//!
//! An idle timeout per chunk lets a client trickle one byte every few seconds and
//! hold a connection for hours; a deadline for the whole body does not. The server
//! wraps every request body in [`DeadlineBody`]; the body readers answer
//! [`BodyDeadlinePassed`] with 408.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::time::{Instant, Sleep};

/// The body did not arrive by its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within {} s", .0.as_secs())]
pub struct BodyDeadlinePassed(pub Duration);

/// A body that fails with [`BodyDeadlinePassed`] once `limit` has passed since it
/// was wrapped (when the request's head arrived).
pub struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    /// `body`, due within `limit` from now.
    pub fn wrap(body: Body, limit: Duration) -> Body {
        Body::new(Self {
            inner: body,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now() + limit)),
            limit,
        })
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        // Data already here is taken before the clock is looked at: a body that
        // arrived in time is never refused because its reader was slow.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyDeadlinePassed(self.limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The deadline `error` (or any error it wraps) reports, if that is what it is.
pub fn deadline_passed(error: &(dyn std::error::Error + 'static)) -> Option<BodyDeadlinePassed> {
    std::iter::successors(Some(error), |e| e.source())
        .find_map(|e| e.downcast_ref::<BodyDeadlinePassed>())
        .copied()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http_body_util::BodyExt;

    use super::*;

    /// One chunk, then nothing ever again: a client that stopped sending.
    struct Stalled(Option<Bytes>);

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            match self.0.take() {
                Some(chunk) => Poll::Ready(Some(Ok(http_body::Frame::data(chunk)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_stalls_fails_at_the_deadline_one_that_arrives_does_not() {
        let stalled = Body::new(Stalled(Some(Bytes::from_static(b"part"))));
        let error = DeadlineBody::wrap(stalled, Duration::from_millis(50))
            .collect()
            .await
            .unwrap_err();
        assert_eq!(
            deadline_passed(&error),
            Some(BodyDeadlinePassed(Duration::from_millis(50)))
        );
        let whole = DeadlineBody::wrap(Body::from("all here"), Duration::from_millis(50))
            .collect()
            .await
            .unwrap();
        assert_eq!(whole.to_bytes(), "all here");
    }
}
