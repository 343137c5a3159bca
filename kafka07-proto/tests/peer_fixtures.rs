//! Every wire fixture from the Perl `Kafka` 0.12 and kafka-php 0.7 test suites
//! (tests/data/peer-test-suites, see its manifests) is decoded here and its values checked.
//! Fixtures that are malformed on purpose (the clients' IO-plumbing tests) assert the error.
//! `every_fixture_is_checked` fails if a manifest lists a file no test below covers.

mod common;
use common::{data, data_path};

use kafka07_proto::{
    frame, Codec, CrcPolicy, CrcStatus, DecodeOptions, ErrorCode, ErrorKind, Expect, FetchRequest,
    FetchStream, Frame, Layer, MessageSet, OffsetsRequest, Request, Response, Stop, StreamEvent,
};

const PHP: &str = "peer-test-suites/kafka-php/";
const PERL: &str = "peer-test-suites/perl-kafka-0.12/";

/// The decoded check for each fixture file, by name.
fn check(lib: &str, file: &str) {
    let bytes = data(&format!("{lib}{file}"));
    let stem = file.trim_end_matches(".bin");
    match stem {
        // ---- kafka-php ----
        "tests_Kafka_V07_ChannelTest__L45" => php_plain_hello(&bytes),
        "tests_Kafka_V07_ChannelTest__L51" => php_gzip_hello_shallow(&bytes),
        "tests_Kafka_V07_ConsumerChannelTest__L45"
        | "tests_Kafka_V07_ConsumerChannelTest__L116" => {
            assert_eq!(
                Request::decode(&bytes).unwrap(),
                (
                    Request::Fetch(FetchRequest::new("topic1", 0, 2870, 1_000_000)),
                    30
                )
            );
        }
        "tests_Kafka_V07_ConsumerChannelTest__L52"
        | "tests_Kafka_V07_ConsumerChannelTest__L133" => php_fetch_response(&bytes),
        "tests_Kafka_V07_ConsumerChannelTest__L98"
        | "tests_Kafka_V07_ConsumerChannelTest__L179" => php_truncated_fetch_response(&bytes),
        "tests_Kafka_V07_ProducerChannelTest__L25" => php_three_produce_frames(&bytes),
        "tests_Kafka_V07_ProducerChannelTest__L46" => php_produce_gzip(&bytes, &[]),
        "tests_Kafka_V07_ProducerChannelTest__L63" => php_produce_gzip(&bytes, &[b"Hello World!"]),
        "tests_Kafka_OffsetTest__L7" => {
            // An 8-byte big-endian offset: decode it as the one offset of an OFFSETS response.
            let mut resp = vec![0, 0, 0, 14, 0, 0, 0, 0, 0, 1];
            resp.extend_from_slice(&bytes);
            let (r, _) = Response::decode(&resp, Expect::Offsets).unwrap();
            let Response::Offsets(o) = r else { panic!() };
            assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [65535]);
        }
        "tests_Kafka_V07_ChannelTest__L58_send_frame" => {
            // IO plumbing: a frame around "xyz-request-data", not a request.
            let Frame::Complete { body, consumed } = frame(&bytes, 1 << 20).unwrap() else {
                panic!()
            };
            assert_eq!((body, consumed), (&b"xyz-request-data"[..], 20));
            let e = Request::parse(body).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnknownRequestType(0x7879));
            assert_eq!((e.layer(), e.offset()), (Layer::Request, 0));
        }
        "tests_Kafka_V07_ChannelTest__L64_error1_response" => {
            php_plumbing_response(&bytes, ErrorCode::OFFSET_OUT_OF_RANGE)
        }
        "tests_Kafka_V07_ChannelTest__L76_ok_response" => {
            php_plumbing_response(&bytes, ErrorCode::NO_ERROR)
        }

        // ---- Perl Kafka 0.12 ----
        "t_01_IO_07_receive__requests_0" | "xt_release_02_Mock_06_last_request__requests_0" => {
            // IO plumbing: type 0 with a 4-byte dummy body: topic "" then a cut partition.
            let e = Request::decode(&bytes).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Truncated {
                    needed: 4,
                    available: 2
                }
            );
            assert_eq!(e.offset(), 8);
        }
        "xt_release_02_Mock_06_last_request__requests_1"
        | "xt_release_02_Mock_06_last_request__requests_2"
        | "xt_release_02_Mock_06_last_request__requests_3"
        | "xt_release_02_Mock_06_last_request__requests_4" => perl_dummy_request(&bytes),
        "t_01_IO_07_receive__responses_0"
        | "xt_release_02_Mock_06_last_request__responses_0"
        | "xt_release_02_Mock_06_last_request__responses_1"
        | "xt_release_02_Mock_06_last_request__responses_2"
        | "xt_release_02_Mock_06_last_request__responses_3"
        | "xt_release_02_Mock_06_last_request__responses_4" => perl_dummy_response(&bytes),
        "t_03_Protocol_03_produce_request__request_single" => {
            perl_produce(&bytes, &["The first message"])
        }
        "t_03_Protocol_03_produce_request__request_series"
        | "xt_release_02_Mock_07_usage__requests_0"
        | "xt_release_99_usage_00_mock__requests_0"
        | "xt_release_99_usage_02_mock_error__requests_0"
        | "lib_Kafka_Mock__requests_0" => perl_produce(&bytes, &PERL_MESSAGES),
        "t_03_Protocol_04_fetch_request__request"
        | "t_06_Consumer_04_fetch__request"
        | "xt_release_02_Mock_07_usage__requests_1"
        | "xt_release_99_usage_00_mock__requests_1"
        | "xt_release_99_usage_02_mock_error__requests_1"
        | "lib_Kafka_Mock__requests_1" => {
            assert_eq!(
                Request::decode(&bytes).unwrap().0,
                Request::Fetch(FetchRequest::new("test", 0, 0, 1_048_576))
            );
        }
        "t_03_Protocol_05_offsets_request__request"
        | "t_06_Consumer_05_offsets__request"
        | "xt_release_02_Mock_07_usage__requests_4"
        | "xt_release_99_usage_00_mock__requests_4"
        | "xt_release_99_usage_02_mock_error__requests_4"
        | "lib_Kafka_Mock__requests_4" => {
            assert_eq!(
                Request::decode(&bytes).unwrap().0,
                Request::Offsets(OffsetsRequest::new("test", 0, -2, 100))
            );
        }
        "t_03_Protocol_06_fetch_response__response"
        | "t_06_Consumer_04_fetch__response"
        | "xt_release_02_Mock_07_usage__responses_1"
        | "xt_release_99_usage_00_mock__responses_1"
        | "xt_release_99_usage_02_mock_error__responses_1"
        | "lib_Kafka_Mock__responses_1" => {
            perl_fetch_response(&bytes, ErrorCode::NO_ERROR, 0, true)
        }
        "xt_release_99_usage_02_mock_error__errors_fetch" => {
            perl_fetch_response(&bytes, ErrorCode::UNKNOWN, 0, true)
        }
        "t_03_Protocol_06_fetch_response__response_not_valid"
        | "xt_release_99_usage_02_mock_error__errors_fetch_2" => {
            perl_fetch_response(&bytes, ErrorCode::NO_ERROR, 0, false)
        }
        // Perl 0.12 flags these magic-1 messages invalid ("Compressed payload"); they are fine.
        "t_03_Protocol_06_fetch_response__response_bad_magic"
        | "xt_release_99_usage_02_mock_error__errors_fetch_3" => {
            perl_fetch_response(&bytes, ErrorCode::NO_ERROR, 1, true)
        }
        "t_03_Protocol_06_fetch_response__response_two_errors"
        | "xt_release_99_usage_02_mock_error__errors_fetch_4" => {
            perl_fetch_response(&bytes, ErrorCode::NO_ERROR, 1, false)
        }
        "t_03_Protocol_07_offsets_response__response"
        | "t_06_Consumer_05_offsets__response"
        | "xt_release_02_Mock_07_usage__responses_4"
        | "xt_release_99_usage_00_mock__responses_4"
        | "xt_release_99_usage_02_mock_error__responses_4"
        | "lib_Kafka_Mock__responses_4" => perl_offsets(&bytes, ErrorCode::NO_ERROR),
        "xt_release_99_usage_02_mock_error__errors_offsets" => {
            perl_offsets(&bytes, ErrorCode::UNKNOWN)
        }
        "t_03_Protocol_07_offsets_response__response_offsets" => {
            // Claims 2 offsets, carries 1: the Perl test expects "Amount received offsets does
            // not match"; we report exactly how short it is.
            let e = Response::decode(&bytes, Expect::Offsets).unwrap_err();
            assert_eq!(
                e.kind(),
                ErrorKind::Truncated {
                    needed: 16,
                    available: 8
                }
            );
            assert_eq!(e.offset(), 10);
        }
        other => panic!("fixture {lib}{other} has no check"),
    }
}

