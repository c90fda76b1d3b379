//! Response bodies as the server sends them: a shared rendered body in slices
//! ([`Chunked`]), and any body whose frames tell the watchdog the client is taking them
//! ([`Sending`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::watch::InFlight;

/// Bytes of a response body handed to the connection at a time.
pub const CHUNK: usize = 16 << 10;

/// A shared rendered body handed over in [`CHUNK`] slices, never copied.
pub struct Chunked(pub Bytes);

impl Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.0.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.0.len().min(CHUNK);
        Poll::Ready(Some(Ok(Frame::data(this.0.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.len() as u64)
    }
}

/// A response body on its way: each frame polled tells the watchdog the client is taking it.
pub struct Sending<B> {
    rest: B,
    request: InFlight,
}

impl<B> Sending<B> {
    /// `rest` to send, for the request `request` counts.
    pub fn new(rest: B, request: InFlight) -> Self {
        Sending { rest, request }
    }
}

impl<B: Body + Unpin> Body for Sending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.rest).poll_frame(cx);
        if let Poll::Ready(Some(_)) = &polled {
            this.request.progress();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.rest.size_hint()
    }
}
