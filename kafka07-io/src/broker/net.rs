//! The network layer: one event loop on `mio` owns the listener and every connection (as the
//! reference's NIO selector threads did, spec §6.10), and a fixed pool of worker threads
//! handles complete requests. A connection costs a few hundred bytes while idle; it reads one
//! request, hands it to a worker, writes the response in bounded chunks, and only then reads
//! the next request, so requests on a connection are handled strictly in order.
//!
//! One kind of request is handled by the event loop itself, where it is read, as the
//! reference's network threads handled every request: a PRODUCE of plain messages into an
//! existing in-memory log, which costs a parse, its CRCs and a copy, and can neither block
//! on a file nor decompress anything ([`Handler::produce_inline`]). Only while nothing of its
//! connection waits for a worker (so the order holds), and at most [`LOOP_TURN_BYTES`] of a
//! connection per turn before the others (so one producer cannot keep the loop to itself).
//! Pipelined small PRODUCEs thus cost no hand-over to a worker and back.
//!
//! Limits (issue #14): a request must arrive within `request_timeout` of its first byte
//! (slowloris), a connection with no request in progress is closed after `idle_timeout`, a
//! response the client does not take for `write_timeout` closes the connection, and at
//! `max_connections` the connection idle longest (at least [`EVICT_IDLE`]) is closed to admit
//! the new one, or, when none is, the new one is refused with a reset, logged.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kafka07_proto::{frame, Frame};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::handler::{CachedLog, Handler, Reaction, Scratch};
use super::log::Clock;
use super::response::Plan;
use super::Shared;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// How often timeouts are checked.
const TICK: Duration = Duration::from_millis(50);
/// A connection idle at least this long may be closed to admit a new one at the limit.
pub(crate) const EVICT_IDLE: Duration = Duration::from_secs(1);
/// A request body buffer larger than this is not kept for the next request.
const KEEP_BODY: usize = 1 << 20;

/// Most complete requests of one connection handed to a worker at once (pipelined
/// requests, e.g. a producer's PRODUCEs written back to back), and their most bytes.
const MAX_BATCH: usize = 64;
const MAX_BATCH_BYTES: usize = 1 << 20;

/// A read at a request boundary takes up to this many bytes at once into the event loop's
/// one read buffer: the complete requests in them are queued without a read call each, and
/// only a partial last one is kept by its connection (so an idle connection holds no buffer).
const BULK_READ: usize = 64 << 10;

/// Most request bytes of one connection the event loop handles itself (see
/// [`Handler::produce_inline`]) before it turns to the other connections.
const LOOP_TURN_BYTES: usize = 256 << 10;

/// Complete requests of one connection for the workers, handled in order.
struct Job {
    id: u64,
    bodies: VecDeque<Vec<u8>>,
}

/// A worker's answer: the reaction to the first request that was not silent (or `Silent`
/// when all were), and the requests after it, not handled yet (they wait until its
/// response is written, as if they had been read after it).
struct Done {
    id: u64,
    body: Vec<u8>,
    reaction: Reaction,
    rest: VecDeque<Vec<u8>>,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    size: [u8; 4],
    size_got: usize,
    /// The body being read (its announced length once the size is complete).
    body: Vec<u8>,
    body_len: Option<usize>,
    /// When the first byte of the request being read came.
    started: Option<Instant>,
    /// Last byte read or written, or when the last request finished.
    active: Instant,
    /// Requests are with the workers.
    busy: bool,
    /// Complete requests read and not yet handed to the workers, in order.
    queue: VecDeque<Vec<u8>>,
    /// Bytes of request body this connection holds against `max_request_memory`.
    counted: usize,
    /// Reading stopped because `max_request_memory` is reached; retried every tick.
    paused: bool,
    out: Option<Plan>,
    chunk: Vec<u8>,
    chunk_at: usize,
    /// A request was rejected at this time: our side is shut down, and what the client
    /// still sends is read and dropped until it closes or [`LINGER`] passes, so that the
    /// close is an orderly one (a close with unread bytes would be a reset, which is how
    /// refused connections end).
    draining: Option<Instant>,
    /// The log this connection's last PRODUCE handled in the event loop went to.
    cache: Option<CachedLog>,
}

/// Longest lingering close of a connection whose request was rejected.
const LINGER: Duration = Duration::from_secs(2);

