//! Readable output: one line per request and response (direction, connection, type, topic,
//! partition, offsets, sizes, message count, errors); with `verbose`, one line per message
//! (offset, next offset, magic, codec, CRC status, payload preview); with `hex`, hex dumps.
//!
//! Line shapes (`#0` is the connection, `raw` a raw stream; `C>S` client to server; `@N` the
//! byte position in that direction's stream):
//!
//! ```text
//! #0   C>S @0         request 0    PRODUCE     test:0  3 messages (87 bytes)  [no response by design]
//! #0   C>S @91        request 1    FETCH       test:0  offset 0  max 1048576
//! #0   S>C @0         response 0   FETCH       test:0  NoError  3 messages (87 bytes)  next offset 87  [answers request 1]
//! ```

use std::fmt::Write as _;
use std::io::Write;

use pretty_hex::{config_hex, HexConfig};

use super::event::{
    Crc, ErrorEvent, Event, Format, MessageEvent, MessageIn, PartInfo, SetEnd, SetSummary,
    StreamId, Summary, UncapturedEvent,
};
use super::render::{Render, Writer};

/// What to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TextOptions {
    /// Show every message of requests and responses (segments always show theirs).
    pub verbose: bool,
    /// Hex dumps of frames (and of printed messages' payloads).
    pub hex: bool,
    /// Most bytes per hex dump (0: no limit).
    pub hex_max: usize,
    /// Payload bytes shown in a message line's preview.
    pub preview: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            verbose: false,
            hex: false,
            hex_max: 4096,
            preview: 24,
        }
    }
}

/// Turns events into text, keeping the little state the summary line needs.
///
/// ```
/// use kafka07::dump::event::{Event, Summary};
/// use kafka07::dump::text::{TextOptions, TextRenderer};
/// let mut r = TextRenderer::new(TextOptions::default());
/// let s = Summary { requests: 2, responses: 1, ..Summary::default() };
/// assert_eq!(r.render(&Event::Summary(s)), "summary: 2 requests, 1 response; no problems found");
/// ```
#[derive(Clone, Debug)]
pub struct TextRenderer {
    opts: TextOptions,
    format: Option<Format>,
}

