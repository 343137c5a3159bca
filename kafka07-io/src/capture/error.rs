//! Fatal errors of the capture reader.

use std::io;

/// An error that stops a [`super::CaptureReader`].
///
/// Damage confined to one frame is not an error: such frames become
/// [`super::CaptureEvent::Skipped`] events. These errors mean the input is not
/// a capture at all, cannot be read, or is damaged so that the records after
/// the damage cannot be found.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input does not start with a pcap or pcapng magic number.
    #[error(
        "not a capture file: expected a pcap magic (a1b2c3d4 or a1b23c4d, either byte order) or \
         the pcapng magic 0a0d0d0a, found {}",
        describe_start(.start)
    )]
    NotACapture {
        /// The first bytes of the input (at most 4).
        start: Vec<u8>,
    },
    /// The file header (pcap global header or first pcapng section header)
    /// is truncated or invalid.
    #[error("invalid {format} file header: {detail}")]
    BadHeader {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// Reading the input failed.
    #[error("I/O error while reading the capture: {0}")]
    Io(#[from] io::Error),
    /// A record declares a length above [`super::CaptureConfig::max_record_len`].
    #[error(
        "record at byte {offset} (frame {frame_index}) declares {declared} bytes, above the \
         {limit}-byte record limit"
    )]
    RecordTooLarge {
        /// Byte offset of the record in the file.
        offset: u64,
        /// Index the next packet record would have.
        frame_index: u64,
        /// Declared record length.
        declared: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The file is damaged so that the following records cannot be located
    /// or interpreted: a pcapng block with a length below 12, or one that
    /// cannot be parsed and whose trailing length differs from its length;
    /// a later pcapng section header with an unknown byte-order magic, an
    /// invalid length or unparsable contents; a record that does not fit
    /// the read buffer. The same input gives the same error, at the same
    /// offset, whatever the sizes of the underlying reads.
    #[error("corrupt capture at byte {offset} (frame {frame_index}): {detail}")]
    Corrupt {
        /// Byte offset of the damaged record in the file.
        offset: u64,
        /// Index the next packet record would have.
        frame_index: u64,
        /// What was wrong.
        detail: String,
    },
}

fn describe_start(start: &[u8]) -> String {
    if start.is_empty() {
        return "an empty input".to_string();
    }
    let hex: Vec<String> = start.iter().map(|b| format!("{b:02x}")).collect();
    format!("{} byte(s) {}", start.len(), hex.join(" "))
}
