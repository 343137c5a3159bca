//! One TCP connection to a 0.7 broker: requests out, responses in, paired in order.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::time::Duration;

use kafka07_proto::{
    frame, ErrorCode, ErrorKind, FetchRequest, FetchStream, Frame, Layer, Request, Response,
    Session, StreamEvent,
};

use crate::error::{Error, Result};

/// Socket settings for a [`Connection`].
///
/// ```
/// use std::time::Duration;
/// use kafka07_io::ConnectionConfig;
/// let cfg = ConnectionConfig::default().read_timeout(Duration::from_secs(5));
/// assert_eq!(cfg.read_timeout, Duration::from_secs(5));
/// assert_eq!(cfg.max_response, 104_857_600);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Longest wait for the TCP handshake (reference producer `connect.timeout.ms`: 5 s).
    pub connect_timeout: Duration,
    /// Longest wait for any single read (reference `socket.timeout.ms`: 30 s).
    pub read_timeout: Duration,
    /// Longest wait for any single write.
    pub write_timeout: Duration,
    /// Largest response frame accepted, checked on its size field before anything is
    /// allocated (default 100 MiB, the broker's own request limit).
    pub max_response: usize,
    /// Bytes read from the socket at a time while streaming a fetch response.
    pub read_chunk: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            max_response: kafka07_proto::DEFAULT_MAX_FRAME,
            read_chunk: 64 * 1024,
        }
    }
}

impl ConnectionConfig {
    /// Sets the connect timeout.
    #[must_use]
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Sets the read timeout.
    #[must_use]
    pub fn read_timeout(mut self, t: Duration) -> Self {
        self.read_timeout = t;
        self
    }

    /// Sets the write timeout.
    #[must_use]
    pub fn write_timeout(mut self, t: Duration) -> Self {
        self.write_timeout = t;
        self
    }

    /// Sets the largest accepted response.
    #[must_use]
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }
}

/// How a streamed fetch response ended (see [`Connection::fetch_streaming`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSummary {
    /// The response's error code.
    pub error: ErrorCode,
    /// The reference `validBytes` of what was decoded (bytes of complete entries up to where
    /// decoding stopped).
    pub valid_bytes: u64,
    /// Bytes of message set the response carried.
    pub message_set_len: u64,
    /// `true` when the caller stopped early (the rest of the response was read and dropped).
    pub stopped: bool,
}

/// A connection to one broker.
///
/// Each request is encoded whole and written with one `write_all` (size and body never go out
/// as separate writes). Responses are framed with [`kafka07_proto::frame`] into a reusable
/// buffer and parsed against what their request expects through a [`Session`]: 0.7 has no
/// correlation ids, responses come back in request order, and PRODUCE/MULTIPRODUCE get none.
/// Requests may be pipelined: [`send`](Self::send) several, then [`recv`](Self::recv) in order.
///
/// After a connection-level error (closed, reset, timeout, oversized response) every later
/// call fails with [`Error::Closed`]; make a new connection.
///
/// ```
/// use kafka07_io::{Broker, BrokerConfig, Connection, ConnectionConfig};
/// use kafka07_io::proto::{FetchRequest, OffsetsRequest, Request, Response};
/// let broker = Broker::start(BrokerConfig::in_memory())?;
/// let mut conn = Connection::connect(broker.local_addr(), &ConnectionConfig::default())?;
/// // Pipelined: two requests, then two responses in order.
/// conn.send(&Request::Offsets(OffsetsRequest::new("t", 0, -1, 10)))?;
/// conn.send(&Request::Fetch(FetchRequest::new("t", 0, 0, 1024)))?;
/// let Response::Offsets(o) = conn.recv()? else { panic!() };
/// assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [0]); // unknown topic: [0]
/// let Response::Fetch(f) = conn.recv()? else { panic!() };
/// assert!(f.error.is_ok() && f.messages.is_empty());
/// # Ok::<(), kafka07_io::Error>(())
/// ```
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    config: ConnectionConfig,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    session: Session<64>,
    broken: bool,
}

