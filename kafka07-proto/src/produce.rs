//! A fused PRODUCE encoder: payloads in, one request frame out, written in one pass straight
//! into the caller's buffer — no list of [`MessageRepr`](crate::MessageRepr)s, no intermediate
//! message set copied into the request, each message header written as one 10-byte store.

use alloc::vec::Vec;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message::{crc32, Codec, Crc, HEADER_V1, LENGTH_PREFIX, MAGIC_1};
use crate::request::{RequestType, Topic};
use crate::wire::{check_fits, MAX_I32, MAX_SHORT};

/// Encodes PRODUCE requests from payloads, reusing its buffers from one request to the next.
///
/// The bytes are exactly those of [`Request::Produce`](crate::Request::Produce) holding
/// [`emit_set`](crate::emit_set) of [`MessageRepr::new`](crate::MessageRepr::new) of each
/// payload — or, for gzip and snappy, of the one wrapper [`wrap`](crate::wrap) makes of them
/// (no wrapper for an empty batch).
///
/// ```
/// use kafka07_proto::{emit_set, Codec, MessageRepr, ProduceEncoder, ProduceRequest, Request};
/// let payloads = [&b"hello"[..], &b"there"[..]];
/// let mut enc = ProduceEncoder::new();
/// let mut out = Vec::new();
/// let n = enc.encode("test", 0, Codec::None, &payloads, &mut out)?;
/// assert_eq!(n, out.len());
///
/// // The same bytes as the general API.
/// let msgs = payloads.map(MessageRepr::new);
/// let mut set = vec![0u8; 30];
/// emit_set(&msgs, &mut set)?;
/// assert_eq!(out, Request::Produce(ProduceRequest::new("test", 0, &set)).to_vec()?);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ProduceEncoder {
    /// The serialized batch, before compression.
    set: Vec<u8>,
    #[cfg(feature = "snappy")]
    snappy: Option<crate::xerial::Compressor>,
}

