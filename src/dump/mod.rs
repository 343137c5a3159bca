//! Decoding captured 0.7 traffic and 0.7 log files: the library behind `kafka07 decode`.
//!
//! Everything here is a function from bytes to [`Event`]s, handed to a [`Sink`]; the
//! [`text`] and [`json`] modules turn events into output. Nothing panics on garbage: a
//! corrupt frame is reported as an [`ErrorEvent`](event::ErrorEvent) with its byte position, and decoding
//! resumes at the next frame it can find.
//!
//! | input | entry point |
//! |---|---|
//! | any file or directory, format detected | [`decode_path`] |
//! | bytes in memory (e.g. stdin), format detected | [`decode_bytes`] |
//! | pcap / pcapng capture | [`decode_capture`] |
//! | one direction of a connection | [`decode_raw`] |
//! | both directions as two streams | [`decode_raw_pair`] |
//! | a log segment | [`decode_segment`] |
//! | a log directory | [`decode_log_dir`] |
//! | one connection, incrementally | [`ConnectionDecoder`] |
//!
//! ```
//! use kafka07::dump::{decode_raw, text, DecodeConfig, Event};
//! // The Perl 0.7 client's OFFSETS request fixture: "test"/0, earliest, max 100.
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
//!     "/tests/data/peer-test-suites/perl-kafka-0.12/t_03_Protocol_05_offsets_request__request.bin"))?;
//! let mut lines = Vec::new();
//! decode_raw(&bytes, None, &DecodeConfig::default(), &mut |e: &Event<'_>| {
//!     lines.push(text::render(e, &text::TextOptions::default()));
//! });
//! assert!(lines[0].contains("OFFSETS") && lines[0].contains("test:0") && lines[0].contains("earliest"));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod capture;
pub mod event;
mod holed;
mod input;
pub mod json;
mod messages;
pub mod raw;
pub mod render;
pub mod segment;
mod stream;
#[cfg(test)]
mod tests;
pub mod text;

use kafka07_proto::{gzip::Backend, CrcPolicy, DecodeOptions, DEFAULT_MAX_FRAME};

pub use capture::{decode_capture, CaptureOutcome};
pub use event::{Dir, Event, Sink, Summary};
pub use input::{
    decode_bytes, decode_path, decode_reader, detect_file, looks_like_message_set, DumpError,
    Files, InputKind, PlainFiles,
};
pub use json::JsonCollector;
pub use raw::{decode_raw, decode_raw_pair, guess_direction, Direction};
pub use segment::{decode_log_dir, decode_segment, SegmentContext};
pub use stream::{ConnectionDecoder, PENDING_CAPACITY};

/// How to decode.
///
/// ```
/// use kafka07::dump::DecodeConfig;
/// use kafka07::proto::CrcPolicy;
/// let cfg = DecodeConfig { deep: true, crc: CrcPolicy::Verify, ..DecodeConfig::default() };
/// assert_eq!(cfg.broker_ports, [9092]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeConfig {
    /// CRC policy for messages in requests and responses (default: report). Segments are
    /// always checked, as the broker's recovery does; `Skip` only hides the result.
    pub crc: CrcPolicy,
    /// Descend into compressed wrappers.
    pub deep: bool,
    /// Largest frame accepted (default: the broker's 100 MiB).
    pub max_frame: usize,
    /// Deepest nesting of compressed wrappers followed.
    pub max_depth: u8,
    /// Most decompressed bytes per wrapper.
    pub max_decompressed: usize,
    /// Ports that identify the broker side of a captured connection (default 9092).
    pub broker_ports: Vec<u16>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            crc: CrcPolicy::Report,
            deep: false,
            max_frame: DEFAULT_MAX_FRAME,
            max_depth: 4,
            max_decompressed: 64 << 20,
            broker_ports: vec![9092],
        }
    }
}

impl DecodeConfig {
    /// The proto options for message sets: this CRC policy, lax mode (captures are read
    /// forensically: what stops a walk is reported, not returned), and the zlib-rs inflate
    /// backend (the same results as the default miniz_oxide, faster).
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions::default()
            .crc(self.crc)
            .lax(true)
            .max_depth(self.max_depth)
            .max_decompressed(self.max_decompressed)
            .inflate(Backend::ZlibRs)
    }
}

/// A sink that counts what passes through it into a [`Summary`] and forwards every event.
pub struct Counter<'s> {
    inner: &'s mut dyn Sink,
    /// The counts so far.
    pub summary: Summary,
}

impl<'s> Counter<'s> {
    /// Counts the events on their way to `inner`.
    pub fn new(inner: &'s mut dyn Sink) -> Self {
        Counter {
            inner,
            summary: Summary::default(),
        }
    }
}

impl Sink for Counter<'_> {
    fn event(&mut self, event: &Event<'_>) {
        let s = &mut self.summary;
        match event {
            Event::Connection(_) => s.connections += 1,
            Event::Request(r) => {
                s.requests += 1;
                if r.captured.is_some() {
                    s.cut_frames += 1;
                }
                if !r.expects_response {
                    s.produce_requests += 1;
                }
            }
            Event::Response(r) => {
                s.responses += 1;
                if r.captured.is_some() {
                    s.cut_frames += 1;
                }
                if r.request_index.is_none() {
                    s.unpaired_responses += 1;
                }
            }
            Event::Message(m) => {
                s.messages += 1;
                if m.crc == event::Crc::Mismatch {
                    s.crc_errors += 1;
                }
            }
            Event::Uncaptured(u) => match u.what {
                "message" => s.uncaptured_messages += 1,
                "request" | "response" => {
                    s.uncaptured_frames += 1;
                    if u.inferred {
                        s.inferred_frames += 1;
                    }
                }
                "unaligned" => s.unaligned += 1,
                _ => {}
            },
            Event::Error(_) => s.errors += 1,
            Event::Gap(g) => {
                s.gaps += 1;
                s.gap_bytes += g.missing;
                if g.cause == "snaplen" {
                    s.not_captured_gaps += 1;
                    s.not_captured_bytes += g.missing;
                }
            }
            Event::Resync(r) if r.not_captured => s.unplaced_bytes += r.skipped,
            Event::Resync(r) => s.skipped_bytes += r.skipped,
            Event::Close(c) => s.unanswered += c.unanswered,
            Event::Segment(seg) => {
                s.segments += 1;
                if seg.tail.is_some() {
                    s.torn_segments += 1;
                }
            }
            Event::Partition(p) => s.chain_breaks += p.chain_breaks.len() as u64,
            Event::Input(_) | Event::Summary(_) => {}
        }
        self.inner.event(event);
    }
}
