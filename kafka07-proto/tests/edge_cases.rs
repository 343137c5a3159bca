//! One named test per codec-related edge case of spec §11 (E-numbers as in the spec).
//! Deep-iteration cases (E11–E14) are in the compression tests.

mod common;
use common::{hex, HELLO, THERE};

use kafka07_proto::{
    frame, Codec, CrcPolicy, CrcStatus, DecodeOptions, ErrorCode, ErrorKind, Expect, FetchRequest,
    Layer, MessageRepr, MessageSet, MessageView, MultiFetchRequest, Parts, ProduceRequest, Request,
    Response, Session, Stop,
};

fn two() -> Vec<u8> {
    [hex(HELLO), hex(THERE)].concat()
}

fn offsets(set: &MessageSet) -> Vec<u64> {
    set.shallow().map(|m| m.unwrap().offset).collect()
}

#[test]
fn e01_up_to_three_trailing_bytes_are_ignored() {
    for extra in 0..=3 {
        let mut b = two();
        b.extend(std::iter::repeat_n(0xab, extra));
        let set = MessageSet::new(&b, 0);
        assert_eq!(offsets(&set), [15, 30]);
        assert_eq!(set.valid_bytes().unwrap(), 30, "{extra} trailing bytes");
        let mut it = set.shallow();
        it.by_ref().for_each(drop);
        let want = if extra == 0 {
            Stop::End
        } else {
            Stop::Trailing {
                at: 30,
                bytes: extra as u64,
            }
        };
        assert_eq!(it.stop(), want);
    }
}

#[test]
fn e02_cut_entry_ends_set_unless_first() {
    let b = two();
    // Any cut inside the second entry: one message, then a silent end.
    for cut in 19..30 {
        let set = MessageSet::new(&b[..cut], 500);
        assert_eq!(offsets(&set), [515]);
        assert_eq!(set.valid_bytes().unwrap(), 15);
    }
    // Any cut inside the first entry (past the prefix): the "larger than the fetch size" error.
    for cut in 4..15 {
        let e = MessageSet::new(&b[..cut], 500).valid_bytes().unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::MessageLargerThanFetch {
                needed: 15,
                available: cut as u64
            }
        );
        assert_eq!((e.layer(), e.offset()), (Layer::MessageSet, 0));
    }
    // The reference test: a set cut to 10 bytes at initial offset 1000 fails on iteration.
    assert!(MessageSet::new(&b[..10], 1000)
        .shallow()
        .next()
        .unwrap()
        .is_err());
}

#[test]
fn e03_length_below_header_is_an_error() {
    for n in 0u8..5 {
        let mut b = hex(HELLO);
        b.extend([0, 0, 0, n, 1, 0, 0, 0, 0, 0]);
        let set = MessageSet::new(&b, 0);
        let mut it = set.shallow();
        assert_eq!(it.next().unwrap().unwrap().offset, 15);
        let e = it.next().unwrap().unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::LengthBelowHeader {
                length: n.into(),
                // With no magic byte the smallest header (magic 0) is assumed.
                minimum: if n == 0 { 5 } else { 6 }
            },
            "N = {n}"
        );
        assert_eq!(e.offset(), 15);
        assert!(it.next().is_none(), "fused after an error");
    }
}

#[test]
fn e04_negative_length_fails_even_after_valid_messages() {
    let mut b = two();
    b.extend([0xff, 0xff, 0xff, 0xfe]);
    let e = MessageSet::new(&b, 0).valid_bytes().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NegativeLength(-2));
    assert_eq!(e.offset(), 30);
    // Lax mode stops there instead and reports it.
    let set = MessageSet::new(&b, 0);
    let mut it = set.shallow_with(DecodeOptions::default().lax(true));
    assert_eq!(it.by_ref().count(), 2);
    assert!(matches!(it.stop(), Stop::Error(e) if e.kind() == ErrorKind::NegativeLength(-2)));
}

