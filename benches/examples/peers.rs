//! kafka07's side of `scripts/bench-peers.sh` (the peers side by side, issue #13 part 3):
//!
//! ```sh
//! peers gen DIR                      # DIR/fetch-m1.bin, fetch-m0.bin, fetch-gzip.bin
//! peers decode FILE SECONDS          # kafka07's decode of one FETCH response, timed
//! peers load HOST:PORT TOPIC N MAGIC # N 100-byte messages into a broker, magic 0 or 1
//! ```
//!
//! The responses are whole FETCH response frames (4-byte size, 2-byte error code, message
//! set) of 10,000 messages of 100 bytes: the first 100 bytes of the JSON-log lines
//! (`benches/data`), cycled. `fetch-m1.bin`: plain magic-1 messages (what 0.7 producers
//! write, 1,100,006 bytes); `fetch-m0.bin`: magic 0 (the only magic some peers read);
//! `fetch-gzip.bin`: magic-1 gzip wrappers of 100 messages each. `decode` prints one JSON
//! line: messages and payload bytes per pass, passes, and messages per second, decoding
//! with every CRC verified and every payload touched.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kafka07_benches::{json_lines, sink};
use kafka07_proto::{
    wrap, Codec, DecodeOptions, DeepCursor, Expect, FetchRequest, MessageRepr, ProduceRequest,
    Request, Response,
};

const COUNT: usize = 10_000;
const SIZE: usize = 100;

fn payloads(n: usize) -> Vec<Vec<u8>> {
    let lines = json_lines();
    (0..n)
        .map(|i| {
            let mut p = lines[i % lines.len()].to_vec();
            p.resize(SIZE, b' ');
            p
        })
        .collect()
}

fn frame(set: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(set.len() + 6);
    out.extend_from_slice(&((set.len() + 2) as u32).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(set);
    out
}

fn set_of(msgs: &[MessageRepr<&[u8]>]) -> Vec<u8> {
    msgs.iter()
        .flat_map(|m| m.to_vec().expect("encodes"))
        .collect()
}

fn gen(dir: &str) {
    let ps = payloads(COUNT);
    let m1: Vec<MessageRepr<&[u8]>> = ps.iter().map(|p| MessageRepr::new(&p[..])).collect();
    let m0: Vec<MessageRepr<&[u8]>> = ps.iter().map(|p| MessageRepr::magic0(&p[..])).collect();
    let mut gz = Vec::new();
    for batch in m1.chunks(100) {
        let w = wrap(Codec::Gzip, batch).expect("wrap").expect("non-empty");
        gz.extend(w.to_vec().expect("encodes"));
    }
    for (name, set) in [
        ("fetch-m1.bin", set_of(&m1)),
        ("fetch-m0.bin", set_of(&m0)),
        ("fetch-gzip.bin", gz),
    ] {
        std::fs::write(format!("{dir}/{name}"), frame(&set)).expect("write");
    }
}

/// One pass: the frame decoded as a FETCH response, its message set iterated deep (so gzip
/// wrappers are decompressed) with every CRC verified; returns (messages, payload bytes).
fn decode_once(resp: &[u8], scratch: &mut [u8]) -> (usize, usize) {
    let (Response::Fetch(f), _) = Response::decode(resp, Expect::Fetch).expect("response") else {
        panic!("not a FETCH response")
    };
    let mut cursor = DeepCursor::new(f.message_set(0), scratch, DecodeOptions::default());
    let (mut n, mut bytes) = (0, 0);
    while let Some(entry) = cursor.next_entry() {
        for m in entry.expect("entry") {
            let m = m.expect("message");
            bytes += sink(m.message.payload()).len();
            n += 1;
        }
    }
    (n, bytes)
}

fn decode(file: &str, seconds: f64) {
    let resp = std::fs::read(file).expect("read");
    let mut scratch = vec![0u8; 1 << 20];
    let (n, bytes) = decode_once(&resp, &mut scratch);
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        assert_eq!(decode_once(sink(&resp), &mut scratch), (n, bytes));
        passes += 1;
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "{{\"decoder\": \"kafka07\", \"messages\": {n}, \"payload_bytes\": {bytes}, \"passes\": {passes}, \"messages_per_s\": {:.0}, \"crc\": \"verified\"}}",
        (n as f64) * passes as f64 / t
    );
}

/// Reads one response frame.
fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("response size");
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).expect("response body");
    body
}

fn load(addr: &str, topic: &str, n: usize, magic: u8) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let ps = payloads(n);
    for batch in ps.chunks(200) {
        let msgs: Vec<MessageRepr<&[u8]>> = batch
            .iter()
            .map(|p| {
                if magic == 0 {
                    MessageRepr::magic0(&p[..])
                } else {
                    MessageRepr::new(&p[..])
                }
            })
            .collect();
        let set = set_of(&msgs);
        let req = Request::Produce(ProduceRequest::new(topic, 0, &set));
        s.write_all(&req.to_vec().expect("encodes")).expect("write");
    }
    // PRODUCE has no response: a FETCH round trip proves the broker processed them all.
    let req = Request::Fetch(FetchRequest::new(topic, 0, 0, 0));
    s.write_all(&req.to_vec().expect("encodes")).expect("write");
    let body = read_frame(&mut s);
    assert_eq!(&body[..2], &[0, 0], "FETCH error code");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") => gen(&args[2]),
        Some("decode") => decode(&args[2], args[3].parse().expect("seconds")),
        Some("load") => load(
            &args[2],
            &args[3],
            args[4].parse().expect("count"),
            args[5].parse().expect("magic"),
        ),
        _ => {
            eprintln!("usage: peers gen DIR | decode FILE SECONDS | load ADDR TOPIC N MAGIC");
            std::process::exit(2);
        }
    }
}
