//! Standard output for every command: a closed pipe (`| head`) is recognised wherever it is
//! seen and ends the process quietly with exit 0; and the message formats of `consume`
//! (`--format text|hex|json`, `--payload`, `-0`, `--print-offset`), shared by `consume -b` and
//! `consume -c --group`.

use std::fmt;
use std::io::{self, BufWriter, Write};

use base64::Engine as _;
use clap::ValueEnum;
use serde_json::{Map, Value};

/// The error a write to standard output turns into when the reader has gone (EPIPE):
/// [`is_closed_stdout`] finds it anywhere in an error chain.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("standard output was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Standard output with broken-pipe errors marked as [`StdoutClosed`] (so that a broken
/// pipe of a socket is never mistaken for it).
#[derive(Debug)]
pub struct Marked(io::StdoutLock<'static>);

fn mark(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        io::Error::new(io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl Write for Marked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// Buffered standard output of a command.
pub type Out = BufWriter<Marked>;

/// Standard output, locked and buffered.
pub fn stdout() -> Out {
    BufWriter::with_capacity(64 * 1024, Marked(io::stdout().lock()))
}

/// Whether `err` is (or was caused by) a write to a closed standard output.
pub fn is_closed_stdout(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<StdoutClosed>()
            || e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}

/// Whether an I/O error is a write to a closed standard output.
pub fn is_closed(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<StdoutClosed>())
}

/// How `consume` writes each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The payload's bytes as they are, then the separator.
    Text,
    /// The payload in lower-case hex, then the separator.
    Hex,
    /// One JSON object per message (JSON Lines), fields as in `decode --json`.
    Json,
}

/// How `--format json` writes the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PayloadArg {
    /// A JSON string when the payload is valid UTF-8, otherwise base64
    /// (`payload_encoding` says which).
    Text,
    /// Lower-case hex.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// One consumed message, as the printer sees it.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Broker id (cluster mode: partitions are broker-local).
    pub broker: Option<u32>,
    /// Partition (broker-local in cluster mode).
    pub partition: i64,
    /// Where the message's entry starts (for a message inside a compressed wrapper: where
    /// the wrapper starts); `decode --json`'s `position`.
    pub position: u64,
    /// The reference's resume offset (`decode --json`'s `offset`): the next fetch offset.
    pub next_offset: u64,
    /// Payload.
    pub payload: &'a [u8],
}

/// Writes records in the chosen format.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    /// Format.
    pub format: Format,
    /// Payload encoding in JSON.
    pub payload: PayloadArg,
    /// Record separator (`\n`, or NUL with `-0`).
    pub separator: u8,
    /// Text and hex: put the offsets (and in cluster mode topic and broker-partition) first.
    pub print_offset: bool,
}

impl Printer {
    /// Writes one record and its separator.
    pub fn write(&self, out: &mut impl Write, r: &Record<'_>) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let v = Value::Object(self.json(r));
                serde_json::to_writer(&mut *out, &v).map_err(io::Error::from)?;
            }
            Format::Text | Format::Hex => {
                if self.print_offset {
                    if let Some(b) = r.broker {
                        write!(out, "{}\t{b}-{}\t", r.topic, r.partition)?;
                    }
                    write!(out, "{}\t{}\t", r.position, r.next_offset)?;
                }
                if self.format == Format::Hex {
                    out.write_all(hex::encode(r.payload).as_bytes())?;
                } else {
                    out.write_all(r.payload)?;
                }
            }
        }
        out.write_all(&[self.separator])
    }

    /// The JSON object of a record.
    fn json(&self, r: &Record<'_>) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("topic".into(), r.topic.into());
        if let Some(b) = r.broker {
            m.insert("broker".into(), b.into());
        }
        m.insert("partition".into(), r.partition.into());
        if let Some(b) = r.broker {
            m.insert(
                "broker_partition".into(),
                format!("{b}-{}", r.partition).into(),
            );
        }
        m.insert("position".into(), r.position.into());
        m.insert("offset".into(), r.next_offset.into());
        m.insert("next_offset".into(), r.next_offset.into());
        m.insert("size".into(), r.payload.len().into());
        let (payload, encoding) = match self.payload {
            PayloadArg::Text => match std::str::from_utf8(r.payload) {
                Ok(s) => (s.to_owned(), "text"),
                Err(_) => (
                    base64::engine::general_purpose::STANDARD.encode(r.payload),
                    "base64",
                ),
            },
            PayloadArg::Hex => (hex::encode(r.payload), "hex"),
            PayloadArg::Base64 => (
                base64::engine::general_purpose::STANDARD.encode(r.payload),
                "base64",
            ),
        };
        m.insert("payload".into(), payload.into());
        m.insert("payload_encoding".into(), encoding.into());
        m
    }
}

