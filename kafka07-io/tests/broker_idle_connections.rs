//! Thousands of idle connections on one broker (issue #14, item 3): the event loop holds them
//! with a handful of threads and little memory, and normal traffic is served beside them.
//! One test in its own binary, so this process's RSS and thread count are the broker's (and
//! the client sockets', which live in the kernel). The 10,000-connection measurement is
//! `tests/broker_10k_connections.rs` in the root crate (`#[ignore]`, the broker as a child).

mod support;

use std::net::TcpStream;
use std::time::Instant;

use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
use support::*;

fn status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn soft_fd_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
        .unwrap()
}

#[test]
fn three_thousand_idle_connections_cost_little() {
    // Two descriptors a connection (client and broker side) live in this process.
    let limit = soft_fd_limit();
    let n: usize = 3000.min((limit.saturating_sub(200) / 2) as usize);
    if n < 3000 {
        eprintln!("\n*** RLIMIT_NOFILE is {limit}: only {n} connections instead of 3000 ***\n");
    }
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .max_connections(n + 100),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce("t", 0, &plain(&[b"before"])).unwrap();
    c.confirm("t").unwrap();
    let rss0 = status("VmRSS:");
    let threads0 = status("Threads:");
    let started = Instant::now();
    let conns: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(b.local_addr()).unwrap())
        .collect();
    assert!(wait_until(|| b.stats().connections_open as usize > n));
    eprintln!("{n} connections open in {:?}", started.elapsed());
    // Normal traffic beside them.
    let t = Instant::now();
    for i in 0..50 {
        let mut c = Client::connect(b.local_addr()).unwrap();
        c.produce("t", 0, &plain(&[format!("m{i}").as_bytes()]))
            .unwrap();
        c.confirm("t").unwrap();
    }
    let per_round_trip = t.elapsed() / 50;
    let latest = c.offsets("t", 0, OffsetTime::Latest, 1).unwrap()[0];
    let f = c.fetch("t", 0, 0, 1 << 20).unwrap();
    assert_eq!(deep_payloads(&f.data, 0).len(), 51);
    assert_eq!(f.data.len() as u64, latest);
    let rss = status("VmRSS:");
    let threads = status("Threads:");
    eprintln!(
        "{n} idle connections: RSS {} -> {} MiB (+{} KiB, {} bytes a connection), threads \
         {threads0} -> {threads}, connect+produce+confirm {per_round_trip:?} beside them",
        rss0 / 1024,
        rss / 1024,
        rss - rss0,
        (rss - rss0) * 1024 / n as u64
    );
    assert_eq!(b.stats().connections_refused, 0);
    assert!(
        threads <= threads0 + 2,
        "threads grew from {threads0} to {threads}"
    );
    assert!(rss - rss0 < 32 * 1024, "RSS grew by {} KiB", rss - rss0);
    drop(conns);
    assert!(wait_until(|| b.stats().connections_open == 1));
}
