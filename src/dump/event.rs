//! The records a decode produces: one [`Event`] per request, response, message, gap, error
//! and so on, each a plain value that the [text](super::text) and [JSON](super::json)
//! renderers turn into output.
//!
//! Events borrow the bytes they describe (payloads, raw frames), so a decoder can hand them
//! out without copying; the JSON field names come from the `serde` attributes here and are
//! the stable schema documented in `docs/CLI.md`.

use serde::Serialize;

/// Direction of a byte stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Dir {
    /// Client to broker: requests.
    #[serde(rename = "to-server")]
    ToServer,
    /// Broker to client: responses.
    #[serde(rename = "to-client")]
    ToClient,
}

impl Dir {
    /// The arrow used in text output: `C>S` for requests, `S>C` for responses.
    pub fn arrow(self) -> &'static str {
        match self {
            Dir::ToServer => "C>S",
            Dir::ToClient => "S>C",
        }
    }
}

/// Which stream a record belongs to: a connection of a capture (`conn`), or a raw stream
/// (`conn` absent), and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StreamId {
    /// Connection number in the capture (from 0, in order of appearance); `None` for a raw
    /// byte stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// Direction.
    pub dir: Dir,
}

/// How a message set ended (the reference iterator's reasons, spec §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetEnd {
    /// Every byte was used by complete entries.
    Clean,
    /// 1 to 3 bytes were left over (ignored, as the reference does).
    Trailing,
    /// The last entry is cut short (normal at the end of a fetch response).
    Cut,
    /// An error ended the walk (reported in an [`ErrorEvent`]).
    Error,
    /// The capture lost the layout: a length field after `valid_bytes` was not captured (snap
    /// length), so the entries from there on are unknown.
    NotCaptured,
}

/// What a message set held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetSummary {
    /// Bytes of the set.
    pub size: u64,
    /// Log offset of its first byte (the fetch offset; 0 for a produce request).
    pub base_offset: u64,
    /// Top-level entries (a compressed wrapper counts once).
    pub messages: u64,
    /// Messages found inside compressed wrappers (only counted with `--deep`).
    pub inner_messages: u64,
    /// Top-level entries whose CRC did not match (with the `report` CRC policy).
    pub crc_errors: u64,
    /// The reference's `validBytes`: bytes covered by complete leading entries.
    pub valid_bytes: u64,
    /// `base_offset + valid_bytes`: where the next fetch starts.
    pub next_offset: u64,
    /// How the set ended.
    pub end: SetEnd,
    /// Bytes after the valid prefix (0 when `end` is `clean`).
    pub tail_bytes: u64,
    /// For a cut entry: its full size `4 + N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_needs: Option<u64>,
    /// Entries delimited by their length but not captured in full (snap length), each
    /// reported as an [`UncapturedEvent`]; absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_captured: u64,
    /// True when the log offset of the set's first byte is unknown (the FETCH offset of the
    /// request was not captured): `base_offset` is then 0 and every offset is relative to the
    /// set. Absent when false.
    #[serde(skip_serializing_if = "is_false")]
    pub base_unknown: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A request's topic and partition, with the fields of its type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartInfo {
    /// Topic (UTF-8; other bytes escaped as `\xNN`); absent when unknown (a response with
    /// no request seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Partition; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// FETCH: the offset fetched from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// FETCH: the most bytes asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<i32>,
    /// OFFSETS: the time asked for (-1 latest, -2 earliest, or ms since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// OFFSETS: the most offsets asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_offsets: Option<i32>,
    /// MULTIFETCH response part: its error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i16>,
    /// MULTIFETCH response part: the error code's reference name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_name: Option<String>,
    /// PRODUCE (request) or FETCH (response): the message set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<SetSummary>,
}

impl PartInfo {
    /// A part with only a topic and a partition.
    pub fn new(topic: Option<String>, partition: Option<i32>) -> Self {
        PartInfo {
            topic,
            partition,
            offset: None,
            max_size: None,
            time: None,
            max_offsets: None,
            error_code: None,
            error_name: None,
            set: None,
        }
    }
}

