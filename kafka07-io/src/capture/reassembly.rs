//! Reassembly of one direction of a TCP connection.
//!
//! Sequence numbers are mapped to 64-bit stream offsets relative to the
//! next expected byte (`seq - seq_of(next)` taken as a signed 32-bit
//! distance), so wraparound across 2^32 needs no special case. Segments are
//! kept in a map of non-overlapping pieces keyed by stream offset; a byte
//! range that is already covered keeps its first copy.

use std::collections::BTreeMap;

use super::{GapCause, Timestamp};

/// Output of a half stream, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamItem {
    Data {
        offset: u64,
        bytes: Vec<u8>,
        ts: Timestamp,
    },
    Gap {
        offset: u64,
        missing: u64,
        cause: GapCause,
    },
}

/// Bookkeeping cost charged per buffered piece (map node and allocation),
/// so that many tiny pieces cannot exceed the window in real memory.
const PIECE_COST: usize = 64;

#[derive(Debug)]
enum Piece {
    Data {
        bytes: Vec<u8>,
        ts: Timestamp,
    },
    /// Bytes known to be lost (cut by the snap length).
    Missing {
        len: u64,
    },
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data { bytes, .. } => bytes.len() as u64,
            Piece::Missing { len } => *len,
        }
    }
}

/// One TCP segment as seen by a half stream.
pub(crate) struct Segment<'a> {
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub payload: &'a [u8],
    pub missing: u64,
    pub ts: Timestamp,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub(crate) struct HalfStream {
    /// Whether any segment was seen in this direction.
    started: bool,
    /// Sequence number of stream offset 0.
    base_seq: u32,
    /// Sequence number of the SYN, when seen.
    isn: Option<u32>,
    /// Stream offset of the next byte to deliver.
    next: u64,
    /// Out-of-order pieces, non-overlapping, all at offsets `> next`
    /// (or `== next` only transiently).
    pending: BTreeMap<u64, Piece>,
    /// Approximate memory held in `pending`: data bytes plus
    /// [`PIECE_COST`] per piece.
    buffered: usize,
    /// Stream offset of the FIN, when seen.
    fin_at: Option<u64>,
    /// The peer acknowledged the FIN: it has every byte, so no hole can be
    /// filled any more.
    fin_acked: bool,
}

impl HalfStream {
    pub(crate) fn started(&self) -> bool {
        self.started
    }

