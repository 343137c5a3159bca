//! Inputs: detecting what a file or directory holds, and decoding it whole.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use kafka07_io::capture::CaptureError;

use super::event::{Event, Format, InputEvent};
use super::raw::{decode_raw, guess_direction, Direction};
use super::segment::{
    base_offset_from_name, decode_log_dir, decode_segment, is_partition_dir, SegmentContext,
    CLEAN_SHUTDOWN_MARKER,
};
use super::{decode_capture, CaptureOutcome, Counter, DecodeConfig, Sink, Summary};

/// What to read an input as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// Detect it (see [`detect_file`]).
    #[default]
    Auto,
    /// A pcap or pcapng capture.
    Capture,
    /// A raw client-to-broker stream.
    Requests,
    /// A raw broker-to-client stream.
    Responses,
    /// A log segment (or any bare message set).
    Segment,
    /// A log directory or a partition directory.
    LogDir,
}

/// Why an input could not be decoded at all.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The input is none of the formats `decode` reads.
    #[error("{path}: unknown input format: {detail}")]
    UnknownFormat {
        /// The input.
        path: String,
        /// What was found.
        detail: String,
    },
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The input.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Where file bytes come from: mapped or read whole ([`load`](Files::load), for segments and
/// raw streams), or streamed ([`open`](Files::open), for captures).
pub trait Files {
    /// The whole file.
    fn load(&mut self, path: &Path) -> io::Result<Box<dyn AsRef<[u8]>>>;
    /// A reader over the file.
    fn open(&mut self, path: &Path) -> io::Result<Box<dyn Read>>;
}

/// [`Files`] through plain reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFiles;

impl Files for PlainFiles {
    fn load(&mut self, path: &Path) -> io::Result<Box<dyn AsRef<[u8]>>> {
        Ok(Box::new(std::fs::read(path)?))
    }
    fn open(&mut self, path: &Path) -> io::Result<Box<dyn Read>> {
        Ok(Box::new(BufReader::new(File::open(path)?)))
    }
}

const PCAP_MAGICS: [[u8; 4]; 5] = [
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// Whether `bytes` starts with a complete, CRC-valid 0.7 message entry (so it is a log
/// segment or a bare message set rather than a stream of requests or responses).
///
/// ```
/// use kafka07::dump::looks_like_message_set;
/// let entry = kafka07::proto::MessageRepr::new(&b"x"[..]).to_vec().unwrap();
/// assert!(looks_like_message_set(&entry));
/// assert!(!looks_like_message_set(&[0, 0, 0, 2, 0, 0])); // an empty FETCH response
/// ```
pub fn looks_like_message_set(bytes: &[u8]) -> bool {
    kafka07_proto::MessageView::new_checked(bytes).is_ok_and(|m| m.crc_matches())
}

/// Decides what a file holds from its name and first bytes: a capture magic, a `.kafka`
/// name, a CRC-valid first message (a segment or bare message set), or a raw stream that
/// reads as requests or responses. Returns the format and how it was decided.
pub fn detect_file(name: &str, bytes: &[u8], max_frame: usize) -> Option<(Format, &'static str)> {
    if let Some(head) = bytes.first_chunk::<4>() {
        if PCAP_MAGICS.contains(head) {
            let f = if head == &PCAP_MAGICS[4] {
                Format::Pcapng
            } else {
                Format::Pcap
            };
            return Some((f, "magic"));
        }
    }
    if name.ends_with(".kafka") {
        return Some((Format::Segment, "name"));
    }
    if looks_like_message_set(bytes) {
        return Some((Format::Segment, "content"));
    }
    match guess_direction(bytes, max_frame)? {
        Direction::Requests => Some((Format::RawRequests, "content")),
        Direction::Responses => Some((Format::RawResponses, "content")),
    }
}

fn describe_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".into();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "not a pcap/pcapng capture, a 0.7 log segment, or a stream of 0.7 requests or \
         responses (starts with {}); use --as to force a format",
        hex.join(" ")
    )
}

