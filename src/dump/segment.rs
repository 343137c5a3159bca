//! 0.7 log segments and log directories (spec §9): the messages of the valid prefix, and the
//! torn or corrupt tail exactly as the broker's recovery finds it, without changing a file.
//!
//! Recovery (spec §9.4) scans from position 0; an entry is valid iff 4 length bytes can be
//! read, `N >= 5`, the entry is complete and its CRC matches. The first invalid entry ends
//! the valid prefix and recovery truncates the file there. Only the last segment of a
//! partition is recovered (and only without a clean-shutdown marker); earlier segments are
//! trusted as they are. A magic byte other than 0/1 makes the 0.7.2 broker's CRC check throw
//! and abort startup (edge case E35); it ends the valid prefix here.

use std::io;
use std::path::{Path, PathBuf};

use bumpalo::Bump;
use kafka07_proto::{crc32, CrcPolicy, CrcStatus, MessageAndOffset, MessageView};

use super::event::{
    ChainBreak, Crc, ErrorEvent, Event, MessageEvent, MessageIn, PartitionEvent, SegmentEvent,
    SegmentTail,
};
use super::messages::{entry_events, Item, SetContext};
use super::{DecodeConfig, Sink};

/// Name of the clean-shutdown marker a 0.7 broker leaves in its log directory.
pub const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";

/// Where a segment sits, for labelling.
#[derive(Clone, Debug, Default)]
pub struct SegmentContext {
    /// Path shown in output.
    pub path: String,
    /// Topic, when read from a log directory.
    pub topic: Option<String>,
    /// Partition, when read from a log directory.
    pub partition: Option<i32>,
    /// Whether the broker would recover this segment at startup (last of its partition, no
    /// clean-shutdown marker).
    pub recovered_at_startup: bool,
}

/// The start offset in a segment file name: its stem, if it is all digits
/// (`00000000000000000109.kafka` → 109).
///
/// ```
/// use kafka07::dump::segment::base_offset_from_name;
/// assert_eq!(base_offset_from_name("00000000000000010900.kafka"), Some(10900));
/// assert_eq!(base_offset_from_name("junk.kafka"), None);
/// ```
pub fn base_offset_from_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".kafka").unwrap_or(name);
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Offsets are int64 in 0.7: a larger name is not a segment's start.
    stem.parse().ok().filter(|v| *v <= i64::MAX as u64)
}

/// Splits a partition directory name at its last `-` (topics may contain `-`).
///
/// ```
/// use kafka07::dump::segment::split_partition_dir;
/// assert_eq!(split_partition_dir("my-topic-3"), Some(("my-topic", 3)));
/// assert_eq!(split_partition_dir("MagicByte0-0"), Some(("MagicByte0", 0)));
/// assert_eq!(split_partition_dir("nodash"), None);
/// ```
pub fn split_partition_dir(name: &str) -> Option<(&str, i32)> {
    let (topic, part) = name.rsplit_once('-')?;
    if topic.is_empty() {
        return None;
    }
    let p: i32 = part.parse().ok()?;
    (p >= 0).then_some((topic, p))
}

fn tail(at: usize, len: usize, reason: &'static str, detail: String) -> SegmentTail {
    SegmentTail {
        at: at as u64,
        bytes: (len - at) as u64,
        reason,
        detail,
    }
}

