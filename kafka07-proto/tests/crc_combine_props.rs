//! Property tests for deep gzip decoding with the member trailer CRC computed by CRC
//! combination (long payloads hashed once, joined into the trailer check): random trees of
//! messages with short and long payloads, random corruptions of any byte of a member's
//! content, random cuts of the content.
//!
//! * A member whose content differs from what its trailer describes in any byte is the gzip
//!   `CrcMismatch`, with the stored and the directly computed CRC, at the trailer's position,
//!   before any of its messages is yielded, under every CRC policy.
//! * A consistent member (trailer recomputed over corrupted or cut content) decodes to messages
//!   whose CRC status is the one a direct check of each message gives (`Report`), and `Verify`
//!   yields only messages whose CRC a direct check confirms, failing at a mismatch.

use kafka07_proto::gzip::{self, GzipErrorKind};
use kafka07_proto::{
    compress_set, Codec, CrcPolicy, CrcStatus, DecodeOptions, ErrorKind, Layer, MessageRepr,
    MessageSet,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<u8>),
    Wrap(Vec<Node>),
}

/// Payloads around the combination threshold (256 bytes) and well past it.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(any::<u8>(), 240..300),
        proptest::collection::vec(any::<u8>(), 300..3000),
    ]
}

fn arb_node() -> impl Strategy<Value = Node> {
    payload()
        .prop_map(Node::Leaf)
        .prop_recursive(2, 24, 4, |inner| {
            proptest::collection::vec(inner, 0..4).prop_map(Node::Wrap)
        })
}

fn entry(n: &Node) -> Vec<u8> {
    match n {
        Node::Leaf(p) => MessageRepr::new(&p[..]).to_vec().unwrap(),
        Node::Wrap(kids) => {
            let set: Vec<u8> = kids.iter().flat_map(entry).collect();
            let payload = compress_set(Codec::Gzip, &set).unwrap();
            MessageRepr::with_codec(Codec::Gzip, payload)
                .to_vec()
                .unwrap()
        }
    }
}

/// A top-level gzip wrapper whose member inflates to `content` and whose trailer says
/// `trailer_crc`, `trailer_len`. Returns the entry and where the trailer starts in it.
fn wrapper(content: &[u8], trailer_crc: u32, trailer_len: u32) -> (Vec<u8>, usize) {
    let mut gz = Vec::new();
    gzip::compress(content, &mut gz);
    let n = gz.len();
    gz[n - 8..n - 4].copy_from_slice(&trailer_crc.to_le_bytes());
    gz[n - 4..].copy_from_slice(&trailer_len.to_le_bytes());
    let e = MessageRepr::with_codec(Codec::Gzip, &gz[..])
        .to_vec()
        .unwrap();
    // Magic 1 header: 4-byte length, magic, attributes, 4-byte CRC.
    (e, 10 + n - 8)
}

/// Per yielded message: its payload, its CRC status, and a direct check of its CRC.
type Outcome = (
    Vec<(Vec<u8>, CrcStatus, CrcStatus)>,
    Option<kafka07_proto::Error>,
);

