//! Decoding the two byte streams of one connection: framing, request and response parsing,
//! pairing responses with requests in order (through the proto [`Session`]), gaps, and
//! resynchronisation after damage.
//!
//! 0.7 has no correlation ids: a broker answers the requests of a connection strictly in
//! order and never answers PRODUCE/MULTIPRODUCE (spec §6.10). So the n-th response answers
//! the n-th request that expects one — provided the response started after that request was
//! complete (checked with capture timestamps when there are some; a response that began
//! earlier answers a request the capture missed and is decoded unpaired, its shape guessed).

use std::collections::VecDeque;

use bumpalo::Bump;
use kafka07_io::capture::Timestamp;
use kafka07_proto::{
    frame, ErrorCode, ErrorKind, Expect, Frame, Request, RequestType, Response, Session,
};

use super::event::{
    Dir, ErrorEvent, Event, MessageIn, PartInfo, RequestEvent, ResponseEvent, ResyncEvent,
    SetSummary, StreamId, UncapturedEvent,
};
use super::holed::{read_part, set_context, walk_cut_set, CutFrame, CutSetContext};
use super::messages::{error_event, walk_set, SetContext};
use super::{DecodeConfig, Sink};

/// Most requests awaiting a response that one connection tracks.
pub const PENDING_CAPACITY: usize = 1024;

/// What a request left behind for its response.
#[derive(Clone, Debug)]
struct Pending {
    index: u64,
    at: u64,
    ts: Option<Timestamp>,
    request_type: &'static str,
    parts: Vec<PartKey>,
}

#[derive(Clone, Debug)]
struct PartKey {
    topic: Option<String>,
    partition: Option<i32>,
    offset: Option<i64>,
}

/// One direction's unconsumed bytes.
#[derive(Debug)]
struct DirState {
    id: StreamId,
    /// Received bytes; those before `pos` are consumed (dropped in bulk, not per frame).
    buf: Vec<u8>,
    pos: usize,
    /// Stream position of `buf[pos]`.
    start: u64,
    /// (stream position where a chunk starts, its timestamp), oldest first.
    stamps: VecDeque<(u64, Timestamp)>,
    /// `Some(from)` while skipping damaged bytes since `from`.
    resync_from: Option<u64>,
    /// The frame being received with holes in it (snap length); `buf` is empty meanwhile
    /// and the stream goes on at `at + total` when it is complete.
    cut: Option<CutFrame>,
    /// A frame whose size field was captured only in part, running over several packets:
    /// where it ends is being inferred from the packets' recorded lengths.
    infer: Option<Inferring>,
    /// Stream position where the bytes of the last [`push`](ConnectionDecoder::push) began
    /// (a packet's first byte, in a capture).
    packet_at: u64,
    /// The current resynchronisation follows a frame boundary the snap length cut off.
    lost: bool,
    closed: bool,
}

/// A frame whose size field the capture has only in part (a snap length leaving fewer than
/// 4 payload bytes a packet, as `-s 68` with TCP timestamps does), spanning more than the
/// packet it starts in.
#[derive(Clone, Debug)]
struct Inferring {
    /// Stream position of its first byte.
    at: u64,
    /// The sizes (frame length less 4) that its captured size bytes allow.
    lo: u64,
    hi: u64,
    /// Bytes of the packets so far, captured or not.
    len: u64,
    /// Of which captured.
    captured: u64,
    /// Packets so far.
    packets: u64,
    /// Size bytes captured (1 to 3).
    size_bytes: usize,
}

impl Inferring {
    /// The `unaligned` record of a frame whose end could not be inferred.
    fn unaligned(&self, stream: StreamId, detail: String) -> Event<'static> {
        Event::Uncaptured(UncapturedEvent {
            stream,
            what: "unaligned",
            frame_at: self.at,
            request_index: None,
            part: None,
            at: self.at,
            position: None,
            offset: None,
            size: self.len,
            captured: self.captured,
            inferred: false,
            detail: Some(detail),
        })
    }
}

/// What the first captured bytes of a packet say about a frame starting with it, when
/// fewer than the 4 bytes of its size field were captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PacketStart {
    /// The packet holds exactly one frame: the size bytes captured agree with the packet's
    /// length less 4.
    One,
    /// The frame is longer than the packet: its size is in `lo..=hi`.
    Many { lo: u64, hi: u64 },
    /// No frame of this packet's length starts here (several frames share it, or the size
    /// bytes allow no frame at all): why.
    No(&'static str),
}

/// Tests the hypothesis that a frame starts at a packet's first byte: `head` are its
/// captured bytes (fewer than 4), `packet_len` its recorded payload length.
fn packet_start(head: &[u8], packet_len: u64, max_frame: usize) -> PacketStart {
    let k = head.len().min(3);
    if k == 0 {
        return PacketStart::No("no byte of its size field was captured");
    }
    let shift = 8 * (4 - k) as u32;
    let v = head[..k].iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
    let lo = v << shift;
    let hi = (lo | ((1u64 << shift) - 1)).min(max_frame as u64);
    if lo > hi {
        return PacketStart::No(
            "the captured bytes of its size field give a frame larger than --max-frame",
        );
    }
    // A frame holds at least its 4-byte size and a 2-byte type or error code.
    let one = packet_len.saturating_sub(4);
    if packet_len >= 6 && (lo..=hi).contains(&one) {
        PacketStart::One
    } else if lo > one {
        PacketStart::Many { lo: lo.max(2), hi }
    } else {
        PacketStart::No(
            "the packet is longer than the frame its captured size bytes allow: it holds \
             more than one frame, and where the next one starts was not captured",
        )
    }
}

impl DirState {
    fn new(id: StreamId) -> Self {
        DirState {
            id,
            buf: Vec::new(),
            pos: 0,
            start: 0,
            stamps: VecDeque::new(),
            resync_from: None,
            cut: None,
            infer: None,
            packet_at: 0,
            lost: false,
            closed: false,
        }
    }

    /// The unconsumed bytes.
    fn data(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn end(&self) -> u64 {
        self.start + self.data().len() as u64
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn ts_at(&self, pos: u64) -> Option<Timestamp> {
        self.stamps
            .iter()
            .take_while(|(at, _)| *at <= pos)
            .last()
            .map(|(_, ts)| *ts)
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.data().len());
        self.pos += n;
        self.start += n as u64;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        while self.stamps.len() > 1 && self.stamps[1].0 <= self.start {
            self.stamps.pop_front();
        }
    }

    fn consume_all(&mut self) {
        self.consume(self.data().len());
    }
}

/// Answer of a plausibility check at a candidate frame start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Yes,
    No,
    NeedMore,
}