    pub(crate) fn isn(&self) -> Option<u32> {
        self.isn
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// FIN seen and every byte before it delivered (or reported lost).
    pub(crate) fn finished(&self) -> bool {
        self.fin_at.is_some_and(|f| self.next >= f)
    }

    /// Nothing more can arrive: finished, or the peer acknowledged the FIN
    /// (remaining holes can then only be flushed as gaps).
    pub(crate) fn done(&self) -> bool {
        self.finished() || self.fin_acked
    }

    /// Notes an acknowledgment from the peer, to detect an acknowledged FIN.
    pub(crate) fn peer_ack(&mut self, ack: u32) {
        if let (true, Some(fin)) = (self.started, self.fin_at) {
            if self.offset_of(ack) > i128::from(fin) {
                self.fin_acked = true;
            }
        }
    }

    /// Maps a sequence number to a stream offset (may be negative: before
    /// the start of the stream).
    fn offset_of(&self, seq: u32) -> i128 {
        let next_seq = self.base_seq.wrapping_add(self.next as u32);
        let distance = seq.wrapping_sub(next_seq) as i32;
        i128::from(self.next) + i128::from(distance)
    }

    /// Feeds one segment. Returns the number of payload bytes dropped as
    /// duplicates.
    pub(crate) fn segment(
        &mut self,
        seg: &Segment<'_>,
        window: u64,
        out: &mut Vec<StreamItem>,
    ) -> u64 {
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if !self.started {
            self.started = true;
            self.base_seq = data_seq;
            if seg.syn {
                self.isn = Some(seg.seq);
            }
        } else if seg.syn && self.isn.is_none() && self.next == 0 && self.pending.is_empty() {
            // First segments were pure ACKs; the SYN fixes the real start.
            self.isn = Some(seg.seq);
            self.base_seq = data_seq;
        }

        let start = self.offset_of(data_seq);
        let captured = seg.payload.len() as u64;
        let total = captured.saturating_add(seg.missing);
        let mut end = start + i128::from(total);
        if seg.fin && self.fin_at.is_none() {
            self.fin_at = Some(end.clamp(i128::from(self.next), i128::from(u64::MAX)) as u64);
        }
        if let Some(fin) = self.fin_at {
            end = end.min(i128::from(fin));
        }
        let next = i128::from(self.next);
        if end <= next || start >= end {
            // Old data (already delivered) or data beyond the FIN.
            self.drain(out);
            return captured;
        }
        // From here on `next <= start_u < end_u`, and the
        // captured part ends at `data_end` in `[start_u, end_u]`.
        let seg_start = start; // may be before `start_u` when trimmed
        let start_u = start.max(next);
        let data_end = (seg_start + i128::from(captured)).max(start_u).min(end) as u64;
        let start_u = start_u as u64;
        let end_u = end as u64;

        // Fast path: in order, complete, nothing pending.
        if start_u == self.next && data_end == end_u && self.pending.is_empty() {
            let from = (i128::from(start_u) - seg_start) as usize;
            let len = (end_u - start_u) as usize;
            out.push(StreamItem::Data {
                offset: start_u,
                bytes: seg.payload[from..from + len].to_vec(),
                ts: seg.ts,
            });
            self.next = end_u;
            return captured - len as u64;
        }

        let mut inserted = 0u64;
        if start_u < data_end {
            let from = (i128::from(start_u) - seg_start) as usize;
            inserted += self.insert(start_u, data_end, |a, b| Piece::Data {
                bytes: seg.payload[from + (a - start_u) as usize..from + (b - start_u) as usize]
                    .to_vec(),
                ts: seg.ts,
            });
        }
        let missing_start = start_u.max(data_end);
        if missing_start < end_u {
            self.insert(missing_start, end_u, |a, b| Piece::Missing { len: b - a });
        }
        self.drain(out);

        // Keep the buffered span and memory within the window: give up the
        // oldest holes, each as a whole.
        while self
            .pending_end()
            .is_some_and(|e| e - self.next > window || self.buffered as u64 > window)
        {
            self.skip_hole(GapCause::WindowExceeded, out);
        }
        captured.saturating_sub(inserted)
    }

    /// Inserts the parts of `[start, end)` that no piece covers yet (first
    /// copy wins). `make(a, b)` builds the piece for `[a, b)`. Returns the
    /// number of data bytes inserted.
    fn insert<F>(&mut self, start: u64, end: u64, make: F) -> u64
    where
        F: Fn(u64, u64) -> Piece,
    {
        let mut cur = start;
        if let Some((&k, p)) = self.pending.range(..=cur).next_back() {
            cur = cur.max(k + p.len());
        }
        if cur >= end {
            return 0;
        }
        let mut holes = Vec::new();
        for (&k, p) in self.pending.range(cur..end) {
            if k > cur {
                holes.push((cur, k));
            }
            cur = cur.max(k + p.len());
            if cur >= end {
                break;
            }
        }
        if cur < end {
            holes.push((cur, end));
        }
        let mut data = 0;
        for (a, b) in holes {
            let piece = make(a, b);
            self.buffered += PIECE_COST;
            if let Piece::Data { bytes, .. } = &piece {
                self.buffered += bytes.len();
                data += bytes.len() as u64;
            }
            self.pending.insert(a, piece);
        }
        data
    }

    /// End offset of the last pending piece.
    fn pending_end(&self) -> Option<u64> {
        self.pending.last_key_value().map(|(&k, p)| k + p.len())
    }

    /// Delivers the pieces that start at the next expected offset.
    fn drain(&mut self, out: &mut Vec<StreamItem>) {
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let offset = self.next;
            self.buffered -= PIECE_COST;
            match entry.remove() {
                Piece::Data { bytes, ts } => {
                    self.buffered -= bytes.len();
                    self.next += bytes.len() as u64;
                    out.push(StreamItem::Data { offset, bytes, ts });
                }
                Piece::Missing { len } => {
                    self.next += len;
                    out.push(StreamItem::Gap {
                        offset,
                        missing: len,
                        cause: GapCause::Snaplen,
                    });
                }
            }
        }
    }

    /// Gives up the hole before the first pending piece and delivers what
    /// follows it.
    fn skip_hole(&mut self, cause: GapCause, out: &mut Vec<StreamItem>) {
        if let Some(&first) = self.pending.keys().next() {
            self.skip_to(first, cause, out);
        }
    }

    /// Advances delivery to at least `target`, reporting every hole before
    /// it as a gap with `cause` and delivering the pieces in between.
    pub(crate) fn skip_to(&mut self, target: u64, cause: GapCause, out: &mut Vec<StreamItem>) {
        while self.next < target {
            let hole_end = self
                .pending
                .first_key_value()
                .map_or(target, |(&k, _)| k.min(target));
            if hole_end > self.next {
                out.push(StreamItem::Gap {
                    offset: self.next,
                    missing: hole_end - self.next,
                    cause,
                });
                self.next = hole_end;
            }
            self.drain(out);
        }
    }

    /// The peer acknowledged `ack`: bytes before it were received by the
    /// peer, so holes before it will never be filled.
    pub(crate) fn acked(&mut self, ack: u32, out: &mut Vec<StreamItem>) {
        if !self.started {
            return;
        }
        let mut target = self.offset_of(ack);
        if let Some(fin) = self.fin_at {
            // The FIN occupies one sequence number that carries no byte.
            target = target.min(i128::from(fin));
        }
        if target > i128::from(self.next) {
            self.skip_to(target as u64, GapCause::AckedNotCaptured, out);
        }
    }

