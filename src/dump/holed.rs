//! Frames the capture has only in part: each packet of a capture taken with a snap length
//! keeps only its first bytes, but its record still says how long it was, so the stream's
//! alignment is known exactly. A [`CutFrame`] collects the captured runs of one frame (the
//! missing bytes are counted, never stored), and the readers here get out of it every field
//! and every message whose bytes were captured.

use bumpalo::Bump;
use kafka07_io::capture::Timestamp;
use kafka07_proto::Topic;

use super::event::{Event, MessageIn, PartInfo, SetEnd, SetSummary, StreamId, UncapturedEvent};
use super::messages::{walk_set, SetContext};
use super::DecodeConfig;

/// One frame being received with holes in it.
#[derive(Debug)]
pub(crate) struct CutFrame {
    /// Stream position of its first byte (its size field).
    pub at: u64,
    /// Its length, the size field included.
    pub total: u64,
    /// Bytes of it accounted for so far, captured or missing.
    pub filled: u64,
    /// Captured runs as (offset in the frame, bytes), in order, never adjacent (adjacent runs
    /// are merged), holding at most `total` bytes.
    pieces: Vec<(u64, Vec<u8>)>,
    /// Timestamp of the packet that carried its first byte.
    pub first_ts: Option<Timestamp>,
    /// Timestamp of the last packet that carried any of it.
    pub last_ts: Option<Timestamp>,
}

impl CutFrame {
    /// A frame of `total` bytes at `at` whose first bytes `head` were captured.
    pub fn new(at: u64, total: u64, head: &[u8], ts: Option<Timestamp>) -> Self {
        let mut f = CutFrame {
            at,
            total,
            filled: 0,
            pieces: Vec::new(),
            first_ts: ts,
            last_ts: ts,
        };
        f.add_data(head, ts);
        f
    }

    /// Whether every byte of the frame is accounted for.
    pub fn complete(&self) -> bool {
        self.filled >= self.total
    }

    /// Appends captured bytes; returns how many belong to this frame.
    pub fn add_data(&mut self, bytes: &[u8], ts: Option<Timestamp>) -> usize {
        let n = (self.total - self.filled).min(bytes.len() as u64) as usize;
        if n == 0 {
            return 0;
        }
        if ts.is_some() {
            self.last_ts = ts;
        }
        match self.pieces.last_mut() {
            Some((start, run)) if *start + run.len() as u64 == self.filled => {
                run.extend_from_slice(&bytes[..n]);
            }
            _ => self.pieces.push((self.filled, bytes[..n].to_vec())),
        }
        self.filled += n as u64;
        n
    }

    /// Counts `missing` bytes that were not captured; returns how many belong to this frame.
    pub fn add_missing(&mut self, missing: u64) -> u64 {
        let n = (self.total - self.filled).min(missing);
        self.filled += n;
        n
    }

    /// Bytes captured.
    pub fn captured(&self) -> u64 {
        self.pieces.iter().map(|(_, b)| b.len() as u64).sum()
    }

    /// Bytes captured in `[off, off + len)`.
    pub fn captured_in(&self, off: u64, len: u64) -> u64 {
        let end = off.saturating_add(len);
        self.pieces
            .iter()
            .map(|(s, b)| {
                let (a, z) = (off.max(*s), end.min(s + b.len() as u64));
                z.saturating_sub(a)
            })
            .sum()
    }

    /// The captured first bytes (what a hex dump of the frame shows).
    pub fn head(&self) -> &[u8] {
        match self.pieces.first() {
            Some((0, b)) => b,
            _ => &[],
        }
    }

    /// `len` bytes at frame offset `off`, if all of them were captured.
    pub fn get(&self, off: u64, len: u64) -> Option<&[u8]> {
        let end = off.checked_add(len)?;
        if end > self.total {
            return None;
        }
        let i = self
            .pieces
            .partition_point(|(s, _)| *s <= off)
            .checked_sub(1)?;
        let (s, b) = &self.pieces[i];
        let from = (off - s) as usize;
        b.get(from..from + len as usize)
    }

