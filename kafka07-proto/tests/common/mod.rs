//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// Bytes from a hex string; spaces, newlines and `_` are ignored.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'_')
        .collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits in {s:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// Path of a file under the workspace's `tests/data/`.
pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(rel)
}

/// Contents of a file under the workspace's `tests/data/`.
pub fn data(rel: &str) -> Vec<u8> {
    let p = data_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Spec §12.3: the magic-1 entry "hello".
pub const HELLO: &str = "0000000b01003610a686 68656c6c6f";
/// Spec §12.3: the magic-1 entry "there".
pub const THERE: &str = "0000000b01005a2fe996 7468657265";
/// Spec §12.3: the JDK 17 gzip stream of the set [hello, there] (30 bytes uncompressed).
pub const GZ_HELLO_THERE: &str =
    "1f8b 0800 0000 0000 00ff 6360 60e0 6664 3013 58d6 9691 9a93 93cf 00e6 46e9 bf9c
     5692 915a 940a 0085 ba71 2c1e 0000 00";
/// Spec §12.3: the gzip wrapper entry holding [`GZ_HELLO_THERE`].
pub fn gzip_wrapper_hello_there() -> Vec<u8> {
    hex(&format!("00000035 01 01 d9f37125 {GZ_HELLO_THERE}"))
}
