//! The 0.7 ZooKeeper layout (spec §10): paths, znode contents, the consumer subscription
//! string, thread ids, the range assignment and the reference `DefaultPartitioner`. Pure
//! functions, no I/O: everything the cluster code writes or parses goes through here.

use std::collections::BTreeMap;
use std::fmt;

/// `/brokers/ids`: one ephemeral child per live broker.
pub const BROKER_IDS: &str = "/brokers/ids";
/// `/brokers/topics`: one persistent child per topic, one ephemeral grandchild per broker.
pub const BROKER_TOPICS: &str = "/brokers/topics";

/// `/brokers/ids/<id>`.
pub fn broker_id_path(id: u32) -> String {
    format!("{BROKER_IDS}/{id}")
}

/// `/brokers/topics/<topic>`.
pub fn topic_path(topic: &str) -> String {
    format!("{BROKER_TOPICS}/{topic}")
}

/// `/brokers/topics/<topic>/<id>`.
pub fn topic_broker_path(topic: &str, id: u32) -> String {
    format!("{BROKER_TOPICS}/{topic}/{id}")
}

/// The paths of one consumer group (`/consumers/<group>/...`, spec §10.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupPaths {
    /// `/consumers/<group>`.
    pub root: String,
}

impl GroupPaths {
    /// The paths of `group`.
    pub fn new(group: &str) -> Self {
        GroupPaths {
            root: format!("/consumers/{group}"),
        }
    }
    /// `/consumers/<group>/ids`.
    pub fn ids(&self) -> String {
        format!("{}/ids", self.root)
    }
    /// `/consumers/<group>/ids/<consumer id>`.
    pub fn id(&self, consumer: &str) -> String {
        format!("{}/ids/{consumer}", self.root)
    }
    /// `/consumers/<group>/owners/<topic>`.
    pub fn owners(&self, topic: &str) -> String {
        format!("{}/owners/{topic}", self.root)
    }
    /// `/consumers/<group>/owners/<topic>/<broker>-<partition>`.
    pub fn owner(&self, topic: &str, p: &BrokerPartition) -> String {
        format!("{}/owners/{topic}/{p}", self.root)
    }
    /// `/consumers/<group>/offsets/<topic>`.
    pub fn offsets(&self, topic: &str) -> String {
        format!("{}/offsets/{topic}", self.root)
    }
    /// `/consumers/<group>/offsets/<topic>/<broker>-<partition>`.
    pub fn offset(&self, topic: &str, p: &BrokerPartition) -> String {
        format!("{}/offsets/{topic}/{p}", self.root)
    }
}

/// A broker's registration (`/brokers/ids/<id>`: `<creator>:<host>:<port>`, spec §10.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// The broker id (the znode's name).
    pub id: u32,
    /// `<host>-<epoch ms at registration>`.
    pub creator: String,
    /// Host (name or IPv4 literal).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl BrokerInfo {
    /// The znode data: `<creator>:<host>:<port>`.
    pub fn encode(&self) -> String {
        format!("{}:{}:{}", self.creator, self.host, self.port)
    }

    /// `host:port`, ready for a connect.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Parses a registration the way the reference does: split on `:` into exactly three
    /// fields (`cluster/Broker.scala:26-29`). A host with a `:` (an IPv6 literal, E37) or a
    /// missing field is an error naming what is wrong, never a panic.
    pub fn parse(id: u32, data: &[u8]) -> Result<BrokerInfo, String> {
        let s = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_owned())?;
        let fields: Vec<&str> = s.split(':').collect();
        if fields.len() != 3 {
            return Err(format!(
                "{:?} has {} ':'-separated fields, not 3 (creator:host:port; an IPv6 host cannot be registered in 0.7)",
                s,
                fields.len()
            ));
        }
        let port: u16 = fields[2]
            .parse()
            .map_err(|_| format!("{s:?}: port {:?} is not a number in 0..=65535", fields[2]))?;
        if fields[1].is_empty() {
            return Err(format!("{s:?}: empty host"));
        }
        Ok(BrokerInfo {
            id,
            creator: fields[0].to_owned(),
            host: fields[1].to_owned(),
            port,
        })
    }
}

/// Parses the data of `/brokers/topics/<topic>/<id>`: the decimal partition count (`>= 1`).
pub fn parse_partition_count(data: &[u8]) -> Result<u32, String> {
    let s = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_owned())?;
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 && n <= i32::MAX as u32 => Ok(n),
        _ => Err(format!(
            "{s:?} is not a partition count (a decimal in 1..=2^31-1)"
        )),
    }
}