const PERL_MESSAGES: [&str; 3] = [
    "The first message",
    "The second message",
    "The third message",
];

fn php_plain_hello(bytes: &[u8]) {
    let set = MessageSet::new(bytes, 0);
    let m: Vec<_> = set.shallow().collect::<Result<_, _>>().unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].message.payload(), b"Hello!");
    assert_eq!(m[0].message.stored_crc(), 0x9d2a_cc56);
    assert_eq!(m[0].crc, CrcStatus::Valid);
}

fn php_gzip_hello_shallow(bytes: &[u8]) {
    // kafka-php gzips the bare payload "Hello!" instead of a message set (its bug); the
    // wrapper itself is well formed.
    let m = MessageSet::new(bytes, 0).shallow().next().unwrap().unwrap();
    assert_eq!(m.message.codec(), Codec::Gzip);
    assert_eq!(m.message.stored_crc(), 0x5a31_548b);
    assert_eq!(m.crc, CrcStatus::Valid);
    assert_eq!(&m.message.payload()[..3], &[0x1f, 0x8b, 0x08]);
}

fn php_fetch_response(bytes: &[u8]) {
    let (r, used) = Response::decode(bytes, Expect::Fetch).unwrap();
    assert_eq!(used, 119);
    let Response::Fetch(f) = r else { panic!() };
    assert_eq!(f.error, ErrorCode::NO_ERROR);
    let got: Vec<_> = f
        .message_set(2870)
        .shallow()
        .map(|m| {
            let m = m.unwrap();
            (m.position, m.offset, m.message.codec())
        })
        .collect();
    // The PHP test's watermarks for A, the wrapper, and D.
    assert_eq!(
        got,
        [
            (2870, 2894, Codec::None),
            (2894, 2959, Codec::Gzip),
            (2959, 2983, Codec::None)
        ]
    );
    let set = f.message_set(2870);
    let payloads: Vec<_> = set
        .shallow()
        .map(|m| m.unwrap().message)
        .filter(|m| m.codec() == Codec::None)
        .map(|m| m.payload().to_vec())
        .collect();
    assert_eq!(
        payloads,
        [b"Hello World A!".to_vec(), b"Hello World D!".to_vec()]
    );
    assert_eq!(r.to_vec().unwrap(), bytes);
}