/// Decodes one segment's bytes, whose first byte is log offset `base_offset`: a message
/// event per entry (and per inner message with `--deep`), then the [`SegmentEvent`] (also
/// returned).
///
/// The valid prefix and the torn tail are what the broker's recovery finds (every CRC
/// checked, whatever the policy). With the `report` and `skip` CRC policies the walk goes on
/// past an entry whose CRC does not match, since its length still delimits it: the messages
/// after it are shown too (counted in [`SegmentEvent::messages_after_tail`]) and the bad one
/// is flagged. With `verify` the walk stops at the first bad CRC.
///
/// ```
/// use kafka07::dump::{decode_segment, DecodeConfig, SegmentContext};
/// let entry = kafka07::proto::MessageRepr::new(&b"hi"[..]).to_vec().unwrap();
/// let mut bytes = [entry.clone(), entry].concat();
/// bytes.extend_from_slice(&[0, 0]); // two junk bytes: a torn tail
/// let seg = decode_segment(&bytes, 100, &SegmentContext::default(), &DecodeConfig::default(), &mut |_: &kafka07::dump::Event<'_>| {});
/// assert_eq!((seg.messages, seg.valid_bytes, seg.next_offset), (2, 24, 124));
/// assert_eq!(seg.tail.unwrap().reason, "short_length");
/// ```
pub fn decode_segment(
    bytes: &[u8],
    base_offset: u64,
    ctx: &SegmentContext,
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> SegmentEvent {
    let len = bytes.len();
    let mut pos = 0usize;
    let mut messages = 0u64;
    let mut after = 0u64;
    let mut inner = 0u64;
    let mut crc_errors = 0u64;
    let mut arena = Bump::new();
    let set_ctx = SetContext {
        stream: None,
        found_in: MessageIn::Segment,
        frame_at: None,
        request_index: None,
        part: None,
        topic: ctx.topic.clone(),
        partition: ctx.partition,
        stream_at: 0,
        context: "segment",
    };
    // The recovery point: the first entry recovery rejects (a bad CRC or a broken entry).
    let mut torn: Option<SegmentTail> = None;
    let mut valid = 0usize;
    let stop = loop {
        let rest = &bytes[pos..];
        if rest.is_empty() {
            break None;
        }
        let Some(prefix) = rest.first_chunk::<4>() else {
            break Some(tail(
                pos,
                len,
                "short_length",
                format!("{} bytes left, too few for a length field", rest.len()),
            ));
        };
        let n = i32::from_be_bytes(*prefix);
        if n < 5 {
            break Some(tail(
                pos,
                len,
                "length_below_5",
                format!("length field {n} is below 5"),
            ));
        }
        let total = 4 + n as usize;
        if total > rest.len() {
            break Some(tail(
                pos,
                len,
                "incomplete_entry",
                format!(
                    "entry of {total} bytes (length field {n}) but only {} bytes left",
                    rest.len()
                ),
            ));
        }
        let entry = &rest[..total];
        let magic = entry[4];
        let header = match magic {
            0 => 5,
            1 => 6,
            m => {
                break Some(tail(
                    pos,
                    len,
                    "unknown_magic",
                    format!(
                        "unknown magic byte {m} (the 0.7.2 broker's recovery throws here and \
                         refuses to start)"
                    ),
                ))
            }
        };
        if total < 4 + header {
            break Some(tail(
                pos,
                len,
                "length_below_header",
                format!("length field {n} is below the {header}-byte magic-1 header"),
            ));
        }
        let attributes = if magic == 1 { entry[5] } else { 0 };
        let crc_at = 4 + header - 4;
        let stored = u32::from_be_bytes([
            entry[crc_at],
            entry[crc_at + 1],
            entry[crc_at + 2],
            entry[crc_at + 3],
        ]);
        let payload = &entry[4 + header..];
        let computed = crc32(payload);
        if stored != computed {
            if torn.is_none() {
                valid = pos;
                torn = Some(tail(
                    pos,
                    len,
                    "bad_crc",
                    format!("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"),
                ));
            }
            if cfg.crc == CrcPolicy::Verify {
                break None;
            }
        }
        if torn.is_none() {
            messages += 1;
        } else {
            after += 1;
        }
        let position = base_offset + pos as u64;
        let crc = match cfg.crc {
            CrcPolicy::Skip => CrcStatus::Unchecked,
            _ if stored == computed => CrcStatus::Valid,
            _ => CrcStatus::Mismatch { stored, computed },
        };
        match MessageView::new_checked(entry) {
            Ok(view) => {
                let m = MessageAndOffset {
                    message: view,
                    position,
                    offset: position + total as u64,
                    crc,
                    depth: 0,
                };
                let c = entry_events(
                    &set_ctx,
                    &m,
                    pos as u64,
                    cfg,
                    &arena,
                    &mut |item| match item {
                        Item::Message(ev) => sink.event(&Event::Message(ev)),
                        Item::Error(ev) => sink.event(&Event::Error(ev)),
                    },
                );
                inner += c.inner;
                crc_errors += c.crc_errors;
                arena.reset();
            }
            // Recovery accepts what the codec bits say; only decoding needs a known codec.
            Err(_) => {
                if !crc.is_ok() {
                    crc_errors += 1;
                }
                let (crc, crc_computed) = match crc {
                    CrcStatus::Unchecked => (Crc::Unchecked, None),
                    CrcStatus::Valid => (Crc::Valid, Some(computed)),
                    CrcStatus::Mismatch { .. } => (Crc::Mismatch, Some(computed)),
                };
                sink.event(&Event::Message(MessageEvent {
                    stream: None,
                    found_in: MessageIn::Segment,
                    frame_at: None,
                    request_index: None,
                    part: None,
                    topic: ctx.topic.clone(),
                    partition: ctx.partition,
                    at: pos as u64,
                    position,
                    offset: position + total as u64,
                    depth: 0,
                    magic,
                    attributes,
                    codec: "unknown",
                    crc,
                    crc_stored: stored,
                    crc_computed,
                    size: payload.len() as u64,
                    payload,
                    in_bad_crc_wrapper: false,
                }));
            }
        }
        pos += total;
    };
    match (&torn, stop) {
        (None, stop) => {
            valid = pos;
            torn = stop;
        }
        // The walk went on past the recovery point and then met a broken entry.
        (Some(_), Some(end)) => sink.event(&Event::Error(ErrorEvent {
            stream: None,
            at: end.at,
            context: "segment",
            layer: "message".into(),
            kind: end.reason,
            message: format!(
                "{} (after the recovery point: the walk past a bad CRC stops here)",
                end.detail
            ),
            depth: 0,
            inner_at: None,
            frame: None,
        })),
        (Some(_), None) => {}
    }
    let seg = SegmentEvent {
        path: ctx.path.clone(),
        topic: ctx.topic.clone(),
        partition: ctx.partition,
        base_offset,
        size: len as u64,
        messages,
        inner_messages: inner,
        messages_after_tail: after,
        crc_errors,
        valid_bytes: valid as u64,
        next_offset: base_offset + valid as u64,
        tail: torn,
        recovered_at_startup: ctx.recovered_at_startup,
    };
    sink.event(&Event::Segment(seg.clone()));
    seg
}

/// Loads a file's bytes (the CLI maps them; tests read them).
pub type Loader<'l> = dyn FnMut(&Path) -> io::Result<Box<dyn AsRef<[u8]>>> + 'l;

/// Reads a whole file into memory: the plain [`Loader`].
pub fn read_file(path: &Path) -> io::Result<Box<dyn AsRef<[u8]>>> {
    Ok(Box::new(std::fs::read(path)?))
}

/// A segment file: start offset, path, file name.
type SegmentFile = (u64, PathBuf, String);

/// A partition directory's segment files sorted by start offset, and the names of `.kafka`
/// files whose name is not a start offset.
fn segment_files(dir: &Path) -> io::Result<(Vec<SegmentFile>, Vec<String>)> {
    let mut segs = Vec::new();
    let mut bad = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".kafka") || !entry.file_type()?.is_file() {
            continue;
        }
        match base_offset_from_name(&name) {
            Some(start) => segs.push((start, entry.path(), name)),
            None => bad.push(name),
        }
    }
    segs.sort();
    bad.sort();
    Ok((segs, bad))
}

