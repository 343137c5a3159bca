//! Connection table: finds or opens the connection of each segment, picks
//! the server side, drives both half streams and turns their output into
//! [`CaptureEvent`]s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

use super::decode::TcpSegment;
use super::reassembly::{HalfStream, Segment, StreamItem};
use super::source::MIN_RECORD_LIMIT;
use super::{
    CaptureConfig, CaptureEvent, CaptureStats, CloseCause, ConnId, ConnKey, Direction,
    ServerReason, SkipReason, Timestamp,
};

/// Unordered pair of endpoints.
type FlowKey = (SocketAddr, SocketAddr);

fn flow_key(a: SocketAddr, b: SocketAddr) -> FlowKey {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Open(ConnId),
    /// Closed recently: late ACKs and retransmissions must not open a new
    /// connection.
    Closed,
}

struct Conn {
    key: ConnKey,
    halves: [HalfStream; 2],
    /// Index of the last frame that touched it.
    last_frame: u64,
}

/// All connections of a capture.
pub(crate) struct Tracker {
    window: u64,
    max_buffered_total: usize,
    broker_ports: Vec<u16>,
    only_broker_ports: bool,
    max_connections: usize,
    ack_gaps: bool,
    conns: BTreeMap<ConnId, Conn>,
    by_flow: HashMap<FlowKey, Slot>,
    /// Closed flows in order of closing, to bound `by_flow`.
    closed: VecDeque<FlowKey>,
    next_id: u64,
    buffered_total: usize,
    scratch: Vec<StreamItem>,
    pub(crate) stats: CaptureStats,
}

impl Tracker {
    pub(crate) fn new(cfg: &CaptureConfig) -> Tracker {
        Tracker {
            window: cfg.window.max(MIN_RECORD_LIMIT) as u64,
            max_buffered_total: cfg.max_buffered_total,
            broker_ports: cfg.broker_ports.clone(),
            only_broker_ports: cfg.only_broker_ports,
            max_connections: cfg.max_connections,
            ack_gaps: cfg.ack_gaps,
            conns: BTreeMap::new(),
            by_flow: HashMap::new(),
            closed: VecDeque::new(),
            next_id: 0,
            buffered_total: 0,
            scratch: Vec::new(),
            stats: CaptureStats::default(),
        }
    }

    pub(crate) fn skip(
        &mut self,
        frame_index: u64,
        reason: SkipReason,
        out: &mut VecDeque<CaptureEvent>,
    ) {
        self.stats.skipped += 1;
        *self
            .stats
            .skipped_by_reason
            .entry(reason.label())
            .or_default() += 1;
        out.push_back(CaptureEvent::Skipped {
            frame_index,
            reason,
        });
    }

    fn is_broker(&self, port: u16) -> bool {
        self.broker_ports.contains(&port)
    }

    /// Picks the server side for a connection first seen with `seg`.
    fn orient(&self, seg: &TcpSegment<'_>) -> (ConnKey, ServerReason) {
        let (src, dst) = (seg.src, seg.dst);
        let to_dst = ConnKey {
            client: src,
            server: dst,
        };
        let to_src = ConnKey {
            client: dst,
            server: src,
        };
        let (src_broker, dst_broker) = (self.is_broker(src.port()), self.is_broker(dst.port()));
        if dst_broker && !src_broker {
            return (to_dst, ServerReason::BrokerPort);
        }
        if src_broker && !dst_broker {
            return (to_src, ServerReason::BrokerPort);
        }
        if seg.syn && seg.ack.is_none() {
            return (to_dst, ServerReason::ReceivedSyn);
        }
        if seg.syn {
            return (to_src, ServerReason::SentSynAck);
        }
        match src.port().cmp(&dst.port()) {
            std::cmp::Ordering::Less => (to_src, ServerReason::LowerPort),
            std::cmp::Ordering::Greater => (to_dst, ServerReason::LowerPort),
            std::cmp::Ordering::Equal => (to_dst, ServerReason::FirstDestination),
        }
    }

    fn open(
        &mut self,
        frame_index: u64,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
        out: &mut VecDeque<CaptureEvent>,
    ) -> ConnId {
        if self.conns.len() >= self.max_connections {
            self.evict(out);
        }
        let (key, reason) = self.orient(seg);
        let id = ConnId(self.next_id);
        self.next_id += 1;
        self.stats.connections += 1;
        self.conns.insert(
            id,
            Conn {
                key,
                halves: [HalfStream::default(), HalfStream::default()],
                last_frame: frame_index,
            },
        );
        self.by_flow
            .insert(flow_key(seg.src, seg.dst), Slot::Open(id));
        out.push_back(CaptureEvent::Open {
            conn: id,
            key,
            reason,
            ts,
        });
        id
    }