    /// A big-endian `i16` at `off`.
    pub fn i16_at(&self, off: u64) -> Option<i16> {
        self.get(off, 2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian `i32` at `off`.
    pub fn i32_at(&self, off: u64) -> Option<i32> {
        self.get(off, 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian `i64` at `off`.
    pub fn i64_at(&self, off: u64) -> Option<i64> {
        self.get(off, 8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
    }

    /// A topic (`int16` length, bytes) at `off`: the name if captured, and the offset after
    /// it if its length was captured.
    pub fn topic_at(&self, off: u64) -> (Option<String>, Option<u64>) {
        let Some(len) = self.i16_at(off) else {
            return (None, None);
        };
        let len = u64::from(len.max(0) as u16);
        let next = off + 2 + len;
        if next > self.total {
            return (None, None);
        }
        let name = self
            .get(off + 2, len)
            .map(|b| Topic::from_bytes(b).to_string());
        (name, Some(next))
    }
}

/// One part of a request read from a cut frame.
pub(crate) struct CutPart {
    /// Its fields, as far as they were captured.
    pub info: PartInfo,
    /// PRODUCE parts: the message set's range in the frame, when its size was captured.
    pub set: Option<(u64, u64)>,
}

/// The fields of a request part of type `type_id` at frame offset `off`, and the offset of
/// what follows it (when the lengths on the way were captured).
pub(crate) fn read_part(f: &CutFrame, off: u64, type_id: i16) -> (CutPart, Option<u64>) {
    let (topic, after_topic) = f.topic_at(off);
    let partition = after_topic.and_then(|o| f.i32_at(o));
    let mut info = PartInfo::new(topic, partition);
    let fields = after_topic.map(|o| o + 4);
    let mut set = None;
    let next = match (type_id, fields) {
        (_, None) => None,
        (0 | 3, Some(o)) => {
            let size = f.i32_at(o);
            let start = o + 4;
            match size {
                Some(n) if n >= 0 && start + n as u64 <= f.total => {
                    set = Some((start, start + n as u64));
                    Some(start + n as u64)
                }
                _ => None,
            }
        }
        (1 | 2, Some(o)) => {
            info.offset = f.i64_at(o);
            info.max_size = f.i32_at(o + 8);
            Some(o + 12)
        }
        (_, Some(o)) => {
            info.time = f.i64_at(o);
            info.max_offsets = f.i32_at(o + 8);
            Some(o + 12)
        }
    };
    (CutPart { info, set }, next.filter(|n| *n <= f.total))
}

/// Where a set of a cut frame sits.
pub(crate) struct CutSetContext<'c> {
    /// Labels for its messages (`stream_at` is the frame's position).
    pub set: SetContext,
    /// The stream.
    pub stream: StreamId,
    /// The config.
    pub cfg: &'c DecodeConfig,
}

/// Walks the message set at `[start, end)` of a cut frame, whose first byte is log offset
/// `base_offset`: every entry captured in full is decoded as usual (CRC checked, opened with
/// `--deep`), every entry delimited by a captured length field but not captured in full is an
/// [`UncapturedEvent`], and a length field that was not captured ends the walk
/// ([`SetEnd::NotCaptured`]: the layout of the rest is unknown).
pub(crate) fn walk_cut_set<'a>(
    f: &'a CutFrame,
    start: u64,
    end: u64,
    base_offset: u64,
    ctx: &CutSetContext<'_>,
    arena: &'a Bump,
    out: &mut Vec<Event<'a>>,
) -> SetSummary {
    let frame_at = f.at;
    let mut pos = start;
    let mut top = 0u64;
    let mut inner = 0u64;
    let mut crc_errors = 0u64;
    let mut not_captured = 0u64;
    let mut end_kind = SetEnd::Clean;
    let mut cut_needs = None;
    let uncaptured = |what, at: u64, size: u64, position: Option<u64>| UncapturedEvent {
        stream: ctx.stream,
        what,
        frame_at,
        request_index: ctx.set.request_index,
        part: ctx.set.part,
        at: frame_at + at,
        position,
        offset: position.map(|p| p + size),
        size,
        captured: f.captured_in(at, size),
        inferred: false,
        detail: None,
    };
    while pos < end {
        let left = end - pos;
        let position = base_offset + (pos - start);
        // The rest captured in one run: the ordinary walk, cut tail and all.
        if let Some(rest) = f.get(pos, left) {
            let mut sctx = ctx.set.clone();
            sctx.stream_at = frame_at + pos;
            let w = walk_set(rest, position, &sctx, ctx.cfg, arena);
            top += w.summary.messages;
            inner += w.summary.inner_messages;
            crc_errors += w.summary.crc_errors;
            end_kind = w.summary.end;
            cut_needs = w.summary.cut_needs;
            pos += w.summary.valid_bytes;
            out.extend(w.messages.into_iter().map(Event::Message));
            out.extend(w.errors.into_iter().map(Event::Error));
            break;
        }
        if left < 4 {
            end_kind = SetEnd::Trailing;
            break;
        }
        let Some(n) = f.i32_at(pos) else {
            out.push(Event::Uncaptured(uncaptured(
                "message_set",
                pos,
                left,
                None,
            )));
            end_kind = SetEnd::NotCaptured;
            break;
        };
        if n < 0 {
            end_kind = SetEnd::Error;
            break;
        }
        let total = 4 + n as u64;
        if total > left {
            // The last entry is cut short by the frame (as fetch responses end).
            end_kind = SetEnd::Cut;
            cut_needs = Some(total);
            break;
        }
        match f.get(pos, total) {
            Some(entry) => {
                let mut sctx = ctx.set.clone();
                sctx.stream_at = frame_at + pos;
                let w = walk_set(entry, position, &sctx, ctx.cfg, arena);
                top += w.summary.messages;
                inner += w.summary.inner_messages;
                crc_errors += w.summary.crc_errors;
                out.extend(w.messages.into_iter().map(Event::Message));
                out.extend(w.errors.into_iter().map(Event::Error));
            }
            None => {
                not_captured += 1;
                out.push(Event::Uncaptured(uncaptured(
                    "message",
                    pos,
                    total,
                    Some(position),
                )));
            }
        }
        pos += total;
    }
    let valid = pos - start;
    SetSummary {
        size: end - start,
        base_offset,
        messages: top,
        inner_messages: inner,
        crc_errors,
        valid_bytes: valid,
        next_offset: base_offset + valid,
        end: end_kind,
        tail_bytes: end - pos,
        cut_needs,
        not_captured,
        base_unknown: false,
    }
}

/// A [`SetContext`] for a set of a cut frame.
pub(crate) fn set_context(
    stream: StreamId,
    found_in: MessageIn,
    frame_at: u64,
    request_index: Option<u64>,
    part: Option<u32>,
    info: &PartInfo,
) -> SetContext {
    SetContext {
        stream: Some(stream),
        found_in,
        frame_at: Some(frame_at),
        request_index,
        part,
        topic: info.topic.clone(),
        partition: info.partition,
        stream_at: frame_at,
        context: "message_set",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_frame_keeps_runs_and_counts_holes() {
        let mut f = CutFrame::new(100, 20, &[0, 0, 0, 16, 0, 1], None);
        assert_eq!(f.add_missing(4), 4);
        assert_eq!(f.add_data(&[9, 9, 9], None), 3);
        assert_eq!(f.add_data(&[8], None), 1);
        assert_eq!(f.add_missing(100), 6, "only what belongs to the frame");
        assert!(f.complete());
        assert_eq!(f.captured(), 10);
        assert_eq!(f.captured_in(4, 8), 2 + 2);
        assert_eq!(f.i32_at(0), Some(16));
        assert_eq!(f.i16_at(4), Some(1));
        assert_eq!(
            f.get(10, 4),
            Some(&[9, 9, 9, 8][..]),
            "adjacent runs merged"
        );
        assert_eq!(f.get(6, 1), None, "a missing byte");
        assert_eq!(f.get(12, 4), None, "runs into a hole");
        assert_eq!(f.get(18, 4), None, "past the frame");
        assert_eq!(f.head(), &[0, 0, 0, 16, 0, 1]);
    }
}
