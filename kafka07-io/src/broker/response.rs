//! Responses as plans: the small framing bytes inline, fetch data as references to log ranges
//! that are read in bounded chunks while the response is written (issue #14: a response never
//! holds a copy of the data it sends, whatever its size or the client's speed). On Linux, data
//! in segment files goes from the file to the socket with `sendfile(2)` instead, without
//! passing through this process (the reference's `FileChannel.transferTo`, spec §9).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::store::{lock, SharedLog};

/// Where the bytes of a data piece are.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A segment file (read with `pread`; the range is immutable once visible).
    File(Arc<File>),
    /// An in-memory segment of a log, by its start offset.
    Memory(SharedLog, u64),
}

/// A visible range of a segment: `len` bytes at `pos` (position in the segment).
#[derive(Debug, Clone)]
pub(crate) struct DataRef {
    pub source: Source,
    pub pos: u64,
    pub len: u64,
}

impl DataRef {
    /// Reads `out.len()` bytes at `at` (relative to this range) into `out`.
    fn read_at(&self, at: u64, out: &mut [u8]) -> std::io::Result<()> {
        match &self.source {
            Source::File(f) => f.read_exact_at(out, self.pos + at),
            Source::Memory(log, start) => lock(log).copy_memory(*start, self.pos + at, out),
        }
    }
}

/// One piece of a response: `head[inline]`, then optional data.
#[derive(Debug)]
struct Piece {
    inline: std::ops::Range<usize>,
    data: Option<DataRef>,
}

/// A response to write: framing bytes and data references, in order.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    head: Vec<u8>,
    pieces: Vec<Piece>,
    /// Bytes of the whole frame, size field included.
    total: u64,
    // Progress of the writer: the piece, and how far into its inline bytes and its data.
    piece: usize,
    inline_at: usize,
    data_at: u64,
}

impl Plan {
    /// A response whose bytes are all inline (OFFSETS).
    pub(crate) fn inline(bytes: &[u8]) -> Plan {
        let mut p = Plan::default();
        p.push_inline(bytes);
        p
    }

    /// Appends inline bytes.
    pub(crate) fn push_inline(&mut self, bytes: &[u8]) {
        let at = self.head.len();
        self.head.extend_from_slice(bytes);
        self.total += bytes.len() as u64;
        match self.pieces.last_mut() {
            Some(p) if p.data.is_none() => p.inline.end = self.head.len(),
            _ => self.pieces.push(Piece {
                inline: at..self.head.len(),
                data: None,
            }),
        }
    }

    /// Appends a data reference.
    pub(crate) fn push_data(&mut self, data: DataRef) {
        self.total += data.len;
        match self.pieces.last_mut() {
            Some(p) if p.data.is_none() => p.data = Some(data),
            _ => {
                let at = self.head.len();
                self.pieces.push(Piece {
                    inline: at..at,
                    data: Some(data),
                })
            }
        }
    }

    /// Bytes of the whole response, size field included.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Whether every byte was handed out.
    pub(crate) fn is_done(&self) -> bool {
        self.piece >= self.pieces.len()
    }

    /// The next at most `max` bytes, read into `buf` (cleared first). With `stop_at_files`,
    /// the chunk ends where data from a segment file begins: the caller sends that with
    /// [`file_data`](Self::file_data) (so a chunk may be empty while the plan is not
    /// [done](Self::is_done)). An error reading the log ends the response early (the caller
    /// closes the connection: the client sees a short frame).
    pub(crate) fn next_chunk(
        &mut self,
        buf: &mut Vec<u8>,
        max: usize,
        stop_at_files: bool,
    ) -> std::io::Result<()> {
        buf.clear();
        while buf.len() < max && self.piece < self.pieces.len() {
            let p = &self.pieces[self.piece];
            let inline = p.inline.start + self.inline_at..p.inline.end;
            if !inline.is_empty() {
                let n = inline.len().min(max - buf.len());
                buf.extend_from_slice(&self.head[inline.start..inline.start + n]);
                self.inline_at += n;
                continue;
            }
            match &p.data {
                Some(DataRef {
                    source: Source::File(_),
                    len,
                    ..
                }) if stop_at_files && self.data_at < *len => break,
                Some(d) if self.data_at < d.len => {
                    let n = (d.len - self.data_at).min((max - buf.len()) as u64) as usize;
                    let old = buf.len();
                    buf.resize(old + n, 0);
                    d.read_at(self.data_at, &mut buf[old..])?;
                    self.data_at += n as u64;
                }
                _ => {
                    self.piece += 1;
                    self.inline_at = 0;
                    self.data_at = 0;
                }
            }
        }
        Ok(())
    }

    /// When the writer stands at data in a segment file (everything before it handed out):
    /// the file, the position of the next byte in it and the bytes left of the range.
    pub(crate) fn file_data(&self) -> Option<(&File, u64, u64)> {
        let p = self.pieces.get(self.piece)?;
        if p.inline.start + self.inline_at < p.inline.end {
            return None;
        }
        match &p.data {
            Some(DataRef {
                source: Source::File(f),
                pos,
                len,
            }) if self.data_at < *len => Some((f, pos + self.data_at, len - self.data_at)),
            _ => None,
        }
    }

    /// Records that `n` bytes of the [`file_data`](Self::file_data) range were sent.
    pub(crate) fn sent_file_data(&mut self, n: u64) {
        self.data_at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A segment file holding `0123456789abcdef`.
    fn file() -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"0123456789abcdef").unwrap();
        Arc::new(f)
    }

    /// `len` bytes of `f` at `pos`.
    fn range(f: &Arc<File>, pos: u64, len: u64) -> DataRef {
        DataRef {
            source: Source::File(f.clone()),
            pos,
            len,
        }
    }

    #[test]
    fn chunks_are_bounded_and_in_order() {
        let f = file();
        let mut plan = Plan::inline(b"HEAD");
        plan.push_data(range(&f, 2, 10));
        plan.push_inline(b"mid");
        plan.push_data(range(&f, 0, 3));
        assert_eq!(plan.total(), 4 + 10 + 3 + 3);
        let mut all = Vec::new();
        let mut buf = Vec::new();
        let mut chunks = 0;
        loop {
            plan.next_chunk(&mut buf, 3, false).unwrap();
            if buf.is_empty() {
                break;
            }
            assert!(buf.len() <= 3);
            all.extend_from_slice(&buf);
            chunks += 1;
            assert!(chunks < 100);
        }
        assert_eq!(all, b"HEAD23456789abmid012");
        assert!(plan.is_done());
    }

    /// With `stop_at_files`, chunks hold only the inline and in-memory bytes, and the file
    /// ranges come out of `file_data` in order, at the right positions.
    #[test]
    fn file_ranges_are_handed_out_between_chunks() {
        let f = file();
        let mut plan = Plan::inline(b"HEAD");
        plan.push_data(range(&f, 2, 10));
        plan.push_data(range(&f, 0, 3));
        plan.push_inline(b"end");
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for _ in 0..100 {
            if let Some((file, pos, left)) = plan.file_data() {
                // Send at most 4 bytes at a time, as a full socket would cut a sendfile.
                let n = left.min(4);
                let mut part = vec![0; n as usize];
                file.read_exact_at(&mut part, pos).unwrap();
                out.extend_from_slice(&part);
                plan.sent_file_data(n);
                continue;
            }
            plan.next_chunk(&mut buf, 64, true).unwrap();
            out.extend_from_slice(&buf);
            if plan.is_done() {
                break;
            }
        }
        assert!(plan.is_done());
        assert_eq!(out, b"HEAD23456789ab012end");
    }
}