    /// Ends a connection: flushes both directions, reports the close and
    /// leaves a tombstone for its flow.
    fn close(&mut self, id: ConnId, cause: CloseCause, out: &mut VecDeque<CaptureEvent>) {
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            let half = &mut conn.halves[dir.index()];
            let before = half.buffered();
            half.flush(&mut self.scratch);
            self.buffered_total = self.buffered_total.saturating_sub(before);
            self.emit(id, dir, out);
        }
        out.push_back(CaptureEvent::Close {
            conn: id,
            reset: cause == CloseCause::Reset,
            cause,
        });
        let flow = flow_key(conn.key.client, conn.key.server);
        if matches!(cause, CloseCause::EndOfCapture | CloseCause::Evicted) {
            self.by_flow.remove(&flow);
            return;
        }
        self.by_flow.insert(flow, Slot::Closed);
        self.closed.push_back(flow);
        // Bound the tombstones: forget the oldest ones.
        let limit = self.max_connections.max(1);
        while self.closed.len() > limit {
            if let Some(old) = self.closed.pop_front() {
                if matches!(self.by_flow.get(&old), Some(Slot::Closed)) {
                    self.by_flow.remove(&old);
                }
            }
        }
    }

    /// Moves the scratch output of a half stream into events.
    fn emit(&mut self, conn: ConnId, dir: Direction, out: &mut VecDeque<CaptureEvent>) {
        for item in self.scratch.drain(..) {
            match item {
                StreamItem::Data { offset, bytes, ts } => {
                    self.stats.bytes_delivered += bytes.len() as u64;
                    out.push_back(CaptureEvent::Data {
                        conn,
                        dir,
                        offset,
                        bytes,
                        ts,
                    });
                }
                StreamItem::Gap {
                    offset,
                    missing,
                    cause,
                } => {
                    self.stats.gaps += 1;
                    self.stats.gap_bytes = self.stats.gap_bytes.saturating_add(missing);
                    out.push_back(CaptureEvent::Gap {
                        conn,
                        dir,
                        missing,
                        at_stream_offset: offset,
                        cause,
                    });
                }
            }
        }
    }

    /// Handles one decoded TCP segment.
    pub(crate) fn segment(
        &mut self,
        frame_index: u64,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
        out: &mut VecDeque<CaptureEvent>,
    ) {
        self.stats.tcp_segments += 1;
        let flow = flow_key(seg.src, seg.dst);
        let opening_syn = seg.syn && seg.ack.is_none();
        let id = match self.by_flow.get(&flow).copied() {
            Some(Slot::Open(id)) => {
                if opening_syn && self.is_new_incarnation(id, seg) {
                    self.close(id, CloseCause::Reused, out);
                    self.open(frame_index, seg, ts, out)
                } else {
                    id
                }
            }
            Some(Slot::Closed) => {
                if opening_syn {
                    self.open(frame_index, seg, ts, out)
                } else if seg.payload.is_empty() && seg.missing == 0 {
                    self.stats.ignored_segments += 1;
                    return;
                } else {
                    self.skip(frame_index, SkipReason::AfterClose, out);
                    return;
                }
            }
            None => {
                if seg.rst {
                    // A reset of a connection never seen: nothing to report.
                    self.stats.ignored_segments += 1;
                    return;
                }
                if self.only_broker_ports
                    && !self.is_broker(seg.src.port())
                    && !self.is_broker(seg.dst.port())
                {
                    self.skip(frame_index, SkipReason::NotBrokerPort, out);
                    return;
                }
                self.open(frame_index, seg, ts, out)
            }
        };

        if seg.rst {
            self.close(id, CloseCause::Reset, out);
            return;
        }

        let window = self.window;
        let ack_gaps = self.ack_gaps;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.last_frame = frame_index;
        let dir = if seg.src == conn.key.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let half = &mut conn.halves[dir.index()];
        let before = half.buffered();
        let dup = half.segment(
            &Segment {
                seq: seg.seq,
                syn: seg.syn,
                fin: seg.fin,
                payload: seg.payload,
                missing: seg.missing,
                ts,
            },
            window,
            &mut self.scratch,
        );
        let mut after = half.buffered();
        if self
            .buffered_total
            .saturating_add(after)
            .saturating_sub(before)
            > self.max_buffered_total
        {
            half.release(&mut self.scratch);
            after = half.buffered();
        }
        self.buffered_total = (self.buffered_total + after).saturating_sub(before);
        self.stats.duplicate_bytes += dup;
        self.emit(id, dir, out);

        if let (Some(ack), Some(conn)) = (seg.ack, self.conns.get_mut(&id)) {
            conn.halves[dir.reverse().index()].peer_ack(ack);
        }
        if let (true, Some(ack)) = (ack_gaps, seg.ack) {
            if let Some(conn) = self.conns.get_mut(&id) {
                let peer = &mut conn.halves[dir.reverse().index()];
                let before = peer.buffered();
                peer.acked(ack, &mut self.scratch);
                let after = peer.buffered();
                self.buffered_total = (self.buffered_total + after).saturating_sub(before);
                self.emit(id, dir.reverse(), out);
            }
        }

        if let Some(conn) = self.conns.get(&id) {
            if conn.halves.iter().all(HalfStream::done) {
                self.close(id, CloseCause::Fin, out);
            }
        }
    }

    /// Whether an opening SYN on an open flow starts a new connection
    /// (rather than retransmitting the SYN that opened this one).
    fn is_new_incarnation(&self, id: ConnId, seg: &TcpSegment<'_>) -> bool {
        let Some(conn) = self.conns.get(&id) else {
            return true;
        };
        let dir = if seg.src == conn.key.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let half = &conn.halves[dir.index()];
        match half.isn() {
            Some(isn) => isn != seg.seq,
            // No SYN seen this way yet: a SYN now means the flow restarted,
            // unless this direction has not sent anything at all.
            None => half.started(),
        }
    }

    /// Closes the least recently active eighth of the connections (at
    /// least one), in id order.
    fn evict(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let mut by_age: Vec<(u64, ConnId)> = self
            .conns
            .iter()
            .map(|(id, c)| (c.last_frame, *id))
            .collect();
        if by_age.is_empty() {
            return;
        }
        let k = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable(k - 1);
        let mut victims: Vec<ConnId> = by_age[..k].iter().map(|(_, id)| *id).collect();
        victims.sort_unstable();
        for id in victims {
            self.close(id, CloseCause::Evicted, out);
        }
    }

    /// End of capture: flushes and closes every open connection, in id order.
    pub(crate) fn finish(&mut self, out: &mut VecDeque<CaptureEvent>) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id, CloseCause::EndOfCapture, out);
        }
    }
}