/// Parses the data of `/consumers/<g>/offsets/<t>/<b>-<p>`: a decimal byte offset.
pub fn parse_offset(data: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("{:?} is not an offset", String::from_utf8_lossy(data)))
}

/// Parses an offset node as a commit: empty data (a node created before its first commit,
/// as samsa's consumer does with `ensure_path`) is no commit (`Ok(None)`), anything else
/// must be an offset ([`parse_offset`]).
///
/// ```
/// use kafka07_io::zk::parse_committed;
/// assert_eq!(parse_committed(b"1340"), Ok(Some(1340)));
/// assert_eq!(parse_committed(b""), Ok(None));
/// assert!(parse_committed(b"soon").is_err());
/// ```
pub fn parse_committed(data: &[u8]) -> Result<Option<u64>, String> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_offset(data).map(Some)
}

/// A partition's global identity in 0.7: `<broker id>-<partition>` (spec §10.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BrokerPartition {
    /// Broker id.
    pub broker: u32,
    /// Broker-local partition.
    pub partition: u32,
}

impl fmt::Display for BrokerPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.broker, self.partition)
    }
}

impl BrokerPartition {
    /// Parses `<broker>-<partition>`.
    pub fn parse(s: &str) -> Option<BrokerPartition> {
        let (b, p) = s.split_once('-')?;
        Some(BrokerPartition {
            broker: b.parse().ok()?,
            partition: p.parse().ok()?,
        })
    }
}

/// What a consumer subscribes to (spec §10.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// Topics with a stream count each: `{ "t1": 2,"t2": 1 }`.
    Static(BTreeMap<String, u32>),
    /// 0.7.1 whitelist: every topic matching the regex, `streams` streams: `*<n>*<regex>`.
    Whitelist {
        /// Streams (threads) per topic.
        streams: u32,
        /// The regex as written (normalised, see [`normalise_filter`]).
        regex: String,
    },
    /// 0.7.1 blacklist: every topic not matching the regex: `!<n>!<regex>`.
    Blacklist {
        /// Streams (threads) per topic.
        streams: u32,
        /// The regex as written (normalised).
        regex: String,
    },
}

/// The reference's filter normalisation (`consumer/TopicFilter.scala:25-32`): trim, `,` to
/// `|`, spaces removed, leading and trailing quotes stripped.
pub fn normalise_filter(raw: &str) -> String {
    let s = raw.trim().replace(',', "|").replace(' ', "");
    let s = s.strip_prefix('"').unwrap_or(&s);
    let s = s.strip_suffix('"').unwrap_or(s);
    s.to_owned()
}

impl Subscription {
    /// One topic with `streams` streams.
    pub fn topic(topic: &str, streams: u32) -> Self {
        Subscription::Static(BTreeMap::from([(topic.to_owned(), streams)]))
    }

    /// The znode data the reference writes (`consumer/TopicCount.scala:140-152`).
    ///
    /// ```
    /// use kafka07_io::zk::Subscription;
    /// use std::collections::BTreeMap;
    /// let s = Subscription::Static(BTreeMap::from([("t1".into(), 2), ("t2".into(), 1)]));
    /// assert_eq!(s.encode(), r#"{ "t1": 2,"t2": 1 }"#);
    /// assert_eq!(Subscription::Whitelist { streams: 3, regex: "a.*".into() }.encode(), "*3*a.*");
    /// ```
    pub fn encode(&self) -> String {
        match self {
            Subscription::Static(m) => {
                let entries: Vec<String> = m.iter().map(|(t, n)| format!("\"{t}\": {n}")).collect();
                format!("{{ {} }}", entries.join(","))
            }
            Subscription::Whitelist { streams, regex } => format!("*{streams}*{regex}"),
            Subscription::Blacklist { streams, regex } => format!("!{streams}!{regex}"),
        }
    }