/// One request frame.
#[derive(Clone, Debug, Serialize)]
pub struct RequestEvent<'a> {
    /// The stream.
    #[serde(flatten)]
    pub stream: StreamId,
    /// Number of this request on its stream, from 0.
    pub index: u64,
    /// Stream position of the frame's first byte (its size field).
    pub at: u64,
    /// Frame length, the 4-byte size field included.
    pub size: u64,
    /// Capture timestamp (`secs.micros`) of the packet that completed the frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// `PRODUCE`, `FETCH`, `MULTIFETCH`, `MULTIPRODUCE` or `OFFSETS`.
    pub request_type: &'static str,
    /// The wire type id (0 to 4).
    pub type_id: i16,
    /// Whether the broker answers it (false for PRODUCE and MULTIPRODUCE, by design).
    pub expects_response: bool,
    /// Single-part requests (PRODUCE, FETCH, OFFSETS): their fields.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartInfo>,
    /// MULTIFETCH and MULTIPRODUCE: one entry per part, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartInfo>>,
    /// Bytes after a well-formed body (the broker ignores them).
    pub trailing_bytes: u64,
    /// For a frame the capture has only in part (snap length): how many of its `size` bytes
    /// were captured. Absent when the whole frame was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured: Option<u64>,
    /// The whole frame (for a frame captured in part: its captured first bytes).
    #[serde(skip)]
    pub raw: &'a [u8],
}

/// One response frame.
#[derive(Clone, Debug, Serialize)]
pub struct ResponseEvent<'a> {
    /// The stream.
    #[serde(flatten)]
    pub stream: StreamId,
    /// Number of this response on its stream, from 0.
    pub index: u64,
    /// Stream position of the frame's first byte.
    pub at: u64,
    /// Frame length, the 4-byte size field included.
    pub size: u64,
    /// Capture timestamp (`secs.micros`) of the packet that carried its first byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    /// The request type this response answers (or, unpaired, the shape it was read as).
    pub request_type: &'static str,
    /// `index` of the request it answers; absent when no request was seen for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_index: Option<u64>,
    /// Stream position of that request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_at: Option<u64>,
    /// True when no request was paired with it and its shape was guessed from its bytes.
    pub guessed: bool,
    /// The top-level error code.
    pub error_code: i16,
    /// The error code's reference name (`NoError`, `OffsetOutOfRange`, ...).
    pub error_name: String,
    /// FETCH: topic, partition and fetch offset from the request, and the message set.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartInfo>,
    /// MULTIFETCH: one entry per part, in request order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartInfo>>,
    /// OFFSETS: the offsets, newest first as the broker sends them (for a frame captured in
    /// part: the leading ones that were captured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<Vec<i64>>,
    /// For a frame the capture has only in part (snap length): how many of its `size` bytes
    /// were captured. Absent when the whole frame was captured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured: Option<u64>,
    /// The whole frame (for a frame captured in part: its captured first bytes).
    #[serde(skip)]
    pub raw: &'a [u8],
}

/// Where a message was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageIn {
    /// In a PRODUCE or MULTIPRODUCE request.
    Request,
    /// In a FETCH or MULTIFETCH response.
    Response,
    /// In a log segment file.
    Segment,
}

/// Outcome of the CRC policy for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Crc {
    /// The stored CRC matches the payload.
    Valid,
    /// Not checked (`--crc skip`).
    Unchecked,
    /// The stored CRC does not match.
    Mismatch,
}

/// One message (a plain message, a compressed wrapper, or with `--deep` a message inside a
/// wrapper).
#[derive(Clone, Debug, Serialize)]
pub struct MessageEvent<'a> {
    /// The stream (absent for segments).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamId>,
    /// Where it was found.
    #[serde(rename = "in")]
    pub found_in: MessageIn,
    /// Stream position of the request or response frame holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_at: Option<u64>,
    /// Index of the request (or of the request answered by the response) holding it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_index: Option<u64>,
    /// MULTIFETCH / MULTIPRODUCE: the part number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// Topic, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Partition, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Byte position of the entry in the stream or file (for a message inside a wrapper: of
    /// the outermost wrapper).
    pub at: u64,
    /// Log offset where the entry starts (for a message inside a wrapper: where the
    /// outermost wrapper starts).
    pub position: u64,
    /// The reference's offset: where a consumer resumes to get the messages after this one
    /// (spec §5.2–5.3).
    pub offset: u64,
    /// 0 at top level, 1 inside a wrapper, and so on.
    pub depth: u8,
    /// Magic byte (0 or 1).
    pub magic: u8,
    /// Attributes byte (0 for magic 0).
    pub attributes: u8,
    /// `none`, `gzip`, `snappy` (or `unknown` for codec bits 3 in a segment).
    pub codec: &'static str,
    /// CRC outcome.
    pub crc: Crc,
    /// CRC stored in the message.
    pub crc_stored: u32,
    /// CRC computed over the payload (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crc_computed: Option<u32>,
    /// Payload length in bytes.
    pub size: u64,
    /// The payload (for a wrapper: its compressed bytes).
    #[serde(skip)]
    pub payload: &'a [u8],
    /// True for a message found inside a compressed wrapper whose own CRC did not match
    /// (the wrapper inflated, but its bytes are suspect); absent when false.
    #[serde(skip_serializing_if = "is_false")]
    pub in_bad_crc_wrapper: bool,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Something whose place and length are known but whose bytes the capture does not have in