/// Decodes one connection (or one raw stream, or a pair of raw streams), incrementally.
///
/// Feed it the bytes of each direction as they come ([`push`](Self::push)), the holes
/// ([`gap`](Self::gap)), then call [`finish`](Self::finish); events go to the [`Sink`].
///
/// ```
/// use kafka07::dump::{ConnectionDecoder, DecodeConfig, Dir, Event};
/// let mut d = ConnectionDecoder::new(Some(0), DecodeConfig::default());
/// let mut types = Vec::new();
/// let mut sink = |e: &Event<'_>| types.push(match e {
///     Event::Request(r) => r.request_type.to_string(),
///     Event::Response(r) => format!("answer to {}", r.request_type),
///     _ => String::new(),
/// });
/// // OFFSETS "t"/0 latest, max 1 (spec §6.7), sent in two pieces.
/// let req = [0, 0, 0, 0x15, 0, 4, 0, 1, b't', 0, 0, 0, 0,
///            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1];
/// d.push(Dir::ToServer, &req[..7], None, &mut sink);
/// d.push(Dir::ToServer, &req[7..], None, &mut sink);
/// // Its response: error 0, one offset (42).
/// d.push(Dir::ToClient, &[0, 0, 0, 14, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 42], None, &mut sink);
/// d.finish(&mut sink);
/// assert_eq!(types, ["OFFSETS", "answer to OFFSETS"]);
/// ```
#[derive(Debug)]
pub struct ConnectionDecoder {
    cfg: DecodeConfig,
    req: DirState,
    resp: DirState,
    pending: VecDeque<Pending>,
    session: Session<PENDING_CAPACITY>,
    requests: u64,
    responses: u64,
}

impl ConnectionDecoder {
    /// A decoder for connection `conn` (`None` for a raw stream).
    pub fn new(conn: Option<u64>, cfg: DecodeConfig) -> Self {
        ConnectionDecoder {
            cfg,
            req: DirState::new(StreamId {
                conn,
                dir: Dir::ToServer,
            }),
            resp: DirState::new(StreamId {
                conn,
                dir: Dir::ToClient,
            }),
            pending: VecDeque::new(),
            session: Session::new(),
            requests: 0,
            responses: 0,
        }
    }

    /// Requests decoded so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Responses decoded so far.
    pub fn responses(&self) -> u64 {
        self.responses
    }

    /// Requests still waiting for a response.
    pub fn unanswered(&self) -> u64 {
        self.pending.len() as u64
    }

