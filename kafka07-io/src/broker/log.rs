//! One partition's log: segments in memory or in real 0.7 segment files (spec §9).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka07_proto::{DecodeOptions, MessageSet, Stop};

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
}

#[derive(Debug)]
enum Data {
    Memory(Vec<u8>),
    File(File),
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
}

impl Segment {
    fn mtime_ms(&self) -> i64 {
        let t = match &self.data {
            Data::Memory(_) => self.mtime,
            Data::File(f) => f
                .metadata()
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
    /// The segment file could not be read: code -1.
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
                data: Data::Memory(Vec::new()),
                size: 0,
                visible: 0,
                mtime: SystemTime::now(),
                first_append: None,
            }],
            unflushed_messages: 0,
            last_flush: Instant::now(),
            cfg,
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
        };
        log.segments.push(new_file_segment(dir, 0)?);
        Ok(log)
    }

    /// Opens an existing partition directory: every `*.kafka` file is a segment named by its
    /// start offset; the chain must have no gap (spec §9.2, E34); the last segment is
    /// recovered when `recover` (spec §9.4). An empty directory gets a fresh segment 0.
    pub(crate) fn open(dir: &Path, cfg: LogConfig, recover: bool) -> Result<Opened> {
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
            let file = OpenOptions::new().read(true).write(true).open(path)?;
            let size = file.metadata()?.len();
            let mtime = file
                .metadata()?
                .modified()
                .unwrap_or_else(|_| SystemTime::now());
            segments.push(Segment {
                start: *start,
                data: Data::File(file),
                size,
                visible: size,
                mtime,
                first_append: None,
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
        } else if recover {
            let last = segments.last_mut().expect("not empty");
            let Data::File(file) = &mut last.data else {
                unreachable!("opened segments are files")
            };
            let valid = valid_prefix(file, last.size)?;
            let truncated = last.size - valid;
            if truncated > 0 {
                file.set_len(valid)?;
                file.sync_all()?;
            }
            last.size = valid;
            last.visible = valid;
            recovered = Some((dir.join(segment_name(last.start)), truncated));
        }
        Ok(Opened {
            log: Log {
                dir: Some(dir.to_owned()),
                segments,
                unflushed_messages: 0,
                last_flush: Instant::now(),
                cfg,
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
    pub(crate) fn append(&mut self, bytes: &[u8], messages: u64) -> io::Result<()> {
        self.maybe_roll()?;
        let visible_on_append = self.cfg.visible_on_append;
        let seg = self
            .segments
            .last_mut()
            .expect("a log always has a segment");
        if !bytes.is_empty() {
            match &mut seg.data {
                Data::Memory(v) => v.extend_from_slice(bytes),
                Data::File(f) => {
                    f.seek(SeekFrom::Start(seg.size))?;
                    f.write_all(bytes)?;
                }
            }
            seg.size += bytes.len() as u64;
            seg.mtime = SystemTime::now();
            seg.first_append.get_or_insert_with(Instant::now);
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

    fn maybe_roll(&mut self) -> io::Result<()> {
        let l = self.last();
        let by_size = l.size > self.cfg.log_file_size;
        let by_time = match (self.cfg.roll_interval, l.first_append) {
            (Some(max), Some(first)) => l.size > 0 && first.elapsed() > max,
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
                data: Data::Memory(Vec::new()),
                size: 0,
                visible: 0,
                mtime: SystemTime::now(),
                first_append: None,
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
        if let Data::File(f) = &seg.data {
            if seg.size != seg.visible || self.unflushed_messages > 0 {
                f.sync_data()?;
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

    /// Reads up to `max` visible bytes from `offset` into `out` (appended). The view never
    /// spans segments (spec §6.5, E18). `offset == end` reads nothing.
    pub(crate) fn read(
        &mut self,
        offset: i64,
        max: usize,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), ReadError> {
        let first = self.segments[0].start;
        let end = self.visible_end();
        if offset < 0 || (offset as u64) < first || offset as u64 > end {
            return Err(ReadError::OutOfRange);
        }
        let offset = offset as u64;
        let idx = self.segments.partition_point(|s| s.start <= offset) - 1;
        let seg = &mut self.segments[idx];
        let seg_end = seg.start + seg.visible;
        let n = seg_end.saturating_sub(offset).min(max as u64) as usize;
        if n == 0 {
            return Ok(());
        }
        let at = (offset - seg.start) as usize;
        match &mut seg.data {
            Data::Memory(v) => out.extend_from_slice(&v[at..at + n]),
            Data::File(f) => {
                let old = out.len();
                out.resize(old + n, 0);
                let r = f
                    .seek(SeekFrom::Start(at as u64))
                    .and_then(|_| f.read_exact(&mut out[old..]));
                if r.is_err() {
                    out.truncate(old);
                    return Err(ReadError::Io);
                }
            }
        }
        Ok(())
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
        data: Data::File(file),
        size,
        visible: size,
        mtime: SystemTime::now(),
        first_append: None,
    })
}

/// Length of the valid prefix of a segment file (spec §9.4): complete entries with `N` at
/// least the header, a known magic and a matching CRC (top level only, no decompression).
/// Scans in chunks with the proto crate's lax shallow iterator.
fn valid_prefix(file: &mut File, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 1 << 20;
    let opts = DecodeOptions::default().lax(true);
    let mut pos = 0u64;
    let mut buf = Vec::new();
    let mut want = CHUNK;
    loop {
        let left = len - pos;
        if left == 0 {
            return Ok(pos);
        }
        let n = want.min(left);
        buf.resize(n as usize, 0);
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf)?;
        let mut it = MessageSet::new(&buf, 0).shallow_with(opts);
        for _ in &mut it {}
        let used = it.position() as u64;
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
            _ => return Ok(pos + used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(size: u64) -> LogConfig {
        LogConfig {
            log_file_size: size,
            flush_interval_messages: 1,
            flush_interval: Duration::from_secs(3),
            visible_on_append: false,
            roll_interval: None,
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
        let mut out = Vec::new();
        assert!(matches!(
            log.read(12, 100, &mut out),
            Err(ReadError::OutOfRange)
        ));
        log.read(0, 100, &mut out).unwrap();
        assert!(out.is_empty());
        log.append(&e, 1).unwrap();
        assert_eq!(log.visible_end(), 36);
        log.read(12, 100, &mut out).unwrap();
        assert_eq!(out.len(), 24);
    }
}
