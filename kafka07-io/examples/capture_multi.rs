//! The MULTIPRODUCE / MULTIFETCH part of the capture session of
//! `scripts/make-snaplen-captures.sh` (the `kafka07` CLI sends neither), through the
//! [`Client`] API, on one connection to the broker given as the first argument
//! (default `127.0.0.1:9092`):
//!
//! 1. OFFSETS `demo`/0 latest, max 1: where the new messages will start;
//! 2. MULTIPRODUCE `demo`/0 ("multi one", "multi two") and `other`/0 ("other one");
//! 3. the delivery check (an empty FETCH);
//! 4. MULTIFETCH `demo`/0 from the offset of step 1 and `other`/0 from 0, 1 MiB each.
//!
//! It prints what the MULTIFETCH returned, one `topic:partition payload` line per message.

use std::net::SocketAddr;

use kafka07_io::proto::ProduceRequest;
use kafka07_io::{encode_messages, Client, FetchSpec, OffsetTime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9092".into())
        .parse()?;
    let mut client = Client::connect(addr)?;
    let start = client
        .offsets("demo", 0, OffsetTime::Latest, 1)?
        .first()
        .copied()
        .unwrap_or(0);
    let demo = encode_messages(&["multi one", "multi two"])?;
    let other = encode_messages(&["other one"])?;
    client.multiproduce(&[
        ProduceRequest::new("demo", 0, &demo),
        ProduceRequest::new("other", 0, &other),
    ])?;
    client.confirm("demo")?;
    let parts = client.multifetch(&[
        FetchSpec::new("demo", 0, start, 1 << 20),
        FetchSpec::new("other", 0, 0, 1 << 20),
    ])?;
    for part in &parts {
        for payload in part.payloads()? {
            println!(
                "{}:{} {}",
                part.topic,
                part.partition,
                String::from_utf8_lossy(&payload)
            );
        }
    }
    Ok(())
}
