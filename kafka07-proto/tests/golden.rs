//! Golden vectors: spec §12.1 (the reference's magic-0 segment), §12.2 (the Go client bundled
//! with 0.7.1) and §12.3 (derived vectors). Each test decodes real bytes, checks every field,
//! and re-encodes to the same bytes.

mod common;
use common::{data, gzip_wrapper_hello_there, hex, HELLO, THERE};

use kafka07_proto::{
    crc32, Codec, CrcStatus, ErrorCode, ErrorKind, Expect, FetchRequest, FetchResponse,
    MessageRepr, MessageSet, MessageView, MultiFetchRequest, MultiFetchResponse,
    MultiProduceRequest, OffsetsRequest, OffsetsResponse, Parts, ProduceRequest, Request, Response,
    Stop,
};

#[test]
fn crc_of_testing_and_of_100_x() {
    // §12.2 GO:32-45 and §2.2 (the reference segment's payload).
    assert_eq!(crc32(b"testing"), 0xe8f3_5a06);
    assert_eq!(crc32(&[b'x'; 100]), 0x5e0e_5d8f);
    assert_eq!(crc32(b""), 0);
}

#[test]
fn go_magic0_entry_testing() {
    let bytes = hex("0000000c 00 e8f35a06 74657374696e67");
    let m = MessageView::new_checked(&bytes).unwrap();
    assert_eq!(m.magic(), 0);
    assert_eq!(m.len_field(), 12);
    assert_eq!(m.header_len(), 5);
    assert_eq!(m.attributes(), 0);
    assert_eq!(m.codec(), Codec::None);
    assert_eq!(m.stored_crc(), 0xe8f3_5a06);
    assert_eq!(m.payload(), b"testing");
    assert_eq!(m.check_crc(), CrcStatus::Valid);
    assert_eq!(
        MessageRepr::magic0(&b"testing"[..]).to_vec().unwrap(),
        bytes
    );
}

#[test]
fn go_magic1_entry_testing() {
    let bytes = hex("0000000d 01 00 e8f35a06 74657374696e67");
    let m = MessageView::new_checked(&bytes).unwrap();
    assert_eq!((m.magic(), m.attributes(), m.codec()), (1, 0, Codec::None));
    assert_eq!(m.payload(), b"testing");
    assert!(m.crc_matches());
    assert_eq!(MessageRepr::new(&b"testing"[..]).to_vec().unwrap(), bytes);
}

#[test]
fn go_gzip_wrapper_shallow() {
    // §12.2 GO:113-140: a gzip wrapper of the magic-1 "testing" entry (Go's gzip, OS=FF).
    let bytes = hex("0000002f 01 01 07fdc376
         1f8b08000000000004ff626060e0656478f1398aad24b5b824332f1d100000ffff0c6a829111000000");
    let set = MessageSet::new(&bytes, 0);
    let all: Vec<_> = set.shallow().collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 1);
    let w = all[0].message;
    assert_eq!(w.codec(), Codec::Gzip);
    assert!(w.is_compressed());
    assert_eq!(w.stored_crc(), 0x07fd_c376);
    assert_eq!(all[0].crc, CrcStatus::Valid);
    assert_eq!(w.payload().len(), 0x2f - 6);
    assert_eq!(all[0].offset, bytes.len() as u64);
}

#[test]
fn go_produce_request() {
    let bytes = hex("00000021 0000 0004 74657374 00000000 00000011
         0000000d 01 00 e8f35a06 74657374696e67");
    let (req, used) = Request::decode(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    let Request::Produce(p) = req else {
        panic!("not a produce: {req:?}")
    };
    assert_eq!(p.topic.as_str(), Some("test"));
    assert_eq!(p.partition, 0);
    let msgs: Vec<_> = p.message_set().shallow().collect::<Result<_, _>>().unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].message.payload(), b"testing");
    assert_eq!(req.expect(), None);
    assert_eq!(req.to_vec().unwrap(), bytes);
}

#[test]
fn go_fetch_request() {
    let bytes = hex("00000018 0001 0004 74657374 00000000 0000000000000000 00100000");
    let (req, _) = Request::decode(&bytes).unwrap();
    assert_eq!(
        req,
        Request::Fetch(FetchRequest::new("test", 0, 0, 1_048_576))
    );
    assert_eq!(req.expect(), Some(Expect::Fetch));
    assert_eq!(req.to_vec().unwrap(), bytes);
}

#[test]
fn derived_entries() {
    for (payload, h) in [(&b"hello"[..], HELLO), (&b"there"[..], THERE)] {
        let bytes = hex(h);
        let (repr, used) = MessageRepr::parse(&bytes).unwrap();
        assert_eq!(used, 15);
        assert_eq!(repr.payload, payload);
        assert_eq!(repr.crc, crc32(payload));
        assert_eq!(MessageRepr::new(payload).to_vec().unwrap(), bytes);
    }
    let empty = hex("00000006 01 00 00000000");
    let m = MessageView::new_checked(&empty).unwrap();
    assert_eq!(
        (m.payload(), m.stored_crc(), m.crc_matches()),
        (&b""[..], 0, true)
    );
    assert_eq!(MessageRepr::new(&b""[..]).to_vec().unwrap(), empty);
}

