//! Raw byte streams: one direction of a connection as saved by a socket tap or
//! `tshark -z follow,tcp,raw`, or a request stream and its response stream as two files.

use kafka07_proto::{frame, Frame, Request};

use super::event::{CloseEvent, Dir, Event};
use super::stream::{
    plausible_request, request_candidate, response_candidate, ConnectionDecoder, Verdict,
};
use super::{DecodeConfig, Sink};

/// Which direction a raw stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to broker.
    Requests,
    /// Broker to client.
    Responses,
}

/// How many leading bytes of `bytes` read as whole frames of `dir` (a trailing cut frame
/// with a sane header counts).
fn coverage(bytes: &[u8], dir: Direction, max: usize) -> usize {
    let mut pos = 0usize;
    // Bounded: every iteration consumes at least 5 bytes or stops.
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        match frame(rest, max) {
            Ok(Frame::Complete { body, consumed }) => {
                let ok = match dir {
                    Direction::Requests => {
                        Request::parse(body).is_ok_and(|r| plausible_request(&r))
                    }
                    Direction::Responses => {
                        body.len() >= 2
                            && (-1..=4).contains(&i16::from_be_bytes([body[0], body[1]]))
                    }
                };
                if !ok {
                    break;
                }
                pos += consumed;
            }
            Ok(Frame::Partial { .. }) => {
                let ok = match dir {
                    Direction::Requests => request_candidate(rest, max) == Verdict::NeedMore,
                    Direction::Responses => {
                        response_candidate(rest, max, &[]).0 == Verdict::NeedMore
                    }
                };
                if ok {
                    pos = bytes.len();
                }
                break;
            }
            Err(_) => break,
        }
    }
    pos
}

/// Guesses the direction of a raw stream by trying both framings: requests when the whole
/// stream reads as requests, responses when it reads as responses, otherwise whichever
/// covers more; `None` when neither reads a single frame.
///
/// ```
/// use kafka07::dump::{guess_direction, Direction};
/// // Spec §12.3: an empty FETCH response with error 1 (OffsetOutOfRange).
/// assert_eq!(guess_direction(&[0, 0, 0, 2, 0, 1], 1 << 20), Some(Direction::Responses));
/// assert_eq!(guess_direction(b"GET / HTTP/1.1\r\n", 1 << 20), None);
/// ```
pub fn guess_direction(bytes: &[u8], max_frame: usize) -> Option<Direction> {
    let req = coverage(bytes, Direction::Requests, max_frame);
    let resp = coverage(bytes, Direction::Responses, max_frame);
    if bytes.is_empty() || (req == 0 && resp == 0) {
        return None;
    }
    if req == bytes.len() {
        return Some(Direction::Requests);
    }
    if resp == bytes.len() {
        return Some(Direction::Responses);
    }
    Some(if req >= resp {
        Direction::Requests
    } else {
        Direction::Responses
    })
}

/// Decodes one raw stream. With `dir` unset the direction is guessed
/// ([`guess_direction`], requests when nothing fits); returns the direction used.
pub fn decode_raw(
    bytes: &[u8],
    dir: Option<Direction>,
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> Direction {
    let dir = dir
        .or_else(|| guess_direction(bytes, cfg.max_frame))
        .unwrap_or(Direction::Requests);
    let mut d = ConnectionDecoder::new(None, cfg.clone());
    let side = match dir {
        Direction::Requests => Dir::ToServer,
        Direction::Responses => Dir::ToClient,
    };
    push_chunked(&mut d, side, bytes, sink);
    d.finish(sink);
    close(&d, sink);
    dir
}

/// Decodes a request stream and the response stream of the same connection, pairing the
/// responses with the requests in order. Returns (requests, responses, unanswered).
///
/// ```
/// use kafka07::dump::{decode_raw_pair, DecodeConfig, Event};
/// let fetch = [0, 0, 0, 0x15, 0, 1, 0, 1, b't', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0];
/// let answer = [0, 0, 0, 2, 0, 1]; // OffsetOutOfRange
/// let mut paired = None;
/// decode_raw_pair(&fetch, &answer, &DecodeConfig::default(), &mut |e: &Event<'_>| {
///     if let Event::Response(r) = e { paired = r.request_index; }
/// });
/// assert_eq!(paired, Some(0));
/// ```
pub fn decode_raw_pair(
    requests: &[u8],
    responses: &[u8],
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> (u64, u64, u64) {
    let mut d = ConnectionDecoder::new(None, cfg.clone());
    push_chunked(&mut d, Dir::ToServer, requests, sink);
    push_chunked(&mut d, Dir::ToClient, responses, sink);
    d.finish(sink);
    close(&d, sink);
    (d.requests(), d.responses(), d.unanswered())
}

/// Bytes handed to the decoder at a time: it keeps only the unconsumed ones (a frame not yet
/// complete), so memory does not grow with the stream, as it would with one push of all.
const CHUNK: usize = 256 << 10;

fn push_chunked(d: &mut ConnectionDecoder, dir: Dir, bytes: &[u8], sink: &mut dyn Sink) {
    for chunk in bytes.chunks(CHUNK) {
        d.push(dir, chunk, None, sink);
    }
}

fn close(d: &ConnectionDecoder, sink: &mut dyn Sink) {
    sink.event(&Event::Close(CloseEvent {
        conn: None,
        cause: "end_of_stream",
        requests: d.requests(),
        responses: d.responses(),
        unanswered: d.unanswered(),
    }));
}
