//! Record source: detects pcap vs pcapng and drives `pcap-parser`'s
//! streaming readers with a bounded buffer, yielding raw frames.

use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{CaptureError, SkipReason, Timestamp};

const PCAPNG_MAGIC: u32 = 0x0A0D_0D0A;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;
const PCAP_LE_MAGICS: [u32; 3] = [0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34];
const PCAP_BE_MAGICS: [u32; 2] = [0xA1B2_C3D4, 0xA1B2_3C4D];
const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_HEADER_LEN: usize = 16;
const SHB_MIN_LEN: usize = 28;
/// Smallest buffer / record limit used, whatever the configuration says.
pub(crate) const MIN_RECORD_LIMIT: usize = 64 * 1024;
/// Give up after this many refills in a row that add no data.
const MAX_STALLS: u32 = 8;

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap,
    /// pcapng.
    Pcapng,
}

/// One packet record, borrowed from the read buffer.
pub(crate) struct RawFrame<'a> {
    pub index: u64,
    pub ts: Timestamp,
    pub linktype: u32,
    pub data: &'a [u8],
    /// The packet's original length, as the record gives it.
    pub orig_len: u64,
}

/// What the source hands to its consumer.
pub(crate) enum SourceItem<'a> {
    Frame(RawFrame<'a>),
    Skipped {
        frame_index: u64,
        reason: SkipReason,
    },
}

/// Keeps the last I/O error of the wrapped reader, because `pcap-parser`
/// reduces it to a bare `ReadError`.
struct Tap<R> {
    inner: R,
    last_error: Arc<Mutex<Option<io::Error>>>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    if let Ok(mut slot) = self.last_error.lock() {
                        *slot = Some(e);
                    }
                    return Err(io::Error::from(kind));
                }
                ok => return ok,
            }
        }
    }
}

type Input<R> = std::io::Chain<Cursor<Vec<u8>>, Tap<R>>;

enum Inner<R: Read> {
    Legacy(LegacyPcapReader<Input<R>>),
    Ng(PcapNGReader<Input<R>>),
}

impl<R: Read> Inner<R> {
    fn it(&mut self) -> &mut dyn PcapReaderIterator {
        match self {
            Inner::Legacy(r) => r,
            Inner::Ng(r) => r,
        }
    }
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: u32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset_secs: i64,
    snaplen: u32,
}

/// Format state that blocks update.
struct State {
    format: CaptureFormat,
    /// Linktype of a legacy pcap file.
    legacy_linktype: u32,
    legacy_nanos: bool,
    legacy_big_endian: bool,
    /// pcapng: interfaces of the current section, in order of description.
    interfaces: Vec<Interface>,
    /// pcapng: byte order of the current section.
    big_endian: bool,
    /// Packet records seen so far.
    frames: u64,
}

/// Streaming record source.
pub(crate) struct Source<R: Read> {
    inner: Inner<R>,
    state: State,
    last_error: Arc<Mutex<Option<io::Error>>>,
    capacity: usize,
    max_record: usize,
    finished: bool,
}

enum Failure {
    Eof,
    Incomplete,
    UnexpectedEof,
    BufferTooSmall,
    Read,
    Parse(String),
}

