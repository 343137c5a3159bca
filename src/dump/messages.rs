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
    }
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
        if !m.crc.is_ok() {
            crc_errors += 1;
        }
        let entry_at = ctx.stream_at + (m.position - base_offset);
        messages.push(message_event(ctx, &m, entry_at));
        if cfg.deep && m.message.is_compressed() {
            let one = MessageSet::new(m.message.as_bytes(), m.position);
            let mut deep = one.deep_in(arena, opts);
            for d in &mut deep {
                let Ok(d) = d else { break };
                if d.depth == 0 {
                    continue;
                }
                inner += 1;
                if !d.crc.is_ok() {
                    crc_errors += 1;
                }
                messages.push(message_event(ctx, &d, entry_at));
            }
            if let Stop::Error(e) = deep.stop() {
                errors.push(error_event(&e, ctx.stream, entry_at, "message"));
            }
        }
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
        },
    }
}