    fn state(&mut self, dir: Dir) -> &mut DirState {
        match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.resp,
        }
    }

    /// Appends stream bytes of direction `dir` (carried by a packet of time `ts`, if known)
    /// and decodes every frame they complete.
    pub fn push(&mut self, dir: Dir, bytes: &[u8], ts: Option<Timestamp>, sink: &mut dyn Sink) {
        let st = self.state(dir);
        if st.closed || bytes.is_empty() {
            return;
        }
        // Where this packet's first byte is: frames are delimited by inference only from
        // a packet's start.
        st.packet_at = match &st.cut {
            Some(cut) => cut.at + cut.filled,
            None => st.end(),
        };
        let mut bytes = bytes;
        if let Some(cut) = st.cut.as_mut() {
            let used = cut.add_data(bytes, ts);
            bytes = &bytes[used..];
            self.complete_cut(dir, sink);
            if bytes.is_empty() {
                return;
            }
        }
        let st = self.state(dir);
        if let Some(ts) = ts {
            let end = st.end();
            st.stamps.push_back((end, ts));
        }
        st.append(bytes);
        self.pump(sink);
    }

    /// Records that `missing` bytes of direction `dir` exist but were not captured (cut off
    /// by the snap length: the capture says how long the packet was, so the stream keeps its
    /// alignment). A frame whose size field was captured is still delimited exactly: it is
    /// decoded from the bytes the capture has when its end is reached. A frame whose size
    /// field was captured only in part, at the start of a packet, is delimited by inference
    /// when the packet lengths and the captured size bytes agree on one end (reported as
    /// inferred); otherwise where the frame ends is unknown: an `unaligned` record, and the
    /// stream is searched for the next plausible frame as after a [`gap`](Self::gap), but
    /// without counting it as damage.
    pub fn uncaptured(&mut self, dir: Dir, missing: u64, sink: &mut dyn Sink) {
        self.pump(sink);
        let max = self.cfg.max_frame;
        let st = self.state(dir);
        if st.closed || missing == 0 {
            return;
        }
        if st.infer.is_some() {
            return self.infer_packet(dir, missing, sink);
        }
        if st.cut.is_none() && st.resync_from.is_none() {
            let size = st.data().first_chunk::<4>().map(|s| i32::from_be_bytes(*s));
            match size {
                Some(n) if n >= 0 && n as usize <= max && 4 + n as usize > st.data().len() => {
                    let ts = st.ts_at(st.start);
                    let last = st.stamps.back().map(|(_, t)| *t);
                    let mut cut = CutFrame::new(st.start, 4 + n as u64, st.data(), ts);
                    cut.last_ts = last.or(ts);
                    st.consume_all();
                    st.cut = Some(cut);
                }
                None if !st.data().is_empty() && st.start == st.packet_at => {
                    return self.infer_start(dir, missing, sink);
                }
                None if st.data().is_empty() => {
                    return self.unaligned(
                        dir,
                        missing,
                        "the next frame starts in bytes the snap length cut off: its size \
                         field was not captured",
                        sink,
                    );
                }
                None => {
                    return self.unaligned(
                        dir,
                        missing,
                        "this frame's size field was cut by the snap length (it starts \
                         inside a packet, so the packet's length does not delimit it)",
                        sink,
                    );
                }
                _ => return self.gap(dir, missing, sink),
            }
        }
        let Some(cut) = st.cut.as_mut() else {
            // Already searching for a frame start: these bytes are passed over too.
            return self.pass_over(dir, missing, sink);
        };
        let used = cut.add_missing(missing);
        self.complete_cut(dir, sink);
        if missing > used {
            // The next frame starts inside the hole: its size field is lost.
            self.unaligned(
                dir,
                missing - used,
                "the next frame starts in bytes the snap length cut off: its size field was \
                 not captured",
                sink,
            );
        }
    }

    /// A packet whose first bytes (fewer than 4) start a frame: delimit it by inference.
    fn infer_start(&mut self, dir: Dir, missing: u64, sink: &mut dyn Sink) {
        let max = self.cfg.max_frame;
        let st = self.state(dir);
        let head = st.data().len();
        let packet_len = head as u64 + missing;
        match packet_start(st.data(), packet_len, max) {
            PacketStart::One => {
                let at = st.start;
                st.consume_all();
                st.start += missing;
                let frame = Inferring {
                    at,
                    lo: 0,
                    hi: 0,
                    len: packet_len,
                    captured: head as u64,
                    packets: 1,
                    size_bytes: head,
                };
                self.emit_inferred(dir, &frame, sink);
                self.pump(sink);
            }
            PacketStart::Many { lo, hi } => {
                let at = st.start;
                st.consume_all();
                st.start += missing;
                st.infer = Some(Inferring {
                    at,
                    lo,
                    hi,
                    len: packet_len,
                    captured: head as u64,
                    packets: 1,
                    size_bytes: head,
                });
            }
            PacketStart::No(why) => self.unaligned(dir, missing, why, sink),
        }
    }

    /// The next packet of a frame whose end is being inferred: either the frame ended with
    /// the packets before it (their length fits its captured size bytes, and a frame can
    /// start with this one), or this packet is more of it.
    fn infer_packet(&mut self, dir: Dir, missing: u64, sink: &mut dyn Sink) {
        let max = self.cfg.max_frame;
        let st = self.state(dir);
        let Some(mut frame) = st.infer.take() else {
            return;
        };
        let head = st.data();
        let packet_len = head.len() as u64 + missing;
        let ends_before = (frame.lo..=frame.hi).contains(&frame.len.saturating_sub(4));
        let starts_here = st.start == st.packet_at
            && match head.first_chunk::<4>() {
                Some(size) => (2..=max as i64).contains(&i64::from(i32::from_be_bytes(*size))),
                None => !matches!(packet_start(head, packet_len, max), PacketStart::No(_)),
            };
        if ends_before && starts_here {
            self.emit_inferred(dir, &frame, sink);
            return self.uncaptured(dir, missing, sink);
        }
        frame.len += packet_len;
        frame.captured += head.len() as u64;
        frame.packets += 1;
        st.consume_all();
        st.start += missing;
        if frame.len.saturating_sub(4) > frame.hi {
            // No packet boundary fits: the frame's end is unknown.
            let id = st.id;
            st.resync_from = Some(st.start);
            st.lost = true;
            sink.event(&frame.unaligned(
                id,
                format!(
                    "{} of the 4 size bytes were captured (a frame of {} to {} bytes), and no \
                     boundary of the {} packets from here fits them",
                    frame.size_bytes,
                    frame.lo + 4,
                    frame.hi + 4,
                    frame.packets
                ),
            ));
            self.pump(sink);
        } else {
            self.state(dir).infer = Some(frame);
        }
    }

    /// Reports a frame delimited by inference (its type or error code not captured).
    fn emit_inferred(&mut self, dir: Dir, frame: &Inferring, sink: &mut dyn Sink) {
        let (id, what, request_index) = match dir {
            Dir::ToServer => (self.req.id, "request", None),
            Dir::ToClient => {
                // In order, as every response: it would answer the oldest pending request.
                let index = self.pending.pop_front().map(|p| p.index);
                if index.is_some() {
                    let _ = self.session.retire();
                }
                (self.resp.id, "response", index)
            }
        };
        let packets = if frame.packets == 1 {
            "the packet it starts".to_string()
        } else {
            format!("the {} packets it spans", frame.packets)
        };
        sink.event(&Event::Uncaptured(UncapturedEvent {
            stream: id,
            what,
            frame_at: frame.at,
            request_index,
            part: None,
            at: frame.at,
            position: None,
            offset: None,
            size: frame.len,
            captured: frame.captured,
            inferred: true,
            detail: Some(format!(
                "the {} captured bytes of its 4-byte size field agree with the recorded length of \
                 {packets}",
                frame.size_bytes
            )),
        }));
    }

    /// The snap length cut off where the frame at the current position ends (its size field,
    /// or where the next frame starts): reported as `unaligned`, and the stream is searched
    /// for the next plausible frame. Not damage: the search's skipped bytes are
    /// `unplaced_bytes`.
    fn unaligned(&mut self, dir: Dir, missing: u64, why: &str, sink: &mut dyn Sink) {
        let st = self.state(dir);
        let at = st.start;
        let id = st.id;
        let partial = st.data().len() as u64;
        sink.event(&Event::Uncaptured(UncapturedEvent {
            stream: id,
            what: "unaligned",
            frame_at: at,
            request_index: None,
            part: None,
            at,
            position: None,
            offset: None,
            size: partial + missing,
            captured: partial,
            inferred: false,
            detail: Some(why.to_string()),
        }));
        let st = self.state(dir);
        st.consume_all();
        st.start += missing;
        st.resync_from = Some(st.start);
        st.lost = true;
        if partial > 0 && dir == Dir::ToClient {
            // The response being received belonged to the oldest pending request.
            self.retire_front();
        }
        self.pump(sink);
    }

    /// Decodes the cut frame of `dir` if every byte of it is accounted for.
    fn complete_cut(&mut self, dir: Dir, sink: &mut dyn Sink) {
        let st = self.state(dir);
        if !st.cut.as_ref().is_some_and(CutFrame::complete) {
            return;
        }
        let Some(cut) = st.cut.take() else { return };
        st.buf.clear();
        st.pos = 0;
        st.start = cut.at + cut.total;
        st.stamps.clear();
        self.emit_cut(dir, &cut, sink);
        self.pump(sink);
    }

    /// Records that `missing` bytes of direction `dir` are lost. The frame they cut is
    /// reported and decoding resumes at the next plausible frame after them.
    pub fn gap(&mut self, dir: Dir, missing: u64, sink: &mut dyn Sink) {
        self.state(dir).lost = false;
        self.pass_over(dir, missing, sink);
    }

    /// Skips `missing` bytes that are not there, reporting the frame they cut (unless a
    /// search for a frame start is under way, which goes on after them).
    fn pass_over(&mut self, dir: Dir, missing: u64, sink: &mut dyn Sink) {
        let st = self.state(dir);
        if let Some(frame) = st.infer.take() {
            // A frame being delimited by inference, interrupted by bytes that are lost: its
            // end is unknown. The search for a frame start begins after the gap.
            let id = st.id;
            st.consume_all();
            st.start += missing;
            st.resync_from = Some(st.start);
            sink.event(&frame.unaligned(
                id,
                "a gap interrupted it before its end could be inferred".to_string(),
            ));
            self.pump(sink);
            return;
        }
        // Whatever was complete before the hole is decoded first.
        self.pump(sink);
        let st = self.state(dir);
        let at = st.end();
        let id = st.id;
        let partial = st.data().len();
        let was_resyncing = st.resync_from.is_some();
        if partial > 0 && !was_resyncing {
            let what = match dir {
                Dir::ToServer => "request",
                Dir::ToClient => "response",
            };
            sink.event(&Event::Error(ErrorEvent {
                stream: Some(id),
                at: st.start,
                context: what,
                layer: "frame".into(),
                kind: "cut_by_gap",
                message: format!(
                    "{what} frame cut by a gap: {partial} bytes of it were captured, \
                     {missing} bytes missing after them"
                ),
                depth: 0,
                inner_at: None,
                frame: None,
            }));
        }
        let st = self.state(dir);
        let from = if was_resyncing { st.resync_from } else { None };
        st.consume_all();
        st.start = at + missing;
        st.resync_from = Some(from.unwrap_or(st.start));
        if partial > 0 && !was_resyncing && dir == Dir::ToClient {
            // The response being received belonged to the oldest pending request.
            self.retire_front();
        }
        self.pump(sink);
    }

    /// Ends both directions: decodes what is left, reports incomplete frames and unpaired
    /// responses.
    pub fn finish(&mut self, sink: &mut dyn Sink) {
        for dir in [Dir::ToServer, Dir::ToClient] {
            // A cut frame the stream ends inside: decoded from what there is.
            if let Some(cut) = self.state(dir).cut.take() {
                self.emit_cut(dir, &cut, sink);
            }
            // A frame being delimited by inference: the end of the stream ends it, if its
            // size bytes allow.
            if let Some(frame) = self.state(dir).infer.take() {
                if (frame.lo..=frame.hi).contains(&frame.len.saturating_sub(4)) {
                    self.emit_inferred(dir, &frame, sink);
                } else {
                    let id = self.state(dir).id;
                    sink.event(&frame.unaligned(
                        id,
                        format!(
                            "the stream ends {} bytes into a frame whose captured size bytes \
                             allow {} to {} bytes",
                            frame.len,
                            frame.lo + 4,
                            frame.hi + 4
                        ),
                    ));
                }
            }
        }
        self.req.closed = true;
        self.pump_requests(sink);
        self.resp.closed = true;
        self.pump_responses(sink);
    }

    fn retire_front(&mut self) {
        if self.pending.pop_front().is_some() {
            // Session retires its oldest expectation whatever the body: this body is empty.
            let _ = self.session.received(&[]);
        }
    }

    fn pump(&mut self, sink: &mut dyn Sink) {
        self.pump_requests(sink);
        self.pump_responses(sink);
    }

    fn error(
        &self,
        dir: Dir,
        at: u64,
        context: &'static str,
        kind: &'static str,
        message: String,
    ) -> Event<'static> {
        let id = match dir {
            Dir::ToServer => self.req.id,
            Dir::ToClient => self.resp.id,
        };
        Event::Error(ErrorEvent {
            stream: Some(id),
            at,
            context,
            layer: "frame".into(),
            kind,
            message,
            depth: 0,
            inner_at: None,
            frame: None,
        })
    }

    /// Skips to the next plausible frame while resynchronising; `false` when more bytes are
    /// needed (or none are left).
    fn resync(&mut self, dir: Dir, sink: &mut dyn Sink) -> bool {
        let max = self.cfg.max_frame;
        let expects: Vec<Expect> = self.expectations();
        let st = match dir {
            Dir::ToServer => &mut self.req,
            Dir::ToClient => &mut self.resp,
        };
        let Some(from) = st.resync_from else {
            return true;
        };
        let lost = st.lost;
        let mut p = 0usize;
        let mut matched_after = 0usize;
        let verdict = loop {
            if p >= st.data().len() {
                break None;
            }
            let b = &st.data()[p..];
            let (v, skip) = match dir {
                Dir::ToServer => (request_candidate(b, max), 0),
                Dir::ToClient => response_candidate(b, max, &expects),
            };
            match v {
                Verdict::Yes => {
                    matched_after = skip;
                    break Some(Verdict::Yes);
                }
                Verdict::NeedMore if !st.closed => break Some(Verdict::NeedMore),
                _ => p += 1,
            }
        };
        st.consume(p);
        match verdict {
            Some(Verdict::Yes) => {
                let to = st.start;
                st.resync_from = None;
                st.lost = false;
                let id = st.id;
                if to > from {
                    sink.event(&Event::Resync(ResyncEvent {
                        stream: id,
                        from,
                        to,
                        skipped: to - from,
                        found: true,
                        not_captured: lost,
                    }));
                }
                for _ in 0..matched_after {
                    // Responses to these requests were lost in the damage.
                    self.retire_front();
                }
                true
            }
            Some(_) => false,
            None => {
                if st.closed {
                    let to = st.start;
                    st.resync_from = None;
                    st.lost = false;
                    let id = st.id;
                    sink.event(&Event::Resync(ResyncEvent {
                        stream: id,
                        from,
                        to,
                        skipped: to - from,
                        found: false,
                        not_captured: lost,
                    }));
                }
                false
            }
        }
    }

    fn expectations(&self) -> Vec<Expect> {
        let mut s = self.session.clone();
        let mut v = Vec::new();
        while let Some(e) = s.next_expected() {
            v.push(e);
            let _ = s.received(&[]);
        }
        v
    }

    fn pump_requests(&mut self, sink: &mut dyn Sink) {
        if self.req.infer.is_some() {
            // Bytes after the start of a frame whose end is being inferred.
            return;
        }
        loop {
            if self.req.resync_from.is_some() && !self.resync(Dir::ToServer, sink) {
                return;
            }
            if self.req.data().is_empty() {
                return;
            }
            let start = self.req.start;
            let buf = std::mem::take(&mut self.req.buf);
            let step = self.request_step(&buf[self.req.pos..], start, sink);
            self.req.buf = buf;
            match step {
                Step::Consumed(n) => self.req.consume(n),
                Step::Resync => {
                    self.req.resync_from = Some(start);
                    self.req.consume(1);
                }
                Step::Wait => return,
                Step::Hold => return,
            }
        }
    }

    fn request_step(&mut self, buf: &[u8], start: u64, sink: &mut dyn Sink) -> Step {
        let closed = self.req.closed;
        match frame(buf, self.cfg.max_frame) {
            Err(e) => {
                sink.event(&Event::Error(error_event(
                    &e,
                    Some(self.req.id),
                    start,
                    "request",
                )));
                Step::Resync
            }
            Ok(Frame::Partial { needed }) => {
                if closed {
                    sink.event(&self.error(
                        Dir::ToServer,
                        start,
                        "request",
                        "incomplete_frame",
                        format!(
                            "the stream ends inside a request frame: {} bytes present, {} more needed",
                            buf.len(),
                            needed
                        ),
                    ));
                    return Step::Consumed(buf.len());
                }
                Step::Wait
            }
            Ok(Frame::Complete { body, consumed }) => match Request::parse_prefix(body) {
                Ok((req, used)) => {
                    let ts = self.req.ts_at(start + consumed as u64 - 1);
                    self.emit_request(&req, &buf[..consumed], start, used, ts, sink);
                    Step::Consumed(consumed)
                }
                Err(e) => {
                    sink.event(&Event::Error(error_event(
                        &e,
                        Some(self.req.id),
                        start + 4,
                        "request",
                    )));
                    // Trust the size if a plausible frame (or the end) follows it.
                    let next = &buf[consumed..];
                    if next.is_empty() || request_candidate(next, self.cfg.max_frame) != Verdict::No
                    {
                        Step::Consumed(consumed)
                    } else {
                        Step::Resync
                    }
                }
            },
        }
    }

    fn emit_request<'a>(
        &mut self,
        req: &Request<'a>,
        raw: &'a [u8],
        at: u64,
        used: usize,
        ts: Option<Timestamp>,
        sink: &mut dyn Sink,
    ) {
        let index = self.requests;
        self.requests += 1;
        let arena = Bump::new();
        let id = self.req.id;
        let mut messages = Vec::new();
        let mut errors = Vec::new();
        let mut keys = Vec::new();
        let mut walk = |p: &kafka07_proto::ProduceRequest<'a>, part: Option<u32>| {
            let topic = p.topic.to_string();
            let ctx = SetContext {
                stream: Some(id),
                found_in: MessageIn::Request,
                frame_at: Some(at),
                request_index: Some(index),
                part,
                topic: Some(topic.clone()),
                partition: Some(p.partition),
                stream_at: at + offset_in(raw, p.messages),
                context: "message_set",
            };
            let w = walk_set(p.messages, 0, &ctx, &self.cfg, &arena);
            let mut info = PartInfo::new(Some(topic), Some(p.partition));
            info.set = Some(w.summary);
            messages.extend(w.messages);
            errors.extend(w.errors);
            info
        };
        let (part, parts) = match req {
            Request::Produce(p) => (Some(walk(p, None)), None),
            Request::MultiProduce(m) => (
                None,
                Some(
                    m.parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| walk(&p, Some(i as u32)))
                        .collect::<Vec<_>>(),
                ),
            ),
            Request::Fetch(f) => {
                keys.push(PartKey {
                    topic: Some(f.topic.to_string()),
                    partition: Some(f.partition),
                    offset: Some(f.offset),
                });
                let mut info = PartInfo::new(Some(f.topic.to_string()), Some(f.partition));
                info.offset = Some(f.offset);
                info.max_size = Some(f.max_size);
                (Some(info), None)
            }
            Request::MultiFetch(m) => {
                let parts = m
                    .parts
                    .iter()
                    .map(|f| {
                        keys.push(PartKey {
                            topic: Some(f.topic.to_string()),
                            partition: Some(f.partition),
                            offset: Some(f.offset),
                        });
                        let mut info = PartInfo::new(Some(f.topic.to_string()), Some(f.partition));
                        info.offset = Some(f.offset);
                        info.max_size = Some(f.max_size);
                        info
                    })
                    .collect();
                (None, Some(parts))
            }
            Request::Offsets(o) => {
                keys.push(PartKey {
                    topic: Some(o.topic.to_string()),
                    partition: Some(o.partition),
                    offset: None,
                });
                let mut info = PartInfo::new(Some(o.topic.to_string()), Some(o.partition));
                info.time = Some(o.time);
                info.max_offsets = Some(o.max_offsets);
                (Some(info), None)
            }
        };
        let rt = req.request_type();
        sink.event(&Event::Request(RequestEvent {
            stream: id,
            index,
            at,
            size: raw.len() as u64,
            ts: ts.map(|t| t.to_string()),
            request_type: rt.name(),
            type_id: rt.id(),
            expects_response: rt.has_response(),
            part,
            parts,
            trailing_bytes: (raw.len() - 4 - used) as u64,
            captured: None,
            raw,
        }));
        for m in messages {
            sink.event(&Event::Message(m));
        }
        for e in errors {
            sink.event(&Event::Error(e));
        }
        match self.session.sent(req) {
            Ok(Some(_)) => self.pending.push_back(Pending {
                index,
                at,
                ts,
                request_type: rt.name(),
                parts: keys,
            }),
            Ok(None) => {}
            Err(e) => {
                sink.event(&Event::Error(ErrorEvent {
                    message: format!(
                        "{}: the responses of the {} oldest requests are no longer awaited",
                        e.kind(),
                        self.pending.len()
                    ),
                    ..error_event(&e, Some(id), at, "request")
                }));
                self.session.clear();
                self.pending.clear();
            }
        }
    }

    fn pump_responses(&mut self, sink: &mut dyn Sink) {
        if self.resp.infer.is_some() {
            return;
        }
        loop {
            if self.resp.resync_from.is_some() && !self.resync(Dir::ToClient, sink) {
                return;
            }
            if self.resp.data().is_empty() {
                return;
            }
            let start = self.resp.start;
            let buf = std::mem::take(&mut self.resp.buf);
            let step = self.response_step(&buf[self.resp.pos..], start, sink);
            self.resp.buf = buf;
            match step {
                Step::Consumed(n) => self.resp.consume(n),
                Step::Resync => {
                    self.resp.resync_from = Some(start);
                    self.resp.consume(1);
                }
                Step::Wait | Step::Hold => return,
            }
        }
    }

    fn response_step(&mut self, buf: &[u8], start: u64, sink: &mut dyn Sink) -> Step {
        let closed = self.resp.closed;
        let (body, consumed) = match frame(buf, self.cfg.max_frame) {
            Err(e) => {
                sink.event(&Event::Error(error_event(
                    &e,
                    Some(self.resp.id),
                    start,
                    "response",
                )));
                return Step::Resync;
            }
            Ok(Frame::Partial { needed }) => {
                if closed {
                    sink.event(&self.error(
                        Dir::ToClient,
                        start,
                        "response",
                        "incomplete_frame",
                        format!(
                            "the stream ends inside a response frame: {} bytes present, {} more needed",
                            buf.len(),
                            needed
                        ),
                    ));
                    self.retire_front();
                    return Step::Consumed(buf.len());
                }
                return Step::Wait;
            }
            Ok(Frame::Complete { body, consumed }) => (body, consumed),
        };
        let ts = self.resp.ts_at(start);
        let paired = match self.pending.front() {
            Some(p) => match (p.ts, ts) {
                (Some(req_ts), Some(resp_ts)) => req_ts <= resp_ts,
                _ => true,
            },
            None => {
                if !self.req.closed && !self.req.data().is_empty() {
                    // A request is still arriving; this response may be its answer.
                    return Step::Hold;
                }
                false
            }
        };
        let raw = &buf[..consumed];
        let index = self.responses;
        if paired {
            let pending = self.pending.pop_front().expect("paired implies pending");
            match self.session.received(body) {
                Ok(resp) => {
                    self.responses += 1;
                    self.emit_response(&resp, raw, start, index, ts, Some(&pending), sink);
                    Step::Consumed(consumed)
                }
                Err(e) => {
                    sink.event(&Event::Error(ErrorEvent {
                        message: format!(
                            "response does not parse as the answer to {} request {} at {}: {}",
                            pending.request_type,
                            pending.index,
                            pending.at,
                            e.kind()
                        ),
                        ..error_event(&e, Some(self.resp.id), start + 4, "response")
                    }));
                    let next = &buf[consumed..];
                    let expects = self.expectations();
                    if next.is_empty()
                        || response_candidate(next, self.cfg.max_frame, &expects).0 != Verdict::No
                    {
                        Step::Consumed(consumed)
                    } else {
                        Step::Resync
                    }
                }
            }
        } else {
            let (resp, _) = guess_response(body);
            if !plausible_response(&resp) && offsets_shaped(body) {
                // An OFFSETS answer whose count does not match its offsets.
                if let Err(e) = Response::parse(body, Expect::Offsets) {
                    sink.event(&Event::Error(ErrorEvent {
                        message: format!("response read as OFFSETS: {}", e.kind()),
                        ..error_event(&e, Some(self.resp.id), start + 4, "response")
                    }));
                    return Step::Consumed(consumed);
                }
            }
            self.responses += 1;
            self.emit_response(&resp, raw, start, index, ts, None, sink);
            Step::Consumed(consumed)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_response<'a>(
        &self,
        resp: &Response<'a>,
        raw: &'a [u8],
        at: u64,
        index: u64,
        ts: Option<Timestamp>,
        pending: Option<&Pending>,
        sink: &mut dyn Sink,
    ) {
        let arena = Bump::new();
        let id = self.resp.id;
        let mut messages = Vec::new();
        let mut errors = Vec::new();
        let key = |i: usize| pending.and_then(|p| p.parts.get(i));
        let mut walk = |bytes: &'a [u8], k: Option<&PartKey>, part: Option<u32>| -> SetSummary {
            let base_offset = k.and_then(|k| k.offset).map_or(0, |o| o.max(0) as u64);
            let ctx = SetContext {
                stream: Some(id),
                found_in: MessageIn::Response,
                frame_at: Some(at),
                request_index: pending.map(|p| p.index),
                part,
                topic: k.and_then(|k| k.topic.clone()),
                partition: k.and_then(|k| k.partition),
                stream_at: at + offset_in(raw, bytes),
                context: "message_set",
            };
            let w = walk_set(bytes, base_offset, &ctx, &self.cfg, &arena);
            // A cut trailing message is the normal end of a fetch response; an error code
            // means there is no set at all.
            messages.extend(w.messages);
            errors.extend(w.errors);
            let mut summary = w.summary;
            // A request captured in part may not have its fetch offset.
            summary.base_unknown = pending.is_some() && k.and_then(|k| k.offset).is_none();
            summary
        };
        let info_for = |k: Option<&PartKey>| {
            let mut info =
                PartInfo::new(k.and_then(|k| k.topic.clone()), k.and_then(|k| k.partition));
            info.offset = k.and_then(|k| k.offset);
            info
        };
        let mut request_type = match resp {
            Response::Fetch(_) => "FETCH",
            Response::MultiFetch(_) => "MULTIFETCH",
            Response::Offsets(_) => "OFFSETS",
        };
        if let Some(p) = pending {
            request_type = p.request_type;
        }
        let (part, parts, offsets) = match resp {
            Response::Fetch(f) => {
                let k = key(0);
                let mut info = info_for(k);
                info.set = Some(walk(f.messages, k, None));
                (Some(info), None, None)
            }
            Response::MultiFetch(m) => {
                let parts = m
                    .parts
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let k = key(i);
                        let mut info = info_for(k);
                        info.error_code = Some(f.error.0);
                        info.error_name = Some(error_name(f.error));
                        info.set = Some(walk(f.messages, k, Some(i as u32)));
                        info
                    })
                    .collect();
                (None, Some(parts), None)
            }
            Response::Offsets(o) => {
                let k = key(0);
                let info =
                    PartInfo::new(k.and_then(|k| k.topic.clone()), k.and_then(|k| k.partition));
                (
                    Some(info),
                    None,
                    Some(o.offsets.iter().collect::<Vec<i64>>()),
                )
            }
        };
        sink.event(&Event::Response(ResponseEvent {
            stream: id,
            index,
            at,
            size: raw.len() as u64,
            ts: ts.map(|t| t.to_string()),
            request_type,
            request_index: pending.map(|p| p.index),
            request_at: pending.map(|p| p.at),
            guessed: pending.is_none(),
            error_code: resp.error().0,
            error_name: error_name(resp.error()),
            part,
            parts,
            offsets,
            captured: None,
            raw,
        }));
        for m in messages {
            sink.event(&Event::Message(m));
        }
        for e in errors {
            sink.event(&Event::Error(e));
        }
    }
}