#[test]
fn e05_magic1_with_n5_is_corrupt() {
    let b = hex("00000005 01 00 00000000");
    let e = MessageView::new_checked(&b).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::LengthBelowHeader {
            length: 5,
            minimum: 6
        }
    );
    // While magic 0 with N = 5 is an empty payload.
    let ok = hex("00000005 00 00000000");
    assert_eq!(MessageView::new_checked(&ok).unwrap().payload(), b"");
}

#[test]
fn e06_unused_attribute_bits_are_ignored_and_preserved() {
    let mut b = hex(HELLO);
    b[5] = 0b1111_1100;
    let m = MessageView::new_checked(&b).unwrap();
    assert_eq!(m.codec(), Codec::None);
    assert_eq!(m.attributes(), 0xfc);
    let repr = MessageRepr::from(m);
    assert_eq!(repr.to_vec().unwrap(), b, "re-emitted as received");
    // Never set on write.
    assert_eq!(
        MessageRepr::with_codec(Codec::Snappy, &b""[..]).attributes,
        2
    );
}

#[test]
fn e07_codec_3_is_unknown() {
    let mut b = hex(HELLO);
    b[5] = 3;
    let e = MessageView::new_checked(&b).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownCodec(3), 5));
    let e = MessageSet::new(&[hex(THERE), b].concat(), 0)
        .valid_bytes()
        .unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownCodec(3), 20));
}

#[test]
fn e08_magic_other_than_0_or_1_is_rejected() {
    for magic in [2u8, 0x7f, 0xff] {
        let mut b = hex(HELLO);
        b[4] = magic;
        let e = MessageView::new_checked(&b).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownMagic(magic), 4));
        let bad = MessageRepr {
            magic,
            attributes: 0,
            crc: 0,
            payload: &b""[..],
        };
        assert_eq!(
            bad.to_vec().unwrap_err().kind(),
            ErrorKind::UnknownMagic(magic)
        );
    }
}

#[test]
fn e09_empty_payload_is_legal() {
    let b = hex("00000006 01 00 00000000");
    let m = MessageSet::new(&b, 7).shallow().next().unwrap().unwrap();
    assert_eq!(
        (m.message.payload(), m.crc, m.offset),
        (&b""[..], CrcStatus::Valid, 17)
    );
}

#[test]
fn e10_empty_message_set_is_legal_everywhere() {
    let set = MessageSet::new(&[], 42);
    assert_eq!(set.valid_bytes().unwrap(), 0);
    let mut it = set.shallow();
    assert!(it.next().is_none());
    assert_eq!(it.stop(), Stop::End);
    let req = Request::Produce(ProduceRequest::new("t", 0, &[]));
    assert_eq!(Request::decode(&req.to_vec().unwrap()).unwrap().0, req);
    let (r, _) = Response::decode(&[0, 0, 0, 2, 0, 0], Expect::Fetch).unwrap();
    assert!(matches!(r, Response::Fetch(f) if f.messages.is_empty() && f.error.is_ok()));
}

#[test]
fn crc_policies_verify_skip_report() {
    let mut b = two();
    b[14] ^= 1; // flip a payload bit of "hello"
    let set = MessageSet::new(&b, 0);
    let e = set.valid_bytes().unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::CrcMismatch {
            stored: 0x3610_a686,
            computed: kafka07_proto::crc32(b"helln")
        }
    );
    assert_eq!((e.layer(), e.offset()), (Layer::Message, 0));
    let skip: Vec<_> = set
        .shallow_with(DecodeOptions::default().crc(CrcPolicy::Skip))
        .map(|m| m.unwrap().crc)
        .collect();
    assert_eq!(skip, [CrcStatus::Unchecked, CrcStatus::Unchecked]);
    let report: Vec<_> = set
        .shallow_with(DecodeOptions::default().crc(CrcPolicy::Report))
        .map(|m| m.unwrap().crc.is_ok())
        .collect();
    assert_eq!(report, [false, true]);
}

