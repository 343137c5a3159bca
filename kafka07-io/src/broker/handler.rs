//! Request handling with the 0.7.2 reaction matrix (spec §6.9, E15–E31): which situations
//! are error codes in a response and which close the connection.

use kafka07_proto::{
    DecodeOptions, DeepCursor, ErrorCode, ErrorKind, FetchRequest, FetchResponse,
    MultiFetchResponse, OffsetsRequest, OffsetsResponse, Parts, ProduceRequest, Request, Response,
    RANDOM_PARTITION,
};

use super::log::ReadError;
use super::store::{lock, validate_topic, Store};
use super::Settings;

/// What the connection does after a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Write the response in the output buffer.
    Respond,
    /// Nothing to write (PRODUCE, MULTIPRODUCE, or an item dropped for size).
    Silent,
    /// Close the connection without answering; the reason is for diagnostics.
    Close(&'static str),
}

/// Per-connection buffers, reused between requests.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    pub out: Vec<u8>,
    data: Vec<u8>,
    scratch: Vec<u8>,
}

impl Buffers {
    /// Drops buffers that grew large, so an idle connection holds little memory.
    pub(crate) fn trim(&mut self) {
        const KEEP: usize = 4 << 20;
        for b in [&mut self.out, &mut self.data, &mut self.scratch] {
            if b.capacity() > KEEP {
                *b = Vec::new();
            }
        }
    }
}

pub(crate) struct Handler<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
}