/// Renders one event with no context (see [`TextRenderer`]); empty when the event is not
/// shown at these options.
pub fn render(event: &Event<'_>, opts: &TextOptions) -> String {
    TextRenderer::new(*opts).render(event)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

fn prefix(stream: &StreamId, at: u64) -> String {
    let sid = match stream.conn {
        Some(c) => format!("#{c}"),
        None => "raw".to_string(),
    };
    format!("{sid:<4} {} @{at:<9}", stream.dir.arrow())
}

fn topic_partition(p: &PartInfo) -> String {
    match (&p.topic, p.partition) {
        (Some(t), Some(n)) => format!("{t}:{n}"),
        (Some(t), None) => t.clone(),
        (None, Some(n)) => format!("?:{n}"),
        (None, None) => "?".into(),
    }
}

fn time_name(t: i64) -> String {
    match t {
        -1 => "latest".into(),
        -2 => "earliest".into(),
        ms => format!("{ms} ms"),
    }
}

/// Whether a set's next offset is known: its layout was captured to the end and its base
/// offset is known.
fn next_known(s: &SetSummary) -> bool {
    s.end != SetEnd::NotCaptured && !s.base_unknown
}

/// A short description of a message set.
fn set_desc(s: &SetSummary) -> String {
    let mut d = format!(
        "{} ({} bytes)",
        plural(s.messages, "message", "messages"),
        s.size
    );
    if s.inner_messages > 0 {
        let _ = write!(d, ", {} inside wrappers", s.inner_messages);
    }
    if s.crc_errors > 0 {
        let _ = write!(d, ", {} with a bad CRC", s.crc_errors);
    }
    if s.not_captured > 0 {
        let _ = write!(d, ", {} not captured", s.not_captured);
    }
    if s.base_unknown {
        d.push_str(", offsets relative to the set (the fetch offset was not captured)");
    }
    match s.end {
        SetEnd::Clean => {}
        SetEnd::Cut => {
            let _ = write!(d, ", cut tail {} bytes", s.tail_bytes);
            if let Some(n) = s.cut_needs {
                let _ = write!(d, " of a {n}-byte message");
            }
        }
        SetEnd::Trailing => {
            let _ = write!(d, ", {} trailing bytes ignored", s.tail_bytes);
        }
        SetEnd::Error => {
            let _ = write!(d, ", unreadable after {} bytes", s.valid_bytes);
        }
        SetEnd::NotCaptured => {
            let _ = write!(
                d,
                ", layout of the last {} bytes not captured",
                s.tail_bytes
            );
        }
    }
    d
}

/// Printable preview of a payload: ASCII as is, other bytes escaped, cut at `max` bytes.
///
/// ```
/// use kafka07::dump::text::preview;
/// assert_eq!(preview(b"hi\n\x00there", 6), "\"hi\\n\\x00th\"...");
/// ```
pub fn preview(payload: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &b in payload.iter().take(max) {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s.push('"');
    if payload.len() > max {
        s.push_str("...");
    }
    s
}

fn part_line(p: &PartInfo) -> String {
    let mut d = topic_partition(p);
    if let Some(o) = p.offset {
        let _ = write!(d, "  offset {o}");
    }
    if let Some(m) = p.max_size {
        let _ = write!(d, "  max {m}");
    }
    if let Some(t) = p.time {
        let _ = write!(d, "  time {}", time_name(t));
    }
    if let Some(m) = p.max_offsets {
        let _ = write!(d, "  max {m}");
    }
    if let Some(name) = &p.error_name {
        let _ = write!(d, "  {name}");
        if let Some(code) = p.error_code {
            if code != 0 {
                let _ = write!(d, " ({code})");
            }
        }
    }
    if let Some(s) = &p.set {
        let _ = write!(d, "  {}", set_desc(s));
        if p.error_name.is_some() && p.error_code == Some(0) && next_known(s) {
            let _ = write!(d, "  next offset {}", s.next_offset);
        }
    }
    d
}

const INDENT: &str = "      ";

impl TextRenderer {
    /// A renderer.
    pub fn new(opts: TextOptions) -> Self {
        TextRenderer { opts, format: None }
    }

    fn hex_dump(&self, out: &mut String, bytes: &[u8]) {
        if !self.opts.hex || bytes.is_empty() {
            return;
        }
        let cfg = HexConfig {
            title: false,
            max_bytes: if self.opts.hex_max == 0 {
                usize::MAX
            } else {
                self.opts.hex_max
            },
            ..HexConfig::default()
        };
        for line in config_hex(&bytes, cfg).lines() {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str(line);
        }
    }

    fn message_line(&self, m: &MessageEvent<'_>) -> String {
        let in_segment = m.found_in == MessageIn::Segment;
        if !in_segment && !self.opts.verbose {
            return String::new();
        }
        let mut s = String::new();
        if !in_segment {
            s.push_str(INDENT);
            if let Some(p) = m.part {
                let _ = write!(s, "part {p} ");
            }
        }
        for _ in 0..m.depth {
            s.push_str("  ");
        }
        let crc = match m.crc {
            Crc::Valid => "valid".to_string(),
            Crc::Unchecked => "unchecked".to_string(),
            Crc::Mismatch => format!(
                "MISMATCH (stored {:#010x}, computed {:#010x})",
                m.crc_stored,
                m.crc_computed.unwrap_or(0)
            ),
        };
        let _ = write!(
            s,
            "offset {:>8}  next {:>8}  magic {}  codec {:<6}  crc {crc}  {} bytes  {}",
            m.position,
            m.offset,
            m.magic,
            m.codec,
            m.size,
            preview(m.payload, self.opts.preview)
        );
        if m.in_bad_crc_wrapper {
            s.push_str("  [inside a wrapper whose CRC does not match]");
        }
        self.hex_dump(&mut s, m.payload);
        s
    }

    fn uncaptured_line(&self, u: &UncapturedEvent) -> String {
        let part = u.part.map(|p| format!("part {p} ")).unwrap_or_default();
        match u.what {
            "message" if self.opts.verbose => format!(
                "{INDENT}{part}offset {:>8}  next {:>8}  NOT CAPTURED  entry of {} bytes, {} of \
                 them captured (no CRC check)",
                u.position.unwrap_or(0),
                u.offset.unwrap_or(0),
                u.size,
                u.captured
            ),
            "message_set" if self.opts.verbose => format!(
                "{INDENT}{part}@{}  NOT CAPTURED  the last {} bytes of the set: a length field \
                 is missing, so where their entries start is unknown",
                u.at, u.size
            ),
            "frame_rest" if self.opts.verbose => format!(
                "{INDENT}{part}@{}  NOT CAPTURED  the last {} bytes of the frame: a length field \
                 is missing, so where its fields are is unknown",
                u.at, u.size
            ),
            "offsets" => format!(
                "{INDENT}{} of the offsets not captured ({} of their {} bytes captured)",
                u.size / 8,
                u.captured,
                u.size
            ),
            "request" | "response" if u.inferred => format!(
                "{}{:<13}{} bytes, {} captured: size inferred, not read ({}); type not captured \
                 (snap length)",
                prefix(&u.stream, u.at),
                format!("{}?", u.what.to_uppercase()),
                u.size,
                u.captured,
                u.detail.as_deref().unwrap_or("")
            ),
            "request" | "response" => format!(
                "{}{:<13}{} bytes, {} captured: too few to decode (snap length)",
                prefix(&u.stream, u.at),
                u.what.to_uppercase(),
                u.size,
                u.captured
            ),
            "unaligned" => format!(
                "{}NOT DELIMITED {} bytes from here ({} captured) not delimited: {}; the stream \
                 is searched for the next frame",
                prefix(&u.stream, u.at),
                u.size,
                u.captured,
                u.detail.as_deref().unwrap_or("")
            ),
            _ => String::new(),
        }
    }

    fn error_line(&self, e: &ErrorEvent) -> String {
        let mut s = match (&e.stream, e.frame) {
            (Some(st), _) => format!("{}ERROR        ", prefix(st, e.at)),
            (None, Some(f)) => format!("ERROR frame {f}: "),
            (None, None) => format!("ERROR at byte {}: ", e.at),
        };
        let _ = write!(s, "{}: {} [{}, {}]", e.context, e.message, e.layer, e.kind);
        if e.depth > 0 {
            let _ = write!(s, " (inside a compressed wrapper, depth {}", e.depth);
            if let Some(i) = e.inner_at {
                let _ = write!(s, ", byte {i} of the decompressed data");
            }
            s.push(')');
        }
        s
    }

    fn summary_line(&self, sum: &Summary) -> String {
        fn count(list: &mut Vec<String>, n: u64, one: &str, many: &str) {
            if n > 0 {
                list.push(plural(n, one, many));
            }
        }
        fn note(list: &mut [String], text: String) {
            if let Some(last) = list.last_mut() {
                last.push_str(&text);
            }
        }
        let mut parts = Vec::new();
        count(&mut parts, sum.connections, "connection", "connections");
        count(&mut parts, sum.requests, "request", "requests");
        if sum.produce_requests > 0 {
            note(
                &mut parts,
                format!(" ({} produce, unanswered by design)", sum.produce_requests),
            );
        }
        count(&mut parts, sum.responses, "response", "responses");
        if sum.unpaired_responses > 0 {
            note(
                &mut parts,
                format!(" ({} unpaired)", sum.unpaired_responses),
            );
        }
        count(
            &mut parts,
            sum.unanswered,
            "request unanswered",
            "requests unanswered",
        );
        count(&mut parts, sum.segments, "segment", "segments");
        count(&mut parts, sum.messages, "message", "messages");
        count(
            &mut parts,
            sum.cut_frames,
            "frame captured in part",
            "frames captured in part",
        );
        count(
            &mut parts,
            sum.uncaptured_messages,
            "message not captured",
            "messages not captured",
        );
        count(
            &mut parts,
            sum.uncaptured_frames,
            "frame too little captured to decode",
            "frames too little captured to decode",
        );
        if sum.inferred_frames > 0 {
            note(
                &mut parts,
                format!(" ({} delimited by inference)", sum.inferred_frames),
            );
        }
        count(
            &mut parts,
            sum.unaligned,
            "place not delimited",
            "places not delimited",
        );
        if sum.unplaced_bytes > 0 {
            note(
                &mut parts,
                format!(" ({} bytes passed over)", sum.unplaced_bytes),
            );
        }
        count(
            &mut parts,
            sum.not_captured_bytes,
            "byte not captured (snap length)",
            "bytes not captured (snap length)",
        );
        if sum.ip_length_zero_frames > 0 {
            note(
                &mut parts,
                format!(
                    " ({} cut {} with IP length 0, TSO/GSO: lengths from the capture records)",
                    sum.ip_length_zero_frames,
                    if sum.ip_length_zero_frames == 1 {
                        "frame"
                    } else {
                        "frames"
                    }
                ),
            );
        }
        if parts.is_empty() {
            parts.push("nothing decoded".into());
        }
        let mut problems = Vec::new();
        count(&mut problems, sum.errors, "error", "errors");
        count(&mut problems, sum.crc_errors, "bad CRC", "bad CRCs");
        count(
            &mut problems,
            sum.gaps - sum.not_captured_gaps.min(sum.gaps),
            "gap",
            "gaps",
        );
        count(
            &mut problems,
            sum.gap_bytes - sum.not_captured_bytes.min(sum.gap_bytes),
            "byte missing",
            "bytes missing",
        );
        count(
            &mut problems,
            sum.skipped_bytes,
            "byte skipped",
            "bytes skipped",
        );
        count(
            &mut problems,
            sum.torn_segments,
            "torn segment",
            "torn segments",
        );
        count(
            &mut problems,
            sum.chain_breaks,
            "segment chain break",
            "segment chain breaks",
        );
        let verdict = if problems.is_empty() {
            "no problems found".to_string()
        } else {
            format!("problems: {}", problems.join(", "))
        };
        let mut line = format!("summary: {}; {verdict}", parts.join(", "));
        let other_skipped = sum.skipped_frames.saturating_sub(sum.header_cut_frames);
        if other_skipped > 0 {
            let _ = write!(
                line,
                " ({other_skipped} non-TCP or unusable frames ignored)"
            );
        }
        if sum.header_cut_frames > 0 {
            let _ = write!(
                line,
                " ({} {} cut by the snap length inside {} headers: not one byte of {} stream \
                 captured)",
                sum.header_cut_frames,
                if sum.header_cut_frames == 1 {
                    "frame"
                } else {
                    "frames"
                },
                if sum.header_cut_frames == 1 {
                    "its"
                } else {
                    "their"
                },
                if sum.header_cut_frames == 1 {
                    "its"
                } else {
                    "their"
                },
            );
        }
        line
    }

    /// The text for one event: one or more lines without a final newline, or an empty
    /// string when the event is not shown.
    pub fn render(&mut self, event: &Event<'_>) -> String {
        match event {
            Event::Input(i) => {
                self.format = Some(i.format);
                match i.format {
                    Format::LogDir => {
                        let marker = match i.clean_shutdown_marker {
                            Some(true) => "clean-shutdown marker present",
                            _ => "no clean-shutdown marker: the broker recovers the last segment of each partition",
                        };
                        format!("== {}: log directory ({marker})", i.path)
                    }
                    f @ (Format::Pcap | Format::Pcapng) if i.size == 0 => format!(
                        "== {}: {} (streamed, size not known in advance; detected by {})",
                        i.path,
                        f.name(),
                        i.detected_by
                    ),
                    f => format!(
                        "== {}: {} ({} bytes, detected by {})",
                        i.path,
                        f.name(),
                        i.size,
                        i.detected_by
                    ),
                }
            }
            Event::Connection(c) => format!(
                "#{:<3} open {} -> {} at {} (broker side: {})",
                c.conn, c.client, c.server, c.ts, c.server_reason
            ),
            Event::Request(r) => {
                let mut s = format!(
                    "{}request {:<4} {:<12}",
                    prefix(&r.stream, r.at),
                    r.index,
                    r.request_type
                );
                if let Some(p) = &r.part {
                    let _ = write!(s, "{}", part_line(p));
                }
                if let Some(parts) = &r.parts {
                    let _ = write!(s, "{}", plural(parts.len() as u64, "part", "parts"));
                }
                if r.trailing_bytes > 0 {
                    let _ = write!(s, "  [{} trailing bytes ignored]", r.trailing_bytes);
                }
                if let Some(c) = r.captured {
                    let _ = write!(s, "  [{c} of {} bytes captured]", r.size);
                }
                if !r.expects_response {
                    s.push_str("  [no response by design]");
                }
                if let Some(parts) = &r.parts {
                    for (i, p) in parts.iter().enumerate() {
                        let _ = write!(s, "\n{INDENT}part {i}: {}", part_line(p));
                    }
                }
                self.hex_dump(&mut s, r.raw);
                s
            }
            Event::Response(r) => {
                let mut s = format!(
                    "{}response {:<3} {:<12}",
                    prefix(&r.stream, r.at),
                    r.index,
                    r.request_type
                );
                if let Some(p) = r.part.as_ref().filter(|p| p.topic.is_some()) {
                    let _ = write!(s, "{}  ", topic_partition(p));
                }
                let _ = write!(s, "{}", r.error_name);
                if r.error_code != 0 {
                    let _ = write!(s, " ({})", r.error_code);
                }
                if let Some(set) = r.part.as_ref().and_then(|p| p.set.as_ref()) {
                    let _ = write!(s, "  {}", set_desc(set));
                    if r.error_code == 0 && next_known(set) {
                        let _ = write!(s, "  next offset {}", set.next_offset);
                    }
                }
                if let Some(offsets) = &r.offsets {
                    let list: Vec<String> = offsets.iter().map(i64::to_string).collect();
                    let _ = write!(s, "  offsets [{}]", list.join(", "));
                }
                if let Some(parts) = &r.parts {
                    let _ = write!(s, "  {}", plural(parts.len() as u64, "part", "parts"));
                }
                if let Some(c) = r.captured {
                    let _ = write!(s, "  [{c} of {} bytes captured]", r.size);
                }
                match (r.request_index, r.request_at) {
                    (Some(i), _) => {
                        let _ = write!(s, "  [answers request {i}]");
                    }
                    _ => s.push_str("  [unpaired: no request seen, shape guessed]"),
                }
                if let Some(parts) = &r.parts {
                    for (i, p) in parts.iter().enumerate() {
                        let _ = write!(s, "\n{INDENT}part {i}: {}", part_line(p));
                    }
                }
                self.hex_dump(&mut s, r.raw);
                s
            }
            Event::Message(m) => self.message_line(m),
            Event::Uncaptured(u) => self.uncaptured_line(u),
            Event::Gap(g) => {
                let cause = match g.cause {
                    "snaplen" => "frame truncated by the snap length",
                    "unfilled" => "never captured",
                    "window_exceeded" => "reassembly window exceeded",
                    "acked_not_captured" => "acknowledged but not captured",
                    other => other,
                };
                format!(
                    "{}GAP          {} ({cause})",
                    prefix(&g.stream, g.at),
                    plural(g.missing, "byte missing", "bytes missing")
                )
            }
            Event::Resync(r) => {
                let what = plural(r.skipped, "byte", "bytes");
                let what = if r.not_captured {
                    format!("{what} (not delimited: snap length)")
                } else {
                    what
                };
                if r.found {
                    format!(
                        "{}RESYNC       skipped {what} to the next plausible frame at @{}",
                        prefix(&r.stream, r.from),
                        r.to
                    )
                } else {
                    format!(
                        "{}RESYNC       skipped {what} to the end of the stream: no plausible frame",
                        prefix(&r.stream, r.from)
                    )
                }
            }
            Event::Error(e) => self.error_line(e),
            Event::Close(c) => {
                let who = match c.conn {
                    Some(n) => format!("#{n:<3} close ({})", c.cause.replace('_', " ")),
                    None => "raw  end of stream".to_string(),
                };
                format!(
                    "{who}: {}, {}, {} unanswered",
                    plural(c.requests, "request", "requests"),
                    plural(c.responses, "response", "responses"),
                    c.unanswered
                )
            }
            Event::Segment(seg) => {
                let mut s = format!(
                    "segment {}: base offset {}, {}",
                    seg.path,
                    seg.base_offset,
                    plural(seg.messages, "message", "messages")
                );
                if seg.inner_messages > 0 {
                    let _ = write!(s, " ({} inside wrappers)", seg.inner_messages);
                }
                let _ = write!(
                    s,
                    ", valid bytes {} of {}, next offset {}",
                    seg.valid_bytes, seg.size, seg.next_offset
                );
                match &seg.tail {
                    None => s.push_str(", ends cleanly"),
                    Some(t) => {
                        let _ = write!(
                            s,
                            "\n  torn tail at byte {} (offset {}): {}, {}",
                            t.at,
                            seg.base_offset + t.at,
                            plural(t.bytes, "byte", "bytes"),
                            t.detail
                        );
                        if seg.messages_after_tail > 0 {
                            let _ = write!(
                                s,
                                "\n  {} from there on shown above (an entry with a bad CRC is \
                                 still delimited by its length, so the walk goes on past it)",
                                plural(seg.messages_after_tail, "message", "messages")
                            );
                        }
                        if seg.recovered_at_startup {
                            let _ = write!(
                                s,
                                "\n  the broker's recovery would truncate this file to {} bytes",
                                seg.valid_bytes
                            );
                        } else {
                            s.push_str(
                                "\n  not the last segment of its partition: the broker does not \
                                 recover it and serves these bytes as they are",
                            );
                        }
                    }
                }
                s
            }
            Event::Partition(p) => {
                let mut s = format!(
                    "partition {}:{} ({}): {}, offsets {}..{}, {}, ",
                    p.topic,
                    p.partition,
                    p.path,
                    plural(p.segments, "segment", "segments"),
                    p.start_offset,
                    p.end_offset,
                    plural(p.messages, "message", "messages")
                );
                if p.chain_breaks.is_empty() {
                    s.push_str("segment chain ok");
                } else {
                    s.push_str("segment chain BROKEN (the 0.7 broker refuses to start):");
                    for b in &p.chain_breaks {
                        let _ = write!(
                            s,
                            "\n  {} after {}: next segment should start at {}, starts at {}",
                            b.kind, b.after, b.expected, b.found
                        );
                    }
                }
                s
            }
            Event::Summary(sum) => self.summary_line(sum),
        }
    }
}

/// A [`Sink`](super::Sink) writing text to `W` (the shared [`Writer`] with a [`TextRenderer`]). Write
/// errors are kept; after one nothing more is written.
pub type TextWriter<W> = Writer<W, TextRenderer>;

impl<W: Write> Writer<W, TextRenderer> {
    /// A writer with these options.
    pub fn new(out: W, opts: TextOptions) -> Self {
        Writer::with_renderer(out, TextRenderer::new(opts))
    }
}

impl Render for TextRenderer {
    fn render(&mut self, event: &Event<'_>) -> String {
        TextRenderer::render(self, event)
    }
}
