//! Walking a message set: one [`MessageEvent`] per entry (and, with `--deep`, per message
//! inside a compressed wrapper), a [`SetSummary`], and [`ErrorEvent`]s for what stopped the
//! walk.

use bumpalo::Bump;
use kafka07_proto::{CrcStatus, Error, MessageAndOffset, MessageSet, Stop};

use super::event::{Crc, ErrorEvent, MessageEvent, MessageIn, SetEnd, SetSummary, StreamId};
use super::DecodeConfig;

/// Where a set sits, to label its messages.
#[derive(Clone, Debug)]
pub(crate) struct SetContext {
    pub stream: Option<StreamId>,
    pub found_in: MessageIn,
    pub frame_at: Option<u64>,
    pub request_index: Option<u64>,
    pub part: Option<u32>,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    /// Stream (or file) position of the set's first byte.
    pub stream_at: u64,
    /// Error context name.
    pub context: &'static str,
}

/// The result of walking a set.
pub(crate) struct SetWalk<'a> {
    pub messages: Vec<MessageEvent<'a>>,
    pub errors: Vec<ErrorEvent>,
    pub summary: SetSummary,
}

/// Converts a proto error found at `base` (the stream position its offsets are relative to).
pub(crate) fn error_event(
    e: &Error,
    stream: Option<StreamId>,
    base: u64,
    context: &'static str,
) -> ErrorEvent {
    let (at, inner_at) = if e.depth() > 0 {
        (base, Some(e.offset()))
    } else {
        (base + e.offset(), None)
    };
    ErrorEvent {
        stream,
        at,
        context,
        layer: e.layer().to_string(),
        kind: kind_name(e.kind()),
        message: e.kind().to_string(),
        depth: e.depth(),
        inner_at,
        frame: None,
    }
}

/// A stable snake_case name for an error kind.
pub(crate) fn kind_name(kind: kafka07_proto::ErrorKind) -> &'static str {
    use kafka07_proto::ErrorKind as K;
    match kind {
        K::Truncated { .. } => "truncated",
        K::NegativeLength(_) => "negative_length",
        K::LengthExceedsLimit { .. } => "length_exceeds_limit",
        K::InvalidFrameSize(_) => "invalid_frame_size",
        K::LengthBelowHeader { .. } => "length_below_header",
        K::MessageLargerThanFetch { .. } => "message_larger_than_fetch",
        K::UnknownMagic(_) => "unknown_magic",
        K::UnknownCodec(_) => "unknown_codec",
        K::CrcMismatch { .. } => "crc_mismatch",
        K::UnknownRequestType(_) => "unknown_request_type",
        K::TrailingBytes(_) => "trailing_bytes",
        K::ValueTooLarge { .. } => "value_too_large",
        K::InsufficientSpace { .. } => "insufficient_space",
        K::ScratchExhausted { .. } => "scratch_exhausted",
        K::DecompressedLimit { .. } => "decompressed_limit",
        K::NestingTooDeep { .. } => "nesting_too_deep",
        K::Gzip(_) => "gzip",
        K::Snappy(_) => "snappy",
        K::UnexpectedResponse => "unexpected_response",
        K::TooManyPending { .. } => "too_many_pending",
        K::MessageTooLarge { .. } => "message_too_large",
        K::CodecUnavailable(_) => "codec_unavailable",
        _ => "other",
    }
}

fn crc_fields(status: CrcStatus, stored: u32) -> (Crc, Option<u32>) {
    match status {
        CrcStatus::Valid => (Crc::Valid, Some(stored)),
        CrcStatus::Unchecked => (Crc::Unchecked, None),
        CrcStatus::Mismatch { computed, .. } => (Crc::Mismatch, Some(computed)),
    }
}

fn message_event<'a>(ctx: &SetContext, m: &MessageAndOffset<'a>, at: u64) -> MessageEvent<'a> {
    let view = &m.message;
    let (crc, crc_computed) = crc_fields(m.crc, view.stored_crc());
    MessageEvent {
        stream: ctx.stream,
        found_in: ctx.found_in,
        frame_at: ctx.frame_at,
        request_index: ctx.request_index,
        part: ctx.part,
        topic: ctx.topic.clone(),
        partition: ctx.partition,
        at,
        position: m.position,
        offset: m.offset,
        depth: m.depth,
        magic: view.magic(),
        attributes: view.attributes(),
        codec: view.codec().name(),
        crc,
        crc_stored: view.stored_crc(),
        crc_computed,
        size: view.payload().len() as u64,
        payload: view.payload(),
        in_bad_crc_wrapper: false,
    }
}

/// One thing found while walking a set: a message, or an error inside a wrapper.
pub(crate) enum Item<'a> {
    /// A message (top level or, with `--deep`, inside a wrapper).
    Message(MessageEvent<'a>),
    /// A problem found while opening a wrapper.
    Error(ErrorEvent),
}