impl Conn {
    /// Idle: no request in progress, nothing to write.
    fn idle_since(&self) -> Option<Instant> {
        (!self.busy
            && self.queue.is_empty()
            && self.out.is_none()
            && self.started.is_none()
            && self.draining.is_none())
        .then_some(self.active)
    }

    /// Rejects: logs, shuts our side down and starts draining.
    fn reject(&mut self, why: &str) -> Next {
        ::log::info!("{}: request rejected ({why}), connection closed", self.peer);
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        self.draining = Some(Instant::now());
        self.out = None;
        self.drain()
    }

    fn drain(&mut self) -> Next {
        let mut sink = [0u8; 4096];
        loop {
            match self.stream.read(&mut sink) {
                Ok(0) => return Next::Close(None),
                Ok(_) => {}
                Err(e) if e.kind() == IoKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(_) => return Next::Close(None),
            }
        }
    }
}

/// What to do with a connection after some I/O.
enum Next {
    Keep,
    Close(Option<String>),
}

/// The running network layer.
#[derive(Debug)]
pub(crate) struct Net {
    pub waker: Arc<Waker>,
    pub thread: std::thread::JoinHandle<()>,
    pub workers: Vec<std::thread::JoinHandle<()>>,
}

/// Starts the event loop and `workers` request handlers.
pub(crate) fn start(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    workers: usize,
) -> std::io::Result<Net> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut handles = Vec::with_capacity(workers);
    for i in 0..workers.max(1) {
        let (shared, job_rx, done_tx, waker) = (
            shared.clone(),
            job_rx.clone(),
            done_tx.clone(),
            waker.clone(),
        );
        handles.push(
            std::thread::Builder::new()
                .name(format!("kafka07-worker-{i}"))
                .spawn(move || worker(&shared, &job_rx, &done_tx, &waker))?,
        );
    }
    drop(done_tx);
    let thread = {
        let waker = waker.clone();
        std::thread::Builder::new()
            .name("kafka07-net".into())
            .spawn(move || {
                let _keep = waker;
                EventLoop {
                    poll,
                    listener,
                    shared,
                    conns: HashMap::new(),
                    next_id: 0,
                    jobs: Some(job_tx),
                    done: done_rx,
                    accept_paused: None,
                    refused_unlogged: 0,
                    refusal_logged: None,
                    request_bytes: 0,
                    pause_logged: None,
                    rbuf: Vec::new(),
                    ready: Vec::new(),
                }
                .run()
            })?
    };
    Ok(Net {
        waker,
        thread,
        workers: handles,
    })
}

fn worker(shared: &Shared, jobs: &Mutex<Receiver<Job>>, done: &Sender<Done>, waker: &Waker) {
    let handler = Handler {
        store: &shared.store,
        settings: &shared.settings,
        budget: &shared.budget,
    };
    let mut scratch = Scratch::default();
    loop {
        let job = jobs.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut job) = job else { return };
        let mut body = Vec::new();
        let mut reaction = Reaction::Silent;
        while let Some(b) = job.bodies.pop_front() {
            body = b;
            reaction = if shared.stopping.load(Ordering::SeqCst) {
                Reaction::Close("the broker is stopping")
            } else {
                handler.handle(&body, &mut scratch)
            };
            if !matches!(reaction, Reaction::Silent) {
                break;
            }
        }
        let d = Done {
            id: job.id,
            body,
            reaction,
            rest: job.bodies,
        };
        if done.send(d).is_err() {
            return;
        }
        let _ = waker.wake();
    }
}

struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    shared: Arc<Shared>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    /// Accepting failed (out of file descriptors): retried at this time.
    accept_paused: Option<Instant>,
    refused_unlogged: u64,
    refusal_logged: Option<Instant>,
    /// Request body bytes all connections hold (at most `max_request_memory`).
    request_bytes: usize,
    pause_logged: Option<Instant>,
    /// The read buffer of [`BULK_READ`] bytes, lent to one connection's read at a time.
    rbuf: Vec<u8>,
    /// Connections that stopped reading with bytes possibly left in the socket, after
    /// handling [`LOOP_TURN_BYTES`] of requests in the loop (so one busy producer cannot
    /// keep the loop from the others): read again before the next wait.
    ready: Vec<u64>,
}

