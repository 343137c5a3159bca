//! Shared helpers for the loopback integration tests.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kafka07_io::proto::{Codec, DecodeOptions, MessageRepr, MessageSet};
use kafka07_io::{Broker, BrokerConfig};

/// Every wait in these tests ends by this.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// An in-memory broker whose appends are visible at once.
pub fn broker() -> Broker {
    Broker::start(BrokerConfig::in_memory().visible_on_append(true)).expect("broker starts")
}

/// The reference's log directory shipped in tests/data.
pub fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/reference")
}

/// A raw socket to the broker with timeouts.
pub fn raw(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Reads one response frame (size included); `None` if the broker closed the connection.
pub fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut size = [0u8; 4];
    if let Err(e) = s.read_exact(&mut size) {
        assert_ne!(
            e.kind(),
            ErrorKind::WouldBlock,
            "timed out waiting for a response"
        );
        assert_ne!(
            e.kind(),
            ErrorKind::TimedOut,
            "timed out waiting for a response"
        );
        return None;
    }
    let n = i32::from_be_bytes(size) as usize;
    let mut out = size.to_vec();
    out.resize(4 + n, 0);
    s.read_exact(&mut out[4..]).ok()?;
    Some(out)
}

/// Asserts the broker closes the connection (EOF or reset) within the timeout.
pub fn assert_closed(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => {}
        Ok(_) => panic!("expected the broker to close the connection, got data"),
        Err(e) => assert!(
            matches!(
                e.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "expected a closed connection, got {e}"
        ),
    }
}

/// Sends raw bytes in one write.
pub fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).expect("write");
}

/// Polls `cond` until it holds or the timeout passes.
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

/// Encoded plain messages.
pub fn plain(payloads: &[&[u8]]) -> Vec<u8> {
    kafka07_io::encode_messages(payloads).unwrap()
}

/// One compressed wrapper of `payloads`.
pub fn wrapped(codec: Codec, payloads: &[&[u8]]) -> Vec<u8> {
    let msgs: Vec<MessageRepr<&[u8]>> = payloads.iter().map(|p| MessageRepr::new(*p)).collect();
    kafka07_io::proto::wrap(codec, &msgs)
        .unwrap()
        .unwrap()
        .to_vec()
        .unwrap()
}

/// Deep payloads of a message set (CRC verified).
pub fn deep_payloads(set: &[u8], base: u64) -> Vec<(u64, Vec<u8>)> {
    let mut scratch = vec![0u8; 1 << 20];
    MessageSet::new(set, base)
        .deep(&mut scratch, DecodeOptions::default())
        .map(|m| {
            let m = m.unwrap();
            (m.offset, m.message.payload().to_vec())
        })
        .collect()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
