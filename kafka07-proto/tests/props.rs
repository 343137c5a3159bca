//! Property tests: round trips for every repr (emit → parse → equal; parse → emit → same
//! bytes), iterator properties, and "never panics" on cut and mutated input.

use kafka07_proto::{
    emit_set, CrcPolicy, DecodeOptions, ErrorCode, Expect, FetchRequest, FetchResponse,
    FetchStream, MessageRepr, MessageSet, MultiFetchRequest, MultiFetchResponse,
    MultiProduceRequest, OffsetsRequest, OffsetsResponse, Parts, ProduceRequest, Request, Response,
    StreamEvent,
};
use proptest::prelude::*;

fn arb_message() -> impl Strategy<Value = MessageRepr<Vec<u8>>> + Clone {
    (
        0u8..=1,
        any::<u8>().prop_filter("codec 3 is invalid", |a| a & 3 != 3),
        proptest::option::of(any::<u32>()),
        proptest::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(magic, attributes, crc, payload)| {
            let mut m = if magic == 0 {
                MessageRepr::magic0(payload)
            } else {
                MessageRepr::new(payload)
            };
            if magic == 1 {
                m.attributes = attributes;
            }
            if let Some(c) = crc {
                m.crc = c;
            }
            m
        })
}

fn arb_set() -> impl Strategy<Value = Vec<MessageRepr<Vec<u8>>>> + Clone {
    proptest::collection::vec(arb_message(), 0..12)
}

fn encode_set(msgs: &[MessageRepr<Vec<u8>>]) -> Vec<u8> {
    let mut buf = vec![0u8; kafka07_proto::set_wire_len(msgs)];
    let n = emit_set(msgs, &mut buf).unwrap();
    assert_eq!(n, buf.len());
    buf
}

fn arb_topic() -> impl Strategy<Value = String> + Clone {
    "[a-zA-Z0-9._-]{0,24}"
}

#[derive(Debug, Clone)]
enum OwnedRequest {
    Produce(String, i32, Vec<u8>),
    Fetch(String, i32, i64, i32),
    MultiFetch(Vec<(String, i32, i64, i32)>),
    MultiProduce(Vec<(String, i32, Vec<u8>)>),
    Offsets(String, i32, i64, i32),
}

fn arb_request() -> impl Strategy<Value = OwnedRequest> {
    let fetch = (arb_topic(), any::<i32>(), any::<i64>(), any::<i32>());
    let produce = (
        arb_topic(),
        any::<i32>(),
        arb_set().prop_map(|s| encode_set(&s)),
    );
    prop_oneof![
        produce
            .clone()
            .prop_map(|(t, p, m)| OwnedRequest::Produce(t, p, m)),
        fetch
            .clone()
            .prop_map(|(t, p, o, m)| OwnedRequest::Fetch(t, p, o, m)),
        proptest::collection::vec(fetch.clone(), 0..5).prop_map(OwnedRequest::MultiFetch),
        proptest::collection::vec(produce, 0..4).prop_map(OwnedRequest::MultiProduce),
        fetch.prop_map(|(t, p, o, m)| OwnedRequest::Offsets(t, p, o, m)),
    ]
}

/// Encodes an owned request through the borrowed reprs.
fn encode_request(r: &OwnedRequest) -> Vec<u8> {
    match r {
        OwnedRequest::Produce(t, p, m) => {
            Request::Produce(ProduceRequest::new(t.as_str(), *p, m)).to_vec()
        }
        OwnedRequest::Fetch(t, p, o, m) => {
            Request::Fetch(FetchRequest::new(t.as_str(), *p, *o, *m)).to_vec()
        }
        OwnedRequest::Offsets(t, p, o, m) => {
            Request::Offsets(OffsetsRequest::new(t.as_str(), *p, *o, *m)).to_vec()
        }
        OwnedRequest::MultiFetch(v) => {
            let parts: Vec<_> = v
                .iter()
                .map(|(t, p, o, m)| FetchRequest::new(t.as_str(), *p, *o, *m))
                .collect();
            Request::MultiFetch(MultiFetchRequest {
                parts: Parts::from_slice(&parts),
            })
            .to_vec()
        }
        OwnedRequest::MultiProduce(v) => {
            let parts: Vec<_> = v
                .iter()
                .map(|(t, p, m)| ProduceRequest::new(t.as_str(), *p, m))
                .collect();
            Request::MultiProduce(MultiProduceRequest {
                parts: Parts::from_slice(&parts),
            })
            .to_vec()
        }
    }
    .unwrap()
}