/// Whether `dir` directly holds segment files (a partition directory).
pub fn is_partition_dir(dir: &Path) -> bool {
    segment_files(dir).is_ok_and(|(s, b)| !s.is_empty() || !b.is_empty())
}

/// Decodes a log directory (`<topic>-<partition>/` subdirectories of segments) or a single
/// partition directory: every segment of every partition, with the chain check (`start +
/// size` must equal the next start).
pub fn decode_log_dir(
    dir: &Path,
    cfg: &DecodeConfig,
    load: &mut Loader<'_>,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    if is_partition_dir(dir) {
        let clean = dir
            .parent()
            .is_some_and(|p| p.join(CLEAN_SHUTDOWN_MARKER).exists());
        return decode_partition(dir, clean, cfg, load, sink);
    }
    let clean = dir.join(CLEAN_SHUTDOWN_MARKER).exists();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    for d in dirs {
        decode_partition(&d, clean, cfg, load, sink)?;
    }
    Ok(())
}

fn decode_partition(
    dir: &Path,
    clean_shutdown: bool,
    cfg: &DecodeConfig,
    load: &mut Loader<'_>,
    sink: &mut dyn Sink,
) -> io::Result<()> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let shown = dir.display().to_string();
    let Some((topic, partition)) = split_partition_dir(&name) else {
        sink.event(&Event::Error(ErrorEvent {
            stream: None,
            at: 0,
            context: "log_dir",
            layer: "log".into(),
            kind: "bad_partition_dir",
            message: format!(
                "{shown}: not a <topic>-<partition> directory name (the 0.7 broker fails to \
                 start on it)"
            ),
            depth: 0,
            inner_at: None,
            frame: None,
        }));
        return Ok(());
    };
    let (segs, bad) = segment_files(dir)?;
    for b in bad {
        sink.event(&Event::Error(ErrorEvent {
            stream: None,
            at: 0,
            context: "log_dir",
            layer: "log".into(),
            kind: "bad_segment_name",
            message: format!("{shown}/{b}: segment name is not a decimal start offset"),
            depth: 0,
            inner_at: None,
            frame: None,
        }));
    }
    let mut chain_breaks = Vec::new();
    let mut messages = 0u64;
    let mut end_offset = segs.first().map_or(0, |s| s.0);
    let count = segs.len();
    let mut prev: Option<(u64, u64, String)> = None;
    for (i, (start, path, file)) in segs.iter().enumerate() {
        let data = load(path)?;
        let bytes = (*data).as_ref();
        if let Some((pstart, psize, pname)) = prev.take() {
            let expected = pstart + psize;
            if expected != *start {
                chain_breaks.push(ChainBreak {
                    after: pname,
                    expected,
                    found: *start,
                    kind: if expected < *start { "gap" } else { "overlap" },
                });
            }
        }
        let ctx = SegmentContext {
            path: path.display().to_string(),
            topic: Some(topic.to_string()),
            partition: Some(partition),
            recovered_at_startup: i + 1 == count && !clean_shutdown,
        };
        let seg = decode_segment(bytes, *start, &ctx, cfg, sink);
        messages += seg.messages;
        end_offset = if ctx.recovered_at_startup {
            seg.next_offset
        } else {
            start + seg.size
        };
        prev = Some((*start, bytes.len() as u64, file.clone()));
    }
    sink.event(&Event::Partition(PartitionEvent {
        path: shown,
        topic: topic.to_string(),
        partition,
        segments: count as u64,
        start_offset: segs.first().map_or(0, |s| s.0),
        end_offset,
        messages,
        chain_breaks,
    }));
    Ok(())
}
