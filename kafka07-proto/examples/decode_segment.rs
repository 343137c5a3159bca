//! Decodes a Kafka 0.7 log segment (or any raw message set) the way a consumer would read it:
//! deep, with the reference offsets, CRCs reported rather than fatal, and the valid prefix and
//! any torn tail reported as the broker's recovery would see them.
//!
//! ```text
//! cargo run -p kafka07-proto --example decode_segment -- tests/data/reference/MagicByte0-0/00000000000000000000.kafka
//! ```

use kafka07_proto::{CrcPolicy, DecodeOptions, DeepCursor, MessageSet, Stop};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: decode_segment FILE [BASE_OFFSET]")?;
    let bytes = std::fs::read(&path)?;
    // A segment file is named after its start offset; a different base can be given.
    let base: u64 = match std::env::args().nth(2) {
        Some(b) => b.parse()?,
        None => std::path::Path::new(&path)
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    };
    let opts = DecodeOptions::default().crc(CrcPolicy::Report).lax(true);
    let mut scratch = vec![0u8; 16 << 20];
    let mut cursor = DeepCursor::new(MessageSet::new(&bytes, base), &mut scratch, opts);
    let (mut count, mut bad_crc) = (0u64, 0u64);
    while let Some(entry) = cursor.next_entry() {
        for m in entry? {
            let m = m?;
            count += 1;
            if !m.crc.is_ok() {
                bad_crc += 1;
            }
            if count <= 3 {
                let p = m.message.payload();
                let preview = String::from_utf8_lossy(&p[..p.len().min(24)]);
                println!(
                    "offset {:>8}  next {:>8}  magic {}  codec {:<6}  crc {:?}  {} bytes  {preview:?}",
                    m.position,
                    m.offset,
                    m.message.magic(),
                    m.message.codec().name(),
                    m.crc,
                    p.len()
                );
            }
        }
    }
    if count > 3 {
        println!("... {} more", count - 3);
    }
    let valid = cursor.position();
    println!(
        "{path}: {count} messages, {bad_crc} with a bad CRC, valid bytes {valid} of {}, next offset {}",
        bytes.len(),
        base + valid as u64
    );
    match cursor.stop() {
        Stop::End => println!("ends cleanly"),
        other => println!("torn tail: {other:?}"),
    }
    Ok(())
}
