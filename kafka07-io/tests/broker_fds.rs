//! File descriptors (issue #14, item 4): partitions do not keep their segment files open (a
//! bounded cache does, reopening on demand), and `max_topics` bounds auto-creation.

mod support;

use kafka07_io::proto::{MultiProduceRequest, Parts, ProduceRequest, Request};
use kafka07_io::{Broker, BrokerConfig, Client, Error, OffsetTime};
use support::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn one_multiproduce_creating_600_topics_keeps_descriptors_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let b = Broker::start(
        BrokerConfig::on_disk(dir.path())
            .visible_on_append(true)
            .max_open_segments(32),
    )
    .unwrap();
    let before = open_fds();
    let set = plain(&[b"m"]);
    let names: Vec<String> = (0..600).map(|i| format!("topic{i:03}")).collect();
    let items: Vec<ProduceRequest<'_>> = names
        .iter()
        .map(|t| ProduceRequest::new(t.as_str(), 0, &set))
        .collect();
    let req = Request::MultiProduce(MultiProduceRequest {
        parts: Parts::from_slice(&items),
    })
    .to_vec()
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    let mut s = raw(b.local_addr());
    send(&mut s, &req);
    c.confirm("topic000").unwrap();
    // Processed once a later request on the same connection is answered.
    send(
        &mut s,
        &Request::Fetch(kafka07_io::proto::FetchRequest::new("topic599", 0, 0, 100))
            .to_vec()
            .unwrap(),
    );
    assert!(read_frame(&mut s).is_some());
    assert_eq!(b.partitions().len(), 600);
    let grown = open_fds().saturating_sub(before);
    let stats = b.stats();
    eprintln!("600 topics: +{grown} descriptors, {stats:?}");
    assert!(grown <= 32 + 8, "{grown} more descriptors for 600 topics");
    assert!(stats.segment_files_open <= 32);
    // Every topic is still readable (its segment reopened on demand) and new clients connect.
    for t in &names {
        let f = Client::connect(b.local_addr())
            .unwrap()
            .fetch(t, 0, 0, 1000)
            .unwrap();
        assert_eq!(
            deep_payloads(&f.data, 0),
            [(set.len() as u64, b"m".to_vec())]
        );
    }
    assert!(open_fds().saturating_sub(before) <= 32 + 8);
    assert!(b.stats().segment_files_opened > 600);
    // Writes after a reopen land where they should.
    c.produce("topic000", 0, &set).unwrap();
    c.confirm("topic000").unwrap();
    assert_eq!(
        c.offsets("topic000", 0, OffsetTime::Latest, 1).unwrap(),
        [2 * set.len() as u64]
    );
    b.shutdown().unwrap();
    let b = Broker::start(BrokerConfig::on_disk(dir.path()).max_open_segments(32)).unwrap();
    assert!(b.startup_report().recovered.is_empty());
    assert_eq!(b.partitions().len(), 600);
}

#[test]
fn max_topics_refuses_new_topics_above_the_limit() {
    let b = Broker::start(
        BrokerConfig::in_memory()
            .visible_on_append(true)
            .max_topics(3),
    )
    .unwrap();
    let mut c = Client::connect(b.local_addr()).unwrap();
    for t in ["a", "b", "c"] {
        c.produce(t, 0, &plain(&[b"x"])).unwrap();
    }
    c.confirm("a").unwrap();
    c.produce("d", 0, &plain(&[b"x"])).unwrap();
    assert!(matches!(
        c.confirm("a"),
        Err(Error::Closed { reset: false, .. })
    ));
    let mut c = Client::connect(b.local_addr()).unwrap();
    assert_eq!(c.offsets("d", 0, OffsetTime::Latest, 1).unwrap(), [0]);
    assert_eq!(b.partitions().len(), 3);
    // Existing topics still take produce.
    c.produce("a", 0, &plain(&[b"y"])).unwrap();
    c.confirm("a").unwrap();
    assert!(c.offsets("a", 0, OffsetTime::Latest, 1).unwrap()[0] > 0);
}