    /// Parses a subscription string written by any 0.7 consumer. Garbage is an error naming
    /// what is wrong (the caller reports it with the path and skips that consumer).
    pub fn parse(data: &[u8]) -> Result<Subscription, String> {
        let s = std::str::from_utf8(data).map_err(|_| "not UTF-8".to_owned())?;
        let t = s.trim();
        for (mark, white) in [('*', true), ('!', false)] {
            if let Some(rest) = t.strip_prefix(mark) {
                let (n, regex) = rest
                    .split_once(mark)
                    .ok_or_else(|| format!("{s:?}: wildcard without a second {mark:?}"))?;
                let streams: u32 = n
                    .parse()
                    .map_err(|_| format!("{s:?}: stream count {n:?} is not a number"))?;
                let regex = normalise_filter(regex);
                regex::Regex::new(&regex).map_err(|e| format!("{s:?}: bad regex: {e}"))?;
                return Ok(if white {
                    Subscription::Whitelist { streams, regex }
                } else {
                    Subscription::Blacklist { streams, regex }
                });
            }
        }
        Ok(Subscription::Static(
            parse_static(t).map_err(|e| format!("{s:?}: {e}"))?,
        ))
    }

    /// Stream (thread) count per topic, given the topics that exist now (wildcards are
    /// expanded against them).
    pub fn topic_counts(&self, existing: &[String]) -> BTreeMap<String, u32> {
        match self {
            Subscription::Static(m) => m.clone(),
            Subscription::Whitelist { streams, regex }
            | Subscription::Blacklist { streams, regex } => {
                let white = matches!(self, Subscription::Whitelist { .. });
                let Ok(re) = regex::Regex::new(&format!("^(?:{regex})$")) else {
                    return BTreeMap::new();
                };
                existing
                    .iter()
                    .filter(|t| re.is_match(t) == white)
                    .map(|t| (t.clone(), *streams))
                    .collect()
            }
        }
    }

    /// `true` for whitelist/blacklist subscriptions.
    pub fn is_wildcard(&self) -> bool {
        !matches!(self, Subscription::Static(_))
    }
}

/// The reference reads the static form with a JSON parser whose numbers are Ints: an object
/// of string keys and non-negative integer values, nothing else.
fn parse_static(t: &str) -> Result<BTreeMap<String, u32>, String> {
    let inner = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or("not a { \"topic\": count } object")?
        .trim();
    let mut out = BTreeMap::new();
    if inner.is_empty() {
        return Ok(out);
    }
    for entry in inner.split(',') {
        let (k, v) = entry
            .split_once(':')
            .ok_or_else(|| format!("entry {entry:?} has no ':'"))?;
        let k = k.trim();
        let k = k
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| format!("key {k:?} is not a quoted string"))?;
        if k.is_empty() || k.contains('"') {
            return Err(format!("bad topic {k:?}"));
        }
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("count {:?} is not a non-negative integer", v.trim()))?;
        out.insert(k.to_owned(), n);
    }
    Ok(out)
}

/// The thread ids of a consumer for a topic subscribed with `count` streams:
/// `<consumer id>-0 .. -(count-1)` (spec §10.4).
pub fn thread_ids(consumer: &str, count: u32) -> Vec<String> {
    (0..count).map(|i| format!("{consumer}-{i}")).collect()
}

/// The thread index encoded at the end of a thread id (`...-3` → 3).
pub fn thread_index(thread: &str) -> Option<u32> {
    thread.rsplit_once('-')?.1.parse().ok()
}

/// The reference range assignment (spec §10.5 steps 1-3): `partitions` and `threads` are
/// sorted as strings; thread `i` gets the contiguous range starting at `q·i + min(i, r)` of
/// length `q + (i < r)`. Returns, for every thread, the partitions it owns (in the sorted
/// order; threads without partitions get an empty list).
///
/// ```
/// use kafka07_io::zk::assign_range;
/// // The reference vector (spec §10.5).
/// let parts = ["200-0", "200-1", "300-0", "300-1", "400-0"];
/// let threads = ["group1_consumer1-0", "group1_consumer2-0"];
/// let a = assign_range(&parts, &threads);
/// assert_eq!(a[0].1, ["200-0", "200-1", "300-0"]);
/// assert_eq!(a[1].1, ["300-1", "400-0"]);
/// ```
pub fn assign_range<P: AsRef<str>, T: AsRef<str>>(
    partitions: &[P],
    threads: &[T],
) -> Vec<(String, Vec<String>)> {
    let mut parts: Vec<String> = partitions.iter().map(|p| p.as_ref().to_owned()).collect();
    parts.sort();
    parts.dedup();
    let mut ts: Vec<String> = threads.iter().map(|t| t.as_ref().to_owned()).collect();
    ts.sort();
    ts.dedup();
    if ts.is_empty() {
        return Vec::new();
    }
    let (q, r) = (parts.len() / ts.len(), parts.len() % ts.len());
    ts.into_iter()
        .enumerate()
        .map(|(i, t)| {
            let start = q * i + i.min(r);
            let len = q + usize::from(i < r);
            (t, parts[start..start + len].to_vec())
        })
        .collect()
}