/// What one top-level entry held, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EntryCounts {
    /// Messages found inside compressed wrappers (with `--deep`).
    pub inner: u64,
    /// Messages (the entry or inner ones) whose CRC did not match.
    pub crc_errors: u64,
}

/// The events of one top-level entry `m` found at stream (or file) position `entry_at`: the
/// entry itself and, with `--deep`, the messages inside it, in order.
///
/// A wrapper whose own CRC does not match is still opened (the CRC only guards its compressed
/// bytes): its inner messages are marked [`in_bad_crc_wrapper`](MessageEvent::in_bad_crc_wrapper),
/// and when it does not inflate the error is reported at the wrapper's position.
pub(crate) fn entry_events<'a>(
    ctx: &SetContext,
    m: &MessageAndOffset<'a>,
    entry_at: u64,
    cfg: &DecodeConfig,
    arena: &'a Bump,
    out: &mut dyn FnMut(Item<'a>),
) -> EntryCounts {
    let mut counts = EntryCounts::default();
    if !m.crc.is_ok() {
        counts.crc_errors += 1;
    }
    out(Item::Message(message_event(ctx, m, entry_at)));
    if !(cfg.deep && m.message.is_compressed()) {
        return counts;
    }
    let one = MessageSet::new(m.message.as_bytes(), m.position);
    let mut deep = one.deep_in(arena, cfg.decode_options());
    // Depth of the shallowest enclosing wrapper whose CRC failed (pre-order walk: it
    // encloses every later item deeper than itself).
    let mut bad_from: Option<u8> = (!m.crc.is_ok()).then_some(0);
    for d in &mut deep {
        let Ok(d) = d else { break };
        if d.depth == 0 {
            continue;
        }
        if bad_from.is_some_and(|b| d.depth <= b) {
            bad_from = None;
        }
        counts.inner += 1;
        if !d.crc.is_ok() {
            counts.crc_errors += 1;
        }
        let mut ev = message_event(ctx, &d, entry_at);
        ev.in_bad_crc_wrapper = bad_from.is_some();
        out(Item::Message(ev));
        if bad_from.is_none() && !d.crc.is_ok() && d.message.is_compressed() {
            bad_from = Some(d.depth);
        }
    }
    if let Stop::Error(e) = deep.stop() {
        let mut ev = error_event(&e, ctx.stream, entry_at, "message");
        if !m.crc.is_ok() {
            ev.message = format!(
                "{} (in the wrapper at byte {entry_at}, whose CRC does not match: stored \
                 {:#010x}, computed {:#010x})",
                ev.message,
                m.message.stored_crc(),
                crc_fields(m.crc, m.message.stored_crc()).1.unwrap_or(0)
            );
        }
        out(Item::Error(ev));
    }
    counts
}

/// Walks `bytes` (a set whose first byte is log offset `base_offset`) under the config's
/// CRC policy, in lax mode: what stops the walk is reported, never returned.
pub(crate) fn walk_set<'a>(
    bytes: &'a [u8],
    base_offset: u64,
    ctx: &SetContext,
    cfg: &DecodeConfig,
    arena: &'a Bump,
) -> SetWalk<'a> {
    let opts = cfg.decode_options();
    let set = MessageSet::new(bytes, base_offset);
    let mut shallow = set.shallow_with(opts);
    let mut messages = Vec::new();
    let mut errors = Vec::new();
    let mut top = 0u64;
    let mut inner = 0u64;
    let mut crc_errors = 0u64;
    for m in &mut shallow {
        // Lax mode: errors end the walk and show up in `stop()`.
        let Ok(m) = m else { break };
        top += 1;
        let entry_at = ctx.stream_at + (m.position - base_offset);
        let c = entry_events(ctx, &m, entry_at, cfg, arena, &mut |item| match item {
            Item::Message(ev) => messages.push(ev),
            Item::Error(ev) => errors.push(ev),
        });
        inner += c.inner;
        crc_errors += c.crc_errors;
    }
    let valid = shallow.position() as u64;
    let (end, cut_needs) = match shallow.stop() {
        Stop::End | Stop::Running => (SetEnd::Clean, None),
        Stop::Trailing { .. } => (SetEnd::Trailing, None),
        Stop::Cut { needed, .. } => (SetEnd::Cut, Some(needed)),
        Stop::Error(e) => {
            errors.push(error_event(&e, ctx.stream, ctx.stream_at, ctx.context));
            (SetEnd::Error, None)
        }
    };
    SetWalk {
        messages,
        errors,
        summary: SetSummary {
            size: bytes.len() as u64,
            base_offset,
            messages: top,
            inner_messages: inner,
            crc_errors,
            valid_bytes: valid,
            next_offset: base_offset + valid,
            end,
            tail_bytes: bytes.len() as u64 - valid,
            cut_needs,
            not_captured: 0,
            base_unknown: false,
        },
    }
}