impl ConnectionDecoder {
    fn emit_cut(&mut self, dir: Dir, cut: &CutFrame, sink: &mut dyn Sink) {
        match dir {
            Dir::ToServer => self.emit_cut_request(cut, sink),
            Dir::ToClient => self.emit_cut_response(cut, sink),
        }
    }

    /// A frame so little of which was captured that not even its type (request) or error
    /// code (response) is known.
    fn uncaptured_frame(&self, dir: Dir, cut: &CutFrame, index: Option<u64>) -> Event<'static> {
        let id = match dir {
            Dir::ToServer => self.req.id,
            Dir::ToClient => self.resp.id,
        };
        Event::Uncaptured(UncapturedEvent {
            stream: id,
            what: match dir {
                Dir::ToServer => "request",
                Dir::ToClient => "response",
            },
            frame_at: cut.at,
            request_index: index,
            part: None,
            at: cut.at,
            position: None,
            offset: None,
            size: cut.total,
            captured: cut.captured(),
            inferred: false,
            detail: None,
        })
    }

    fn emit_cut_request(&mut self, cut: &CutFrame, sink: &mut dyn Sink) {
        let Some(rt) = cut.i16_at(4).and_then(RequestType::from_id) else {
            // The type was not captured (or is not one of the five): delimited, not decoded.
            sink.event(&self.uncaptured_frame(Dir::ToServer, cut, None));
            return;
        };
        let index = self.requests;
        self.requests += 1;
        let id = self.req.id;
        let arena = Bump::new();
        let mut events = Vec::new();
        let multi = matches!(rt, RequestType::MultiFetch | RequestType::MultiProduce);
        let (count, mut off) = if multi {
            (cut.i16_at(6).map(|n| n.max(0) as u64), Some(8))
        } else {
            (Some(1), Some(6))
        };
        let mut parts = Vec::new();
        let mut keys = Vec::new();
        // Parts are read while their place is known; the count bounds the loop (and the
        // frame: each part takes at least 2 bytes).
        let limit = count.unwrap_or(0).min(cut.total / 2);
        for i in 0..limit {
            let Some(o) = off else { break };
            let (mut p, next) = read_part(cut, o, rt.id());
            if let Some((start, end)) = p.set {
                let ctx = CutSetContext {
                    set: set_context(
                        id,
                        MessageIn::Request,
                        cut.at,
                        Some(index),
                        multi.then_some(i as u32),
                        &p.info,
                    ),
                    stream: id,
                    cfg: &self.cfg,
                };
                p.info.set = Some(walk_cut_set(cut, start, end, 0, &ctx, &arena, &mut events));
            }
            let produce = matches!(rt, RequestType::Produce | RequestType::MultiProduce);
            if next.is_none() && (i + 1 < limit || (produce && p.set.is_none())) {
                // Where the rest of the frame's fields are is not known.
                events.push(Event::Uncaptured(rest_of_frame(
                    id,
                    cut,
                    o,
                    Some(index),
                    multi.then_some(i as u32),
                )));
            }
            keys.push(PartKey {
                topic: p.info.topic.clone(),
                partition: p.info.partition,
                offset: p.info.offset,
            });
            parts.push(p.info);
            off = next;
        }
        let (part, parts) = if multi {
            (None, Some(parts))
        } else {
            (parts.pop(), None)
        };
        sink.event(&Event::Request(RequestEvent {
            stream: id,
            index,
            at: cut.at,
            size: cut.total,
            ts: cut.last_ts.map(|t| t.to_string()),
            request_type: rt.name(),
            type_id: rt.id(),
            expects_response: rt.has_response(),
            part,
            parts,
            trailing_bytes: 0,
            captured: Some(cut.captured()),
            raw: cut.head(),
        }));
        for e in &events {
            sink.event(e);
        }
        let expect = match rt {
            RequestType::Fetch => Some(Expect::Fetch),
            RequestType::Offsets => Some(Expect::Offsets),
            RequestType::MultiFetch => Some(Expect::MultiFetch(
                count.map_or(0, |n| n.min(u64::from(u16::MAX)) as u16),
            )),
            RequestType::Produce | RequestType::MultiProduce => None,
        };
        if let Some(e) = expect {
            if self.session.push(e).is_ok() {
                self.pending.push_back(Pending {
                    index,
                    at: cut.at,
                    ts: cut.last_ts,
                    request_type: rt.name(),
                    parts: keys,
                });
            }
        }
    }

    fn emit_cut_response(&mut self, cut: &CutFrame, sink: &mut dyn Sink) {
        let paired = match (self.pending.front(), cut.first_ts) {
            (Some(p), Some(resp_ts)) => p.ts.is_none_or(|req_ts| req_ts <= resp_ts),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let pending = if paired {
            self.pending.pop_front()
        } else {
            None
        };
        let expect = if pending.is_some() {
            self.session.retire()
        } else {
            None
        };
        let Some(code) = cut.i16_at(4) else {
            sink.event(&self.uncaptured_frame(Dir::ToClient, cut, pending.map(|p| p.index)));
            return;
        };
        let index = self.responses;
        self.responses += 1;
        let id = self.resp.id;
        let arena = Bump::new();
        let mut events = Vec::new();
        let pending_ref = pending.as_ref();
        let key = |i: usize| pending_ref.and_then(|p| p.parts.get(i));
        let info_for = |k: Option<&PartKey>| {
            let mut info =
                PartInfo::new(k.and_then(|k| k.topic.clone()), k.and_then(|k| k.partition));
            info.offset = k.and_then(|k| k.offset);
            info
        };
        let request_index = pending_ref.map(|p| p.index);
        let cfg = &self.cfg;
        let mut walk = |start: u64, end: u64, info: &PartInfo, part: Option<u32>| -> SetSummary {
            let ctx = CutSetContext {
                set: set_context(id, MessageIn::Response, cut.at, request_index, part, info),
                stream: id,
                cfg,
            };
            let base = info.offset.map_or(0, |o| o.max(0) as u64);
            let mut set = walk_cut_set(cut, start, end, base, &ctx, &arena, &mut events);
            set.base_unknown = request_index.is_some() && info.offset.is_none();
            set
        };
        let mut request_type = pending_ref.map_or("FETCH", |p| p.request_type);
        let (mut part, mut parts, mut offsets) = (None, None, None);
        let mut rest = None;
        match expect {
            Some(Expect::Fetch) | None => {
                let mut info = info_for(key(0));
                if code == 0 || cut.total > 6 {
                    info.set = Some(walk(6, cut.total, &info, None));
                }
                part = Some(info);
            }
            Some(Expect::MultiFetch(n)) => {
                let mut list = Vec::new();
                let mut off = Some(6u64);
                for i in 0..usize::from(n) {
                    let Some(o) = off else { break };
                    let mut info = info_for(key(i));
                    let size = cut.i32_at(o).filter(|s| *s >= 2);
                    let end = size.map(|s| o + 4 + s as u64).filter(|e| *e <= cut.total);
                    info.error_code = cut.i16_at(o + 4);
                    info.error_name = info.error_code.map(|c| error_name(ErrorCode(c)));
                    if let Some(end) = end {
                        info.set = Some(walk(o + 6, end, &info, Some(i as u32)));
                    } else {
                        rest = Some(rest_of_frame(id, cut, o, request_index, Some(i as u32)));
                    }
                    list.push(info);
                    off = end;
                }
                parts = Some(list);
            }
            Some(Expect::Offsets) => {
                request_type = "OFFSETS";
                part = Some(PartInfo::new(
                    key(0).and_then(|k| k.topic.clone()),
                    key(0).and_then(|k| k.partition),
                ));
                let count = cut.i32_at(6).map_or(0, |n| n.max(0) as u64);
                let count = count.min(cut.total.saturating_sub(10) / 8);
                let got: Vec<i64> = (0..count).map_while(|i| cut.i64_at(10 + 8 * i)).collect();
                if (got.len() as u64) < count {
                    let at = 10 + 8 * got.len() as u64;
                    let size = 8 * (count - got.len() as u64);
                    events.push(Event::Uncaptured(UncapturedEvent {
                        stream: id,
                        what: "offsets",
                        frame_at: cut.at,
                        request_index,
                        part: None,
                        at: cut.at + at,
                        position: None,
                        offset: None,
                        size,
                        captured: cut.captured_in(at, size),
                        inferred: false,
                        detail: None,
                    }));
                }
                offsets = Some(got);
            }
        }
        sink.event(&Event::Response(ResponseEvent {
            stream: id,
            index,
            at: cut.at,
            size: cut.total,
            ts: cut.first_ts.map(|t| t.to_string()),
            request_type,
            request_index,
            request_at: pending_ref.map(|p| p.at),
            guessed: pending_ref.is_none(),
            error_code: code,
            error_name: error_name(ErrorCode(code)),
            part,
            parts,
            offsets,
            captured: Some(cut.captured()),
            raw: cut.head(),
        }));
        events.extend(rest.map(Event::Uncaptured));
        for e in &events {
            sink.event(e);
        }
    }
}