fn deep(set: &[u8], policy: CrcPolicy) -> Outcome {
    let mut scratch = vec![0u8; 1 << 20];
    let opts = DecodeOptions::default().crc(policy);
    let mut got = Vec::new();
    for m in MessageSet::new(set, 0).deep(&mut scratch, opts) {
        match m {
            Ok(m) => got.push((m.message.payload().to_vec(), m.crc, m.message.check_crc())),
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

fn set_of(nodes: &[Node]) -> Vec<u8> {
    nodes.iter().flat_map(entry).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_corrupted_byte_of_a_member_is_its_trailer_mismatch(
        nodes in proptest::collection::vec(arb_node(), 1..6),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        policy in prop_oneof![Just(CrcPolicy::Verify), Just(CrcPolicy::Report), Just(CrcPolicy::Skip)],
    ) {
        let content = set_of(&nodes);
        let i = at.index(content.len());
        let mut corrupt = content.clone();
        corrupt[i] ^= flip;
        let (set, trailer_at) =
            wrapper(&corrupt, crc32fast::hash(&content), content.len() as u32);
        let (got, err) = deep(&set, policy);
        prop_assert!(got.is_empty());
        let e = err.expect("a corrupted member is an error");
        prop_assert_eq!(
            e.kind(),
            ErrorKind::Gzip(GzipErrorKind::CrcMismatch {
                stored: crc32fast::hash(&content),
                computed: crc32fast::hash(&corrupt),
            })
        );
        prop_assert_eq!((e.layer(), e.offset(), e.depth()), (Layer::Gzip, trailer_at as u64, 0));
    }

    #[test]
    fn a_wrong_size_with_a_wrong_crc_is_still_the_crc_mismatch(
        nodes in proptest::collection::vec(arb_node(), 1..4),
        at in any::<prop::sample::Index>(),
    ) {
        let content = set_of(&nodes);
        let i = at.index(content.len());
        let mut corrupt = content.clone();
        corrupt[i] ^= 0x5a;
        let (set, trailer_at) =
            wrapper(&corrupt, crc32fast::hash(&content), content.len() as u32 + 1);
        let (_, err) = deep(&set, CrcPolicy::Verify);
        let e = err.expect("error");
        prop_assert!(matches!(e.kind(), ErrorKind::Gzip(GzipErrorKind::CrcMismatch { .. })), "{}", e);
        prop_assert_eq!(e.offset(), trailer_at as u64);
        // With the right CRC, the size is what is wrong.
        let (set, trailer_at) =
            wrapper(&corrupt, crc32fast::hash(&corrupt), corrupt.len() as u32 + 1);
        let e = deep(&set, CrcPolicy::Verify).1.expect("error");
        prop_assert!(matches!(e.kind(), ErrorKind::Gzip(GzipErrorKind::SizeMismatch { .. })), "{}", e);
        prop_assert_eq!(e.offset(), trailer_at as u64 + 4);
    }

    #[test]
    fn crc_statuses_are_those_of_a_direct_check(
        nodes in proptest::collection::vec(arb_node(), 1..6),
        corruptions in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..3),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut content = set_of(&nodes);
        for (at, flip) in &corruptions {
            let i = at.index(content.len());
            content[i] ^= flip;
        }
        if do_cut {
            content.truncate(cut.index(content.len() + 1));
        }
        // A member consistent with its (corrupted, cut) content: only messages can fail.
        let (set, _) = wrapper(&content, crc32fast::hash(&content), content.len() as u32);
        let (report, report_err) = deep(&set, CrcPolicy::Report);
        for (_, status, direct) in &report {
            prop_assert_eq!(status, direct);
        }
        let (verify, verify_err) = deep(&set, CrcPolicy::Verify);
        // Verify yields a prefix of what Report yields, every message of it valid by a direct
        // check; a mismatch Report shows at message k stops Verify before k (the read-ahead
        // rule: the error replaces message k - 1). A nested wrapper with a wrong CRC (Report
        // does not yield wrappers) can stop Verify earlier.
        prop_assert!(verify.len() <= report.len());
        prop_assert_eq!(&verify[..], &report[..verify.len()]);
        for (_, status, direct) in &verify {
            prop_assert_eq!((*status, *direct), (CrcStatus::Valid, CrcStatus::Valid));
        }
        if let Some(k) = report.iter().position(|(_, s, _)| !s.is_ok()) {
            prop_assert!(verify.len() <= k.saturating_sub(1));
            prop_assert!(verify_err.is_some());
        }
        match verify_err {
            None => {
                prop_assert_eq!(verify.len(), report.len());
                prop_assert!(report_err.is_none());
            }
            Some(e) => {
                if let ErrorKind::CrcMismatch { stored, computed } = e.kind() {
                    prop_assert_ne!(stored, computed);
                }
            }
        }
    }
}