#[test]
fn derived_produce_hello() {
    let bytes = hex(&format!(
        "0000001f 0000 0004 74657374 00000000 0000000f {HELLO}"
    ));
    let hello = hex(HELLO);
    let req = Request::Produce(ProduceRequest::new("test", 0, &hello));
    assert_eq!(req.to_vec().unwrap(), bytes);
    assert_eq!(Request::decode(&bytes).unwrap(), (req, bytes.len()));
}

#[test]
fn derived_fetch_response_hello_there() {
    let bytes = hex(&format!("00000020 0000 {HELLO} {THERE}"));
    let (resp, used) = Response::decode(&bytes, Expect::Fetch).unwrap();
    assert_eq!(used, 36);
    let Response::Fetch(f) = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(f.error, ErrorCode::NO_ERROR);
    let got: Vec<(u64, Vec<u8>)> = f
        .message_set(0)
        .shallow()
        .map(|m| m.map(|m| (m.offset, m.message.payload().to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, [(15, b"hello".to_vec()), (30, b"there".to_vec())]);
    assert_eq!(resp.to_vec().unwrap(), bytes);
}

#[test]
fn derived_fetch_error_response() {
    let bytes = hex("00000002 0001");
    let (resp, _) = Response::decode(&bytes, Expect::Fetch).unwrap();
    assert_eq!(
        resp,
        Response::Fetch(FetchResponse {
            error: ErrorCode::OFFSET_OUT_OF_RANGE,
            messages: &[]
        })
    );
    assert_eq!(resp.error().name(), Some("OffsetOutOfRange"));
    assert_eq!(resp.to_vec().unwrap(), bytes);
}

#[test]
fn derived_offsets_request_and_response() {
    let req_bytes = hex("00000018 0004 0004 74657374 00000000 ffffffffffffffff 0000000a");
    let req = Request::Offsets(OffsetsRequest::new("test", 0, -1, 10));
    assert_eq!(req.to_vec().unwrap(), req_bytes);
    assert_eq!(Request::decode(&req_bytes).unwrap().0, req);

    let resp_bytes = hex(
        "00000026 0000 00000004 00000000000000f0 00000000000000d8 000000000000006c 0000000000000000",
    );
    let (resp, _) = Response::decode(&resp_bytes, Expect::Offsets).unwrap();
    let Response::Offsets(o) = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(o.error, ErrorCode::NO_ERROR);
    assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [240, 216, 108, 0]);
    let built = Response::Offsets(OffsetsResponse {
        error: ErrorCode::NO_ERROR,
        offsets: Parts::from_slice(&[240, 216, 108, 0]),
    });
    assert_eq!(built.to_vec().unwrap(), resp_bytes);
    assert_eq!(built, resp);
}

#[test]
fn derived_multifetch_request_and_response() {
    let req_bytes = hex("0000002a 0002 0002
         0001 61 00000000 0000000000000000 0004b000
         0001 62 00000000 0000000000000000 0004b000");
    let parts = [
        FetchRequest::new("a", 0, 0, 307_200),
        FetchRequest::new("b", 0, 0, 307_200),
    ];
    let req = Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(&parts),
    });
    assert_eq!(req.to_vec().unwrap(), req_bytes);
    let (parsed, _) = Request::decode(&req_bytes).unwrap();
    assert_eq!(parsed, req);
    assert_eq!(parsed.expect(), Some(Expect::MultiFetch(2)));

    let resp_bytes = hex(&format!(
        "0000001d 0000 00000011 0000 {HELLO} 00000002 0001"
    ));
    let (resp, _) = Response::decode(&resp_bytes, Expect::MultiFetch(2)).unwrap();
    let Response::MultiFetch(m) = resp else {
        panic!("{resp:?}")
    };
    let parts: Vec<FetchResponse> = m.parts.iter().collect();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].error, ErrorCode::NO_ERROR);
    assert_eq!(parts[0].messages, hex(HELLO));
    assert_eq!(parts[1].error, ErrorCode::OFFSET_OUT_OF_RANGE);
    assert!(parts[1].messages.is_empty());
    let hello = hex(HELLO);
    let built_parts = [
        FetchResponse {
            error: ErrorCode::NO_ERROR,
            messages: &hello,
        },
        FetchResponse {
            error: ErrorCode::OFFSET_OUT_OF_RANGE,
            messages: &[],
        },
    ];
    let built = Response::MultiFetch(MultiFetchResponse {
        error: ErrorCode::NO_ERROR,
        parts: Parts::from_slice(&built_parts),
    });
    assert_eq!(built.to_vec().unwrap(), resp_bytes);
    // Parsed against the wrong count, the same bytes are an error, not a silent misread.
    assert!(Response::decode(&resp_bytes, Expect::MultiFetch(1)).is_err());
    assert!(Response::decode(&resp_bytes, Expect::MultiFetch(3)).is_err());
}