impl Connection {
    /// Connects to `addr` (every resolved address is tried in turn) with the configured
    /// timeouts; `TCP_NODELAY` is set, as the reference clients do.
    pub fn connect(addr: impl ToSocketAddrs, config: &ConnectionConfig) -> Result<Connection> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| Error::Connect {
                addr: "<unresolved>".into(),
                source: e,
            })?
            .collect();
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, config.connect_timeout) {
                Ok(stream) => return Self::from_stream(stream, config),
                Err(e) => {
                    last = Some(match e.kind() {
                        std::io::ErrorKind::ConnectionRefused => Error::ConnectRefused {
                            addr: a.to_string(),
                        },
                        // The handshake completed and the peer reset the connection before
                        // the connect call saw it complete (a kafka07 broker at its
                        // --max-connections resets what it accepts, and may do so first).
                        std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted => Error::Closed {
                            during_response: false,
                            reset: true,
                        },
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                            Error::Timeout {
                                op: "connect",
                                after: config.connect_timeout,
                            }
                        }
                        _ => Error::Connect {
                            addr: a.to_string(),
                            source: e,
                        },
                    })
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Connect {
            addr: "<none>".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address resolved"),
        }))
    }

    /// Wraps an already connected stream.
    pub fn from_stream(stream: TcpStream, config: &ConnectionConfig) -> Result<Connection> {
        let peer = stream.peer_addr()?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(config.read_timeout.max(Duration::from_millis(1))))?;
        stream.set_write_timeout(Some(config.write_timeout.max(Duration::from_millis(1))))?;
        Ok(Connection {
            stream,
            peer,
            config: config.clone(),
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            wbuf: Vec::new(),
            session: Session::new(),
            broken: false,
        })
    }

    /// The broker's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Requests sent whose responses have not been read yet.
    pub fn pending(&self) -> usize {
        self.session.pending()
    }

    /// `false` once a connection-level error happened.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    fn check_usable(&self) -> Result<()> {
        if self.broken {
            Err(Error::Closed {
                during_response: false,
                reset: false,
            })
        } else {
            Ok(())
        }
    }

    fn fail<T>(&mut self, e: Error) -> Result<T> {
        if e.is_connection_error() || matches!(e, Error::ResponseTooLarge { .. }) {
            self.broken = true;
            self.session.clear();
        }
        Err(e)
    }

    /// Encodes `request` whole and writes it with one `write_all`, after any requests
    /// [`send_deferred`](Self::send_deferred) left in the write buffer (in the same write).
    ///
    /// For PRODUCE and MULTIPRODUCE, `Ok` means every byte was handed to the operating system:
    /// nothing more (0.7 has no acknowledgement; see [`Client::produce`](crate::Client::produce)).
    pub fn send(&mut self, request: &Request<'_>) -> Result<()> {
        self.append(request)?;
        self.write_pending()
    }

    /// Encodes `request` into the write buffer, and writes the buffer only once it holds at
    /// least `coalesce_bytes` bytes: many requests that get no response (PRODUCE,
    /// MULTIPRODUCE) then go out in one write. A request that expects a response is written at
    /// once, with everything buffered before it. Buffered bytes are written by the next
    /// [`send`](Self::send), [`request`](Self::request) or
    /// [`flush_writes`](Self::flush_writes); they are lost if the connection is dropped first.
    ///
    /// ```
    /// use kafka07_io::{Broker, BrokerConfig, Connection, ConnectionConfig};
    /// use kafka07_io::proto::{MessageRepr, ProduceRequest, Request};
    /// let broker = Broker::start(BrokerConfig::in_memory().visible_on_append(true))?;
    /// let mut conn = Connection::connect(broker.local_addr(), &ConnectionConfig::default())?;
    /// let set = MessageRepr::new(&b"hi"[..]).to_vec()?;
    /// let produce = Request::Produce(ProduceRequest::new("t", 0, &set));
    /// conn.send_deferred(&produce, 1 << 16)?;
    /// conn.send_deferred(&produce, 1 << 16)?;
    /// assert_eq!(conn.pending_write_bytes(), 2 * produce.wire_len());
    /// conn.flush_writes()?;
    /// assert_eq!(conn.pending_write_bytes(), 0);
    /// # Ok::<(), kafka07_io::Error>(())
    /// ```
    pub fn send_deferred(&mut self, request: &Request<'_>, coalesce_bytes: usize) -> Result<()> {
        self.append(request)?;
        if request.expect().is_some() || self.wbuf.len() >= coalesce_bytes {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Bytes of deferred requests not yet written.
    pub fn pending_write_bytes(&self) -> usize {
        self.wbuf.len()
    }

    /// Writes the deferred requests, if any, with one `write_all`.
    pub fn flush_writes(&mut self) -> Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.check_usable()?;
        self.write_pending()
    }

    /// Encodes `request` at the end of the write buffer.
    fn append(&mut self, request: &Request<'_>) -> Result<()> {
        self.check_usable()?;
        let at = self.wbuf.len();
        self.wbuf.resize(at + request.wire_len(), 0);
        let n = match request.emit(&mut self.wbuf[at..]) {
            Ok(n) => n,
            Err(e) => {
                self.wbuf.truncate(at);
                return Err(e.into());
            }
        };
        self.wbuf.truncate(at + n);
        if let Err(e) = self.session.sent(request) {
            self.wbuf.truncate(at);
            return Err(e.into());
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        let r = self.stream.write_all(&self.wbuf);
        self.wbuf.clear();
        // A large one-off request should not pin its buffer.
        if self.wbuf.capacity() > 4 << 20 {
            self.wbuf = Vec::new();
        }
        if let Err(e) = r {
            let t = self.config.write_timeout;
            return self.fail(Error::from_io(e, "write", t, false));
        }
        Ok(())
    }

    /// Makes room for at least `n` more bytes after `rend`.
    fn reserve(&mut self, n: usize) {
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
        if self.rbuf.len() - self.rend < n && self.rstart > 0 {
            self.rbuf.copy_within(self.rstart..self.rend, 0);
            self.rend -= self.rstart;
            self.rstart = 0;
        }
        if self.rbuf.len() - self.rend < n {
            let want = (self.rend + n).max(self.config.read_chunk.min(self.config.max_response));
            self.rbuf.resize(want, 0);
        }
    }

    /// Reads once from the socket into the buffer (at most `limit` bytes of room are made).
    fn fill(&mut self, at_least: usize, mid: bool) -> Result<()> {
        self.reserve(at_least.max(1));
        loop {
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    return self.fail(Error::Closed {
                        during_response: mid,
                        reset: false,
                    })
                }
                Ok(n) => {
                    self.rend += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let t = self.config.read_timeout;
                    return self.fail(Error::from_io(e, "read", t, mid));
                }
            }
        }
    }

    fn frame_error(&mut self, e: kafka07_proto::Error) -> Error {
        self.broken = true;
        self.session.clear();
        match e.kind() {
            ErrorKind::LengthExceedsLimit { length, limit } if e.layer() == Layer::Frame => {
                Error::ResponseTooLarge {
                    size: length,
                    limit,
                }
            }
            _ => Error::Protocol(e),
        }
    }

    /// Reads the next response and parses it against the oldest pending request.
    ///
    /// The response borrows the connection's buffer until the next call.
    pub fn recv(&mut self) -> Result<Response<'_>> {
        self.check_usable()?;
        if self.session.pending() == 0 {
            return Err(Error::UnexpectedResponse(
                "no request is waiting for a response",
            ));
        }
        loop {
            let avail = &self.rbuf[self.rstart..self.rend];
            match frame(avail, self.config.max_response) {
                Ok(Frame::Complete { consumed, .. }) => {
                    let start = self.rstart;
                    self.rstart += consumed;
                    let body = &self.rbuf[start + 4..start + consumed];
                    return Ok(self.session.received(body)?);
                }
                Ok(Frame::Partial { needed }) => {
                    let mid = self.rend > self.rstart;
                    self.fill(needed, mid)?;
                }
                Err(e) => {
                    let e = self.frame_error(e);
                    return Err(e);
                }
            }
        }
    }

    /// Sends `request` and reads its response (`None` for PRODUCE/MULTIPRODUCE, which get no
    /// response). Responses to earlier pipelined requests must have been read first.
    pub fn request(&mut self, request: &Request<'_>) -> Result<Option<Response<'_>>> {
        if self.session.pending() > 0 {
            return Err(Error::UnexpectedResponse(
                "earlier pipelined responses have not been read",
            ));
        }
        self.send(request)?;
        if request.expect().is_none() {
            return Ok(None);
        }
        self.recv().map(Some)
    }

    /// Sends a FETCH and decodes its response *as it arrives from the socket*: `decoder` is fed
    /// each chunk read (at most [`ConnectionConfig::read_chunk`] bytes), and `on_event` gets
    /// every event — header, each complete message, end — without the response ever being
    /// held whole. Memory: one read chunk plus the decoder's buffer (the largest message split
    /// across chunks).
    ///
    /// `on_event` may return `Break` to stop; the rest of the response is then read and
    /// dropped so the connection stays usable, and [`StreamSummary::stopped`] is set. A decoder
    /// error or an error from `on_event` also drains the response, then is returned.
    ///
    /// No other request may be pending (0.7 pairs responses by order only).
    pub fn fetch_streaming<B, F>(
        &mut self,
        request: &FetchRequest<'_>,
        decoder: &mut FetchStream<B>,
        mut on_event: F,
    ) -> Result<StreamSummary>
    where
        B: AsRef<[u8]> + AsMut<[u8]>,
        F: FnMut(StreamEvent<'_>) -> Result<ControlFlow<()>>,
    {
        if self.session.pending() > 0 {
            return Err(Error::UnexpectedResponse(
                "earlier pipelined responses have not been read",
            ));
        }
        self.send(&Request::Fetch(*request))?;
        // The session recorded the FETCH; this method consumes its response itself.
        self.session.retire();
        decoder.reset(request.offset.max(0) as u64);

        // The frame size first: it bounds how much of the socket belongs to this response.
        while self.rend - self.rstart < 4 {
            let mid = self.rend > self.rstart;
            self.fill(4 - (self.rend - self.rstart), mid)?;
        }
        let total = match frame(
            &self.rbuf[self.rstart..self.rstart + 4],
            self.config.max_response,
        ) {
            Ok(Frame::Partial { needed }) => 4 + needed,
            Ok(Frame::Complete { consumed, .. }) => consumed,
            Err(e) => {
                let e = self.frame_error(e);
                return Err(e);
            }
        };
        let mut left = total;
        let mut summary = StreamSummary {
            error: ErrorCode::NO_ERROR,
            valid_bytes: 0,
            message_set_len: 0,
            stopped: false,
        };
        let mut failure: Option<Error> = None;
        while left > 0 {
            if self.rstart == self.rend {
                let want = left.min(self.config.read_chunk).max(1);
                self.fill(want, true)?;
            }
            let avail = (self.rend - self.rstart).min(left);
            let input = &self.rbuf[self.rstart..self.rstart + avail];
            let mut used = 0;
            if summary.stopped || failure.is_some() {
                used = avail;
            } else {
                loop {
                    let rest = &input[used..];
                    match decoder.decode(rest) {
                        Ok((n, event)) => {
                            used += n;
                            let Some(event) = event else {
                                if n == 0 {
                                    break;
                                }
                                continue;
                            };
                            match event {
                                StreamEvent::Header {
                                    error,
                                    message_set_len,
                                } => {
                                    summary.error = error;
                                    summary.message_set_len = message_set_len;
                                }
                                StreamEvent::End { valid_bytes, .. } => {
                                    summary.valid_bytes = valid_bytes;
                                }
                                StreamEvent::Message(_) => {}
                            }
                            match on_event(event) {
                                Ok(ControlFlow::Continue(())) => {}
                                Ok(ControlFlow::Break(())) => {
                                    summary.stopped = true;
                                    summary.valid_bytes = decoder.valid_bytes();
                                    used = avail;
                                    break;
                                }
                                Err(e) => {
                                    failure = Some(e);
                                    used = avail;
                                    break;
                                }
                            }
                            if decoder.is_done() {
                                break;
                            }
                        }
                        Err(e) => {
                            summary.valid_bytes = decoder.valid_bytes();
                            failure = Some(Error::Protocol(e));
                            used = avail;
                            break;
                        }
                    }
                    // An empty rest is fed too: it lets the decoder report the end.
                }
            }
            if used == 0 && !decoder.is_done() {
                // The decoder needs more than this chunk holds: read more.
                let want = left.min(self.config.read_chunk).max(avail + 1) - avail;
                self.fill(want, true)?;
                continue;
            }
            if used == 0 {
                // Done although the frame says more: the bytes are not part of any message.
                used = avail;
            }
            self.rstart += used;
            left -= used;
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(summary),
        }
    }
}