/// Java's `String.hashCode` of the key read as UTF-8 (invalid sequences become U+FFFD, as
/// `new String(bytes, "UTF-8")` does): `s[0]·31^(n-1) + ... + s[n-1]` over UTF-16 units, in
/// wrapping 32-bit arithmetic.
pub fn java_string_hash(key: &[u8]) -> i32 {
    String::from_utf8_lossy(key)
        .encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
}

/// The reference `DefaultPartitioner` (`producer/DefaultPartitioner.scala:20-29`):
/// `abs(key.hashCode) % n`, with Java's `abs(Int.MinValue) == Int.MinValue`, so for that
/// hash the index is negative unless `n` divides 2^31 (E39): returned as is, for the caller's
/// range check to refuse (`InvalidPartitionException`).
///
/// ```
/// use kafka07_io::zk::{default_partition, java_string_hash};
/// assert_eq!(java_string_hash(b"hello"), 99162322);
/// assert_eq!(default_partition(b"hello", 4), 2);
/// // "polygenelubricants" hashes to Int.MinValue in Java (E39):
/// assert_eq!(java_string_hash(b"polygenelubricants"), i32::MIN);
/// assert_eq!(default_partition(b"polygenelubricants", 3), -2);
/// assert_eq!(default_partition(b"polygenelubricants", 4), 0);
/// ```
pub fn default_partition(key: &[u8], n: usize) -> i64 {
    let h = java_string_hash(key);
    let abs = h.wrapping_abs();
    if n == 0 {
        return -1;
    }
    // Java's `%` keeps the dividend's sign.
    i64::from(abs) % n as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_registration_round_trips_and_rejects_garbage() {
        let b = BrokerInfo::parse(7, b"10.0.0.5-1348884000000:10.0.0.5:9092").unwrap();
        assert_eq!(
            b,
            BrokerInfo {
                id: 7,
                creator: "10.0.0.5-1348884000000".into(),
                host: "10.0.0.5".into(),
                port: 9092
            }
        );
        assert_eq!(b.encode(), "10.0.0.5-1348884000000:10.0.0.5:9092");
        assert_eq!(b.addr(), "10.0.0.5:9092");
        assert!(BrokerInfo::parse(1, b"x:h")
            .unwrap_err()
            .contains("2 ':'-separated fields"));
        assert!(BrokerInfo::parse(1, b"c-1:::1:9092")
            .unwrap_err()
            .contains("IPv6"));
        assert!(BrokerInfo::parse(1, b"c:h:99999")
            .unwrap_err()
            .contains("port"));
        assert!(BrokerInfo::parse(1, b"c::9092")
            .unwrap_err()
            .contains("empty host"));
        assert!(BrokerInfo::parse(1, b"\xff:h:1")
            .unwrap_err()
            .contains("UTF-8"));
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset(b"861"), Ok(861));
        assert_eq!(
            parse_offset(b"-1"),
            Err("\"-1\" is not an offset".to_owned())
        );
        assert!(parse_offset(b"x").is_err());
    }

    #[test]
    fn partition_counts() {
        assert_eq!(parse_partition_count(b"4"), Ok(4));
        assert!(parse_partition_count(b"0").is_err());
        assert!(parse_partition_count(b"four").is_err());
        assert!(parse_partition_count(b"-1").is_err());
        assert!(parse_partition_count(b"99999999999").is_err());
    }

    #[test]
    fn subscriptions_parse_every_form() {
        let s = Subscription::parse(br#"{ "t1": 2,"t2": 1 }"#).unwrap();
        assert_eq!(
            s,
            Subscription::Static(BTreeMap::from([("t1".into(), 2), ("t2".into(), 1)]))
        );
        assert_eq!(s.encode(), r#"{ "t1": 2,"t2": 1 }"#);
        assert_eq!(
            Subscription::parse(br#"{"a":1}"#).unwrap(),
            Subscription::topic("a", 1)
        );
        assert_eq!(
            Subscription::parse(b"*2*\"log.*, metrics\"").unwrap(),
            Subscription::Whitelist {
                streams: 2,
                regex: "log.*|metrics".into()
            }
        );
        let black = Subscription::parse(b"!1!tmp.*").unwrap();
        let topics = vec!["tmp1".to_owned(), "orders".to_owned(), "tmpx".to_owned()];
        assert_eq!(
            black.topic_counts(&topics),
            BTreeMap::from([("orders".to_owned(), 1)])
        );
        for bad in [
            &b"garbage"[..],
            b"{ \"t\": x }",
            b"{ t: 1 }",
            b"*x*a",
            b"*1",
            b"*1*(",
            b"\xff",
        ] {
            assert!(Subscription::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn whitelist_matches_whole_names() {
        let w = Subscription::Whitelist {
            streams: 3,
            regex: "log.*|metrics".into(),
        };
        let topics: Vec<String> = ["logs", "metrics", "metrics2", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            w.topic_counts(&topics),
            BTreeMap::from([("logs".to_owned(), 3), ("metrics".to_owned(), 3)])
        );
    }

    #[test]
    fn thread_ids_follow_the_reference() {
        assert_eq!(
            thread_ids("group1_consumer1", 2),
            ["group1_consumer1-0", "group1_consumer1-1"]
        );
        assert_eq!(thread_index("group1_host-1-abc-12"), Some(12));
    }

    #[test]
    fn range_assignment_reference_vector_both_halves() {
        let threads = ["group1_consumer2-0", "group1_consumer1-0"];
        let a = assign_range(&["400-0", "300-1", "200-0", "300-0", "200-1"], &threads);
        assert_eq!(a[0].0, "group1_consumer1-0");
        assert_eq!(a[0].1, ["200-0", "200-1", "300-0"]);
        assert_eq!(a[1].1, ["300-1", "400-0"]);
        // Broker 400 gone.
        let a = assign_range(&["200-0", "200-1", "300-0", "300-1"], &threads);
        assert_eq!(a[0].1, ["200-0", "200-1"]);
        assert_eq!(a[1].1, ["300-0", "300-1"]);
        // Lexicographic, not numeric.
        let a = assign_range(&["10-0", "2-0", "1-10", "1-2"], &["c-0"]);
        assert_eq!(a[0].1, ["1-10", "1-2", "10-0", "2-0"]);
        // More threads than partitions: the last ones get nothing.
        let a = assign_range(&["1-0"], &["c-0", "c-1"]);
        assert_eq!((a[0].1.len(), a[1].1.len()), (1, 0));
    }

    #[test]
    fn java_hash_and_default_partitioner() {
        assert_eq!(java_string_hash(b""), 0);
        assert_eq!(java_string_hash(b"a"), 97);
        // Outside the BMP: two UTF-16 units, as Java counts them.
        assert_eq!(
            java_string_hash("\u{1F600}".as_bytes()),
            0xD83D * 31 + 0xDE00
        );
        assert_eq!(java_string_hash(b"user-17"), -147_182_744);
        assert_eq!(default_partition(b"user-17", 12), 8);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn assignment_covers_every_partition_once(
                brokers in proptest::collection::btree_map(0u32..1000, 1u32..6, 0..6),
                consumers in proptest::collection::btree_map("[a-z]{1,6}", 1u32..4, 1..5),
            ) {
                let parts: Vec<String> = brokers
                    .iter()
                    .flat_map(|(b, n)| (0..*n).map(move |p| format!("{b}-{p}")))
                    .collect();
                let threads: Vec<String> = consumers
                    .iter()
                    .flat_map(|(c, n)| thread_ids(&format!("g_{c}"), *n))
                    .collect();
                let a = assign_range(&parts, &threads);
                let mut owned: Vec<String> = a.iter().flat_map(|(_, p)| p.clone()).collect();
                owned.sort();
                let mut want = parts.clone();
                want.sort();
                prop_assert_eq!(owned, want);
                let sizes: Vec<usize> = a.iter().map(|(_, p)| p.len()).collect();
                let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                prop_assert!(max - min <= 1);
                // Deterministic whatever order each member lists the inputs in.
                let mut rev_threads = threads.clone();
                rev_threads.reverse();
                let mut rev_parts = parts.clone();
                rev_parts.reverse();
                prop_assert_eq!(assign_range(&rev_parts, &rev_threads), a);
            }

            #[test]
            fn default_partition_is_in_range_except_e39(key in proptest::collection::vec(any::<u8>(), 0..40), n in 1usize..64) {
                let i = default_partition(&key, n);
                if java_string_hash(&key) == i32::MIN {
                    prop_assert!(i <= 0);
                } else {
                    prop_assert!((0..n as i64).contains(&i));
                }
            }
        }
    }
}