#[test]
fn derived_multiproduce() {
    let bytes = hex(&format!(
        "00000038 0003 0002
         0001 61 00000000 0000000f {HELLO}
         0001 62 ffffffff 0000000f {THERE}"
    ));
    let (hello, there) = (hex(HELLO), hex(THERE));
    let parts = [
        ProduceRequest::new("a", 0, &hello),
        ProduceRequest::new("b", -1, &there),
    ];
    let req = Request::MultiProduce(MultiProduceRequest {
        parts: Parts::from_slice(&parts),
    });
    assert_eq!(req.to_vec().unwrap(), bytes);
    let (parsed, _) = Request::decode(&bytes).unwrap();
    let Request::MultiProduce(m) = parsed else {
        panic!("{parsed:?}")
    };
    let got: Vec<_> = m.parts.iter().collect();
    assert_eq!(got, parts);
    assert_eq!(got[1].partition, kafka07_proto::RANDOM_PARTITION);
}

#[test]
fn derived_compressed_wrappers_shallow() {
    // §12.3: gzip and xerial-snappy wrapper entries of [hello, there]; shallow iteration
    // yields the wrapper itself with its codec and a valid CRC over the compressed bytes.
    let gz = gzip_wrapper_hello_there();
    let snappy = hex(&format!(
        "0000003a 01 02 507fed60 8253 4e41 5050 5900 00000001 00000001 00000020 1e74 {HELLO} {THERE}"
    ));
    for (bytes, codec, crc) in [
        (gz, Codec::Gzip, 0xd9f3_7125),
        (snappy, Codec::Snappy, 0x507f_ed60),
    ] {
        let m = MessageView::new_checked(&bytes).unwrap();
        assert_eq!(m.codec(), codec);
        assert_eq!(m.stored_crc(), crc);
        assert_eq!(m.check_crc(), CrcStatus::Valid);
        assert_eq!(
            MessageRepr::with_codec(codec, m.payload())
                .to_vec()
                .unwrap(),
            bytes
        );
    }
}

#[test]
fn spec_5_4_shallow_offsets() {
    // §5.4: [hello, gzip wrapper, there] fetched at 1000.
    let bytes = [hex(HELLO), gzip_wrapper_hello_there(), hex(THERE)].concat();
    let set = MessageSet::new(&bytes, 1000);
    let offsets: Vec<u64> = set.shallow().map(|m| m.unwrap().offset).collect();
    assert_eq!(offsets, [1015, 1072, 1087]);
    assert_eq!(set.valid_bytes().unwrap(), 87);
}

/// §12.1: `BackwardsCompatibilityTest`: fetch the reference's magic-0 segment 10,000 bytes at a
/// time, resuming from the last yielded offset: exactly 100 messages, 91 in the first chunk.
#[test]
fn reference_segment_in_fetch_sized_chunks() {
    let seg = data("reference/MagicByte0-0/00000000000000000000.kafka");
    assert_eq!(seg.len(), 10_900);
    let mut offset = 0u64;
    let mut per_chunk = Vec::new();
    let mut total = 0;
    while (offset as usize) < seg.len() {
        let start = offset as usize;
        let end = (start + 10_000).min(seg.len());
        let set = MessageSet::new(&seg[start..end], offset);
        let mut it = set.shallow();
        let mut n = 0;
        for m in &mut it {
            let m = m.unwrap();
            assert_eq!(m.message.magic(), 0);
            assert_eq!(m.message.payload(), &[b'x'; 100][..]);
            assert_eq!(m.message.stored_crc(), 0x5e0e_5d8f);
            assert_eq!(m.crc, CrcStatus::Valid);
            assert_eq!(m.offset, m.position + 109);
            offset = m.offset;
            n += 1;
        }
        if per_chunk.is_empty() {
            // The 92nd entry is cut by the fetch size: the set ends silently there (E2).
            assert_eq!(
                it.stop(),
                Stop::Cut {
                    at: 91 * 109,
                    needed: 109,
                    available: 10_000 - 91 * 109
                }
            );
        }
        per_chunk.push(n);
        total += n;
        assert!(per_chunk.len() <= 3, "no progress");
    }
    assert_eq!(per_chunk, [91, 9]);
    assert_eq!(total, 100);
    assert_eq!(offset, 10_900);
}

#[test]
fn reference_segment_too_small_fetch_names_needed_size() {
    let seg = data("reference/MagicByte0-0/00000000000000000000.kafka");
    let err = MessageSet::new(&seg[..100], 0)
        .shallow()
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::MessageLargerThanFetch {
            needed: 109,
            available: 100
        }
    );
    assert_eq!(err.offset(), 0);
}