/// The rest of a cut frame from frame offset `from`, where a length field that would say
/// where its next fields are was not captured.
fn rest_of_frame(
    stream: StreamId,
    cut: &CutFrame,
    from: u64,
    request_index: Option<u64>,
    part: Option<u32>,
) -> UncapturedEvent {
    let size = cut.total.saturating_sub(from);
    UncapturedEvent {
        stream,
        what: "frame_rest",
        frame_at: cut.at,
        request_index,
        part,
        at: cut.at + from,
        position: None,
        offset: None,
        size,
        captured: cut.captured_in(from, size),
        inferred: false,
        detail: None,
    }
}

/// Where `inner` starts inside `outer` (`outer.len()` when it is not a part of it, as for
/// an empty set that is not borrowed from the frame).
fn offset_in(outer: &[u8], inner: &[u8]) -> u64 {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    if i >= o && i + inner.len() <= o + outer.len() {
        (i - o) as u64
    } else {
        outer.len() as u64
    }
}

/// What one decoding step did.
enum Step {
    Consumed(usize),
    Resync,
    Wait,
    Hold,
}

/// The reference name of an error code (`Unknown` for codes outside the table).
pub(crate) fn error_name(code: ErrorCode) -> String {
    code.name().unwrap_or("Unknown").to_string()
}