impl EventLoop {
    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = Instant::now();
        while !self.shared.stopping.load(Ordering::SeqCst) {
            let wait = if self.ready.is_empty() {
                TICK
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != IoKind::Interrupted {
                    ::log::error!("the broker's event loop failed: {e}");
                    break;
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    WAKER => {}
                    Token(t) => {
                        let id = t as u64;
                        if ev.is_writable() {
                            self.with(id, Self::write);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.with(id, Self::read);
                        }
                    }
                }
            }
            while let Ok(d) = self.done.try_recv() {
                self.finish(d);
            }
            for id in std::mem::take(&mut self.ready) {
                self.with(id, Self::read);
            }
            let now = Instant::now();
            if now.duration_since(last_sweep) >= TICK {
                last_sweep = now;
                self.sweep(now);
            }
        }
        // Stopping: every connection is closed with the loop; the workers end when the job
        // channel does.
        self.jobs = None;
        self.conns.clear();
        self.shared.counters.open.store(0, Ordering::Relaxed);
    }

    /// Runs `f` on connection `id` and closes it if asked.
    fn with(&mut self, id: u64, f: fn(&mut Self, u64, &mut Conn) -> Next) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        match f(self, id, &mut c) {
            Next::Keep => {
                self.conns.insert(id, c);
            }
            Next::Close(why) => self.close(c, why),
        }
    }

    /// Gives back the request memory `c` holds.
    fn release(&mut self, c: &mut Conn) {
        self.request_bytes -= c.counted;
        c.counted = 0;
    }

    fn close(&mut self, mut c: Conn, why: Option<String>) {
        self.release(&mut c);
        if let Some(why) = why {
            ::log::info!("{}: connection closed: {why}", c.peer);
        }
        let _ = self.poll.registry().deregister(&mut c.stream);
        // The socket is closed before the count says so: a client that sees
        // `connections_open` fall also sees its connection's end.
        drop(c);
        self.shared.counters.open.fetch_sub(1, Ordering::Relaxed);
    }

    fn accept_all(&mut self) {
        if self.accept_paused.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == IoKind::WouldBlock => return,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(e) => {
                    // Out of file descriptors and the like: the pending clients wait in the
                    // backlog; accepting is retried shortly.
                    ::log::warn!("cannot accept connections: {e}; retrying in 100 ms");
                    self.accept_paused = Some(Instant::now() + Duration::from_millis(100));
                    return;
                }
            }
        }
    }

    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let s = self.shared.clone();
        if self.conns.len() >= s.settings.max_connections && !self.evict_idle(peer) {
            s.counters.refused.fetch_add(1, Ordering::Relaxed);
            // A reset, not an orderly close: the client's next read or write fails with
            // "connection reset" instead of looking like a rejected request.
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
            drop(stream);
            self.refused_unlogged += 1;
            let now = Instant::now();
            if self
                .refusal_logged
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                ::log::warn!(
                    "refused connection from {peer}: {} connections open (max_connections {}){}",
                    self.conns.len(),
                    s.settings.max_connections,
                    if self.refused_unlogged > 1 {
                        format!("; {} refused since the last report", self.refused_unlogged)
                    } else {
                        String::new()
                    }
                );
                self.refused_unlogged = 0;
                self.refusal_logged = Some(now);
            }
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let _ = stream.set_nodelay(true);
        if self
            .poll
            .registry()
            .register(
                &mut stream,
                Token(id as usize),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_err()
        {
            return;
        }
        s.counters.accepted.fetch_add(1, Ordering::Relaxed);
        s.counters.open.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        self.conns.insert(
            id,
            Conn {
                stream,
                peer,
                size: [0; 4],
                size_got: 0,
                body: Vec::new(),
                body_len: None,
                started: None,
                active: now,
                busy: false,
                queue: VecDeque::new(),
                counted: 0,
                paused: false,
                out: None,
                chunk: Vec::new(),
                chunk_at: 0,
                draining: None,
                cache: None,
            },
        );
        // Bytes may already be waiting; edge-triggered readiness would not say so again.
        self.with(id, Self::read);
    }

    /// At the limit: closes the connection idle longest, if idle at least [`EVICT_IDLE`].
    fn evict_idle(&mut self, for_peer: SocketAddr) -> bool {
        let now = Instant::now();
        let oldest = self
            .conns
            .iter()
            .filter_map(|(id, c)| Some((*id, c.idle_since()?)))
            .min_by_key(|&(_, t)| t);
        match oldest {
            Some((id, since)) if now.duration_since(since) >= EVICT_IDLE => {
                let c = self.conns.remove(&id).expect("present");
                let why = format!(
                    "idle for {:?} at max_connections; closed to admit {for_peer}",
                    now.duration_since(since)
                );
                self.close(c, Some(why));
                true
            }
            _ => false,
        }
    }

    /// Reads what is there: the size, then the body; a complete request goes to a worker.
    fn read(&mut self, id: u64, c: &mut Conn) -> Next {
        if c.draining.is_some() {
            return c.drain();
        }
        if !c.busy && c.out.is_none() && !c.queue.is_empty() {
            // Requests left after a response of the last batch go first.
            return self.dispatch(id, c);
        }
        let shared = self.shared.clone();
        let settings = &shared.settings;
        let handler = Handler {
            store: &shared.store,
            settings,
            budget: &shared.budget,
        };
        // Request bytes handled here in the loop by this call.
        let mut inlined = 0;
        while !c.busy && c.out.is_none() {
            if inlined >= LOOP_TURN_BYTES {
                // Enough for one turn: the others first (this one is read again before the
                // loop next waits, as its readiness would not be reported again).
                self.ready.push(id);
                return Next::Keep;
            }
            if c.body_len.is_none()
                && c.size_got == 0
                && self.request_bytes + BULK_READ <= settings.max_request_memory
            {
                let mut buf = std::mem::take(&mut self.rbuf);
                buf.resize(BULK_READ, 0);
                let next = match c.stream.read(&mut buf) {
                    Ok(0) if !c.queue.is_empty() => Some(self.dispatch(id, c)),
                    Ok(0) => Some(Next::Close(None)),
                    Ok(n) => match self.split_requests(c, &buf[..n], &handler) {
                        Err(reason) => {
                            self.shared
                                .counters
                                .closed_by_broker
                                .fetch_add(1, Ordering::Relaxed);
                            Some(c.reject(reason))
                        }
                        Ok(handled) => {
                            inlined += handled;
                            let bytes: usize = c.queue.iter().map(Vec::len).sum();
                            (c.queue.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES)
                                .then(|| self.dispatch(id, c))
                        }
                    },
                    Err(e) if e.kind() == IoKind::WouldBlock => Some(self.dispatch_any(id, c)),
                    Err(e) if e.kind() == IoKind::Interrupted => None,
                    Err(_) => Some(Next::Close(None)),
                };
                self.rbuf = buf;
                match next {
                    Some(next) => return next,
                    // A size left complete (to be checked below) or a request in part: on.
                    None if c.size_got == 4 => {}
                    None => continue,
                }
            }
            match c.body_len {
                // (A complete size not validated yet: straight to the check below.)
                None if c.size_got == 4 => {}
                None => match c.stream.read(&mut c.size[c.size_got..]) {
                    // Complete requests read before the end are handled first; the end is
                    // seen again when reading resumes.
                    Ok(0) if !c.queue.is_empty() => return self.dispatch(id, c),
                    Ok(0) => {
                        return Next::Close(
                            (c.size_got > 0).then(|| "end of stream mid-request".into()),
                        )
                    }
                    Ok(n) => c.size_got += n,
                    Err(e) if e.kind() == IoKind::WouldBlock => return self.dispatch_any(id, c),
                    Err(e) if e.kind() == IoKind::Interrupted => continue,
                    Err(_) => return Next::Close(None),
                },
                Some(len) => {
                    let at = c.body.len();
                    let want = at + (len - at).min(64 << 10);
                    // Request bodies of all connections together stay within
                    // max_request_memory: over it, this connection waits (its request
                    // timeout still runs).
                    // Held: the queued bodies and this one (bulk reads count both).
                    let need = want + c.queue.iter().map(Vec::len).sum::<usize>();
                    if need > c.counted {
                        let more = need - c.counted;
                        if self.request_bytes + more > settings.max_request_memory {
                            c.paused = true;
                            let now = Instant::now();
                            if self
                                .pause_logged
                                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                            {
                                ::log::warn!(
                                    "request bodies hold {} bytes (max_request_memory {}): \
                                     reading from {} and others paused",
                                    self.request_bytes,
                                    settings.max_request_memory,
                                    c.peer
                                );
                                self.pause_logged = Some(now);
                            }
                            return self.dispatch_any(id, c);
                        }
                        self.request_bytes += more;
                        c.counted += more;
                        shared
                            .counters
                            .request_memory_peak
                            .fetch_max(self.request_bytes as u64, Ordering::Relaxed);
                    }
                    c.body.resize(want, 0);
                    match c.stream.read(&mut c.body[at..]) {
                        Ok(0) if !c.queue.is_empty() => {
                            c.body.truncate(at);
                            return self.dispatch(id, c);
                        }
                        Ok(0) => {
                            return Next::Close(Some(format!(
                                "end of stream after {at} of {len} request bytes"
                            )))
                        }
                        Ok(n) => c.body.truncate(at + n),
                        Err(e) => {
                            c.body.truncate(at);
                            match e.kind() {
                                IoKind::WouldBlock => return self.dispatch_any(id, c),
                                IoKind::Interrupted => continue,
                                _ => return Next::Close(None),
                            }
                        }
                    }
                }
            }
            let now = Instant::now();
            c.active = now;
            c.started.get_or_insert(now);
            if c.body_len.is_none() {
                if c.size_got < 4 {
                    continue;
                }
                // Size <= 0 or over the limit: closed right after the size (E42).
                match frame(&c.size, settings.max_socket_request_bytes) {
                    Ok(Frame::Partial { needed }) => c.body_len = Some(needed),
                    // The requests before it are handled first, as if read one by one.
                    _ if !c.queue.is_empty() => return self.dispatch(id, c),
                    _ => {
                        self.shared
                            .counters
                            .closed_by_broker
                            .fetch_add(1, Ordering::Relaxed);
                        return c.reject(&format!(
                            "request size {} is not in 1..={}",
                            i32::from_be_bytes(c.size),
                            settings.max_socket_request_bytes
                        ));
                    }
                }
            }
            if c.body_len == Some(c.body.len()) {
                // Complete: queued; the queue goes to a worker when the socket has nothing
                // more for now (or the batch is full), and reading resumes when it is
                // answered. Pipelined requests thus cost one hand-over per batch.
                self.shared
                    .counters
                    .requests
                    .fetch_add(1, Ordering::Relaxed);
                let body = std::mem::take(&mut c.body);
                c.size_got = 0;
                c.body_len = None;
                c.started = None;
                if c.queue.is_empty() {
                    match handler.produce_inline(&body, &mut c.cache, Clock::now()) {
                        Some(handled) => {
                            // Handled here: the buffer is kept for the next request.
                            self.release(c);
                            inlined += body.len();
                            self.shared.counters.in_loop.fetch_add(1, Ordering::Relaxed);
                            if body.capacity() <= KEEP_BODY {
                                c.body = body;
                                c.body.clear();
                            }
                            if let Err(reason) = handled {
                                self.shared
                                    .counters
                                    .closed_by_broker
                                    .fetch_add(1, Ordering::Relaxed);
                                return c.reject(reason);
                            }
                            continue;
                        }
                        None => c.queue.push_back(body),
                    }
                } else {
                    c.queue.push_back(body);
                }
                let bytes: usize = c.queue.iter().map(Vec::len).sum();
                if c.queue.len() >= MAX_BATCH || bytes >= MAX_BATCH_BYTES {
                    return self.dispatch(id, c);
                }
            }
        }
        Next::Keep
    }

    /// The bytes of one bulk read at a request boundary: each complete request with a valid
    /// size is queued; what follows the last one (part of a size, or a size and part of its
    /// body, or a size the checks in [`read`](Self::read) will refuse) is left in the
    /// connection's request state, as if read there. Every byte kept counts against
    /// `max_request_memory`.
    ///
    /// A request [`Handler::produce_inline`] takes while nothing is queued before it is
    /// handled here, straight from the read buffer (no copy, no hand-over to a worker, as
    /// the reference's network threads handled every request). `Ok`: the request bytes
    /// handled so; `Err`: such a request was refused (the bytes after it are dropped, as
    /// after a refusal by a worker).
    fn split_requests(
        &mut self,
        c: &mut Conn,
        mut bytes: &[u8],
        handler: &Handler<'_>,
    ) -> Result<usize, &'static str> {
        let max = self.shared.settings.max_socket_request_bytes;
        let clock = Clock::now();
        let now = clock.mono;
        c.active = now;
        let (mut kept, mut handled) = (0, 0);
        while !bytes.is_empty() {
            match frame(bytes, max) {
                Ok(Frame::Complete { body, consumed }) => {
                    self.shared
                        .counters
                        .requests
                        .fetch_add(1, Ordering::Relaxed);
                    bytes = &bytes[consumed..];
                    if c.queue.is_empty() {
                        if let Some(result) = handler.produce_inline(body, &mut c.cache, clock) {
                            result?;
                            handled += body.len();
                            self.shared.counters.in_loop.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                    c.queue.push_back(body.to_vec());
                    kept += body.len();
                }
                _ if bytes.len() < 4 => {
                    c.size[..bytes.len()].copy_from_slice(bytes);
                    c.size_got = bytes.len();
                    c.started = Some(now);
                    break;
                }
                // A valid size whose body is not all here, or a size the checks refuse:
                // the size is checked again, as after a read of its four bytes.
                _ => {
                    c.size.copy_from_slice(&bytes[..4]);
                    c.size_got = 4;
                    c.started = Some(now);
                    if frame(&bytes[..4], max).is_ok() {
                        c.body.clear();
                        c.body.extend_from_slice(&bytes[4..]);
                        kept += bytes.len() - 4;
                    }
                    break;
                }
            }
        }
        self.request_bytes += kept;
        c.counted += kept;
        self.shared
            .counters
            .request_memory_peak
            .fetch_max(self.request_bytes as u64, Ordering::Relaxed);
        Ok(handled)
    }

    /// Hands the queued requests to a worker (one job, handled in order).
    fn dispatch(&mut self, id: u64, c: &mut Conn) -> Next {
        c.busy = true;
        let bodies = std::mem::take(&mut c.queue);
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|j| j.send(Job { id, bodies }).is_ok());
        if sent {
            Next::Keep
        } else {
            Next::Close(None)
        }
    }

    /// [`dispatch`](Self::dispatch) when requests are queued, else nothing to do.
    fn dispatch_any(&mut self, id: u64, c: &mut Conn) -> Next {
        if c.queue.is_empty() {
            Next::Keep
        } else {
            self.dispatch(id, c)
        }
    }

    /// A worker answered: start writing, or read the next request.
    fn finish(&mut self, d: Done) {
        let Some(mut c) = self.conns.remove(&d.id) else {
            return;
        };
        c.busy = false;
        self.release(&mut c);
        // Reuse the buffer unless a next request is already part read.
        if c.body.is_empty() && c.body_len.is_none() {
            c.body = d.body;
            c.body.clear();
            if c.body.capacity() > KEEP_BODY {
                c.body = Vec::new();
            }
        }
        // The requests after a response wait for it; after a rejection they are dropped.
        c.queue = d.rest;
        c.active = Instant::now();
        match d.reaction {
            Reaction::Respond(plan) => {
                c.out = Some(plan);
                c.chunk_at = 0;
                c.chunk.clear();
                match self.write(d.id, &mut c) {
                    Next::Keep => {
                        self.conns.insert(d.id, c);
                    }
                    Next::Close(why) => self.close(c, why),
                }
            }
            Reaction::Silent => {
                self.conns.insert(d.id, c);
                self.with(d.id, Self::read);
            }
            Reaction::Close(reason) => {
                c.queue.clear();
                self.shared
                    .counters
                    .closed_by_broker
                    .fetch_add(1, Ordering::Relaxed);
                match c.reject(reason) {
                    Next::Keep => {
                        self.conns.insert(d.id, c);
                    }
                    Next::Close(why) => self.close(c, why),
                }
            }
        }
    }

    /// Writes the response in chunks until the socket is full or it is done.
    fn write(&mut self, id: u64, c: &mut Conn) -> Next {
        let cap = self.shared.settings.response_chunk_bytes;
        let zero_copy = self.shared.settings.zero_copy;
        loop {
            let Some(plan) = c.out.as_mut() else {
                return Next::Keep;
            };
            if c.chunk_at == c.chunk.len() {
                if zero_copy {
                    if let Some((file, pos, left)) = plan.file_data() {
                        match send_file(&c.stream, file, pos, left) {
                            Ok(0) => {
                                ::log::error!(
                                    "{}: a segment file ended before the range a response sends",
                                    c.peer
                                );
                                return Next::Close(None);
                            }
                            Ok(n) => {
                                plan.sent_file_data(n);
                                c.active = Instant::now();
                                self.shared
                                    .counters
                                    .zero_copy_bytes
                                    .fetch_add(n, Ordering::Relaxed);
                            }
                            Err(e) if e.kind() == IoKind::WouldBlock => return Next::Keep,
                            Err(e) if e.kind() == IoKind::Interrupted => {}
                            Err(_) => return Next::Close(None),
                        }
                        continue;
                    }
                }
                if let Err(e) = plan.next_chunk(&mut c.chunk, cap, zero_copy) {
                    ::log::error!("{}: cannot read the log for a response: {e}", c.peer);
                    return Next::Close(None);
                }
                c.chunk_at = 0;
                if c.chunk.is_empty() && plan.is_done() {
                    c.out = None;
                    if c.chunk.capacity() > cap {
                        c.chunk = Vec::new();
                    }
                    c.active = Instant::now();
                    // Done: the next request may already be waiting.
                    return self.read(id, c);
                }
            }
            match c.stream.write(&c.chunk[c.chunk_at..]) {
                Ok(0) => return Next::Close(None),
                Ok(n) => {
                    c.chunk_at += n;
                    c.active = Instant::now();
                    self.shared
                        .counters
                        .written_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if e.kind() == IoKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == IoKind::Interrupted => {}
                Err(_) => return Next::Close(None),
            }
        }
    }

    /// Timeouts, and a paused accept.
    fn sweep(&mut self, now: Instant) {
        if self.accept_paused.is_some_and(|t| now >= t) {
            self.accept_paused = None;
            self.accept_all();
        }
        // Paused reads first: memory may have been given back.
        let paused: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.paused)
            .map(|(id, _)| *id)
            .collect();
        for id in paused {
            if let Some(c) = self.conns.get_mut(&id) {
                c.paused = false;
            }
            self.with(id, Self::read);
        }
        let shared = self.shared.clone();
        let s = &shared.settings;
        let mut expired = Vec::new();
        for (id, c) in &self.conns {
            if c.busy {
                continue;
            }
            if let Some(t) = c.draining {
                if now.duration_since(t) >= LINGER {
                    expired.push((*id, None));
                }
                continue;
            }
            let why = if c.out.is_some() {
                (now.duration_since(c.active) >= s.write_timeout).then(|| {
                    format!(
                        "the client did not take its response for {:?}",
                        s.write_timeout
                    )
                })
            } else if let Some(t) = c.started {
                (now.duration_since(t) >= s.request_timeout).then(|| {
                    format!(
                        "request not complete after {:?} ({} of {} bytes)",
                        s.request_timeout,
                        c.size_got + c.body.len(),
                        c.body_len.map_or("?".to_owned(), |n| (n + 4).to_string())
                    )
                })
            } else {
                s.idle_timeout
                    .filter(|&t| now.duration_since(c.active) >= t)
                    .map(|t| format!("idle for {t:?}"))
            };
            if let Some(why) = why {
                expired.push((*id, Some(why)));
            }
        }
        for (id, why) in expired {
            if let Some(c) = self.conns.remove(&id) {
                if why.is_some() {
                    self.shared
                        .counters
                        .timed_out
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.close(c, why);
            }
        }
    }
}

/// Sends up to `len` bytes of `file` at `pos` to the socket with `sendfile(2)`: the bytes go
/// from the page cache to the socket without a copy through this process. Returns the bytes
/// sent (0: the file ended first); `WouldBlock` when the socket is full.
#[cfg(target_os = "linux")]
fn send_file(stream: &TcpStream, file: &std::fs::File, pos: u64, len: u64) -> std::io::Result<u64> {
    // One call moves at most 0x7ffff000 bytes (sendfile(2)); 1 GiB keeps well below.
    let count = len.min(1 << 30) as usize;
    let mut offset = pos;
    let n = rustix::fs::sendfile(stream, file, Some(&mut offset), count)?;
    Ok(n as u64)
}

/// Elsewhere: a bounded `pread` and `write` (this platform has no `sendfile(2)` here).
#[cfg(not(target_os = "linux"))]
fn send_file(stream: &TcpStream, file: &std::fs::File, pos: u64, len: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0; len.min(64 << 10) as usize];
    let n = file.read_at(&mut buf, pos)?;
    if n == 0 {
        return Ok(0);
    }
    let mut s = stream;
    Ok(s.write(&buf[..n])? as u64)
}