fn php_truncated_fetch_response(bytes: &[u8]) {
    // The frame says 115 bytes; 21 of the body arrived. One-shot: not a complete frame.
    assert_eq!(
        frame(bytes, 1 << 20).unwrap(),
        Frame::Partial { needed: 92 }
    );
    let e = Response::decode(bytes, Expect::Fetch).unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Truncated {
            needed: 119,
            available: 27
        }
    );
    // Streaming: the header comes out, no message does, and the watermark stays at 2870
    // (what the PHP test asserts).
    let mut dec = FetchStream::new([0u8; 256], 2870);
    let mut input = bytes;
    let mut events = Vec::new();
    loop {
        let (used, ev) = dec.decode(input).unwrap();
        if let Some(ev) = ev {
            events.push(format!("{ev:?}"));
        }
        input = &input[used..];
        if used == 0 {
            break;
        }
    }
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0].starts_with("Header"));
    assert!(!dec.is_done());
    assert_eq!(dec.valid_bytes(), 0);
    // The message-set bytes that did arrive, read laxly, stop at a cut first entry.
    let set = MessageSet::new(&bytes[6..], 2870);
    let mut it = set.shallow_with(DecodeOptions::default().lax(true));
    assert!(it.next().is_none());
    assert_eq!(
        it.stop(),
        Stop::Cut {
            at: 0,
            needed: 24,
            available: 21
        }
    );
}