    /// Delivers everything still pending, reporting holes (and a missing
    /// tail before a seen FIN) as gaps.
    pub(crate) fn flush(&mut self, out: &mut Vec<StreamItem>) {
        let target = self
            .pending_end()
            .unwrap_or(0)
            .max(self.fin_at.unwrap_or(0));
        self.skip_to(target, GapCause::Unfilled, out);
    }

    /// Gives up every hole currently pending (used when the global buffer
    /// limit is reached).
    pub(crate) fn release(&mut self, out: &mut Vec<StreamItem>) {
        if let Some(end) = self.pending_end() {
            self.skip_to(end, GapCause::WindowExceeded, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(seq: u32, payload: &[u8]) -> Segment<'_> {
        Segment {
            seq,
            syn: false,
            fin: false,
            payload,
            missing: 0,
            ts: Timestamp::default(),
        }
    }

    fn bytes(items: &[StreamItem]) -> Vec<u8> {
        let mut v = Vec::new();
        for i in items {
            if let StreamItem::Data { bytes, .. } = i {
                v.extend_from_slice(bytes);
            }
        }
        v
    }

    #[test]
    fn overlap_first_copy_wins() {
        let mut h = HalfStream::default();
        let mut out = Vec::new();
        h.segment(&seg(100, b"ab"), 1 << 20, &mut out);
        h.segment(&seg(104, b"ef"), 1 << 20, &mut out);
        // Overlaps "ab" (delivered) and "ef" (pending): only "cd" is new.
        let dup = h.segment(&seg(101, b"XcdYZ"), 1 << 20, &mut out);
        assert_eq!(dup, 3);
        assert_eq!(bytes(&out), b"abcdef");
        assert_eq!(h.buffered(), 0);
    }

    #[test]
    fn truncated_segment_reaching_back_before_the_stream() {
        let mut h = HalfStream::default();
        let mut out = Vec::new();
        h.segment(&seg(100, b"ab"), 1 << 20, &mut out);
        // Starts 12 bytes before the next byte; its 5 captured bytes are
        // old, its 100 missing bytes reach offset 95.
        let mut s = seg(90, b"vwxyz");
        s.missing = 100;
        h.segment(&s, 1 << 20, &mut out);
        assert_eq!(
            out[1],
            StreamItem::Gap {
                offset: 2,
                missing: 93,
                cause: GapCause::Snaplen
            }
        );
        assert_eq!(h.next, 95);
    }

    #[test]
    fn data_beyond_fin_is_dropped() {
        let mut h = HalfStream::default();
        let mut out = Vec::new();
        let mut s = seg(0, b"abc");
        s.fin = true;
        h.segment(&s, 1 << 20, &mut out);
        assert!(h.finished());
        assert_eq!(h.segment(&seg(5, b"zz"), 1 << 20, &mut out), 2);
        assert_eq!(h.segment(&seg(2, b"cdef"), 1 << 20, &mut out), 4);
        assert_eq!(bytes(&out), b"abc");
    }

    #[test]
    fn window_gives_up_oldest_hole() {
        let mut h = HalfStream::default();
        let mut out = Vec::new();
        h.segment(&seg(0, b"a"), 200, &mut out);
        h.segment(&seg(100, b"d"), 200, &mut out); // span 101 <= 200: kept
        assert_eq!(out.len(), 1);
        h.segment(&seg(250, b"g"), 200, &mut out); // span 251 > 200
        assert_eq!(
            out[1],
            StreamItem::Gap {
                offset: 1,
                missing: 99,
                cause: GapCause::WindowExceeded
            }
        );
        assert_eq!(bytes(&out), b"ad");
        assert_eq!(h.next, 101);
        // Far ahead: the remaining hole is given up whole, then the hole
        // before the new segment itself.
        h.segment(&seg(1000, b"u"), 200, &mut out);
        assert_eq!(bytes(&out), b"adgu");
        assert_eq!(h.next, 1001);
        assert_eq!(h.buffered(), 0);
    }

    #[test]
    fn many_tiny_pieces_are_bounded_by_memory_not_only_span() {
        let mut h = HalfStream::default();
        let mut out = Vec::new();
        h.segment(&seg(0, b"x"), 1000, &mut out);
        for i in 1..200u32 {
            h.segment(&seg(2 * i, b"y"), 1000, &mut out);
            assert!(h.buffered() <= 1000, "buffered {}", h.buffered());
        }
        assert!(out.iter().any(|i| matches!(
            i,
            StreamItem::Gap {
                cause: GapCause::WindowExceeded,
                ..
            }
        )));
    }
}
