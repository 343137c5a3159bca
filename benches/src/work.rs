//! The measured work itself, shared by the bench files: our decoders as a user calls them, and
//! the physical baselines they are set against. Every function returns a value derived from
//! all it read (payload bytes seen, or a CRC), for the caller to pass to [`crate::sink`].

use kafka07_proto::{
    gzip, xerial, CrcPolicy, DecodeOptions, DeepCursor, Expect, FetchStream, MessageSet, Response,
    StreamEvent,
};
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};

/// `Response::decode` of a FETCH response and a shallow walk of its message set under
/// `policy`; returns the payload bytes seen.
///
/// # Panics
/// On anything but a valid FETCH response (the benches build their inputs).
pub fn shallow(resp: &[u8], policy: CrcPolicy) -> usize {
    let Ok((Response::Fetch(fetch), _)) = Response::decode(resp, Expect::Fetch) else {
        panic!("not a fetch response");
    };
    let opts = DecodeOptions::default().crc(policy);
    let mut n = 0;
    for m in fetch.message_set(0).shallow_with(opts) {
        n += m.expect("valid").message.payload().len();
    }
    n
}

/// crc32fast over every payload range of the message set starting at `resp[6..]`, one call
/// each (the ranges are found beforehand, outside the timed work).
pub fn crc_per_payload(resp: &[u8], ranges: &[(usize, usize)]) -> u32 {
    let set = &resp[6..];
    ranges
        .iter()
        .fold(0, |acc, &(s, e)| acc ^ crc32fast::hash(&set[s..e]))
}

/// `FetchStream::decode_all` fed `resp` in `piece`-byte pieces; returns the payload bytes seen.
///
/// # Panics
/// On a decode error, or if the response does not end.
pub fn stream_all(resp: &[u8], piece: usize, dec: &mut FetchStream<Vec<u8>>) -> usize {
    dec.reset(0);
    let mut n = 0;
    for piece in resp.chunks(piece) {
        dec.decode_all(piece, |event| {
            if let StreamEvent::Message(m) = event {
                n += m.message.payload().len();
            }
        })
        .expect("valid");
    }
    assert!(dec.is_done());
    n
}

/// Deep iteration with `DeepCursor` (scratch reused per top-level entry) under `opts`;
/// returns the payload bytes seen.
///
/// # Panics
/// On a decode error.
pub fn deep_cursor(set: &[u8], scratch: &mut [u8], opts: DecodeOptions) -> usize {
    let mut cursor = DeepCursor::new(MessageSet::new(set, 0), scratch, opts);
    let mut n = 0;
    while let Some(entry) = cursor.next_entry() {
        for m in entry.expect("valid") {
            n += m.expect("valid").message.payload().len();
        }
    }
    n
}

/// The payloads of a set's top-level messages (the wrappers' compressed bytes).
///
/// # Panics
/// On an invalid set.
pub fn wrapper_payloads(set: &[u8]) -> Vec<&[u8]> {
    MessageSet::new(set, 0)
        .shallow()
        .map(|m| m.expect("valid").message.payload())
        .collect()
}

/// Raw miniz_oxide inflate of each gzip member's deflate data (fixed 10-byte header, as our
/// encoder writes), plus crc32fast over its output: the work a gzip reader cannot avoid.
pub fn inflate_and_crc(members: &[&[u8]], state: &mut DecompressorOxide, out: &mut [u8]) -> u32 {
    let mut acc = 0;
    for m in members {
        let body = &m[gzip::FIXED_HEADER_LEN..m.len() - gzip::TRAILER_LEN];
        state.init();
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        let (_, _, n) = decompress(state, body, out, 0, flags);
        acc ^= crc32fast::hash(&out[..n]);
    }
    acc
}

/// The raw snappy blocks inside xerial-framed payloads.
pub fn snappy_blocks(payloads: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in payloads {
        let mut pos = xerial::HEADER_LEN;
        while let Some(len) = p.get(pos..pos + 4) {
            let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            out.push(p[pos + 4..pos + 4 + n].to_vec());
            pos += 4 + n;
        }
    }
    out
}

/// Raw `snap` decompression of each block; returns the bytes produced.
///
/// # Panics
/// On an invalid block.
pub fn snap_blocks(blocks: &[Vec<u8>], dec: &mut snap::raw::Decoder, out: &mut [u8]) -> usize {
    blocks
        .iter()
        .map(|b| dec.decompress(b, out).expect("valid"))
        .sum()
}