fn php_three_produce_frames(bytes: &[u8]) {
    let mut rest = bytes;
    let mut seen = Vec::new();
    while !rest.is_empty() {
        let (req, used) = Request::decode(rest).unwrap();
        let Request::Produce(p) = req else { panic!() };
        let m = p.message_set().shallow().next().unwrap().unwrap();
        seen.push((
            p.topic.as_str().unwrap().to_string(),
            p.partition,
            String::from_utf8(m.message.payload().to_vec()).unwrap(),
        ));
        assert_eq!(req.to_vec().unwrap(), &rest[..used]);
        rest = &rest[used..];
    }
    assert_eq!(
        seen,
        [
            ("topic1".into(), 0, "Hello World 1!".into()),
            ("topic1".into(), 1, "Hello World 2!".into()),
            ("topic1".into(), 2, "Hello World 3!".into()),
        ]
    );
}

fn php_produce_gzip(bytes: &[u8], plain_before: &[&[u8]]) {
    let (req, used) = Request::decode(bytes).unwrap();
    assert_eq!(used, bytes.len());
    let Request::Produce(p) = req else { panic!() };
    assert_eq!((p.topic.as_str(), p.partition), (Some("topic1"), 0));
    let msgs: Vec<_> = p.message_set().shallow().map(|m| m.unwrap()).collect();
    assert_eq!(msgs.len(), plain_before.len() + 1);
    for (m, want) in msgs.iter().zip(plain_before) {
        assert_eq!(m.message.payload(), *want);
    }
    let w = msgs.last().unwrap().message;
    assert_eq!(w.codec(), Codec::Gzip);
    assert_eq!(w.stored_crc(), 0x3cf6_6258);
    assert!(w.crc_matches());
}

fn php_plumbing_response(bytes: &[u8], code: ErrorCode) {
    let (r, _) = Response::decode(bytes, Expect::Fetch).unwrap();
    let Response::Fetch(f) = r else { panic!() };
    assert_eq!(f.error, code);
    assert_eq!(f.messages, b"xyz-request-data");
    // Not a message set: its first "length" is 0x78797a2d, far beyond the 16 bytes.
    let e = f.message_set(0).valid_bytes().unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::MessageLargerThanFetch {
            needed: 4 + 0x7879_7a2d,
            available: 16
        }
    );
}

fn perl_dummy_request(bytes: &[u8]) {
    // `00000006 00TT` + 4 filler bytes: every type's first field overruns the body.
    let e = Request::decode(bytes).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Truncated { .. }),
        "{e}: {bytes:02x?}"
    );
    assert_eq!(e.layer(), Layer::Request);
}

fn perl_dummy_response(bytes: &[u8]) {
    // `00000004 EEEE xx0a`: an error code, then 2 bytes: too few for a length prefix.
    let (r, _) = Response::decode(bytes, Expect::Fetch).unwrap();
    let Response::Fetch(f) = r else { panic!() };
    assert_eq!(f.error, ErrorCode(i16::from_be_bytes([bytes[4], bytes[5]])));
    let set = f.message_set(0);
    let mut it = set.shallow();
    assert!(it.next().is_none());
    assert_eq!(it.stop(), Stop::Trailing { at: 0, bytes: 2 });
    assert_eq!(set.valid_bytes().unwrap(), 0);
}

