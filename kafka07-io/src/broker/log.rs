//! One partition's log: segments in memory or in real 0.7 segment files (spec §9).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka07_proto::{CrcPolicy, DecodeOptions, MessageSet, Stop};

use super::files::FileCache;
use super::response::{DataRef, Source};
use super::store::SharedLog;
use crate::error::{Error, Result};

/// Suffix of segment files.
pub(crate) const SEGMENT_SUFFIX: &str = ".kafka";

/// Settings every partition log shares.
#[derive(Clone, Debug)]
pub(crate) struct LogConfig {
    pub log_file_size: u64,
    pub flush_interval_messages: u64,
    pub flush_interval: Duration,
    pub visible_on_append: bool,
    pub roll_interval: Option<Duration>,
    /// The broker's open segment files.
    pub files: Arc<FileCache>,
}

#[derive(Debug)]
enum Data {
    Memory(MemData),
    /// A segment file, opened through the [`FileCache`] when it is used (`pread` and
    /// `pwrite`: no shared file position).
    File(PathBuf),
}

/// The bytes of an in-memory segment: the first [`MEM_HEAD`] in a `Vec` (a small log costs
/// what it holds), the rest in anonymous maps of [`MEM_CHUNK`] bytes each, advised for
/// transparent huge pages where the platform has them. A log growing by hundreds of MB/s
/// would otherwise spend about a third of its time in page faults (one per 4 KiB; measured
/// on the loopback benchmark), and a `Vec` doubling past 512 MiB asks for twice its size at
/// once.
#[derive(Debug, Default)]
pub(crate) struct MemData {
    head: Vec<u8>,
    chunks: Vec<memmap2::MmapMut>,
    len: usize,
}

/// Bytes of an in-memory segment kept in its `Vec`.
const MEM_HEAD: usize = 4 << 20;
/// Bytes of each map after them.
const MEM_CHUNK: usize = 32 << 20;

