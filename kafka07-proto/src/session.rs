//! Pairing responses with requests, sans IO.
//!
//! 0.7 has no correlation ids: a broker answers the requests on a connection strictly in
//! order, and PRODUCE/MULTIPRODUCE get no answer at all (spec §6.10, E44). A [`Session`]
//! remembers what each outstanding request expects, in order.

use heapless::Deque;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::request::Request;
use crate::response::{Expect, Response};

/// A FIFO of expected responses, of fixed capacity `N` (no allocation).
///
/// ```
/// use kafka07_proto::{FetchRequest, ProduceRequest, Request, Response, Session};
/// let mut s = Session::<8>::new();
/// s.sent(&Request::Produce(ProduceRequest::new("t", 0, &[])))?; // expects nothing
/// s.sent(&Request::Fetch(FetchRequest::new("t", 0, 0, 1024)))?;
/// assert_eq!(s.pending(), 1);
/// let resp = s.received(&[0, 0])?; // body: error 0, empty message set
/// assert!(matches!(resp, Response::Fetch(f) if f.messages.is_empty()));
/// assert_eq!(s.pending(), 0);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Session<const N: usize = 64> {
    pending: Deque<Expect, N>,
}

impl<const N: usize> Default for Session<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Session<N> {
    /// An empty session.
    pub const fn new() -> Self {
        Session {
            pending: Deque::new(),
        }
    }

    /// Records that `request` was sent; returns what its response will be (`None` for
    /// PRODUCE/MULTIPRODUCE, which get no response).
    pub fn sent(&mut self, request: &Request<'_>) -> Result<Option<Expect>> {
        match request.expect() {
            Some(e) => self.push(e).map(|()| Some(e)),
            None => Ok(None),
        }
    }

    /// Records an expectation directly.
    pub fn push(&mut self, expect: Expect) -> Result<()> {
        self.pending.push_back(expect).map_err(|_| {
            Error::new(
                ErrorKind::TooManyPending { capacity: N as u32 },
                Layer::Session,
                0,
            )
        })
    }

    /// The expectation the next response will be parsed against.
    pub fn next_expected(&self) -> Option<Expect> {
        self.pending.front().copied()
    }

    /// The pending expectations, oldest first.
    pub fn expectations(&self) -> impl Iterator<Item = Expect> + '_ {
        self.pending.iter().copied()
    }

    /// Number of requests awaiting a response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Parses a response body (after the frame size) against the oldest pending request,
    /// and retires that request (even when the body does not parse: the frame was its answer).
    pub fn received<'a>(&mut self, body: &'a [u8]) -> Result<Response<'a>> {
        let expect = self.pending.pop_front().ok_or(Error::new(
            ErrorKind::UnexpectedResponse,
            Layer::Session,
            0,
        ))?;
        Response::parse(body, expect)
    }

    /// Retires the oldest pending request without parsing a response for it (when its
    /// response was consumed another way, e.g. by a [`FetchStream`](crate::FetchStream)).
    pub fn retire(&mut self) -> Option<Expect> {
        self.pending.pop_front()
    }

    /// Forgets every pending request (after the connection was lost).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}