fn perl_produce(bytes: &[u8], payloads: &[&str]) {
    let (req, used) = Request::decode(bytes).unwrap();
    assert_eq!(used, bytes.len());
    let Request::Produce(p) = req else { panic!() };
    assert_eq!((p.topic.as_str(), p.partition), (Some("test"), 0));
    let got: Vec<_> = p
        .message_set()
        .shallow()
        .map(|m| {
            let m = m.unwrap();
            assert_eq!(m.message.magic(), 0);
            String::from_utf8(m.message.payload().to_vec()).unwrap()
        })
        .collect();
    assert_eq!(got, payloads);
    assert_eq!(req.to_vec().unwrap(), bytes);
}

fn perl_fetch_response(bytes: &[u8], code: ErrorCode, magic: u8, crc_ok: bool) {
    let (r, _) = Response::decode(bytes, Expect::Fetch).unwrap();
    let Response::Fetch(f) = r else { panic!() };
    assert_eq!(f.error, code);
    let set = f.message_set(0);
    let report: Vec<_> = set
        .shallow_with(DecodeOptions::default().crc(CrcPolicy::Report))
        .map(|m| m.unwrap())
        .collect();
    let payloads: Vec<_> = report
        .iter()
        .map(|m| String::from_utf8(m.message.payload().to_vec()).unwrap())
        .collect();
    assert_eq!(payloads, PERL_MESSAGES);
    let header = if magic == 0 { 5 } else { 6 };
    let mut next = 0;
    for (m, p) in report.iter().zip(PERL_MESSAGES) {
        next += 4 + header + p.len() as u64;
        assert_eq!(m.offset, next);
        assert_eq!(m.message.magic(), magic);
        assert_eq!(m.crc.is_ok(), crc_ok);
        if !crc_ok {
            assert_eq!(
                m.crc,
                CrcStatus::Mismatch {
                    stored: 0,
                    computed: kafka07_proto::crc32(p.as_bytes())
                }
            );
        }
    }
    // Under the default (verify) policy a zero CRC is an error at the first message.
    match set.valid_bytes() {
        Ok(n) => {
            assert!(crc_ok);
            assert_eq!(n, f.messages.len());
        }
        Err(e) => {
            assert!(!crc_ok);
            assert!(matches!(e.kind(), ErrorKind::CrcMismatch { stored: 0, .. }));
            assert_eq!((e.layer(), e.offset()), (Layer::Message, 0));
        }
    }
}

fn perl_offsets(bytes: &[u8], code: ErrorCode) {
    let (r, _) = Response::decode(bytes, Expect::Offsets).unwrap();
    let Response::Offsets(o) = r else { panic!() };
    assert_eq!(o.error, code);
    assert_eq!(o.offsets.iter().collect::<Vec<_>>(), [0]);
    assert_eq!(r.to_vec().unwrap(), bytes);
}

fn manifest_files(lib: &str) -> Vec<(String, String)> {
    let p = data_path(&format!("{lib}manifest.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
    v["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["hex"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_fixture_is_checked() {
    let mut n = 0;
    for lib in [PHP, PERL] {
        for (file, hex) in manifest_files(lib) {
            assert_eq!(data(&format!("{lib}{file}")), common::hex(&hex), "{file}");
            check(lib, &file);
            n += 1;
        }
    }
    assert_eq!(n, 15 + 51);
}

#[test]
fn streaming_decoder_agrees_on_php_response() {
    let bytes = data(&format!(
        "{PHP}tests_Kafka_V07_ConsumerChannelTest__L52.bin"
    ));
    for piece in 1..=bytes.len() {
        let mut dec = FetchStream::new([0u8; 128], 2870);
        let mut offsets = Vec::new();
        for chunk in bytes.chunks(piece) {
            let mut input = chunk;
            loop {
                let (used, ev) = dec.decode(input).unwrap();
                if let Some(StreamEvent::Message(m)) = ev {
                    offsets.push(m.offset);
                }
                input = &input[used..];
                if used == 0 && ev.is_none() {
                    break;
                }
            }
        }
        assert!(dec.is_done(), "piece size {piece}");
        assert_eq!(offsets, [2894, 2959, 2983], "piece size {piece}");
        assert_eq!(dec.valid_bytes(), 113);
    }
}