/// A topic name the 0.7.2 broker accepts.
fn plausible_topic(t: kafka07_proto::Topic<'_>) -> bool {
    kafka07_io::validate_topic(t.as_bytes(), 255).is_ok()
}

/// Whether a parsed request looks like one a 0.7 client sends: legal topic names,
/// partitions of -1 or more, non-negative offsets and sizes. Used to tell requests from
/// other bytes (raw stream detection, resynchronisation), never to reject a frame.
pub(crate) fn plausible_request(req: &Request<'_>) -> bool {
    match req {
        Request::Produce(p) => plausible_topic(p.topic) && p.partition >= -1,
        Request::Fetch(f) => {
            plausible_topic(f.topic) && f.partition >= 0 && f.offset >= 0 && f.max_size >= 0
        }
        Request::Offsets(o) => {
            plausible_topic(o.topic) && o.partition >= 0 && o.time >= -2 && o.max_offsets >= 0
        }
        Request::MultiFetch(m) => {
            !m.parts.is_empty()
                && m.parts
                    .iter()
                    .all(|f| plausible_topic(f.topic) && f.partition >= 0 && f.offset >= 0)
        }
        Request::MultiProduce(m) => {
            !m.parts.is_empty()
                && m.parts
                    .iter()
                    .all(|p| plausible_topic(p.topic) && p.partition >= -1)
        }
    }
}

