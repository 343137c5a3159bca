//! The public capture reader.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::decode::{decode_frame, LengthCheck};
use super::source::{Source, SourceItem};
use super::tracker::Tracker;
use super::{CaptureConfig, CaptureError, CaptureEvent, CaptureFormat, CaptureStats};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Reading,
    /// The input ended or failed: flush open connections next.
    Flushing,
    Done,
}

/// Reads a pcap or pcapng capture and yields [`CaptureEvent`]s.
///
/// Frames are read lazily; memory stays bounded by the read buffer
/// ([`CaptureConfig::max_record_len`]) plus the reassembly buffers
/// ([`CaptureConfig::window`] per direction, [`CaptureConfig::max_buffered_total`]
/// overall), plus small per-connection state.
///
/// ```no_run
/// use kafka07_io::capture::{CaptureEvent, CaptureReader};
///
/// let mut reader = CaptureReader::open("kafka.pcap")?;
/// while let Some(event) = reader.next_event()? {
///     if let CaptureEvent::Data { conn, dir, bytes, .. } = event {
///         println!("{conn} {dir}: {} bytes", bytes.len());
///     }
/// }
/// # Ok::<(), kafka07_io::capture::CaptureError>(())
/// ```
pub struct CaptureReader<R: Read> {
    source: Source<R>,
    tracker: Tracker,
    queue: VecDeque<CaptureEvent>,
    phase: Phase,
    config: CaptureConfig,
}

impl CaptureReader<File> {
    /// Opens a capture file with the default configuration.
    pub fn open<P: AsRef<Path>>(path: P) -> Result<CaptureReader<File>, CaptureError> {
        CaptureReader::new(File::open(path)?)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Starts reading a capture with the default configuration. Fails with
    /// [`CaptureError::NotACapture`] if the input is neither pcap nor pcapng.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        Self::with_config(reader, CaptureConfig::default())
    }

    /// Starts reading a capture with the given configuration.
    pub fn with_config(reader: R, config: CaptureConfig) -> Result<Self, CaptureError> {
        let source = Source::open(reader, config.max_record_len)?;
        Ok(CaptureReader {
            source,
            tracker: Tracker::new(&config),
            queue: VecDeque::new(),
            phase: Phase::Reading,
            config,
        })
    }

    /// The container format that was detected.
    pub fn format(&self) -> CaptureFormat {
        self.source.format()
    }

    /// The configuration in use.
    pub fn config(&self) -> &CaptureConfig {
        &self.config
    }

    /// Counters so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.tracker.stats
    }

    /// Returns the next event, or `None` once the capture is exhausted and
    /// every open connection has been flushed and closed.
    ///
    /// After an error, the next calls flush the open connections (their
    /// holes as gaps, then [`super::CloseCause::EndOfCapture`]) and then
    /// return `None`.
    pub fn next_event(&mut self) -> Result<Option<CaptureEvent>, CaptureError> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            match self.phase {
                Phase::Done => return Ok(None),
                Phase::Flushing => {
                    self.tracker.finish(&mut self.queue);
                    self.phase = Phase::Done;
                }
                Phase::Reading => {
                    let tracker = &mut self.tracker;
                    let queue = &mut self.queue;
                    let more = self.source.next_record(|item| match item {
                        SourceItem::Frame(frame) => {
                            match decode_frame(frame.linktype, frame.data, frame.orig_len) {
                                Ok(seg) => {
                                    match seg.check {
                                        LengthCheck::Agree => {}
                                        LengthCheck::IpLengthZero => {
                                            tracker.stats.ip_length_zero += 1;
                                        }
                                        LengthCheck::Mismatch(mismatch) => {
                                            tracker.stats.length_mismatches += 1;
                                            queue.push_back(CaptureEvent::LengthMismatch {
                                                frame_index: frame.index,
                                                mismatch,
                                            });
                                        }
                                    }
                                    tracker.segment(frame.index, &seg, frame.ts, queue)
                                }
                                Err(reason) => tracker.skip(frame.index, reason, queue),
                            }
                        }
                        SourceItem::Skipped {
                            frame_index,
                            reason,
                        } => {
                            tracker.skip(frame_index, reason, queue);
                        }
                    });
                    self.tracker.stats.frames = self.source.frames();
                    match more {
                        Ok(true) => {}
                        Ok(false) => self.phase = Phase::Flushing,
                        Err(e) => {
                            self.phase = Phase::Flushing;
                            return Err(e);
                        }
                    }
                }
            }
        }
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<CaptureEvent, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}