/// full (a frame or packet cut by the snap length): a message, the rest of a message set
/// whose layout was lost, a frame too little of which was captured to decode, or the offsets
/// of an OFFSETS answer. No CRC is checked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UncapturedEvent {
    /// The stream.
    #[serde(flatten)]
    pub stream: StreamId,
    /// `message`, `message_set` (the rest of a set after a length field that was not
    /// captured), `frame_rest` (the rest of a frame, parts included, after such a length
    /// field), `request`, `response` (a frame whose header was not captured), `offsets`, or
    /// `unaligned` (a frame's size field was not captured, so where it ends is unknown: the
    /// stream is searched for the next plausible frame, as after a gap).
    pub what: &'static str,
    /// Stream position of the frame holding it.
    pub frame_at: u64,
    /// `index` of the request it belongs to (a request's own, or the one a response answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_index: Option<u64>,
    /// Part number inside a MULTIPRODUCE request or MULTIFETCH response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
    /// Stream position of its first byte.
    pub at: u64,
    /// Messages: the log offset where the entry starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    /// Messages: the reference's offset after it (`position + size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Its length in bytes (for a message, the whole entry: `4 + N`).
    pub size: u64,
    /// How many of those bytes were captured.
    pub captured: u64,
    /// True for a `request` or `response` whose boundaries were inferred, not read: its size
    /// field was captured only in part, and the frame was taken to end at a packet boundary
    /// that the recorded packet lengths and the captured size bytes agree on. Absent when
    /// false.
    #[serde(skip_serializing_if = "is_false")]
    pub inferred: bool,
    /// Why, for an inferred frame (how it was delimited) and for `unaligned` (why the stream
    /// could not be delimited from there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Bytes of a stream that the capture does not have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GapEvent {
    /// The stream.
    #[serde(flatten)]
    pub stream: StreamId,
    /// Stream position of the first missing byte.
    pub at: u64,
    /// How many bytes are missing.
    pub missing: u64,
    /// `snaplen`, `unfilled`, `window_exceeded` or `acked_not_captured`.
    pub cause: &'static str,
}

/// Bytes skipped to find the next plausible frame after damage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResyncEvent {
    /// The stream.
    #[serde(flatten)]
    pub stream: StreamId,
    /// First skipped byte.
    pub from: u64,
    /// Position where decoding resumed (or where the stream ended).
    pub to: u64,
    /// `to - from`.
    pub skipped: u64,
    /// Whether a plausible frame was found at `to` (false: the stream ended first).
    pub found: bool,
    /// True when the search followed a frame boundary the snap length cut off (an
    /// `unaligned` record), not damage: its skipped bytes are counted as `unplaced_bytes`,
    /// not `skipped_bytes`. Absent when false.
    #[serde(skip_serializing_if = "is_false")]
    pub not_captured: bool,
}

/// Something that could not be decoded, and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorEvent {
    /// The stream (absent for segment files and whole inputs).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamId>,
    /// Byte position of the problem in the stream or file.
    pub at: u64,
    /// What was being decoded: `request`, `response`, `message_set`, `message`, `segment`,
    /// `capture`, `log_dir`, ...
    pub context: &'static str,
    /// The protocol layer that failed (`frame`, `request`, `message`, `gzip`, ...).
    pub layer: String,
    /// A stable short name for the problem (`crc_mismatch`, `truncated`, ...).
    pub kind: &'static str,
    /// Human-readable description.
    pub message: String,
    /// Nesting depth inside compressed wrappers (0 = top level).
    pub depth: u8,
    /// For a problem inside decompressed content: its position there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_at: Option<u64>,
    /// For a damaged capture frame: its number (from 1, as Wireshark counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
}

/// A connection of a capture seen for the first time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectionEvent {
    /// Connection number.
    pub conn: u64,
    /// Client address.
    pub client: String,
    /// Broker address.
    pub server: String,
    /// Why that side was taken to be the broker.
    pub server_reason: String,
    /// Capture timestamp of its first packet.
    pub ts: String,
}