impl Handler<'_> {
    /// Handles one request body (type id onwards).
    pub(crate) fn handle(&self, body: &[u8], bufs: &mut Buffers) -> Reaction {
        // Trailing bytes after a well-formed body are ignored, as the reference does (§6.1);
        // anything that does not parse (short body, unknown type id, negative count or size,
        // null topic) closes the connection (§6.2, E26, E43).
        let Ok((request, _)) = Request::parse_prefix(body) else {
            return Reaction::Close("malformed request");
        };
        match request {
            Request::Produce(p) => match self.produce(&p, &mut bufs.scratch) {
                Ok(()) => Reaction::Silent,
                Err(reason) => Reaction::Close(reason),
            },
            Request::MultiProduce(m) => {
                // In order; the first failing item closes the connection, earlier items stay
                // stored (E29); an item dropped for size does not stop the others (E27).
                for p in m.parts.iter() {
                    if let Err(reason) = self.produce(&p, &mut bufs.scratch) {
                        return Reaction::Close(reason);
                    }
                }
                Reaction::Silent
            }
            Request::Fetch(f) => {
                if f.max_size < 0 {
                    return Reaction::Close("negative fetch size"); // E22
                }
                bufs.data.clear();
                let error = self.read(&f, &mut bufs.data);
                let resp = Response::Fetch(FetchResponse {
                    error,
                    messages: &bufs.data,
                });
                emit(&resp, &mut bufs.out)
            }
            Request::MultiFetch(m) => {
                if m.parts.iter().any(|f| f.max_size < 0) {
                    return Reaction::Close("negative fetch size"); // E22
                }
                let mut datas: Vec<(ErrorCode, Vec<u8>)> = Vec::with_capacity(m.parts.len());
                for f in m.parts.iter() {
                    let mut data = Vec::new();
                    let code = self.read(&f, &mut data);
                    datas.push((code, data));
                }
                let parts: Vec<FetchResponse<'_>> = datas
                    .iter()
                    .map(|(error, data)| FetchResponse {
                        error: *error,
                        messages: data,
                    })
                    .collect();
                let resp = Response::MultiFetch(MultiFetchResponse {
                    error: ErrorCode::NO_ERROR,
                    parts: Parts::from_slice(&parts),
                });
                emit(&resp, &mut bufs.out)
            }
            Request::Offsets(o) => match self.offsets(&o) {
                Ok(offsets) => {
                    let resp = Response::Offsets(OffsetsResponse {
                        error: ErrorCode::NO_ERROR,
                        offsets: Parts::from_slice(&offsets),
                    });
                    emit(&resp, &mut bufs.out)
                }
                Err(reason) => Reaction::Close(reason),
            },
        }
    }

    /// One PRODUCE (or MULTIPRODUCE item). `Err` closes the connection.
    fn produce(&self, p: &ProduceRequest<'_>, scratch: &mut Vec<u8>) -> Result<(), &'static str> {
        let s = self.settings;
        let topic = validate_topic(p.topic.as_bytes(), s.max_topic_name_length)
            .map_err(|_| "invalid topic name")?;
        let count = s.partitions(topic);
        // Partition -1: a random partition of this topic, before any validation (E25).
        let partition = if p.partition == RANDOM_PARTITION {
            fastrand::u32(0..count)
        } else if p.partition < 0 || p.partition as u32 >= count {
            return Err("partition out of range");
        } else {
            p.partition as u32
        };
        // The log is created before the messages are validated (E30).
        let log = self
            .store
            .get_or_create(topic, partition)
            .map_err(|_| "cannot create the log")?;
        let set = p.message_set();
        // Shallow pass (the reference `verifyMessageSize`): CRC and framing of each top-level
        // entry; a top-level payload over max.message.size drops this item silently (E27).
        let mut shallow = set.shallow();
        for m in &mut shallow {
            let m = m.map_err(|_| "invalid message set")?;
            if m.message.payload().len() > s.max_message_size {
                return Ok(());
            }
        }
        // The valid bytes: a partial trailing message is dropped (E28).
        let valid = shallow.position();
        // Deep pass: decompress wrappers and verify every inner CRC; count messages for the
        // flush interval. Any error closes the connection (E12).
        let messages = deep_count(&p.messages[..valid], scratch, s.max_decompressed)?;
        let appended = lock(&log).append(&p.messages[..valid], messages);
        appended.map_err(|_| "cannot write the log")
    }

    /// One FETCH (or MULTIFETCH part): the error code, data appended to `out`.
    fn read(&self, f: &FetchRequest<'_>, out: &mut Vec<u8>) -> ErrorCode {
        let s = self.settings;
        // Invalid topic name: code -1 (E20).
        let Ok(topic) = validate_topic(f.topic.as_bytes(), s.max_topic_name_length) else {
            return ErrorCode::UNKNOWN;
        };
        // Partition out of the configured range (including -1): code 3 (E20).
        if f.partition < 0 || f.partition as u32 >= s.partitions(topic) {
            return ErrorCode::WRONG_PARTITION;
        }
        // Unknown topic or partition log: empty set, code 0, nothing created (E19).
        let Some(log) = self.store.get(topic, f.partition as u32) else {
            return ErrorCode::NO_ERROR;
        };
        let result = lock(&log).read(f.offset, f.max_size as usize, out);
        match result {
            Ok(()) => ErrorCode::NO_ERROR,
            Err(ReadError::OutOfRange) => ErrorCode::OFFSET_OUT_OF_RANGE,
            Err(ReadError::Io) => ErrorCode::UNKNOWN,
        }
    }

    /// OFFSETS (spec §7). `Err` closes the connection.
    fn offsets(&self, o: &OffsetsRequest<'_>) -> Result<Vec<i64>, &'static str> {
        let s = self.settings;
        let topic = validate_topic(o.topic.as_bytes(), s.max_topic_name_length)
            .map_err(|_| "invalid topic name")?;
        if o.partition < 0 || o.partition as u32 >= s.partitions(topic) {
            return Err("partition out of range");
        }
        match self.store.get(topic, o.partition as u32) {
            // No log: [0] for latest/earliest, [] otherwise, whatever the maximum; nothing is
            // created (spec §7).
            None => Ok(
                if o.time == kafka07_proto::LATEST_TIME || o.time == kafka07_proto::EARLIEST_TIME {
                    vec![0]
                } else {
                    Vec::new()
                },
            ),
            Some(log) => lock(&log)
                .offsets_before(o.time, o.max_offsets, super::log::now_ms())
                .ok_or("negative maximum number of offsets"), // E31
        }
    }
}

fn emit(resp: &Response<'_>, out: &mut Vec<u8>) -> Reaction {
    out.clear();
    out.resize(resp.wire_len(), 0);
    match resp.emit(out) {
        Ok(n) => {
            out.truncate(n);
            Reaction::Respond
        }
        Err(_) => Reaction::Close("response does not fit its fields"),
    }
}

/// Deep-iterates `set` (CRCs verified, wrappers decompressed one top-level entry at a time)
/// and counts the messages. Scratch grows on demand up to `max`.
fn deep_count(set: &[u8], scratch: &mut Vec<u8>, max: usize) -> Result<u64, &'static str> {
    if scratch.is_empty() {
        scratch.resize(64 * 1024, 0);
    }
    let opts = DecodeOptions::default()
        .max_decompressed(max)
        .inflate(crate::INFLATE);
    loop {
        match try_deep_count(set, scratch, opts) {
            Ok(n) => return Ok(n),
            Err(e) => match e.kind() {
                ErrorKind::ScratchExhausted { needed, .. } if scratch.len() < max => {
                    let grow = (needed as usize).max(scratch.len() * 2).min(max);
                    scratch.resize(grow, 0);
                }
                _ => return Err("invalid message set"),
            },
        }
    }
}

fn try_deep_count(
    set: &[u8],
    scratch: &mut [u8],
    opts: DecodeOptions,
) -> kafka07_proto::Result<u64> {
    let mut cursor = DeepCursor::new(kafka07_proto::MessageSet::new(set, 0), scratch, opts);
    let mut n = 0;
    while let Some(entry) = cursor.next_entry() {
        for m in entry? {
            m?;
            n += 1;
        }
    }
    Ok(n)
}
