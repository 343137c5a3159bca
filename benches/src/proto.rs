//! Prototypes of codec changes, measured by the benches against the current code (see
//! `benches/README.md`). Nothing here is used by the crates that ship.

use kafka07_proto::{emit_set, set_wire_len, MessageRepr, ProduceRequest, Request};

/// PRODUCE encoding that writes the message set straight into the request buffer instead of
/// into a separate buffer that `Request::emit` then copies: the request header is emitted for
/// an empty set to learn its layout, then the size fields are patched. It shows what an API
/// such as `ProduceRequest::emit_with(topic, partition, &[MessageRepr])` would save.
pub fn encode_plain_in_place(batches: &[Vec<&[u8]>], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for batch in batches {
        let msgs: Vec<MessageRepr<&[u8]>> = batch.iter().map(|p| MessageRepr::new(*p)).collect();
        let set_len = set_wire_len(&msgs);
        let head = Request::Produce(ProduceRequest::new("bench", 0, &[]));
        let head_len = head.wire_len();
        out.resize(head_len + set_len, 0);
        head.emit(&mut out[..head_len]).expect("sized");
        emit_set(&msgs, &mut out[head_len..]).expect("sized");
        // Patch the frame size and the message-set size for the real set.
        let frame = (head_len - 4 + set_len) as u32;
        out[..4].copy_from_slice(&frame.to_be_bytes());
        out[head_len - 4..head_len].copy_from_slice(&(set_len as u32).to_be_bytes());
        total += head_len + set_len;
    }
    total
}

use kafka07_proto::{CrcPolicy, CrcStatus, Error, ErrorKind, Layer, MessageSet};

/// What [`OnePass`] yields per message: the fields a consumer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lite<'a> {
    /// The reference's next-fetch offset.
    pub offset: u64,
    /// Magic byte, 0 or 1.
    pub magic: u8,
    /// Attributes (0 for magic 0).
    pub attributes: u8,
    /// The payload.
    pub payload: &'a [u8],
    /// The CRC policy's outcome.
    pub crc: CrcStatus,
}

/// Shallow iteration in one pass over each entry, with the same checks and errors as
/// `Shallow` (strict mode): the length prefix is read once, the header is split once, the
/// stored CRC and the payload come out of that split, and nothing is re-validated. It shows
/// the per-message cost a restructured `Shallow::next` (building `MessageView` unchecked
/// after `next_entry`'s checks, and `apply_crc` reading the header once) could reach.
#[derive(Clone, Debug)]
pub struct OnePass<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: u64,
    policy: CrcPolicy,
    done: bool,
}

impl<'a> OnePass<'a> {
    /// Iterates `bytes`, fetched at `base`.
    pub fn new(bytes: &'a [u8], base: u64, policy: CrcPolicy) -> Self {
        OnePass {
            bytes,
            pos: 0,
            base,
            policy,
            done: false,
        }
    }

    fn fail(
        &mut self,
        kind: ErrorKind,
        layer: Layer,
        at: usize,
    ) -> Option<Result<Lite<'a>, Error>> {
        self.done = true;
        Some(Err(Error::new(kind, layer, at as u64)))
    }
}

impl<'a> Iterator for OnePass<'a> {
    type Item = Result<Lite<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let rest = &self.bytes[at..];
        let Some(prefix) = rest.first_chunk::<4>() else {
            self.done = true;
            return None;
        };
        let n = i32::from_be_bytes(*prefix);
        if n < 0 {
            return self.fail(ErrorKind::NegativeLength(n.into()), Layer::MessageSet, at);
        }
        let Some(body) = rest.get(4..4 + n as usize) else {
            if at == 0 {
                let kind = ErrorKind::MessageLargerThanFetch {
                    needed: 4 + n as u64,
                    available: rest.len() as u64,
                };
                return self.fail(kind, Layer::MessageSet, at);
            }
            self.done = true;
            return None;
        };
        let below = |minimum| ErrorKind::LengthBelowHeader {
            length: n as u32,
            minimum,
        };
        let (magic, attributes, stored, payload) = match body {
            [0, c0, c1, c2, c3, payload @ ..] => (0, 0, [*c0, *c1, *c2, *c3], payload),
            [1, a, c0, c1, c2, c3, payload @ ..] => {
                if a & 3 == 3 {
                    return self.fail(ErrorKind::UnknownCodec(3), Layer::Message, at + 5);
                }
                (1, *a, [*c0, *c1, *c2, *c3], payload)
            }
            [] => return self.fail(below(5), Layer::Message, at),
            [0, ..] => return self.fail(below(5), Layer::Message, at),
            [1, ..] => return self.fail(below(6), Layer::Message, at),
            [m, ..] => return self.fail(ErrorKind::UnknownMagic(*m), Layer::Message, at + 4),
        };
        let stored = u32::from_be_bytes(stored);
        let crc = if self.policy == CrcPolicy::Skip {
            CrcStatus::Unchecked
        } else {
            let computed = crc32fast::hash(payload);
            if computed == stored {
                CrcStatus::Valid
            } else if self.policy == CrcPolicy::Report {
                CrcStatus::Mismatch { stored, computed }
            } else {
                let kind = ErrorKind::CrcMismatch { stored, computed };
                return self.fail(kind, Layer::Message, at);
            }
        };
        self.pos = at + 4 + n as usize;
        Some(Ok(Lite {
            offset: self.base + self.pos as u64,
            magic,
            attributes,
            payload,
            crc,
        }))
    }
}