/// Checks a parsed request field by field against what was encoded.
fn check_request(parsed: &Request, want: &OwnedRequest) {
    match (parsed, want) {
        (Request::Produce(p), OwnedRequest::Produce(t, part, m)) => {
            assert_eq!(
                (p.topic.as_bytes(), p.partition, p.messages),
                (t.as_bytes(), *part, &m[..])
            );
        }
        (Request::Fetch(f), OwnedRequest::Fetch(t, p, o, m)) => {
            let got = (f.topic.as_bytes(), f.partition, f.offset, f.max_size);
            assert_eq!(got, (t.as_bytes(), *p, *o, *m));
        }
        (Request::Offsets(f), OwnedRequest::Offsets(t, p, o, m)) => {
            let got = (f.topic.as_bytes(), f.partition, f.time, f.max_offsets);
            assert_eq!(got, (t.as_bytes(), *p, *o, *m));
        }
        (Request::MultiFetch(mf), OwnedRequest::MultiFetch(v)) => {
            let got: Vec<_> = mf
                .parts
                .iter()
                .map(|f| {
                    (
                        f.topic.as_bytes().to_vec(),
                        f.partition,
                        f.offset,
                        f.max_size,
                    )
                })
                .collect();
            let want: Vec<_> = v
                .iter()
                .map(|(t, p, o, m)| (t.as_bytes().to_vec(), *p, *o, *m))
                .collect();
            assert_eq!(got, want);
        }
        (Request::MultiProduce(mp), OwnedRequest::MultiProduce(v)) => {
            let got: Vec<_> = mp
                .parts
                .iter()
                .map(|p| {
                    (
                        p.topic.as_bytes().to_vec(),
                        p.partition,
                        p.messages.to_vec(),
                    )
                })
                .collect();
            let want: Vec<_> = v
                .iter()
                .map(|(t, p, m)| (t.as_bytes().to_vec(), *p, m.clone()))
                .collect();
            assert_eq!(got, want);
        }
        _ => {
            panic!("type mismatch: {parsed:?} vs {want:?}")
        }
    }
}