#[test]
fn e21_null_topic_parses_and_round_trips() {
    // FETCH with topic length -1: the reference parses it (and its broker answers code -1).
    let b = hex("00000014 0001 ffff 00000000 0000000000000000 00000400");
    let (r, _) = Request::decode(&b).unwrap();
    let Request::Fetch(f) = r else {
        panic!("{r:?}")
    };
    assert!(f.topic.is_null());
    assert_eq!((f.topic.as_str(), f.topic.as_bytes()), (None, &b""[..]));
    assert_eq!(f.topic.to_string(), "<null>");
    assert_eq!(r.to_vec().unwrap(), b);
    // Built directly, it encodes as -1; the empty topic is a different thing (length 0).
    let null = Request::Fetch(FetchRequest::new(kafka07_proto::Topic::NULL, 0, 0, 1024));
    assert_eq!(null.to_vec().unwrap(), b);
    let empty = Request::Fetch(FetchRequest::new("", 0, 0, 1024))
        .to_vec()
        .unwrap();
    assert_eq!(&empty[6..8], &[0, 0]);
    // Other negative lengths are errors.
    let e = Request::decode(&hex(
        "00000014 0001 fffe 00000000 0000000000000000 00000400",
    ))
    .unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::NegativeLength(-2), 6));
}

#[test]
fn e23_multifetch_count_zero_and_negative() {
    let empty = Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(&[]),
    });
    let bytes = empty.to_vec().unwrap();
    assert_eq!(bytes, hex("00000004 0002 0000"));
    assert_eq!(Request::decode(&bytes).unwrap().0, empty);
    // Its response is just size 2, error 0.
    let body = hex("00000002 0000");
    let (r, _) = Response::decode(&body, Expect::MultiFetch(0)).unwrap();
    assert!(matches!(r, Response::MultiFetch(m) if m.parts.is_empty()));
    let e = Request::decode(&hex("00000004 0002 ffff")).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::NegativeLength(-1), 6));
}

#[test]
fn e25_partition_minus_one_in_produce() {
    let hello = hex(HELLO);
    let req = Request::Produce(ProduceRequest::new("t", -1, &hello));
    let bytes = req.to_vec().unwrap();
    let (back, _) = Request::decode(&bytes).unwrap();
    assert!(matches!(back, Request::Produce(p) if p.partition == -1));
}

#[test]
fn e26_message_set_size_beyond_request_or_negative() {
    let too_long = hex("00000011 0000 0001 74 00000000 00000010 00000000");
    let e = Request::decode(&too_long).unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (
            ErrorKind::Truncated {
                needed: 16,
                available: 4
            },
            17
        )
    );
    let negative = hex("0000000d 0000 0001 74 00000000 ffffffff");
    let e = Request::decode(&negative).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::NegativeLength(-1), 13));
}

#[test]
fn e31_offsets_with_negative_max_parses_for_the_broker_to_judge() {
    let b = hex("00000015 0004 0001 74 00000000 fffffffffffffffe ffffffff");
    let (r, _) = Request::decode(&b).unwrap();
    assert!(matches!(r, Request::Offsets(o) if o.max_offsets == -1 && o.time == -2));
}

