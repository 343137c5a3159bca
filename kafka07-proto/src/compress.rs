//! Encoding compressed wrappers the way the 0.7 Java producer does (spec §4.1): the messages
//! are serialised as a message set, compressed as one stream (gzip, or xerial-framed snappy
//! in 32 KiB blocks), and carried as the payload of one magic-1 message whose attributes name
//! the codec and whose CRC covers the compressed bytes.

use alloc::vec::Vec;

use crate::error::{Error, ErrorKind, Layer, Result};
use crate::message::{Codec, MessageRepr};
use crate::message_set::{emit_set, set_wire_len};

/// Compresses an encoded message set with `codec` and returns the wrapper payload.
///
/// Errors: [`ErrorKind::CodecUnavailable`] for [`Codec::None`], and for snappy when the
/// `snappy` feature is off.
pub fn compress_set(codec: Codec, set: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(set.len() / 2 + 64);
    match codec {
        Codec::Gzip => crate::gzip::compress(set, &mut out),
        #[cfg(feature = "snappy")]
        Codec::Snappy => crate::xerial::compress(set, &mut out),
        other => {
            return Err(Error::new(
                ErrorKind::CodecUnavailable(other.id()),
                Layer::Emit,
                0,
            ))
        }
    };
    Ok(out)
}

/// Wraps `messages` into one compressed wrapper message. An empty run produces no wrapper at
/// all (as the reference does), so the result is `None`.
///
/// ```
/// use kafka07_proto::{wrap, Codec, DecodeOptions, MessageRepr, MessageSet};
/// let msgs = [MessageRepr::new(&b"hello"[..]), MessageRepr::new(&b"there"[..])];
/// let wrapper = wrap(Codec::Gzip, &msgs)?.expect("non-empty run");
/// assert_eq!(wrapper.codec(), Ok(Codec::Gzip));
/// let set = wrapper.to_vec()?;
/// let mut scratch = [0u8; 256];
/// let payloads: Vec<Vec<u8>> = MessageSet::new(&set, 0)
///     .deep(&mut scratch, DecodeOptions::default())
///     .map(|m| m.map(|m| m.message.payload().to_vec()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(payloads, [b"hello".to_vec(), b"there".to_vec()]);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
pub fn wrap<P: AsRef<[u8]>>(
    codec: Codec,
    messages: &[MessageRepr<P>],
) -> Result<Option<MessageRepr<Vec<u8>>>> {
    if messages.is_empty() {
        return Ok(None);
    }
    let mut set = alloc::vec![0u8; set_wire_len(messages)];
    emit_set(messages, &mut set)?;
    let payload = compress_set(codec, &set)?;
    Ok(Some(MessageRepr::with_codec(codec, payload)))
}