/// Whether a request frame plausibly starts at `b[0]` (used only to resynchronise).
pub(crate) fn request_candidate(b: &[u8], max: usize) -> Verdict {
    let Some(size) = b.first_chunk::<4>().map(|s| i32::from_be_bytes(*s)) else {
        return Verdict::NeedMore;
    };
    if size < 4 || size as usize > max {
        return Verdict::No;
    }
    let Some(id) = b.get(4..6).map(|s| i16::from_be_bytes([s[0], s[1]])) else {
        return Verdict::NeedMore;
    };
    if !(0..=4).contains(&id) {
        return Verdict::No;
    }
    // Topic of the first (or only) part.
    let topic_at = if id == 2 || id == 3 {
        let Some(n) = b.get(6..8).map(|s| i16::from_be_bytes([s[0], s[1]])) else {
            return Verdict::NeedMore;
        };
        if n <= 0 {
            return Verdict::No;
        }
        8
    } else {
        6
    };
    let Some(len) = b
        .get(topic_at..topic_at + 2)
        .map(|s| i16::from_be_bytes([s[0], s[1]]))
    else {
        return Verdict::NeedMore;
    };
    if !(1..=255).contains(&len) {
        return Verdict::No;
    }
    let name = &b[topic_at + 2..b.len().min(topic_at + 2 + len as usize)];
    if name.iter().any(|&c| c < 0x20 || c == b'/' || c == 0x7f) {
        return Verdict::No;
    }
    match frame(b, max) {
        Ok(Frame::Complete { body, .. }) => {
            bool_verdict(Request::parse(body).is_ok_and(|r| plausible_request(&r)))
        }
        Ok(Frame::Partial { .. }) => Verdict::NeedMore,
        Err(_) => Verdict::No,
    }
}