#[test]
fn e42_frame_size_zero_negative_or_over_limit() {
    for (b, kind) in [
        ([0u8, 0, 0, 0], ErrorKind::InvalidFrameSize(0)),
        ([0xff, 0xff, 0xff, 0xff], ErrorKind::InvalidFrameSize(-1)),
        (
            [0x06, 0x40, 0x00, 0x01],
            ErrorKind::LengthExceedsLimit {
                length: 104_857_601,
                limit: 104_857_600,
            },
        ),
    ] {
        let e = frame(&b, kafka07_proto::DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!((e.kind(), e.layer(), e.offset()), (kind, Layer::Frame, 0));
    }
    // Exactly at the limit is fine (and still partial: nothing was allocated or awaited).
    assert!(frame(&[0x06, 0x40, 0, 0], kafka07_proto::DEFAULT_MAX_FRAME).is_ok());
}

#[test]
fn e43_unknown_request_type() {
    for id in [5i16, -1, 0x7fff] {
        let mut b = vec![0, 0, 0, 2];
        b.extend(id.to_be_bytes());
        let e = Request::decode(&b).unwrap_err();
        assert_eq!(
            (e.kind(), e.offset()),
            (ErrorKind::UnknownRequestType(id), 4)
        );
    }
}

#[test]
fn e44_responses_pair_with_requests_in_order() {
    let hello = hex(HELLO);
    let mut s = Session::<4>::new();
    let reqs = [
        Request::Fetch(FetchRequest::new("a", 0, 0, 100)),
        Request::Produce(ProduceRequest::new("a", 0, &hello)),
        Request::Offsets(kafka07_proto::OffsetsRequest::new("a", 0, -1, 1)),
    ];
    let expects: Vec<_> = reqs.iter().map(|r| s.sent(r).unwrap()).collect();
    assert_eq!(expects, [Some(Expect::Fetch), None, Some(Expect::Offsets)]);
    assert_eq!(s.pending(), 2);
    let fetch_body = [&[0u8, 0][..], &hello].concat();
    let r1 = s.received(&fetch_body).unwrap();
    assert!(matches!(r1, Response::Fetch(f) if f.messages == hello.as_slice()));
    let offsets_body = hex("0000 00000001 000000000000000f");
    let r2 = s.received(&offsets_body).unwrap();
    assert!(matches!(r2, Response::Offsets(o) if o.offsets.iter().eq([15]) ));
    let e = s.received(&[0, 0]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedResponse);
    // Capacity is a clean error, not a panic.
    for _ in 0..4 {
        s.push(Expect::Fetch).unwrap();
    }
    assert_eq!(
        s.push(Expect::Fetch).unwrap_err().kind(),
        ErrorKind::TooManyPending { capacity: 4 }
    );
}

#[test]
fn trailing_bytes_after_a_request_body() {
    let mut b = Request::Fetch(FetchRequest::new("t", 0, 0, 1))
        .to_vec()
        .unwrap();
    b.extend([9, 9]);
    let len = (b.len() - 4) as u32;
    b[..4].copy_from_slice(&len.to_be_bytes());
    let e = Request::decode(&b).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (ErrorKind::TrailingBytes(2), 25));
    // The broker's reading ignores them, as the reference does.
    let (r, used) = Request::parse_prefix(&b[4..]).unwrap();
    assert_eq!((r.request_type().id(), used), (1, 21));
}

#[test]
fn emit_reports_needed_space() {
    let req = Request::Fetch(FetchRequest::new("test", 0, 0, 1));
    let mut small = [0u8; 10];
    let e = req.emit(&mut small).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::InsufficientSpace {
            needed: 28,
            available: 10
        }
    );
    let long_topic = "t".repeat(40_000);
    let e = Request::Fetch(FetchRequest::new(long_topic.as_str(), 0, 0, 1))
        .to_vec()
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::ValueTooLarge {
            length: 40_000,
            max: 32_767
        }
    );
}

#[test]
fn error_display_says_what_and_where() {
    let e = MessageSet::new(&hex("0000000b 01 00 00000000 68656c6c6f"), 0)
        .valid_bytes()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "message: CRC mismatch: stored 0x00000000, computed 0x3610a686 at byte 0"
    );
    assert_eq!(ErrorCode(1).to_string(), "OffsetOutOfRange (1)");
    assert_eq!(ErrorCode(77).to_string(), "Unknown (77)");
    assert_eq!(ErrorCode(77).name(), None);
}