fn shallow_all(bytes: &[u8], base: u64, opts: DecodeOptions) -> Vec<(u64, u64, Vec<u8>)> {
    MessageSet::new(bytes, base)
        .shallow_with(opts)
        .map(|m| {
            let m = m.unwrap();
            (m.position, m.offset, m.message.payload().to_vec())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn message_emit_parse_equal(m in arb_message()) {
        let bytes = m.to_vec().unwrap();
        prop_assert_eq!(bytes.len(), m.wire_len());
        let (parsed, used) = MessageRepr::parse(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(parsed, m.as_borrowed());
        prop_assert_eq!(parsed.to_vec().unwrap(), bytes);
    }

    #[test]
    fn set_offsets_increase_and_end_at_valid_bytes(msgs in arb_set(), base in 0u64..1 << 40) {
        let bytes = encode_set(&msgs);
        let got = shallow_all(&bytes, base, DecodeOptions::default().crc(CrcPolicy::Skip));
        prop_assert_eq!(got.len(), msgs.len());
        let mut prev = base;
        for ((pos, off, payload), m) in got.iter().zip(&msgs) {
            prop_assert_eq!(*pos, prev);
            prop_assert!(*off > prev);
            prop_assert_eq!(*off - *pos, m.wire_len() as u64);
            prop_assert_eq!(payload, &m.payload);
            prev = *off;
        }
        let valid = MessageSet::new(&bytes, base)
            .valid_bytes_with(DecodeOptions::default().crc(CrcPolicy::Skip))
            .unwrap();
        prop_assert_eq!(valid, bytes.len());
        prop_assert_eq!(prev, base + valid as u64);
    }

    #[test]
    fn set_cut_anywhere_yields_a_prefix(msgs in arb_set(), cut_frac in 0.0f64..=1.0) {
        let bytes = encode_set(&msgs);
        let cut = (bytes.len() as f64 * cut_frac) as usize;
        let opts = DecodeOptions::default().crc(CrcPolicy::Skip);
        let full = shallow_all(&bytes, 0, opts);
        let mut got = Vec::new();
        let set = MessageSet::new(&bytes[..cut], 0);
        let mut errored = false;
        for m in set.shallow_with(opts) {
            match m {
                Ok(m) => got.push((m.position, m.offset, m.message.payload().to_vec())),
                Err(e) => {
                    // Only a cut first entry is an error.
                    prop_assert!(got.is_empty());
                    let first_cut =
                        matches!(e.kind(), kafka07_proto::ErrorKind::MessageLargerThanFetch { .. });
                    prop_assert!(first_cut, "{}", e);
                    errored = true;
                }
            }
        }
        prop_assert!(got.len() <= full.len());
        prop_assert_eq!(&full[..got.len()], &got[..]);
        if !errored && got.len() < full.len() {
            // Everything that was whole came out.
            prop_assert!(full[got.len()].1 > cut as u64);
        }
    }

    #[test]
    fn requests_round_trip(r in arb_request()) {
        let bytes = encode_request(&r);
        let (parsed, used) = Request::decode(&bytes).unwrap();
        prop_assert_eq!(used, bytes.len());
        check_request(&parsed, &r);
        prop_assert_eq!(parsed.to_vec().unwrap(), bytes);
    }

    #[test]
    fn responses_round_trip(
        sets in proptest::collection::vec((any::<i16>(), arb_set()), 0..5),
        offsets in proptest::collection::vec(any::<i64>(), 0..20),
        err in any::<i16>(),
    ) {
        let encoded: Vec<(i16, Vec<u8>)> = sets.iter().map(|(e, s)| (*e, encode_set(s))).collect();
        // FETCH
        for (e, m) in &encoded {
            let r = Response::Fetch(FetchResponse { error: ErrorCode(*e), messages: m });
            let b = r.to_vec().unwrap();
            let (p, _) = Response::decode(&b, Expect::Fetch).unwrap();
            prop_assert_eq!(p, r);
            prop_assert_eq!(p.to_vec().unwrap(), b);
        }
        // MULTIFETCH
        let parts: Vec<_> = encoded
            .iter()
            .map(|(e, m)| FetchResponse { error: ErrorCode(*e), messages: m })
            .collect();
        let r = Response::MultiFetch(MultiFetchResponse { error: ErrorCode(err), parts: Parts::from_slice(&parts) });
        let b = r.to_vec().unwrap();
        let (p, _) = Response::decode(&b, Expect::MultiFetch(parts.len() as u16)).unwrap();
        prop_assert_eq!(p, r);
        prop_assert_eq!(p.to_vec().unwrap(), b);
        // OFFSETS
        let r = Response::Offsets(OffsetsResponse { error: ErrorCode(err), offsets: Parts::from_slice(&offsets) });
        let b = r.to_vec().unwrap();
        let (p, _) = Response::decode(&b, Expect::Offsets).unwrap();
        prop_assert_eq!(p, r);
        prop_assert_eq!(p.to_vec().unwrap(), b);
    }

    /// Mutated encodings: whatever is accepted re-encodes to the same bytes; nothing panics.
    #[test]
    fn mutated_requests_never_panic_and_accepted_ones_round_trip(
        r in arb_request(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = encode_request(&r);
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        if let Ok((req, used)) = Request::decode(&bytes) {
            prop_assert_eq!(req.to_vec().unwrap(), &bytes[..used]);
        }
        let _ = Request::parse_prefix(&bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), n in 0u16..8) {
        let _ = Request::decode(&bytes);
        for expect in [Expect::Fetch, Expect::Offsets, Expect::MultiFetch(n)] {
            if let Ok((r, used)) = Response::decode(&bytes, expect) {
                prop_assert_eq!(r.to_vec().unwrap(), &bytes[..used]);
            }
        }
        for lax in [false, true] {
            let opts = DecodeOptions::default().lax(lax).crc(CrcPolicy::Report);
            let set = MessageSet::new(&bytes, 0);
            let mut it = set.shallow_with(opts);
            let mut last = 0;
            for m in it.by_ref().flatten() {
                prop_assert!(m.offset > last);
                last = m.offset;
            }
        }
    }

    /// The streaming decoder, fed in random pieces, yields exactly what one-shot decoding does.
    #[test]
    fn stream_matches_one_shot(
        msgs in arb_set(),
        cut in 0usize..40,
        pieces in proptest::collection::vec(1usize..64, 1..50),
        base in 0u64..1 << 33,
    ) {
        let set = encode_set(&msgs);
        // A response whose message set is cut `cut` bytes short (as a fetch size does).
        let kept = set.len().saturating_sub(cut);
        let body = [&[0u8, 0][..], &set[..kept]].concat();
        let resp = [&(body.len() as u32).to_be_bytes()[..], &body].concat();
        let opts = DecodeOptions::default().crc(CrcPolicy::Report);
        let one_shot: Result<Vec<_>, _> = MessageSet::new(&set[..kept], base)
            .shallow_with(opts)
            .map(|m| m.map(|m| (m.position, m.offset, m.crc, m.message.as_bytes().to_vec())))
            .collect();
        let mut dec = FetchStream::with_options(vec![0u8; 200], base, opts, 1 << 20);
        let mut streamed = Vec::new();
        let mut error = None;
        let mut rest = &resp[..];
        let mut i = 0;
        'outer: while !rest.is_empty() {
            let n = pieces[i % pieces.len()].min(rest.len());
            i += 1;
            let mut input = &rest[..n];
            rest = &rest[n..];
            loop {
                match dec.decode(input) {
                    Ok((used, ev)) => {
                        if let Some(StreamEvent::Message(m)) = ev {
                            streamed.push((m.position, m.offset, m.crc, m.message.as_bytes().to_vec()));
                        }
                        input = &input[used..];
                        if used == 0 && ev.is_none() { break; }
                    }
                    Err(e) => { error = Some(e); break 'outer; }
                }
            }
        }
        match one_shot {
            Ok(v) => {
                prop_assert!(error.is_none(), "{:?}", error);
                prop_assert!(dec.is_done());
                prop_assert_eq!(streamed, v);
            }
            Err(e) => {
                let se = error.expect("stream must fail too");
                prop_assert_eq!(se.kind(), e.kind());
                prop_assert_eq!(se.offset(), e.offset() + 6);
            }
        }
    }
}
