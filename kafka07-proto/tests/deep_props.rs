//! Property tests for deep iteration: random trees of messages and wrappers (mixed codecs,
//! nested up to the limit) encode, then deep-decode to the same payloads with the reference
//! offsets; every cut decodes a prefix; too little scratch is an error naming what it needs.

use kafka07_proto::{compress_set, Codec, DecodeOptions, ErrorKind, MessageRepr, MessageSet};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<u8>),
    Wrap(Codec, Vec<Node>),
}

/// The codecs this build can encode: snappy encoding needs the `snappy` feature.
fn wrapper_codec() -> BoxedStrategy<Codec> {
    if cfg!(feature = "snappy") {
        prop_oneof![Just(Codec::Gzip), Just(Codec::Snappy)].boxed()
    } else {
        Just(Codec::Gzip).boxed()
    }
}

fn arb_node(depth: u32) -> impl Strategy<Value = Node> {
    let leaf = proptest::collection::vec(any::<u8>(), 0..60).prop_map(Node::Leaf);
    leaf.prop_recursive(depth, 48, 5, |inner| {
        (wrapper_codec(), proptest::collection::vec(inner, 0..5))
            .prop_map(|(c, kids)| Node::Wrap(c, kids))
    })
}

/// Encodes a node; returns its entry bytes and the decompressed bytes its wrappers need.
fn encode(n: &Node) -> (Vec<u8>, usize) {
    match n {
        Node::Leaf(p) => (MessageRepr::new(&p[..]).to_vec().unwrap(), 0),
        Node::Wrap(codec, kids) => {
            let parts: Vec<_> = kids.iter().map(encode).collect();
            let set: Vec<u8> = parts.iter().flat_map(|p| p.0.clone()).collect();
            let inner: usize = parts.iter().map(|p| p.1).sum();
            let payload = compress_set(*codec, &set).unwrap();
            let entry = MessageRepr::with_codec(*codec, payload).to_vec().unwrap();
            (entry, set.len() + inner)
        }
    }
}

fn leaves(n: &Node, out: &mut Vec<Vec<u8>>) {
    match n {
        Node::Leaf(p) => out.push(p.clone()),
        Node::Wrap(_, kids) => kids.iter().for_each(|k| leaves(k, out)),
    }
}

fn depth(n: &Node) -> u8 {
    match n {
        Node::Leaf(_) => 0,
        Node::Wrap(_, kids) => 1 + kids.iter().map(depth).max().unwrap_or(0),
    }
}

/// The reference's deep (offset, payload) list for top-level nodes at `base`, and the end
/// position of each top-level entry with the number of messages it yields.
/// Deep (offset, payload) pairs.
type Yielded = Vec<(u64, Vec<u8>)>;

fn expected(nodes: &[Node], base: u64) -> (Yielded, Vec<(usize, usize)>) {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    let mut pos = 0usize;
    for n in nodes {
        let len = encode(n).0.len();
        let mut l = Vec::new();
        leaves(n, &mut l);
        let k = l.len();
        for (i, p) in l.into_iter().enumerate() {
            let off = if i + 1 == k { pos + len } else { pos };
            out.push((base + off as u64, p));
        }
        pos += len;
        ends.push((pos, k));
    }
    (out, ends)
}

fn run(
    set: &[u8],
    base: u64,
    scratch: usize,
    opts: DecodeOptions,
) -> (Vec<(u64, Vec<u8>)>, Option<kafka07_proto::Error>) {
    let mut s = vec![0u8; scratch];
    let mut got = Vec::new();
    for m in MessageSet::new(set, base).deep(&mut s, opts) {
        match m {
            Ok(m) => got.push((m.offset, m.message.payload().to_vec())),
            Err(e) => return (got, Some(e)),
        }
    }
    (got, None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn trees_round_trip_with_reference_offsets(
        nodes in proptest::collection::vec(arb_node(3), 0..6),
        base in 0u64..1 << 40,
    ) {
        let encoded: Vec<_> = nodes.iter().map(encode).collect();
        let set: Vec<u8> = encoded.iter().flat_map(|e| e.0.clone()).collect();
        let need: usize = encoded.iter().map(|e| e.1).sum();
        let max_depth = nodes.iter().map(depth).max().unwrap_or(0).max(1);
        let opts = DecodeOptions::default().max_depth(max_depth);
        let (want, _) = expected(&nodes, base);
        let (got, err) = run(&set, base, need, opts);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&got, &want);
        // The arena variant sizes scratch itself and yields the same.
        let arena = bumpalo::Bump::new();
        let from_arena: Vec<(u64, Vec<u8>)> = MessageSet::new(&set, base)
            .deep_in(&arena, opts)
            .map(|m| m.map(|m| (m.offset, m.message.payload().to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(from_arena, want);
        // One level less than the tree needs is a clean nesting error.
        if max_depth > 1 && nodes.iter().any(|n| depth(n) == max_depth) {
            let (_, err) = run(&set, base, need, opts.max_depth(max_depth - 1));
            let e = err.expect("nesting error");
            prop_assert_eq!(e.kind(), ErrorKind::NestingTooDeep { limit: max_depth - 1 });
        }
    }

    #[test]
    fn every_cut_decodes_a_prefix(
        nodes in proptest::collection::vec(arb_node(2), 1..5),
        cut_frac in 0.0f64..1.0,
    ) {
        let encoded: Vec<_> = nodes.iter().map(encode).collect();
        let set: Vec<u8> = encoded.iter().flat_map(|e| e.0.clone()).collect();
        let need: usize = encoded.iter().map(|e| e.1).sum();
        let cut = (set.len() as f64 * cut_frac) as usize;
        let (want, ends) = expected(&nodes, 0);
        let (got, err) = run(&set[..cut], 0, need, DecodeOptions::default());
        // Complete top-level entries decode fully; a cut one is skipped (or, first, an error).
        let whole: usize = ends.iter().take_while(|(end, _)| *end <= cut).map(|(_, k)| k).sum();
        prop_assert_eq!(&got[..], &want[..whole]);
        if let Some(e) = err {
            prop_assert_eq!(whole, 0);
            let first_cut = matches!(e.kind(), ErrorKind::MessageLargerThanFetch { .. });
            prop_assert!(first_cut, "{}", e);
        }
    }

    #[test]
    fn too_little_scratch_names_what_it_needs(
        nodes in proptest::collection::vec(arb_node(2), 1..5),
        frac in 0.0f64..1.0,
    ) {
        let encoded: Vec<_> = nodes.iter().map(encode).collect();
        let set: Vec<u8> = encoded.iter().flat_map(|e| e.0.clone()).collect();
        let need: usize = encoded.iter().map(|e| e.1).sum();
        prop_assume!(need > 0);
        let scratch = (need as f64 * frac) as usize;
        let (_, err) = run(&set, 0, scratch, DecodeOptions::default());
        let e = err.expect("scratch too small");
        match e.kind() {
            ErrorKind::ScratchExhausted { needed, available } => {
                prop_assert!(needed > available);
                prop_assert!(available as usize <= scratch);
            }
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