/// A connection of a capture (or a raw stream) ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CloseEvent {
    /// Connection number; absent for a raw stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// `fin`, `reset`, `reused`, `end_of_capture`, `evicted`, or `end_of_stream` (raw).
    pub cause: &'static str,
    /// Requests decoded on it.
    pub requests: u64,
    /// Responses decoded on it.
    pub responses: u64,
    /// Requests that expected a response and got none.
    pub unanswered: u64,
}

/// Why a segment's valid prefix ends before the file does (spec §9.3–9.4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentTail {
    /// File position of the first invalid byte.
    pub at: u64,
    /// Bytes from there to the end of the file (what recovery truncates).
    pub bytes: u64,
    /// `short_length` (fewer than 4 bytes), `length_below_5`, `incomplete_entry`,
    /// `bad_crc` or `unknown_magic`.
    pub reason: &'static str,
    /// Human-readable description.
    pub detail: String,
}

/// One log segment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentEvent {
    /// Path of the file.
    pub path: String,
    /// Topic (when read as part of a log directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Partition (when read as part of a log directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Log offset of its first byte (from the 20-digit file name).
    pub base_offset: u64,
    /// File size.
    pub size: u64,
    /// Messages in the valid prefix (top-level entries).
    pub messages: u64,
    /// Messages found inside compressed wrappers (with `--deep`).
    pub inner_messages: u64,
    /// Top-level entries shown after the recovery point: the walk goes on past an entry
    /// whose CRC does not match (CRC policies `report` and `skip`), since its length still
    /// delimits it.
    pub messages_after_tail: u64,
    /// Messages shown with a CRC that does not match (top level and inner).
    pub crc_errors: u64,
    /// Length of the valid prefix.
    pub valid_bytes: u64,
    /// `base_offset + valid_bytes`.
    pub next_offset: u64,
    /// Why the valid prefix ends early; absent when the file ends cleanly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<SegmentTail>,
    /// Whether the broker recovers (and so truncates) this segment at startup without a
    /// clean-shutdown marker: only the last segment of a partition is recovered.
    pub recovered_at_startup: bool,
}

/// A break in a partition's segment chain (`start + size` must equal the next start).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// File name of the segment before the break.
    pub after: String,
    /// Where the next segment should start (`start + size`).
    pub expected: u64,
    /// Where it starts.
    pub found: u64,
    /// `gap` (bytes missing) or `overlap`.
    pub kind: &'static str,
}

/// One partition of a log directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartitionEvent {
    /// Path of the partition directory.
    pub path: String,
    /// Topic (the directory name before its last `-`).
    pub topic: String,
    /// Partition (after the last `-`).
    pub partition: i32,
    /// Segment files.
    pub segments: u64,
    /// First offset (start of the oldest segment).
    pub start_offset: u64,
    /// Log end after recovery (next offset of the last segment's valid prefix).
    pub end_offset: u64,
    /// Messages in all segments.
    pub messages: u64,
    /// Breaks in the segment chain (the 0.7 broker refuses to start on these).
    pub chain_breaks: Vec<ChainBreak>,
}

/// Totals for one input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Connections (captures).
    pub connections: u64,
    /// Requests decoded.
    pub requests: u64,
    /// Of which PRODUCE / MULTIPRODUCE (never answered, by design).
    pub produce_requests: u64,
    /// Responses decoded.
    pub responses: u64,
    /// Responses with no request to pair with (shape guessed).
    pub unpaired_responses: u64,
    /// Requests that expected a response and got none.
    pub unanswered: u64,
    /// Messages (top level, plus inner ones with `--deep`).
    pub messages: u64,
    /// Messages whose CRC did not match.
    pub crc_errors: u64,
    /// Frames decoded from the part of them the capture has (snap length).
    pub cut_frames: u64,
    /// Messages delimited but not captured in full (snap length): shown, not checked.
    pub uncaptured_messages: u64,
    /// Frames so little of which was captured that they could not be decoded at all.
    pub uncaptured_frames: u64,
    /// Error records.
    pub errors: u64,
    /// Gap records.
    pub gaps: u64,
    /// Bytes reported missing by gaps.
    pub gap_bytes: u64,
    /// Bytes skipped while resynchronising.
    pub skipped_bytes: u64,
    /// Capture frames that carried no usable TCP segment.
    pub skipped_frames: u64,
    /// Segment files.
    pub segments: u64,
    /// Segments with an invalid tail.
    pub torn_segments: u64,
    /// Breaks in segment chains.
    pub chain_breaks: u64,
    /// Of the gaps, those of bytes the snap length cut off packets (cause `snaplen`): never
    /// captured, not damage.
    pub not_captured_gaps: u64,
    /// Bytes of those gaps.
    pub not_captured_bytes: u64,
    /// Frames delimited only by inference from the recorded packet lengths (their size
    /// field was captured in part): counted in `uncaptured_frames` too.
    pub inferred_frames: u64,
    /// Places where a frame's size field was not captured and the stream could not be
    /// delimited (`unaligned` records).
    pub unaligned: u64,
    /// Stream bytes (captured or not) passed over while looking for a frame start after an
    /// `unaligned` record.
    pub unplaced_bytes: u64,
    /// Capture frames cut by the snap length whose IP length field was 0 (TSO/GSO): the
    /// record's original length alone said how long they were.
    pub ip_length_zero_frames: u64,
    /// Capture frames the snap length cut inside their link, IP or TCP header: not even
    /// their place in a stream is known (counted in `skipped_frames` too; not damage).
    pub header_cut_frames: u64,
}

