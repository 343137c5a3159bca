//! Prototypes of codec changes, measured by the benches against the current code (see
//! BENCHMARKS.md). Nothing here is used by the crates that ship. (The shallow one-pass and
//! batch-stream prototypes were retired once `Shallow` and `FetchStream::decode_all` overtook
//! them; they are in the git history.)

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