fn classify(e: &PcapError<&[u8]>) -> Failure {
    match e {
        PcapError::Eof => Failure::Eof,
        PcapError::Incomplete(_) => Failure::Incomplete,
        PcapError::UnexpectedEof => Failure::UnexpectedEof,
        PcapError::BufferTooSmall => Failure::BufferTooSmall,
        PcapError::ReadError => Failure::Read,
        PcapError::HeaderNotRecognized => Failure::Parse("header not recognized".into()),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            Failure::Parse(format!("parse error ({kind:?})"))
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

impl<R: Read> Source<R> {
    /// Detects the format and reads the file header.
    pub(crate) fn open(mut reader: R, max_record_len: usize) -> Result<Self, CaptureError> {
        let max_record = max_record_len.max(MIN_RECORD_LIMIT);
        let mut prefix = vec![0u8; 12];
        let n = read_full(&mut reader, &mut prefix[..4])?;
        prefix.truncate(n);
        if n < 4 {
            return Err(CaptureError::NotACapture { start: prefix });
        }
        let le = u32_at(&prefix, 0, false).unwrap_or(0);
        let be = u32_at(&prefix, 0, true).unwrap_or(0);
        let format = if le == PCAPNG_MAGIC {
            CaptureFormat::Pcapng
        } else if PCAP_LE_MAGICS.contains(&le) || PCAP_BE_MAGICS.contains(&be) {
            CaptureFormat::Pcap
        } else {
            return Err(CaptureError::NotACapture { start: prefix });
        };

        // Read the whole file header up front, so that `pcap-parser`'s single
        // initial read sees it complete even from a reader that returns
        // short reads.
        let mut big_endian = false;
        match format {
            CaptureFormat::Pcap => {
                prefix.resize(PCAP_HEADER_LEN, 0);
                let got = 4 + read_full(&mut reader, &mut prefix[4..])?;
                if got < PCAP_HEADER_LEN {
                    return Err(CaptureError::BadHeader {
                        format: "pcap",
                        detail: format!("file ends after {got} of {PCAP_HEADER_LEN} header bytes"),
                    });
                }
            }
            CaptureFormat::Pcapng => {
                prefix.resize(12, 0);
                let got = 4 + read_full(&mut reader, &mut prefix[4..])?;
                let detail = if got < 12 {
                    Some(format!("file ends after {got} bytes of the section header"))
                } else {
                    match (u32_at(&prefix, 8, false), u32_at(&prefix, 8, true)) {
                        (Some(PCAPNG_BOM), _) => None,
                        (_, Some(PCAPNG_BOM)) => {
                            big_endian = true;
                            None
                        }
                        _ => Some("byte-order magic is not 1a2b3c4d".to_string()),
                    }
                };
                if let Some(detail) = detail {
                    return Err(CaptureError::BadHeader {
                        format: "pcapng",
                        detail,
                    });
                }
                let len = u32_at(&prefix, 4, big_endian).unwrap_or(0) as usize;
                if len < SHB_MIN_LEN || len % 4 != 0 || len > max_record {
                    return Err(CaptureError::BadHeader {
                        format: "pcapng",
                        detail: format!("section header block length {len} is invalid"),
                    });
                }
                prefix.resize(len, 0);
                let got = 12 + read_full(&mut reader, &mut prefix[12..])?;
                if got < len {
                    return Err(CaptureError::BadHeader {
                        format: "pcapng",
                        detail: format!("file ends after {got} of {len} section header bytes"),
                    });
                }
            }
        }

        // The initial buffer must hold the whole file header in one read.
        let capacity = MIN_RECORD_LIMIT.max(prefix.len() + 4096);
        let last_error = Arc::new(Mutex::new(None));
        let input = Cursor::new(prefix).chain(Tap {
            inner: reader,
            last_error: Arc::clone(&last_error),
        });
        let bad_header = |e: PcapError<&'static [u8]>, format| CaptureError::BadHeader {
            format,
            detail: e.to_string(),
        };
        let inner = match format {
            CaptureFormat::Pcap => Inner::Legacy(
                LegacyPcapReader::new(capacity, input).map_err(|e| bad_header(e, "pcap"))?,
            ),
            CaptureFormat::Pcapng => {
                Inner::Ng(PcapNGReader::new(capacity, input).map_err(|e| bad_header(e, "pcapng"))?)
            }
        };
        Ok(Source {
            inner,
            state: State {
                format,
                legacy_linktype: 0,
                legacy_nanos: false,
                legacy_big_endian: false,
                interfaces: Vec::new(),
                big_endian,
                frames: 0,
            },
            last_error,
            capacity,
            max_record,
            finished: false,
        })
    }

    /// Packet records seen so far.
    pub(crate) fn frames(&self) -> u64 {
        self.state.frames
    }

    pub(crate) fn format(&self) -> CaptureFormat {
        self.state.format
    }

    /// Reads the next record. Packet records and skipped records are passed
    /// to `sink`; other blocks only update the state. Returns `Ok(false)` at
    /// the end of the input.
    pub(crate) fn next_record<F>(&mut self, mut sink: F) -> Result<bool, CaptureError>
    where
        F: FnMut(SourceItem<'_>),
    {
        if self.finished {
            return Ok(false);
        }
        let mut stalls = 0u32;
        loop {
            if self.state.format == CaptureFormat::Pcapng {
                if let Some(detail) = self.framing_error() {
                    self.finished = true;
                    return Err(self.corrupt(detail));
                }
            }
            let it = self.inner.it();
            let failure = match it.next() {
                Ok((len, block)) => {
                    handle_block(&mut self.state, block, &mut sink);
                    it.consume(len);
                    return Ok(true);
                }
                Err(e) => classify(&e),
            };
            match failure {
                Failure::Eof => {
                    self.finished = true;
                    return Ok(false);
                }
                Failure::Incomplete => {
                    let before = it.data().len();
                    if it.refill().is_err() {
                        self.finished = true;
                        return Err(self.read_error());
                    }
                    let it = self.inner.it();
                    if it.data().len() == before && !it.reader_exhausted() {
                        stalls += 1;
                        if stalls > MAX_STALLS {
                            self.finished = true;
                            return Err(self.corrupt("the reader stopped making progress".into()));
                        }
                    } else {
                        stalls = 0;
                    }
                }
                Failure::BufferTooSmall => {
                    let available = it.data().len() as u64;
                    let declared = self.declared_record_len();
                    if self.state.format == CaptureFormat::Pcapng
                        && declared.is_some_and(|d| d <= available)
                    {
                        // The block is complete in the buffer but its content
                        // claims more: a corrupt block.
                        if self.skip_corrupt_block(&mut sink, "contents overrun the block") {
                            return Ok(true);
                        }
                    }
                    let Some(declared) = declared else {
                        self.finished = true;
                        return Err(self.corrupt("unreadable record header".into()));
                    };
                    if declared > self.max_record as u64 {
                        self.finished = true;
                        return Err(CaptureError::RecordTooLarge {
                            offset: self.inner.it().consumed() as u64,
                            frame_index: self.state.frames,
                            declared,
                            limit: self.max_record,
                        });
                    }
                    // Grow to hold the declared record (plus slack: the
                    // parser wants strictly more room than it needs).
                    let want = (declared as usize)
                        .saturating_add(4096)
                        .max(self.capacity.saturating_mul(2))
                        .min(self.max_record.saturating_add(4096));
                    if want <= self.capacity || !self.inner.it().grow(want) {
                        self.finished = true;
                        return Err(self.corrupt("record does not fit in the read buffer".into()));
                    }
                    self.capacity = want;
                }
                Failure::UnexpectedEof => {
                    if self.inner.it().data().is_empty() {
                        // `pcap-parser` reports its end of input as `Eof` only when its
                        // buffer is also rewound; after a block skipped at the end of the
                        // input (when the reader was found exhausted) and further blocks
                        // consumed without a refill, an empty buffer comes here. Nothing
                        // is cut off: a clean end.
                        self.finished = true;
                        return Ok(false);
                    }
                    if self.state.format == CaptureFormat::Pcapng
                        && self.skip_corrupt_block(&mut sink, "contents overrun the block")
                    {
                        return Ok(true);
                    }
                    // The file ends inside a record: drop it and stop.
                    self.finished = true;
                    let frame_index = self.state.frames;
                    self.state.frames += 1;
                    sink(SourceItem::Skipped {
                        frame_index,
                        reason: SkipReason::TruncatedRecord,
                    });
                    return Ok(true);
                }
                Failure::Read => {
                    self.finished = true;
                    return Err(self.read_error());
                }
                Failure::Parse(detail) => {
                    if self.state.format == CaptureFormat::Pcapng {
                        if self.skip_corrupt_block(&mut sink, &detail) {
                            return Ok(true);
                        }
                        let detail = format!("{}: {detail}", self.block_name());
                        self.finished = true;
                        return Err(self.corrupt(detail));
                    }
                    self.finished = true;
                    return Err(self.corrupt(detail));
                }
            }
        }
    }

    fn read_error(&mut self) -> CaptureError {
        let saved = self.last_error.lock().ok().and_then(|mut slot| slot.take());
        CaptureError::Io(saved.unwrap_or_else(|| io::Error::other("read failed")))
    }

    fn corrupt(&mut self, detail: String) -> CaptureError {
        CaptureError::Corrupt {
            offset: self.inner.it().consumed() as u64,
            frame_index: self.state.frames,
            detail,
        }
    }

    /// Length that the record at the start of the buffer declares, when its
    /// header is in the buffer.
    fn declared_record_len(&mut self) -> Option<u64> {
        let state = &self.state;
        let data = self.inner.it().data();
        match state.format {
            CaptureFormat::Pcap => {
                let caplen = u32_at(data, 8, state.legacy_big_endian)?;
                Some(u64::from(caplen) + PCAP_RECORD_HEADER_LEN as u64)
            }
            CaptureFormat::Pcapng => {
                // A section header's length is in its own byte order (its magic
                // is checked by `framing_error` before this is asked).
                let big_endian = if u32_at(data, 0, false) == Some(PCAPNG_MAGIC) {
                    u32_at(data, 8, false) != Some(PCAPNG_BOM)
                } else {
                    state.big_endian
                };
                u32_at(data, 4, big_endian).map(u64::from)
            }
        }
    }

    /// Checks the pcapng block at the start of the buffer before `pcap-parser`
    /// parses it, and returns what makes the rest of the file unreadable:
    ///
    /// * a section header block whose byte-order magic is neither
    ///   `1a2b3c4d` nor `4d3c2b1a`. The magic gives the byte order of the
    ///   section, its own length field included, and a new section starts
    ///   a new interface table: with the magic unreadable, neither the end
    ///   of this block nor the meaning of the blocks after it is known.
    ///   (`pcap-parser` checks the magic as soon as 12 bytes are buffered,
    ///   before the rest of the block; deciding here, on those 12 bytes,
    ///   keeps the outcome the same whatever the read sizes.) Likewise a
    ///   section header whose length is below 28 or not a multiple of 4,
    ///   as for the first one;
    /// * any other block whose length is below the 12 bytes of a block's
    ///   own framing (type, length, trailing length): the next block cannot
    ///   be located, and `pcap-parser` 0.17 subtracts 12 from the length of
    ///   a process information block (type 0x80000001) unchecked.
    ///
    /// Decides only on bytes that are in the buffer (the first 8, or 12 for
    /// a section header), so `None` while fewer are: `pcap-parser` then asks
    /// for more.
    fn framing_error(&mut self) -> Option<String> {
        let big_endian = self.state.big_endian;
        let data = self.inner.it().data();
        // The section header's type reads the same in either byte order.
        let block_type = u32_at(data, 0, big_endian)?;
        if block_type == PCAPNG_MAGIC {
            let bom = data.get(8..12)?;
            let section_big_endian = if u32_at(bom, 0, false) == Some(PCAPNG_BOM) {
                false
            } else if u32_at(bom, 0, true) == Some(PCAPNG_BOM) {
                true
            } else {
                let hex: Vec<String> = bom.iter().map(|b| format!("{b:02x}")).collect();
                return Some(format!(
                    "section header block: byte-order magic {} is not 1a2b3c4d",
                    hex.join(" ")
                ));
            };
            // The rules of the first section header (`open`).
            let len = u32_at(data, 4, section_big_endian)?;
            if (len as usize) < SHB_MIN_LEN || len % 4 != 0 {
                return Some(format!("section header block length {len} is invalid"));
            }
            return None;
        }
        let len = u32_at(data, 4, big_endian)?;
        if len < 12 {
            return Some(format!(
                "block type {block_type:#x}: block length {len} is below the 12-byte minimum"
            ));
        }
        None
    }

    /// How errors name the pcapng block at the start of the buffer.
    fn block_name(&mut self) -> String {
        let big_endian = self.state.big_endian;
        match u32_at(self.inner.it().data(), 0, big_endian) {
            Some(PCAPNG_MAGIC) => "section header block".to_string(),
            Some(block_type) => format!("block type {block_type:#x}"),
            None => "block".to_string(),
        }
    }

    /// Skips a pcapng block that failed to parse, if its framing (leading
    /// and trailing length) is intact and it is entirely in the buffer.
    ///
    /// A section header block is never skipped: the blocks after it belong
    /// to its section (its byte order, its interfaces), which a skipped
    /// header would leave undefined. Its failure is fatal.
    ///
    /// The outcome does not depend on read sizes: `pcap-parser` reports a
    /// parse error of any other block only once the whole block (its
    /// declared length) is buffered, or, for a length below the block
    /// type's fixed header, once that header is; and it reports
    /// `UnexpectedEof` only when the input has ended.
    fn skip_corrupt_block<F>(&mut self, sink: &mut F, detail: &str) -> bool
    where
        F: FnMut(SourceItem<'_>),
    {
        let big_endian = self.state.big_endian;
        let it = self.inner.it();
        let data = it.data();
        if u32_at(data, 0, big_endian) == Some(PCAPNG_MAGIC) {
            return false;
        }
        let Some(len) = u32_at(data, 4, big_endian) else {
            return false;
        };
        let len = len as usize;
        if len < 12 || len % 4 != 0 || len > data.len() {
            return false;
        }
        if u32_at(data, len - 4, big_endian) != Some(len as u32) {
            return false;
        }
        let block_type = u32_at(data, 0, big_endian).unwrap_or(0);
        let is_packet = matches!(block_type, 3 | 6);
        it.consume(len);
        let frame_index = self.state.frames;
        if is_packet {
            self.state.frames += 1;
        }
        sink(SourceItem::Skipped {
            frame_index,
            reason: SkipReason::CorruptBlock(format!("block type {block_type:#x}: {detail}")),
        });
        true
    }
}

fn handle_block<F>(state: &mut State, block: PcapBlockOwned<'_>, sink: &mut F)
where
    F: FnMut(SourceItem<'_>),
{
    match block {
        PcapBlockOwned::LegacyHeader(h) => {
            // The upper 16 bits may carry FCS information.
            state.legacy_linktype = (h.network.0 as u32) & 0xffff;
            state.legacy_nanos = h.is_nanosecond_precision();
            state.legacy_big_endian = h.is_bigendian();
        }
        PcapBlockOwned::Legacy(b) => {
            let index = state.frames;
            state.frames += 1;
            let (secs, sub) = (b.ts_sec, b.ts_usec);
            let micros = if state.legacy_nanos { sub / 1000 } else { sub };
            sink(SourceItem::Frame(RawFrame {
                index,
                ts: Timestamp::new(secs, micros),
                linktype: state.legacy_linktype,
                data: b.data,
                orig_len: u64::from(b.origlen),
            }));
        }
        PcapBlockOwned::NG(block) => match block {
            Block::SectionHeader(shb) => {
                state.big_endian = shb.big_endian();
                state.interfaces.clear();
            }
            Block::InterfaceDescription(idb) => {
                state.interfaces.push(Interface {
                    linktype: idb.linktype.0 as u32,
                    resolution: idb.ts_resolution().unwrap_or(1_000_000),
                    offset_secs: idb.ts_offset(),
                    snaplen: idb.snaplen,
                });
            }
            Block::EnhancedPacket(epb) => {
                let index = state.frames;
                state.frames += 1;
                let Some(iface) = state.interfaces.get(epb.if_id as usize).copied() else {
                    sink(SourceItem::Skipped {
                        frame_index: index,
                        reason: SkipReason::UnknownInterface(epb.if_id),
                    });
                    return;
                };
                let ts = pcapng_ts(epb.ts_high, epb.ts_low, &iface);
                sink(SourceItem::Frame(RawFrame {
                    index,
                    ts,
                    linktype: iface.linktype,
                    data: epb.packet_data(),
                    orig_len: u64::from(epb.origlen),
                }));
            }
            Block::SimplePacket(spb) => {
                let index = state.frames;
                state.frames += 1;
                let Some(iface) = state.interfaces.first().copied() else {
                    sink(SourceItem::Skipped {
                        frame_index: index,
                        reason: SkipReason::UnknownInterface(0),
                    });
                    return;
                };
                // The captured length is the original length cut to the
                // interface's snap length; the rest of `data` is padding.
                let mut data = spb.packet_data();
                if iface.snaplen > 0 && data.len() > iface.snaplen as usize {
                    data = &data[..iface.snaplen as usize];
                }
                sink(SourceItem::Frame(RawFrame {
                    index,
                    ts: Timestamp::default(),
                    linktype: iface.linktype,
                    data,
                    orig_len: u64::from(spb.origlen),
                }));
            }
            _ => {}
        },
    }
}

/// Converts a pcapng timestamp to seconds and microseconds, without
/// overflowing on hostile resolutions or offsets.
fn pcapng_ts(high: u32, low: u32, iface: &Interface) -> Timestamp {
    let raw = (u64::from(high) << 32) | u64::from(low);
    let res = iface.resolution.max(1);
    let secs = i128::from(raw / res) + i128::from(iface.offset_secs);
    let frac = u128::from(raw % res);
    let micros = (frac * 1_000_000 / u128::from(res)) as u32;
    let secs = secs.clamp(0, i128::from(u32::MAX)) as u32;
    Timestamp::new(secs, micros)
}