impl Summary {
    /// Whether the input had anything wrong with it: decode errors, CRC mismatches, gaps
    /// other than the snap length's, bytes skipped after damage, torn segments or broken
    /// segment chains. What a snap length kept out of the capture (not-captured gaps,
    /// messages and frames, unaligned streams) is reported and counted, but is not damage.
    pub fn has_defects(&self) -> bool {
        self.errors > 0
            || self.crc_errors > 0
            || self.gaps > self.not_captured_gaps
            || self.skipped_bytes > 0
            || self.torn_segments > 0
            || self.chain_breaks > 0
    }
}

/// What kind of input was decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A libpcap capture.
    Pcap,
    /// A pcapng capture.
    Pcapng,
    /// One direction of a connection, client to broker.
    RawRequests,
    /// One direction of a connection, broker to client.
    RawResponses,
    /// A request stream and its response stream, given as two files.
    RawPair,
    /// A 0.7 log segment (or any file holding a bare message set).
    Segment,
    /// A 0.7 log directory (`<topic>-<partition>/` subdirectories) or one partition directory.
    LogDir,
}

impl Format {
    /// The name used in output (`pcap`, `raw-requests`, `log-dir`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::RawRequests => "raw-requests",
            Format::RawResponses => "raw-responses",
            Format::RawPair => "raw-pair",
            Format::Segment => "segment",
            Format::LogDir => "log-dir",
        }
    }
}

/// Start of one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputEvent {
    /// The file or directory, as given.
    pub path: String,
    /// Detected (or forced) format.
    pub format: Format,
    /// Size in bytes (files) or number of entries (directories).
    pub size: u64,
    /// How the format was decided: `magic`, `name`, `content`, `directory` or `forced`.
    pub detected_by: &'static str,
    /// Log directories: whether the broker's clean-shutdown marker is present (without it
    /// the broker recovers the last segment of each partition at startup).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clean_shutdown_marker: Option<bool>,
}

/// One record of a decode.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event<'a> {
    /// Start of an input.
    Input(InputEvent),
    /// A capture connection appeared.
    Connection(ConnectionEvent),
    /// A request.
    Request(RequestEvent<'a>),
    /// A response.
    Response(ResponseEvent<'a>),
    /// A message.
    Message(MessageEvent<'a>),
    /// Missing bytes in a captured stream.
    Gap(GapEvent),
    /// Something the capture has only in part (snap length).
    Uncaptured(UncapturedEvent),
    /// Bytes skipped after damage.
    Resync(ResyncEvent),
    /// A decode error.
    Error(ErrorEvent),
    /// A capture connection ended.
    Close(CloseEvent),
    /// A log segment.
    Segment(SegmentEvent),
    /// A partition of a log directory.
    Partition(PartitionEvent),
    /// Totals for the input.
    Summary(Summary),
}

impl Event<'_> {
    /// The payload bytes of a message event (rendered as hex or base64 in JSON).
    pub fn payload(&self) -> Option<&[u8]> {
        match self {
            Event::Message(m) => Some(m.payload),
            _ => None,
        }
    }
}

/// Receives events as a decoder produces them.
pub trait Sink {
    /// Handles one event.
    fn event(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Sink for F {
    fn event(&mut self, event: &Event<'_>) {
        self(event)
    }
}