impl ProduceEncoder {
    /// An encoder with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one PRODUCE request frame for `payloads` (magic-1 messages, CRCs computed) to
    /// `out`, compressed into one wrapper with `codec` unless it is [`Codec::None`]; returns
    /// the bytes appended. On error nothing is appended.
    ///
    /// Errors: `ValueTooLarge` when the topic, a message, the message set or the request do
    /// not fit their fields; `CodecUnavailable` for snappy without the `snappy` feature.
    pub fn encode<'t, P: AsRef<[u8]>>(
        &mut self,
        topic: impl Into<Topic<'t>>,
        partition: i32,
        codec: Codec,
        payloads: &[P],
        out: &mut Vec<u8>,
    ) -> Result<usize> {
        let start = out.len();
        let result = self.encode_at(topic.into(), partition, codec, payloads, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_at<P: AsRef<[u8]>>(
        &mut self,
        topic: Topic<'_>,
        partition: i32,
        codec: Codec,
        payloads: &[P],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<usize> {
        let name = topic.as_bytes();
        check_fits(name.len(), MAX_SHORT)?;
        // size, type id, topic, partition, message-set size; the sizes are patched at the end.
        let head_len = 4 + 2 + 2 + name.len() + 4 + 4;
        if codec == Codec::None {
            out.reserve(head_len + plain_len(payloads));
        }
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&RequestType::Produce.id().to_be_bytes());
        let topic_len: i16 = if topic.is_null() {
            -1
        } else {
            name.len() as i16
        };
        out.extend_from_slice(&topic_len.to_be_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&partition.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        let set_at = out.len();
        match codec {
            Codec::None => append_plain(payloads, out)?,
            _ if payloads.is_empty() => {}
            Codec::Gzip | Codec::Snappy => {
                self.set.clear();
                self.set.reserve(plain_len(payloads));
                append_plain(payloads, &mut self.set)?;
                let header_at = out.len();
                out.extend_from_slice(&[0; LENGTH_PREFIX + HEADER_V1]);
                let payload_at = out.len();
                if codec == Codec::Gzip {
                    crate::gzip::compress(&self.set, out);
                } else {
                    self.snappy(out)?;
                }
                let payload = &out[payload_at..];
                let n = HEADER_V1 + payload.len();
                check_fits(n, MAX_I32)?;
                let header = message_header(n as u32, codec.id(), crc32(payload));
                out[header_at..payload_at].copy_from_slice(&header);
            }
        }
        let set_len = out.len() - set_at;
        check_fits(set_len, MAX_I32)?;
        let body = out.len() - start - 4;
        check_fits(body, MAX_I32)?;
        out[start..start + 4].copy_from_slice(&(body as u32).to_be_bytes());
        out[set_at - 4..set_at].copy_from_slice(&(set_len as u32).to_be_bytes());
        Ok(out.len() - start)
    }

    #[cfg(feature = "snappy")]
    fn snappy(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let c = self
            .snappy
            .get_or_insert_with(crate::xerial::Compressor::new);
        crate::xerial::compress_with(c, &self.set, out);
        Ok(())
    }

    #[cfg(not(feature = "snappy"))]
    fn snappy(&mut self, _out: &mut Vec<u8>) -> Result<()> {
        Err(Error::new(
            ErrorKind::CodecUnavailable(Codec::Snappy.id()),
            Layer::Emit,
            0,
        ))
    }
}

/// Bytes [`append_plain`] writes.
fn plain_len<P: AsRef<[u8]>>(payloads: &[P]) -> usize {
    payloads
        .iter()
        .map(|p| LENGTH_PREFIX + HEADER_V1 + p.as_ref().len())
        .sum()
}

/// The 10 bytes in front of a magic-1 payload: length field `n`, magic, attributes, CRC.
#[inline]
fn message_header(n: u32, attributes: u8, crc: u32) -> [u8; LENGTH_PREFIX + HEADER_V1] {
    let n = n.to_be_bytes();
    let c = crc.to_be_bytes();
    [
        n[0], n[1], n[2], n[3], MAGIC_1, attributes, c[0], c[1], c[2], c[3],
    ]
}

/// Appends a plain magic-1 message per payload (CRC computed), header as one store.
fn append_plain<P: AsRef<[u8]>>(payloads: &[P], out: &mut Vec<u8>) -> Result<()> {
    let crc = Crc::new();
    for p in payloads {
        let p = p.as_ref();
        let n = HEADER_V1 + p.len();
        if n > MAX_I32 {
            return Err(Error::new(
                ErrorKind::ValueTooLarge {
                    length: n as u64,
                    max: MAX_I32 as u64,
                },
                Layer::Emit,
                0,
            ));
        }
        out.extend_from_slice(&message_header(n as u32, Codec::None.id(), crc.hash(p)));
        out.extend_from_slice(p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{emit_set, set_wire_len, wrap, MessageRepr, ProduceRequest, Request};

    /// What the general API writes for the same request.
    fn general(topic: Topic<'_>, codec: Codec, payloads: &[&[u8]]) -> Vec<u8> {
        let msgs: Vec<MessageRepr<&[u8]>> = payloads.iter().map(|p| MessageRepr::new(*p)).collect();
        let set = if codec == Codec::None {
            let mut set = alloc::vec![0u8; set_wire_len(&msgs)];
            emit_set(&msgs, &mut set).unwrap();
            set
        } else {
            match wrap(codec, &msgs).unwrap() {
                Some(w) => w.to_vec().unwrap(),
                None => Vec::new(),
            }
        };
        let mut req = ProduceRequest::new(topic, 7, &set);
        req.topic = topic;
        Request::Produce(req).to_vec().unwrap()
    }

    #[test]
    #[cfg(not(feature = "snappy"))]
    fn snappy_needs_its_feature() {
        let mut out = alloc::vec![1, 2];
        let e = ProduceEncoder::new()
            .encode("t", 0, Codec::Snappy, &[b"x"], &mut out)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::CodecUnavailable(Codec::Snappy.id()));
        assert_eq!(out, [1, 2], "nothing appended on error");
    }

    #[test]
    fn same_bytes_as_the_general_api() {
        let big: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let batches: [&[&[u8]]; 4] = [&[], &[b""], &[b"hello", b"there"], &[&big, b"x", &big]];
        let mut enc = ProduceEncoder::new();
        // Snappy encoding needs the `snappy` feature (see `snappy_needs_its_feature`).
        let codecs: &[Codec] = if cfg!(feature = "snappy") {
            &[Codec::None, Codec::Gzip, Codec::Snappy]
        } else {
            &[Codec::None, Codec::Gzip]
        };
        for &codec in codecs {
            for topic in [Topic::from("test"), Topic::NULL, Topic::from("")] {
                for payloads in batches {
                    let mut out = alloc::vec![0xaa];
                    let n = enc.encode(topic, 7, codec, payloads, &mut out).unwrap();
                    assert_eq!(n, out.len() - 1);
                    assert_eq!(
                        out[1..],
                        general(topic, codec, payloads),
                        "{codec} {topic:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn too_long_topic_appends_nothing() {
        let name = alloc::vec![b'a'; MAX_SHORT + 1];
        let mut out = alloc::vec![1, 2, 3];
        let e = ProduceEncoder::new()
            .encode(&name[..], 0, Codec::None, &[b"x"], &mut out)
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::ValueTooLarge { .. }));
        assert_eq!(out, [1, 2, 3]);
    }
}
