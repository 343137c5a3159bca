//! A `no_std`, no-alloc consumer of kafka07-proto: decodes a FETCH response holding a plain
//! message, a gzip wrapper and a snappy wrapper (spec §12.3 vectors), deep, with stack scratch.
#![no_std]

use kafka07_proto::{DecodeOptions, Expect, MessageSet, Response};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Spec §12.3: FETCH response body of [hello, gzip wrapper of [hello, there], xerial snappy
/// wrapper of [hello, there]], framed.
static RESPONSE: [u8; 6 + 15 + 57 + 62] = {
    let body: [u8; 15 + 57 + 62] = *b"\x00\x00\x00\x0b\x01\x00\x36\x10\xa6\x86hello\
\x00\x00\x00\x35\x01\x01\xd9\xf3\x71\x25\
\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x63\x60\x60\xe0\x66\x64\x30\x13\x58\xd6\x96\x91\x9a\x93\x93\xcf\x00\xe6\x46\xe9\xbf\x9c\x56\x92\x91\x5a\x94\x0a\x00\x85\xba\x71\x2c\x1e\x00\x00\x00\
\x00\x00\x00\x3a\x01\x02\x50\x7f\xed\x60\
\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x20\x1e\x74\
\x00\x00\x00\x0b\x01\x00\x36\x10\xa6\x86hello\
\x00\x00\x00\x0b\x01\x00\x5a\x2f\xe9\x96there";
    let mut out = [0u8; 6 + 15 + 57 + 62];
    let size = (2 + body.len()) as u32;
    let s = size.to_be_bytes();
    out[0] = s[0];
    out[1] = s[1];
    out[2] = s[2];
    out[3] = s[3];
    let mut i = 0;
    while i < body.len() {
        out[6 + i] = body[i];
        i += 1;
    }
    out
};

/// Returns the number of messages decoded (5), or 0 on any error.
#[no_mangle]
pub extern "C" fn kafka07_nostd_check() -> u32 {
    let Ok((Response::Fetch(f), _)) = Response::decode(&RESPONSE, Expect::Fetch) else {
        return 0;
    };
    let mut scratch = [0u8; 256];
    let mut n = 0;
    for m in MessageSet::new(f.messages, 0).deep(&mut scratch, DecodeOptions::default()) {
        match m {
            Ok(_) => n += 1,
            Err(_) => return 0,
        }
    }
    n
}