fn plausible_code(code: i16) -> bool {
    (-1..=4).contains(&code)
}

/// Whether a fetch message set plausibly starts here: empty, or a first entry with a sane
/// length and magic (and, when complete, a matching CRC).
fn plausible_set(set: &[u8]) -> bool {
    if set.is_empty() {
        return true;
    }
    let Some(n) = set.first_chunk::<4>().map(|s| i32::from_be_bytes(*s)) else {
        return false;
    };
    if n < 5 {
        return false;
    }
    match set.get(4) {
        Some(0 | 1) => {}
        Some(_) => return false,
        None => return true,
    }
    match kafka07_proto::MessageView::new_checked(set) {
        Ok(m) => m.crc_matches(),
        Err(e) => matches!(e.kind(), ErrorKind::Truncated { .. }),
    }
}

/// Whether a response frame plausibly starts at `b[0]`, and how many pending requests must
/// be taken as unanswered (their responses lost) for it to match.
pub(crate) fn response_candidate(b: &[u8], max: usize, expects: &[Expect]) -> (Verdict, usize) {
    let Some(size) = b.first_chunk::<4>().map(|s| i32::from_be_bytes(*s)) else {
        return (Verdict::NeedMore, 0);
    };
    if size < 2 || size as usize > max {
        return (Verdict::No, 0);
    }
    let Some(code) = b.get(4..6).map(|s| i16::from_be_bytes([s[0], s[1]])) else {
        return (Verdict::NeedMore, 0);
    };
    if !plausible_code(code) {
        return (Verdict::No, 0);
    }
    match frame(b, max) {
        Ok(Frame::Complete { body, .. }) => {
            if expects.is_empty() {
                let (resp, _) = guess_response(body);
                return (bool_verdict(plausible_response(&resp)), 0);
            }
            for (k, e) in expects.iter().enumerate() {
                if let Ok(resp) = Response::parse(body, *e) {
                    if plausible_response(&resp) {
                        return (Verdict::Yes, k);
                    }
                }
            }
            (Verdict::No, 0)
        }
        Ok(Frame::Partial { .. }) => {
            let body = &b[6..];
            if code != 0 {
                return (Verdict::No, 0);
            }
            // A fetch response's set, or a multifetch's first part, or offsets.
            let fetch_like = plausible_set(&body[..body.len().min(64)]);
            (
                if fetch_like {
                    Verdict::NeedMore
                } else {
                    Verdict::No
                },
                0,
            )
        }
        Err(_) => (Verdict::No, 0),
    }
}

fn bool_verdict(yes: bool) -> Verdict {
    if yes {
        Verdict::Yes
    } else {
        Verdict::No
    }
}

fn plausible_response(resp: &Response<'_>) -> bool {
    match resp {
        Response::Fetch(f) => {
            plausible_code(f.error.0)
                && (f.error.is_ok() || f.messages.is_empty())
                && plausible_set(f.messages)
        }
        Response::MultiFetch(m) => {
            m.error.is_ok()
                && m.parts.iter().all(|p| {
                    plausible_code(p.error.0)
                        && (p.error.is_ok() || p.messages.is_empty())
                        && plausible_set(p.messages)
                })
        }
        Response::Offsets(o) => o.error.is_ok(),
    }
}

/// Reads a response body whose request is unknown: OFFSETS if it has exactly that shape,
/// MULTIFETCH if it splits exactly into parts and is not a plausible FETCH, else FETCH (which
/// any body of two or more bytes is).
pub(crate) fn guess_response(body: &[u8]) -> (Response<'_>, Expect) {
    if let Ok(r @ Response::Offsets(_)) = Response::parse(body, Expect::Offsets) {
        if r.error().is_ok() {
            return (r, Expect::Offsets);
        }
    }
    let fetch = Response::parse(body, Expect::Fetch);
    if let Ok(f) = fetch {
        if plausible_response(&f) {
            return (f, Expect::Fetch);
        }
    }
    if let Some(n) = multifetch_parts(body) {
        if let Ok(m) = Response::parse(body, Expect::MultiFetch(n)) {
            if plausible_response(&m) {
                return (m, Expect::MultiFetch(n));
            }
        }
    }
    match fetch {
        Ok(f) => (f, Expect::Fetch),
        // Fewer than two bytes: an empty FETCH answer with a missing error code; read as
        // much as there is.
        Err(_) => (
            Response::Fetch(kafka07_proto::FetchResponse {
                error: ErrorCode(body.first().map_or(0, |&b| i16::from(b))),
                messages: &[],
            }),
            Expect::Fetch,
        ),
    }
}

/// Whether a body has the outline of an OFFSETS answer: error 0, a small count, and a
/// whole number of 8-byte offsets.
fn offsets_shaped(body: &[u8]) -> bool {
    body.len() >= 6
        && (body.len() - 6) % 8 == 0
        && body[..2] == [0, 0]
        && (0..=1_000_000).contains(&i32::from_be_bytes([body[2], body[3], body[4], body[5]]))
}

/// The number of parts a MULTIFETCH body splits into exactly, if any.
fn multifetch_parts(body: &[u8]) -> Option<u16> {
    let mut pos = 2usize;
    let mut n = 0u16;
    while pos < body.len() {
        let size = i32::from_be_bytes(*body.get(pos..)?.first_chunk::<4>()?);
        if size < 2 {
            return None;
        }
        pos = pos.checked_add(4 + size as usize)?;
        n = n.checked_add(1)?;
    }
    (pos == body.len() && n > 0).then_some(n)
}