/// PRODUCE encoding with the message headers written as one 10-byte store each (length,
/// magic 1, attributes 0, CRC) straight into the request buffer: no `MessageRepr` list, no
/// intermediate set, no per-field writes. It shows the floor of a fused
/// `ProduceRequest::emit_messages(topic, partition, payloads)`.
pub fn encode_plain_fused(batches: &[Vec<&[u8]>], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for batch in batches {
        let head = Request::Produce(ProduceRequest::new("bench", 0, &[]));
        let head_len = head.wire_len();
        out.clear();
        out.resize(head_len, 0);
        head.emit(out).expect("sized");
        for p in batch {
            let mut header = [0u8; 10];
            header[..4].copy_from_slice(&(p.len() as u32 + 6).to_be_bytes());
            header[4] = 1;
            header[6..].copy_from_slice(&crc32fast::hash(p).to_be_bytes());
            out.extend_from_slice(&header);
            out.extend_from_slice(p);
        }
        let set_len = out.len() - head_len;
        let frame = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&frame.to_be_bytes());
        out[head_len - 4..head_len].copy_from_slice(&(set_len as u32).to_be_bytes());
        total += out.len();
    }
    total
}

/// A FETCH-response stream decoder that hands out every complete message of a piece from one
/// shallow walk over the piece (zero copy), and assembles only the entry that straddles two
/// pieces. It shows what a batch API on `FetchStream` (say, `decode_all(input, |m| ..)`)
/// would cost per message; it assumes a well-formed response (the real decoder's error
/// handling is not reproduced) and a first piece of at least 6 bytes.
#[derive(Debug)]
pub struct BatchStream {
    carry: Vec<u8>,
    started: bool,
    remaining: usize,
    valid: u64,
    base: u64,
}

impl BatchStream {
    /// A decoder for a fetch at `base`.
    pub fn new(base: u64) -> Self {
        BatchStream {
            carry: Vec::with_capacity(64 * 1024),
            started: false,
            remaining: 0,
            valid: 0,
            base,
        }
    }

    /// Starts over.
    pub fn reset(&mut self, base: u64) {
        self.carry.clear();
        self.started = false;
        self.remaining = 0;
        self.valid = 0;
        self.base = base;
    }

    /// Decodes one piece, calling `each` with every payload that completes in it.
    pub fn feed(&mut self, mut piece: &[u8], mut each: impl FnMut(&[u8])) {
        if !self.started {
            let size = u32::from_be_bytes([piece[0], piece[1], piece[2], piece[3]]) as usize;
            self.remaining = size - 2;
            piece = &piece[6..];
            self.started = true;
        }
        let piece = &piece[..piece.len().min(self.remaining)];
        self.remaining -= piece.len();
        let mut rest = piece;
        if !self.carry.is_empty() {
            // Finish the straddling entry first.
            let have = self.carry.len();
            let need_prefix = 4usize.saturating_sub(have).min(rest.len());
            self.carry.extend_from_slice(&rest[..need_prefix]);
            rest = &rest[need_prefix..];
            if self.carry.len() < 4 {
                return;
            }
            let c = &self.carry;
            let total = 4 + u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize;
            let take = (total - self.carry.len()).min(rest.len());
            self.carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.carry.len() < total {
                return;
            }
            let set = MessageSet::new(&self.carry, self.base + self.valid);
            for m in set.shallow() {
                each(m.expect("valid").message.payload());
            }
            self.valid += total as u64;
            self.carry.clear();
        }
        let lax = kafka07_proto::DecodeOptions::default().lax(true);
        let mut it = MessageSet::new(rest, self.base + self.valid).shallow_with(lax);
        for m in &mut it {
            each(m.expect("lax").message.payload());
        }
        let used = it.position();
        self.valid += used as u64;
        self.carry.extend_from_slice(&rest[used..]);
    }
}
