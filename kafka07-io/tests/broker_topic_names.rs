//! Topic names against the file-name limit (issue #14, item 5): the 0.7.2 validator allows
//! 255 UTF-16 units, but `<topic>-<partition>` must fit a 255-byte file name; such names are
//! invalid for every partition and on every storage, not refused late by `mkdir`.

mod support;

use std::net::TcpStream;

use kafka07_io::proto::{Expect, FetchRequest, OffsetsRequest, Request, Response};
use kafka07_io::{Broker, BrokerConfig, Client, OffsetTime};
use support::*;

fn fetch_code(s: &mut TcpStream, topic: &str, partition: i32) -> i16 {
    send(
        s,
        &Request::Fetch(FetchRequest::new(topic, partition, 0, 100))
            .to_vec()
            .unwrap(),
    );
    let frame = read_frame(s).expect("a FETCH response");
    let (Response::Fetch(f), _) = Response::decode(&frame, Expect::Fetch).unwrap() else {
        panic!("not a FETCH response")
    };
    f.error.0
}

fn check(b: &Broker, dir: Option<&std::path::Path>) {
    let ok = "t".repeat(253); // "ttt...-0" is 255 bytes
    let long = "t".repeat(254);
    let wide = "é".repeat(128); // 128 UTF-16 units, 256 bytes
    let mut c = Client::connect(b.local_addr()).unwrap();
    c.produce(&ok, 0, &plain(&[b"fits"])).unwrap();
    c.confirm(&ok).unwrap();
    assert!(c.offsets(&ok, 0, OffsetTime::Latest, 1).unwrap()[0] > 0);
    if let Some(d) = dir {
        assert!(d.join(format!("{ok}-0")).is_dir());
    }
    for bad in [&long, &wide] {
        // FETCH: code -1, as for any invalid name (E20).
        let mut s = raw(b.local_addr());
        assert_eq!(fetch_code(&mut s, bad, 0), -1);
        // OFFSETS: connection closed.
        send(
            &mut s,
            &Request::Offsets(OffsetsRequest::new(bad.as_str(), 0, -1, 1))
                .to_vec()
                .unwrap(),
        );
        assert_closed(&mut s);
        // PRODUCE: connection closed, nothing created.
        let mut c = Client::connect(b.local_addr()).unwrap();
        c.produce(bad, 0, &plain(&[b"x"])).unwrap();
        assert!(c.confirm(&ok).is_err());
    }
    assert_eq!(b.partitions().len(), 1);
}

#[test]
fn names_that_do_not_fit_a_file_name_are_invalid_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).visible_on_append(true)).unwrap();
    check(&b, Some(dir.path()));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn names_that_do_not_fit_a_file_name_are_invalid_in_memory_too() {
    let b = Broker::start(BrokerConfig::in_memory().visible_on_append(true)).unwrap();
    check(&b, None);
}

#[test]
fn the_limit_counts_the_largest_partition_suffix() {
    let name = "p".repeat(253); // "-0" would fit, "-19" does not
    let b = Broker::start(BrokerConfig::in_memory().topic_partitions(&name, 20)).unwrap();
    let mut s = raw(b.local_addr());
    assert_eq!(fetch_code(&mut s, &name, 0), -1);
    assert_eq!(fetch_code(&mut s, &name, 19), -1);
    let short = "p".repeat(252); // "-19": 255 bytes
    let b = Broker::start(BrokerConfig::in_memory().topic_partitions(&short, 20)).unwrap();
    let mut s = raw(b.local_addr());
    assert_eq!(fetch_code(&mut s, &short, 19), 0);
}