/// The output options of `consume`, shared by both of its modes.
#[derive(Debug, Clone, clap::Args)]
pub struct FormatArgs {
    /// How each message is written: `text` (the payload's bytes as they are), `hex` (the
    /// payload in lower-case hex) or `json` (one JSON object per message: topic, partition,
    /// position, offset, next_offset, size, payload, payload_encoding; as `decode --json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// `--format json`: the payload as `text` (a JSON string when it is valid UTF-8, else
    /// base64), `hex` or `base64`; `payload_encoding` says which was used.
    #[arg(long, value_enum, default_value_t = PayloadArg::Text)]
    pub payload: PayloadArg,
    /// End each message with a NUL byte instead of a newline (for `xargs -0`, and payloads
    /// that contain newlines).
    #[arg(short = '0', long = "null")]
    pub null: bool,
    /// Text and hex: put the message's own offset (where its entry starts; a compressed
    /// wrapper's start for the messages inside it) and its next offset (where a consumer
    /// resumes after it; what `-o` takes) before the payload, tab-separated. In cluster mode
    /// the topic and BROKER-PARTITION come first. JSON always has them.
    #[arg(long)]
    pub print_offset: bool,
}

impl FormatArgs {
    /// The printer.
    pub fn printer(&self) -> Printer {
        Printer {
            format: self.format,
            payload: self.payload,
            separator: if self.null { 0 } else { b'\n' },
            print_offset: self.print_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(payload: &[u8], broker: Option<u32>) -> Record<'_> {
        Record {
            topic: "t",
            broker,
            partition: 1,
            position: 26,
            next_offset: 50,
            payload,
        }
    }

    fn print(p: Printer, r: &Record<'_>) -> Vec<u8> {
        let mut v = Vec::new();
        p.write(&mut v, r).unwrap();
        v
    }

    #[test]
    fn every_format() {
        let mut p = Printer {
            format: Format::Text,
            payload: PayloadArg::Text,
            separator: b'\n',
            print_offset: false,
        };
        assert_eq!(print(p, &rec(b"a\nb", None)), b"a\nb\n");
        p.print_offset = true;
        p.separator = 0;
        assert_eq!(print(p, &rec(b"a\nb", None)), b"26\t50\ta\nb\0");
        assert_eq!(print(p, &rec(b"x", Some(2))), b"t\t2-1\t26\t50\tx\0");
        p.format = Format::Hex;
        assert_eq!(print(p, &rec(b"\x00\xff", None)), b"26\t50\t00ff\0");
        p.format = Format::Json;
        p.separator = b'\n';
        assert_eq!(
            String::from_utf8(print(p, &rec(b"hi", None))).unwrap(),
            "{\"topic\":\"t\",\"partition\":1,\"position\":26,\"offset\":50,\"next_offset\":50,\
             \"size\":2,\"payload\":\"hi\",\"payload_encoding\":\"text\"}\n"
        );
        let v: Value = serde_json::from_slice(&print(p, &rec(b"\xff", Some(3)))).unwrap();
        assert_eq!(v["broker"], 3);
        assert_eq!(v["broker_partition"], "3-1");
        assert_eq!(
            (&v["payload"], &v["payload_encoding"]),
            (&"/w==".into(), &"base64".into())
        );
        p.payload = PayloadArg::Hex;
        let v: Value = serde_json::from_slice(&print(p, &rec(b"hi", None))).unwrap();
        assert_eq!(
            (&v["payload"], &v["payload_encoding"]),
            (&"6869".into(), &"hex".into())
        );
    }
}