/// Decodes one input (file or directory) into `sink`, emitting an `input` event first and a
/// `summary` event last; returns the summary.
///
/// `base_offset` overrides the base offset of a segment (otherwise taken from its 20-digit
/// name, or 0).
pub fn decode_path(
    path: &Path,
    kind: InputKind,
    base_offset: Option<u64>,
    cfg: &DecodeConfig,
    files: &mut dyn Files,
    sink: &mut dyn Sink,
) -> Result<Summary, DumpError> {
    let shown = path.display().to_string();
    let io_err = |source: io::Error| DumpError::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    let mut counter = Counter::new(sink);
    if meta.is_dir() {
        if !matches!(kind, InputKind::Auto | InputKind::LogDir) {
            return Err(DumpError::UnknownFormat {
                path: shown,
                detail: "a directory can only be read as a log directory".into(),
            });
        }
        let partition = is_partition_dir(path);
        let marker = if partition {
            path.parent().map(|p| p.join(CLEAN_SHUTDOWN_MARKER))
        } else {
            Some(path.join(CLEAN_SHUTDOWN_MARKER))
        };
        counter.event(&Event::Input(InputEvent {
            path: shown.clone(),
            format: Format::LogDir,
            size: 0,
            detected_by: if kind == InputKind::Auto {
                "directory"
            } else {
                "forced"
            },
            clean_shutdown_marker: Some(marker.is_some_and(|m| m.exists())),
        }));
        let mut load = |p: &Path| files.load(p);
        decode_log_dir(path, cfg, &mut load, &mut counter).map_err(io_err)?;
        let summary = counter.summary.clone();
        counter.event(&Event::Summary(summary.clone()));
        return Ok(summary);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Captures are streamed: look at the magic first.
    let mut head = Vec::with_capacity(4);
    files
        .open(path)
        .and_then(|r| r.take(4).read_to_end(&mut head))
        .map_err(io_err)?;
    let capture_magic = head
        .first_chunk::<4>()
        .is_some_and(|h| PCAP_MAGICS.contains(h));
    let streamed = match kind {
        InputKind::Capture | InputKind::Auto => capture_magic,
        _ => false,
    };
    if !streamed {
        let data = files.load(path).map_err(io_err)?;
        return decode_bytes(
            &shown,
            &name,
            (*data).as_ref(),
            kind,
            base_offset,
            cfg,
            sink,
        );
    }
    let format = if head == PCAP_MAGICS[4] {
        Format::Pcapng
    } else {
        Format::Pcap
    };
    let reader = files.open(path).map_err(io_err)?;
    let detected_by = if kind == InputKind::Auto {
        "magic"
    } else {
        "forced"
    };
    decode_capture_input(
        &shown,
        reader,
        format,
        meta.len(),
        detected_by,
        cfg,
        &mut counter,
    )
    .map_err(|e| capture_error(&shown, e))
}

/// A capture reader's error as the decoder reports it.
fn capture_error(shown: &str, e: CaptureError) -> DumpError {
    match e {
        CaptureError::Io(source) => DumpError::Io {
            path: shown.to_string(),
            source,
        },
        e => DumpError::UnknownFormat {
            path: shown.to_string(),
            detail: e.to_string(),
        },
    }
}

/// A capture read from `reader`, streamed: its `input` event, its events, its `summary`.
fn decode_capture_input(
    shown: &str,
    reader: impl Read,
    format: Format,
    size: u64,
    detected_by: &'static str,
    cfg: &DecodeConfig,
    counter: &mut Counter<'_>,
) -> Result<Summary, CaptureError> {
    counter.event(&Event::Input(InputEvent {
        path: shown.to_string(),
        format,
        size,
        detected_by,
        clean_shutdown_marker: None,
    }));
    let (_, outcome) = decode_capture(reader, cfg, counter)?;
    let mut summary = counter.summary.clone();
    summary.skipped_frames = outcome.skipped_frames;
    summary.ip_length_zero_frames = outcome.ip_length_zero_frames;
    summary.header_cut_frames = outcome.header_cut_frames;
    counter.event(&Event::Summary(summary.clone()));
    Ok(summary)
}

/// Decodes one input read from `reader` (standard input, a pipe): a capture (pcap or pcapng
/// magic, with `kind` [`Auto`](InputKind::Auto) or [`Capture`](InputKind::Capture)) is
/// streamed, in memory bounded as for a capture file (its `input` event's `size` is then 0:
/// not known in advance), so `tcpdump -w - | kafka07 decode -` runs for as long as the
/// capture does; anything else is read whole (detection needs it) and decoded as
/// [`decode_bytes`] does.
///
/// ```
/// use kafka07::dump::{decode_reader, DecodeConfig, InputKind, JsonCollector};
/// let entry = kafka07::proto::MessageRepr::new(&b"x"[..]).to_vec().unwrap();
/// let mut out = JsonCollector::default();
/// let s = decode_reader("<stdin>", &entry[..], InputKind::Auto, None, &DecodeConfig::default(), &mut out)?;
/// assert_eq!((s.segments, s.messages), (1, 1));
/// # Ok::<(), kafka07::dump::DumpError>(())
/// ```
pub fn decode_reader<R: Read>(
    shown: &str,
    mut reader: R,
    kind: InputKind,
    base_offset: Option<u64>,
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> Result<Summary, DumpError> {
    let io_err = |source: io::Error| DumpError::Io {
        path: shown.to_string(),
        source,
    };
    let mut head = Vec::with_capacity(4);
    (&mut reader)
        .take(4)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let magic = head.first_chunk::<4>();
    if matches!(kind, InputKind::Auto | InputKind::Capture)
        && magic.is_some_and(|h| PCAP_MAGICS.contains(h))
    {
        let format = if magic == Some(&PCAP_MAGICS[4]) {
            Format::Pcapng
        } else {
            Format::Pcap
        };
        let detected_by = if kind == InputKind::Auto {
            "magic"
        } else {
            "forced"
        };
        let mut counter = Counter::new(sink);
        return decode_capture_input(
            shown,
            (&head[..]).chain(reader),
            format,
            0,
            detected_by,
            cfg,
            &mut counter,
        )
        .map_err(|e| capture_error(shown, e));
    }
    let mut bytes = head;
    reader.read_to_end(&mut bytes).map_err(io_err)?;
    decode_bytes(shown, "", &bytes, kind, base_offset, cfg, sink)
}

/// Decodes one input held in memory (a file's bytes, or standard input): detects its format
/// from `name` and content unless `kind` forces one, then emits an `input` event, the
/// content's events, and a `summary` event, which it returns. `shown` is the name used in
/// output.
///
/// This is the whole `decode` pipeline for bytes, and the entry point for fuzzing it.
///
/// ```
/// use kafka07::dump::{decode_bytes, DecodeConfig, InputKind, JsonCollector};
/// let entry = kafka07::proto::MessageRepr::new(&b"x"[..]).to_vec().unwrap();
/// let mut out = JsonCollector::default();
/// let s = decode_bytes("-", "", &entry, InputKind::Auto, None, &DecodeConfig::default(), &mut out)?;
/// assert_eq!((s.segments, s.messages), (1, 1));
/// assert_eq!(out.values[0]["format"], "segment");
/// # Ok::<(), kafka07::dump::DumpError>(())
/// ```
pub fn decode_bytes(
    shown: &str,
    name: &str,
    bytes: &[u8],
    kind: InputKind,
    base_offset: Option<u64>,
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> Result<Summary, DumpError> {
    let unknown = |detail: String| DumpError::UnknownFormat {
        path: shown.to_string(),
        detail,
    };
    let forced = |f| Some((f, "forced"));
    let capture_format = match bytes.first_chunk::<4>() {
        Some(h) if h == &PCAP_MAGICS[4] => Some(Format::Pcapng),
        Some(h) if PCAP_MAGICS.contains(h) => Some(Format::Pcap),
        _ => None,
    };
    let found = match kind {
        InputKind::Auto => detect_file(name, bytes, cfg.max_frame),
        InputKind::Capture => match capture_format {
            Some(f) => forced(f),
            None => {
                return Err(unknown(
                    "not a pcap or pcapng capture (no capture magic number)".into(),
                ))
            }
        },
        InputKind::Requests => forced(Format::RawRequests),
        InputKind::Responses => forced(Format::RawResponses),
        InputKind::Segment => forced(Format::Segment),
        InputKind::LogDir => return Err(unknown("not a directory".into())),
    };
    let Some((format, detected_by)) = found else {
        return Err(unknown(describe_start(bytes)));
    };
    let mut counter = Counter::new(sink);
    counter.event(&Event::Input(InputEvent {
        path: shown.to_string(),
        format,
        size: bytes.len() as u64,
        detected_by,
        clean_shutdown_marker: None,
    }));
    let mut outcome = CaptureOutcome::default();
    match format {
        Format::Pcap | Format::Pcapng => match decode_capture(bytes, cfg, &mut counter) {
            Ok((_, o)) => outcome = o,
            Err(e) => return Err(unknown(e.to_string())),
        },
        Format::RawRequests => {
            decode_raw(bytes, Some(Direction::Requests), cfg, &mut counter);
        }
        Format::RawResponses => {
            decode_raw(bytes, Some(Direction::Responses), cfg, &mut counter);
        }
        _ => {
            let ctx = SegmentContext {
                path: shown.to_string(),
                topic: None,
                partition: None,
                recovered_at_startup: true,
            };
            let base = base_offset
                .or_else(|| base_offset_from_name(name))
                .unwrap_or(0);
            decode_segment(bytes, base, &ctx, cfg, &mut counter);
        }
    }
    let mut summary = counter.summary.clone();
    summary.skipped_frames = outcome.skipped_frames;
    summary.ip_length_zero_frames = outcome.ip_length_zero_frames;
    summary.header_cut_frames = outcome.header_cut_frames;
    counter.event(&Event::Summary(summary.clone()));
    Ok(summary)
}
