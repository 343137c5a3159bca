//! Captures (pcap / pcapng): per connection and direction through
//! [`kafka07_io::capture::CaptureReader`], each connection decoded by a
//! [`ConnectionDecoder`].

use std::collections::HashMap;
use std::io::Read;

use kafka07_io::capture::{
    CaptureConfig, CaptureError, CaptureEvent, CaptureFormat, CaptureReader, CloseCause, Direction,
    GapCause, SkipReason,
};

use super::event::{
    CloseEvent, ConnectionEvent, Dir, ErrorEvent, Event, Format, GapEvent, StreamId,
};
use super::stream::ConnectionDecoder;
use super::{DecodeConfig, Sink};

fn dir(d: Direction) -> Dir {
    match d {
        Direction::ToServer => Dir::ToServer,
        Direction::ToClient => Dir::ToClient,
    }
}

fn gap_cause(c: GapCause) -> &'static str {
    match c {
        GapCause::Snaplen => "snaplen",
        GapCause::Unfilled => "unfilled",
        GapCause::WindowExceeded => "window_exceeded",
        GapCause::AckedNotCaptured => "acked_not_captured",
    }
}

fn close_cause(c: CloseCause) -> &'static str {
    match c {
        CloseCause::Fin => "fin",
        CloseCause::Reset => "reset",
        CloseCause::Reused => "reused",
        CloseCause::EndOfCapture => "end_of_capture",
        CloseCause::Evicted => "evicted",
    }
}

/// What a capture decode saw besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureOutcome {
    /// Packet records read.
    pub frames: u64,
    /// Frames that carried no usable TCP segment (not TCP, fragments, ...).
    pub skipped_frames: u64,
    /// Frames cut by the snap length whose IP length field was 0 (TSO/GSO captures): the
    /// record's original length alone said how long they were.
    pub ip_length_zero_frames: u64,
    /// Frames the snap length cut inside their headers: nothing of them could be placed in
    /// a stream (counted in `skipped_frames` too).
    pub header_cut_frames: u64,
}

/// Decodes a pcap or pcapng capture read from `input`.
///
/// Fails only when the input is not a capture at all ([`CaptureError::NotACapture`]) or its
/// file header is unreadable; damage later in the file is reported as error events and the
/// connections seen so far are flushed.
pub fn decode_capture<R: Read>(
    input: R,
    cfg: &DecodeConfig,
    sink: &mut dyn Sink,
) -> Result<(Format, CaptureOutcome), CaptureError> {
    let config = CaptureConfig {
        broker_ports: cfg.broker_ports.clone(),
        ..CaptureConfig::default()
    };
    let mut reader = CaptureReader::with_config(input, config)?;
    let format = match reader.format() {
        CaptureFormat::Pcap => Format::Pcap,
        CaptureFormat::Pcapng => Format::Pcapng,
    };
    let mut conns: HashMap<u64, ConnectionDecoder> = HashMap::new();
    // Bounded by the reader: after an error it flushes and then ends.
    loop {
        let ev = match reader.next_event() {
            Ok(Some(ev)) => ev,
            Ok(None) => break,
            Err(e) => {
                let at = match &e {
                    CaptureError::RecordTooLarge { offset, .. }
                    | CaptureError::Corrupt { offset, .. } => *offset,
                    _ => 0,
                };
                sink.event(&Event::Error(ErrorEvent {
                    stream: None,
                    at,
                    context: "capture",
                    layer: "capture".into(),
                    kind: "capture_damaged",
                    message: format!("{e}; the rest of the file is unreadable"),
                    depth: 0,
                    inner_at: None,
                    frame: None,
                }));
                continue;
            }
        };
        match ev {
            CaptureEvent::Open {
                conn,
                key,
                reason,
                ts,
            } => {
                sink.event(&Event::Connection(ConnectionEvent {
                    conn: conn.0,
                    client: key.client.to_string(),
                    server: key.server.to_string(),
                    server_reason: reason.to_string(),
                    ts: ts.to_string(),
                }));
                conns.insert(conn.0, ConnectionDecoder::new(Some(conn.0), cfg.clone()));
            }
            CaptureEvent::Data {
                conn,
                dir: d,
                bytes,
                ts,
                ..
            } => {
                if let Some(dec) = conns.get_mut(&conn.0) {
                    dec.push(dir(d), &bytes, Some(ts), sink);
                }
            }
            CaptureEvent::Gap {
                conn,
                dir: d,
                missing,
                at_stream_offset,
                cause,
            } => {
                sink.event(&Event::Gap(GapEvent {
                    stream: StreamId {
                        conn: Some(conn.0),
                        dir: dir(d),
                    },
                    at: at_stream_offset,
                    missing,
                    cause: gap_cause(cause),
                }));
                if let Some(dec) = conns.get_mut(&conn.0) {
                    if cause == GapCause::Snaplen {
                        // The packet's recorded length keeps the stream aligned.
                        dec.uncaptured(dir(d), missing, sink);
                    } else {
                        dec.gap(dir(d), missing, sink);
                    }
                }
            }
            CaptureEvent::Close { conn, cause, .. } => {
                if let Some(mut dec) = conns.remove(&conn.0) {
                    dec.finish(sink);
                    sink.event(&Event::Close(CloseEvent {
                        conn: Some(conn.0),
                        cause: close_cause(cause),
                        requests: dec.requests(),
                        responses: dec.responses(),
                        unanswered: dec.unanswered(),
                    }));
                }
            }
            CaptureEvent::LengthMismatch {
                frame_index,
                mismatch,
            } => {
                sink.event(&Event::Error(ErrorEvent {
                    stream: None,
                    at: 0,
                    context: "capture_frame",
                    layer: "capture".into(),
                    kind: "length_mismatch",
                    message: format!("frame {}: {mismatch}", frame_index + 1),
                    depth: 0,
                    inner_at: None,
                    frame: Some(frame_index + 1),
                }));
            }
            CaptureEvent::Skipped {
                frame_index,
                reason,
            } => {
                let damaged = matches!(
                    reason,
                    SkipReason::Malformed { .. }
                        | SkipReason::CorruptBlock(_)
                        | SkipReason::TruncatedRecord
                        | SkipReason::UnknownInterface(_)
                );
                if damaged {
                    sink.event(&Event::Error(ErrorEvent {
                        stream: None,
                        at: 0,
                        context: "capture_frame",
                        layer: "capture".into(),
                        kind: reason.label(),
                        message: format!("frame {} skipped: {reason}", frame_index + 1),
                        depth: 0,
                        inner_at: None,
                        frame: Some(frame_index + 1),
                    }));
                }
            }
        }
    }
    // The reader closes every connection at the end; anything left is flushed here.
    let mut rest: Vec<_> = conns.into_iter().collect();
    rest.sort_by_key(|(id, _)| *id);
    for (id, mut dec) in rest {
        dec.finish(sink);
        sink.event(&Event::Close(CloseEvent {
            conn: Some(id),
            cause: "end_of_capture",
            requests: dec.requests(),
            responses: dec.responses(),
            unanswered: dec.unanswered(),
        }));
    }
    let stats = reader.stats();
    Ok((
        format,
        CaptureOutcome {
            frames: stats.frames,
            skipped_frames: stats.skipped,
            ip_length_zero_frames: stats.ip_length_zero,
            header_cut_frames: stats
                .skipped_by_reason
                .get("cut-by-snaplen")
                .copied()
                .unwrap_or(0),
        },
    ))
}