impl MemData {
    /// Appends `bytes` (`Err`: no memory could be mapped; nothing is appended).
    fn extend(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        // Maps first, so a failure leaves the data as it was.
        let end = self.len + bytes.len();
        let need = end.saturating_sub(MEM_HEAD).div_ceil(MEM_CHUNK);
        while self.chunks.len() < need {
            let map = memmap2::MmapMut::map_anon(MEM_CHUNK)?;
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            self.chunks.push(map);
        }
        if self.len < MEM_HEAD {
            let n = bytes.len().min(MEM_HEAD - self.len);
            self.head.extend_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        while !bytes.is_empty() {
            let at = self.len - MEM_HEAD;
            let (chunk, off) = (at / MEM_CHUNK, at % MEM_CHUNK);
            let n = bytes.len().min(MEM_CHUNK - off);
            self.chunks[chunk][off..off + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Copies `out.len()` bytes from position `at`; `None` past the end.
    fn copy_to(&self, mut at: usize, mut out: &mut [u8]) -> Option<()> {
        if at.checked_add(out.len())? > self.len {
            return None;
        }
        if at < MEM_HEAD {
            let n = out.len().min(MEM_HEAD - at);
            out[..n].copy_from_slice(&self.head[at..at + n]);
            at += n;
            out = &mut out[n..];
        }
        while !out.is_empty() {
            let (chunk, off) = ((at - MEM_HEAD) / MEM_CHUNK, (at - MEM_HEAD) % MEM_CHUNK);
            let n = out.len().min(MEM_CHUNK - off);
            out[..n].copy_from_slice(&self.chunks[chunk][off..off + n]);
            at += n;
            out = &mut out[n..];
        }
        Some(())
    }
}

#[derive(Debug)]
struct Segment {
    start: u64,
    data: Data,
    /// Bytes written.
    size: u64,
    /// Bytes readers may see: the flushed size (spec §9.5), or `size` when every append is
    /// visible at once.
    visible: u64,
    /// Last modification (memory segments; files use their own mtime).
    mtime: SystemTime,
    first_append: Option<Instant>,
    /// Position (in this segment) of the last top-level entry written, when known: the cheap
    /// tail check of a clean start looks at it (see [`TailRecord`]).
    last_entry: Option<u64>,
}

impl Segment {
    fn mtime_ms(&self) -> i64 {
        // The file's own mtime, as the reference (a stat: no descriptor needed).
        let t = match &self.data {
            Data::Memory(_) => self.mtime,
            Data::File(path) => fs::metadata(path)
                .and_then(|m| m.modified())
                .unwrap_or(self.mtime),
        };
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Why a read failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Before the first segment or past the visible end: code 1.
    OutOfRange,
    /// The segment file could not be opened: code -1.
    Io,
}

/// The 20-digit, zero-padded segment file name for a start offset (spec §9.2).
pub(crate) fn segment_name(start: u64) -> String {
    format!("{start:020}{SEGMENT_SUFFIX}")
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A partition log.
#[derive(Debug)]
pub(crate) struct Log {
    dir: Option<PathBuf>,
    segments: Vec<Segment>,
    unflushed_messages: u64,
    last_flush: Instant,
    cfg: LogConfig,
    /// A failed append left bytes past the logical end that could not be cut yet: they are
    /// cut before the next write (and the file is never trusted past `size`).
    tail_dirty: bool,
}

/// What a clean shutdown records of a partition's active segment, so that the next start
/// can check the tail cheaply instead of trusting the file length (written into the
/// clean-shutdown marker, one line per partition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TailRecord {
    /// Start offset of the last segment.
    pub segment: u64,
    /// Position in it of the last top-level entry (`None`: the segment is empty).
    pub last_entry: Option<u64>,
    /// Size of the segment.
    pub size: u64,
}

/// How [`Log::open`] treats the last segment.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tail {
    /// No clean-shutdown marker: scan and recover the whole last segment (spec §9.4).
    Recover,
    /// A clean shutdown recorded this tail: check the recorded last entry only, and fall
    /// back to full recovery when the file does not match it.
    Check(TailRecord),
    /// The reference's clean-shutdown marker (an empty file, no tail records): the reference
    /// trusts the file as it is, bad CRCs included (spec §9.4), so the last segment is walked
    /// by its framing only (sizes and magic, no CRC) and cut only where that breaks: the torn
    /// or garbage tail a failed write can leave.
    Frames,
}

/// What opening an existing partition directory found.
#[derive(Debug)]
pub(crate) struct Opened {
    pub log: Log,
    /// `(last segment path, bytes truncated)` when recovery ran.
    pub recovered: Option<(PathBuf, u64)>,
}

impl Log {
    /// A fresh in-memory log starting at 0.
    pub(crate) fn memory(cfg: LogConfig) -> Log {
        Log {
            dir: None,
            segments: vec![Segment {
                start: 0,
                data: Data::Memory(MemData::default()),
                size: 0,
                visible: 0,
                mtime: SystemTime::now(),
                first_append: None,
                last_entry: None,
            }],
            unflushed_messages: 0,
            last_flush: Instant::now(),
            cfg,
            tail_dirty: false,
        }
    }

    /// A fresh on-disk log: creates `dir` and its first segment file.
    pub(crate) fn create(dir: &Path, cfg: LogConfig) -> io::Result<Log> {
        fs::create_dir_all(dir)?;
        let mut log = Log {
            dir: Some(dir.to_owned()),
            segments: Vec::new(),
            unflushed_messages: 0,
            last_flush: Instant::now(),
            cfg,
            tail_dirty: false,
        };
        log.segments.push(new_file_segment(dir, 0)?);
        Ok(log)
    }

    /// Opens an existing partition directory: every `*.kafka` file is a segment named by its
    /// start offset; the chain must have no gap (spec §9.2, E34); the last segment is
    /// recovered (spec §9.4) or, after a clean shutdown, its recorded tail checked (see
    /// [`Tail`]). An empty directory gets a fresh segment 0.
    pub(crate) fn open(dir: &Path, cfg: LogConfig, tail: Tail) -> Result<Opened> {
        let storage = |path: &Path, reason: String| Error::Storage {
            path: path.to_owned(),
            reason,
        };
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
                continue;
            };
            if !entry.file_type()?.is_file() {
                continue;
            }
            let start: u64 = stem.parse().map_err(|_| {
                storage(
                    &entry.path(),
                    "segment file name is not a decimal offset".into(),
                )
            })?;
            found.push((start, entry.path()));
        }
        found.sort();
        let mut segments = Vec::with_capacity(found.len());
        for (start, path) in &found {
            let meta = fs::metadata(path)?;
            let size = meta.len();
            let mtime = meta.modified().unwrap_or_else(|_| SystemTime::now());
            segments.push(Segment {
                start: *start,
                data: Data::File(path.clone()),
                size,
                visible: size,
                mtime,
                first_append: None,
                last_entry: None,
            });
        }
        for pair in segments.windows(2) {
            if pair[0].start + pair[0].size != pair[1].start {
                let path = dir.join(segment_name(pair[1].start));
                return Err(storage(
                    &path,
                    format!(
                        "segment chain gap: the previous segment starts at {} and holds {} bytes, \
                         so this one should start at {}",
                        pair[0].start,
                        pair[0].size,
                        pair[0].start + pair[0].size
                    ),
                ));
            }
        }
        let mut recovered = None;
        if segments.is_empty() {
            segments.push(new_file_segment(dir, 0)?);
        } else {
            let last = segments.last_mut().expect("not empty");
            let Data::File(path) = &last.data else {
                unreachable!("opened segments are files")
            };
            // Opened for the check only (not through the cache: start-up opens one at a time).
            let file = &OpenOptions::new().read(true).write(true).open(path)?;
            // After a clean shutdown, the recorded last entry must be where it was and be
            // intact, and end the file: a cheap check instead of trusting the length.
            let trusted = match tail {
                Tail::Recover | Tail::Frames => false,
                Tail::Check(rec) => {
                    rec.segment == last.start
                        && rec.size == last.size
                        && match rec.last_entry {
                            None => last.size == 0,
                            Some(at) => {
                                at < last.size
                                    && valid_prefix(file, at, last.size, CrcPolicy::Verify)?.0
                                        == last.size
                            }
                        }
                }
            };
            if trusted {
                last.last_entry = match tail {
                    Tail::Check(rec) => rec.last_entry,
                    Tail::Recover | Tail::Frames => None,
                };
            } else {
                let crc = match tail {
                    Tail::Frames => CrcPolicy::Skip,
                    Tail::Recover | Tail::Check(_) => CrcPolicy::Verify,
                };
                let (valid, last_entry) = valid_prefix(file, 0, last.size, crc)?;
                let truncated = last.size - valid;
                if truncated > 0 {
                    file.set_len(valid)?;
                    file.sync_all()?;
                }
                last.size = valid;
                last.visible = valid;
                last.last_entry = last_entry;
                let path = dir.join(segment_name(last.start));
                match tail {
                    Tail::Check(_) => ::log::warn!(
                        "{}: the clean-shutdown record does not match the file; recovered \
                         ({truncated} bytes truncated)",
                        path.display()
                    ),
                    Tail::Frames if truncated > 0 => ::log::warn!(
                        "{}: clean shutdown, but the framing ends {truncated} bytes before the \
                         file does; truncated there",
                        path.display()
                    ),
                    _ if truncated > 0 => {
                        ::log::warn!("{}: recovered, {truncated} bytes truncated", path.display())
                    }
                    _ => {}
                }
                // A framing check that cut nothing is not a recovery.
                if !matches!(tail, Tail::Frames) || truncated > 0 {
                    recovered = Some((path, truncated));
                }
            }
        }
        Ok(Opened {
            log: Log {
                dir: Some(dir.to_owned()),
                segments,
                unflushed_messages: 0,
                last_flush: Instant::now(),
                cfg,
                tail_dirty: false,
            },
            recovered,
        })
    }

    fn last(&self) -> &Segment {
        self.segments.last().expect("a log always has a segment")
    }

    /// The end of the data readers may see (the flushed end by default, spec §9.5).
    pub(crate) fn visible_end(&self) -> u64 {
        let l = self.last();
        l.start + l.visible
    }

    /// The end of everything written.
    #[cfg(test)]
    pub(crate) fn written_end(&self) -> u64 {
        let l = self.last();
        l.start + l.size
    }

    /// Whether something was written since the last flush.
    pub(crate) fn is_dirty(&self) -> bool {
        let l = self.last();
        l.size != l.visible || self.unflushed_messages > 0
    }

    /// Start offsets of the segments, oldest first.
    #[cfg(test)]
    pub(crate) fn segment_starts(&self) -> Vec<u64> {
        self.segments.iter().map(|s| s.start).collect()
    }

    /// Appends already validated message-set bytes holding `messages` deep messages: rolls
    /// first if the active segment is larger than `log.file.size` (or too old), writes, and
    /// flushes when the unflushed message count reaches `log.flush.interval` (spec §9.5, §9.6).
    #[cfg(test)]
    pub(crate) fn append(&mut self, bytes: &[u8], messages: u64) -> io::Result<()> {
        self.append_at(bytes, messages, Clock::now())
    }

    /// [`append`](Self::append) with the time read once by the caller (a handler reads
    /// the clock once per batch of requests, not once per request).
    pub(crate) fn append_at(&mut self, bytes: &[u8], messages: u64, now: Clock) -> io::Result<()> {
        self.maybe_roll(now.mono)?;
        let visible_on_append = self.cfg.visible_on_append;
        let seg = self
            .segments
            .last_mut()
            .expect("a log always has a segment");
        if !bytes.is_empty() {
            match &mut seg.data {
                Data::Memory(m) => m.extend(bytes)?,
                Data::File(path) => {
                    let f = self.cfg.files.get(path)?;
                    if self.tail_dirty {
                        f.set_len(seg.size)?;
                        self.tail_dirty = false;
                    }
                    let written = f.write_all_at(bytes, seg.size);
                    if let Err(e) = written {
                        // A write that failed part-way (ENOSPC, EFBIG, EIO) leaves bytes past
                        // the logical end: cut them, so the file never holds a rejected
                        // request's data; if even that fails, cut before the next write.
                        if f.set_len(seg.size).is_err() {
                            self.tail_dirty = true;
                        }
                        return Err(e);
                    }
                }
            }
            seg.last_entry = last_entry_in(bytes).map(|at| seg.size + at);
            seg.size += bytes.len() as u64;
            seg.mtime = now.wall;
            seg.first_append.get_or_insert(now.mono);
            if visible_on_append {
                seg.visible = seg.size;
            }
        }
        self.unflushed_messages += messages;
        if self.unflushed_messages >= self.cfg.flush_interval_messages.max(1) {
            self.flush()?;
        }
        Ok(())
    }

    /// What a clean shutdown records of the active segment (call after a flush).
    pub(crate) fn tail_record(&self) -> TailRecord {
        let l = self.last();
        TailRecord {
            segment: l.start,
            last_entry: l.last_entry,
            size: l.size,
        }
    }

    fn maybe_roll(&mut self, now: Instant) -> io::Result<()> {
        let l = self.last();
        let by_size = l.size > self.cfg.log_file_size;
        let by_time = match (self.cfg.roll_interval, l.first_append) {
            (Some(max), Some(first)) => l.size > 0 && now.saturating_duration_since(first) > max,
            _ => false,
        };
        if !(by_size || by_time) {
            return Ok(());
        }
        self.flush()?;
        let start = self.visible_end();
        let seg = match &self.dir {
            Some(dir) => new_file_segment(dir, start)?,
            None => Segment {
                start,
                data: Data::Memory(MemData::default()),
                size: 0,
                visible: 0,
                mtime: SystemTime::now(),
                first_append: None,
                last_entry: None,
            },
        };
        self.segments.push(seg);
        Ok(())
    }

    /// Makes everything written durable (fsync for files) and visible.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        let seg = self
            .segments
            .last_mut()
            .expect("a log always has a segment");
        if let Data::File(path) = &seg.data {
            if seg.size != seg.visible || self.unflushed_messages > 0 {
                // fsync of any descriptor of the file flushes what every one wrote.
                self.cfg.files.get(path)?.sync_data()?;
            }
        }
        seg.visible = seg.size;
        self.unflushed_messages = 0;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Flushes if dirty for at least the time-based flush interval.
    pub(crate) fn flush_if_due(&mut self) -> io::Result<()> {
        if self.is_dirty() && self.last_flush.elapsed() >= self.cfg.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// The visible range a FETCH at `offset` of at most `max` bytes answers with (`None`:
    /// nothing to send). The range never spans segments (spec §6.5, E18); `offset == end`
    /// reads nothing. Nothing is read here: the bytes are read while the response is
    /// written (`me` is this log, for in-memory segments).
    pub(crate) fn read_ref(
        &self,
        offset: i64,
        max: usize,
        me: &SharedLog,
    ) -> std::result::Result<Option<DataRef>, ReadError> {
        let first = self.segments[0].start;
        let end = self.visible_end();
        if offset < 0 || (offset as u64) < first || offset as u64 > end {
            return Err(ReadError::OutOfRange);
        }
        let offset = offset as u64;
        let idx = self.segments.partition_point(|s| s.start <= offset) - 1;
        let seg = &self.segments[idx];
        let seg_end = seg.start + seg.visible;
        let n = seg_end.saturating_sub(offset).min(max as u64);
        if n == 0 {
            return Ok(None);
        }
        let source = match &seg.data {
            Data::Memory(_) => Source::Memory(me.clone(), seg.start),
            Data::File(path) => Source::File(self.cfg.files.get(path).map_err(|_| ReadError::Io)?),
        };
        Ok(Some(DataRef {
            source,
            pos: offset - seg.start,
            len: n,
        }))
    }

    /// Copies bytes of the in-memory segment starting at `start` from position `pos`.
    pub(crate) fn copy_memory(&self, start: u64, pos: u64, out: &mut [u8]) -> io::Result<()> {
        let seg = self.segments.iter().find(|s| s.start == start);
        match seg.map(|s| &s.data) {
            Some(Data::Memory(m)) => m
                .copy_to(pos as usize, out)
                .ok_or_else(|| io::ErrorKind::UnexpectedEof.into()),
            _ => Err(io::ErrorKind::NotFound.into()),
        }
    }

    /// The OFFSETS answer (spec §7): candidate pairs are `(segment start, mtime)` for every
    /// segment, plus `(visible end, now)` when the active segment has visible data; the start
    /// index is the last pair (latest), the first (earliest), or the newest pair whose time is
    /// at or before `time`; then at most `max` offsets walking back. `None` for a negative
    /// `max` (the reference fails allocating the array and closes the connection).
    pub(crate) fn offsets_before(&self, time: i64, max: i32, now: i64) -> Option<Vec<i64>> {
        let mut pairs: Vec<(u64, i64)> = self
            .segments
            .iter()
            .map(|s| (s.start, s.mtime_ms()))
            .collect();
        let last = self.last();
        if last.visible > 0 {
            pairs.push((last.start + last.visible, now));
        }
        let start_index: i64 = match time {
            kafka07_proto::LATEST_TIME => pairs.len() as i64 - 1,
            kafka07_proto::EARLIEST_TIME => 0,
            t => pairs
                .iter()
                .rposition(|&(_, ts)| ts <= t)
                .map_or(-1, |i| i as i64),
        };
        let n = (max as i64).min(start_index + 1);
        if n < 0 {
            return None;
        }
        Some(
            (0..=start_index)
                .rev()
                .take(n as usize)
                .map(|i| pairs[i as usize].0 as i64)
                .collect(),
        )
    }
}

fn new_file_segment(dir: &Path, start: u64) -> io::Result<Segment> {
    let path = dir.join(segment_name(start));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    let size = file.metadata()?.len();
    Ok(Segment {
        start,
        data: Data::File(path),
        size,
        visible: size,
        mtime: SystemTime::now(),
        first_append: None,
        last_entry: None,
    })
}

/// Position of the last top-level entry of already validated message-set bytes.
/// The time of an append: wall clock (a memory segment's mtime) and monotonic (its age).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub wall: SystemTime,
    pub mono: Instant,
}

impl Clock {
    /// Both clocks, now.
    pub(crate) fn now() -> Clock {
        Clock {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

fn last_entry_in(bytes: &[u8]) -> Option<u64> {
    let mut pos = 0usize;
    let mut last = None;
    while let Some(n) = bytes.get(pos..pos + 4) {
        let n = u32::from_be_bytes(n.try_into().expect("4 bytes")) as usize;
        if pos + 4 + n > bytes.len() {
            break;
        }
        last = Some(pos as u64);
        pos += 4 + n;
    }
    last
}

/// Length of the valid prefix of a segment file (spec §9.4): complete entries with `N` at
/// least the header, a known magic and a matching CRC (top level only, no decompression).
/// Scans `[from, len)` in chunks with the proto crate's lax shallow iterator; returns the end
/// of the valid prefix (`from` when the first entry is already bad) and the position of its
/// last entry.
fn valid_prefix(
    file: &File,
    from: u64,
    len: u64,
    crc: CrcPolicy,
) -> io::Result<(u64, Option<u64>)> {
    const CHUNK: u64 = 1 << 20;
    let opts = DecodeOptions {
        crc_policy: crc,
        ..DecodeOptions::default()
    }
    .lax(true);
    let mut pos = from;
    let mut last = None;
    let mut buf = Vec::new();
    let mut want = CHUNK;
    loop {
        let left = len - pos;
        if left == 0 {
            return Ok((pos, last));
        }
        let n = want.min(left);
        buf.resize(n as usize, 0);
        file.read_exact_at(&mut buf, pos)?;
        let mut it = MessageSet::new(&buf, 0).shallow_with(opts);
        let mut last_here = None;
        for m in (&mut it).flatten() {
            last_here = Some(m.position);
        }
        let used = it.position() as u64;
        if let Some(at) = last_here.filter(|&at| at < used) {
            last = Some(pos + at);
        }
        let at_eof = pos + n == len;
        match it.stop() {
            Stop::End if !at_eof => {
                pos += used;
                want = CHUNK;
            }
            Stop::Trailing { .. } if !at_eof => {
                pos += used;
                want = CHUNK;
            }
            Stop::Cut { needed, .. } if pos + used + needed <= len => {
                pos += used;
                want = needed.max(CHUNK);
            }
            _ => return Ok((pos + used, last)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_data_across_its_vec_and_maps_reads_back_what_was_appended() {
        // Appends of varied sizes past the Vec and over two map boundaries, some of them
        // straddling one; every range read back, boundaries included, equals the same
        // bytes appended to a plain Vec.
        let mut m = MemData::default();
        let mut want = Vec::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let total = MEM_HEAD + 2 * MEM_CHUNK + 12345;
        while want.len() < total {
            let n = rng.usize(1..300_000);
            let bytes: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            m.extend(&bytes).unwrap();
            want.extend_from_slice(&bytes);
        }
        assert_eq!(m.len, want.len());
        assert_eq!(m.chunks.len(), 3);
        let edges = [0, MEM_HEAD, MEM_HEAD + MEM_CHUNK, MEM_HEAD + 2 * MEM_CHUNK];
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for e in edges {
            for (back, len) in [(0, 1), (1, 2), (100, 100), (100, 1000), (4096, 1 << 20)] {
                let at = e.saturating_sub(back);
                ranges.push((at, len.min(want.len() - at)));
            }
        }
        for _ in 0..200 {
            let at = rng.usize(0..want.len());
            ranges.push((at, rng.usize(0..=(want.len() - at).min(3 << 20))));
        }
        ranges.push((0, want.len()));
        for (at, len) in ranges {
            let mut out = vec![0u8; len];
            m.copy_to(at, &mut out).unwrap();
            assert!(out == want[at..at + len], "range {at}+{len}");
        }
        // Past the end: nothing.
        let mut out = [0u8; 2];
        assert!(m.copy_to(want.len() - 1, &mut out).is_none());
        assert!(m.copy_to(usize::MAX, &mut out).is_none());
        assert!(m.copy_to(want.len(), &mut []).is_some());
    }

    fn cfg(size: u64) -> LogConfig {
        LogConfig {
            log_file_size: size,
            flush_interval_messages: 1,
            flush_interval: Duration::from_secs(3),
            visible_on_append: false,
            roll_interval: None,
            files: Arc::new(FileCache::new(8)),
        }
    }

    fn entry(payload: &[u8]) -> Vec<u8> {
        kafka07_proto::MessageRepr::new(payload).to_vec().unwrap()
    }

    #[test]
    fn segment_names_are_twenty_digits() {
        assert_eq!(segment_name(0), "00000000000000000000.kafka");
        assert_eq!(segment_name(108), "00000000000000000108.kafka");
    }

    #[test]
    fn spec_section7_vector_in_memory() {
        let mut log = Log::memory(cfg(100));
        let e = entry(b"ab");
        assert_eq!(e.len(), 12);
        for _ in 0..20 {
            log.append(&e, 1).unwrap();
        }
        assert_eq!(log.segment_starts(), [0, 108, 216]);
        assert_eq!(log.visible_end(), 240);
        let t = now_ms();
        let now = t + 1;
        assert_eq!(log.offsets_before(-1, 10, now).unwrap(), [240, 216, 108, 0]);
        assert_eq!(log.offsets_before(-1, 2, now).unwrap(), [240, 216]);
        assert_eq!(log.offsets_before(-2, 10, now).unwrap(), [0]);
        assert_eq!(log.offsets_before(t, 10, now).unwrap(), [216, 108, 0]);
        assert_eq!(
            log.offsets_before(now, 10, now).unwrap(),
            [240, 216, 108, 0]
        );
        assert_eq!(log.offsets_before(-1, 0, now).unwrap(), Vec::<i64>::new());
        assert_eq!(log.offsets_before(-1, -1, now), None);
        assert_eq!(log.offsets_before(0, 10, now).unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn reads_respect_visibility_and_segments() {
        let mut c = cfg(100);
        c.flush_interval_messages = 3;
        let mut log = Log::memory(c);
        let e = entry(b"ab");
        log.append(&e, 1).unwrap();
        log.append(&e, 1).unwrap();
        assert_eq!((log.visible_end(), log.written_end()), (0, 24));
        let me: SharedLog = Arc::new(std::sync::Mutex::new(Log::memory(cfg(100))));
        assert!(matches!(
            log.read_ref(12, 100, &me),
            Err(ReadError::OutOfRange)
        ));
        assert!(log.read_ref(0, 100, &me).unwrap().is_none());
        log.append(&e, 1).unwrap();
        assert_eq!(log.visible_end(), 36);
        let r = log.read_ref(12, 100, &me).unwrap().unwrap();
        assert_eq!((r.pos, r.len), (12, 24));
    }

    #[test]
    fn the_reference_clean_marker_keeps_bad_crcs_and_cuts_broken_framing() {
        let dir = tempfile::tempdir().unwrap();
        let good = entry(b"hello");
        let mut bad = entry(b"oops!");
        let n = bad.len();
        bad[n - 1] ^= 0xff; // payload changed, stored CRC kept
        let mut seg = [good.clone(), bad.clone(), good.clone()].concat();
        let whole = seg.len() as u64;
        std::fs::write(dir.path().join(segment_name(0)), &seg).unwrap();
        // After the reference's clean shutdown the file is served as it is: a bad CRC in
        // the middle stays (the reference does not recover a cleanly shut down log).
        let o = Log::open(dir.path(), cfg(1 << 20), Tail::Frames).unwrap();
        assert!(o.recovered.is_none());
        assert_eq!(o.log.written_end(), whole);
        // Without a marker, recovery truncates at the bad CRC (spec §9.4).
        let o = Log::open(dir.path(), cfg(1 << 20), Tail::Recover).unwrap();
        assert_eq!(o.log.written_end(), good.len() as u64);
        assert_eq!(o.recovered.unwrap().1, whole - good.len() as u64);

        // Garbage past the last entry (what a write failing part-way leaves): a size field
        // of 0x66666666 runs past the file, so the framing check cuts it.
        seg.truncate(good.len());
        seg.extend_from_slice(&good);
        let end = seg.len() as u64;
        seg.extend_from_slice(&[0x66; 300]);
        std::fs::write(dir.path().join(segment_name(0)), &seg).unwrap();
        let o = Log::open(dir.path(), cfg(1 << 20), Tail::Frames).unwrap();
        assert_eq!(o.log.written_end(), end);
        assert_eq!(o.recovered.unwrap().1, 300);
        assert_eq!(
            std::fs::metadata(dir.path().join(segment_name(0)))
                .unwrap()
                .len(),
            end
        );
    }
}
