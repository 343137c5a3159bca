//! JSON Lines output: one object per event, for jq pipelines.
//!
//! Every object has a `type` (`input`, `connection`, `request`, `response`, `message`,
//! `gap`, `resync`, `error`, `close`, `segment`, `partition`, `summary`) and a `file` (the
//! input it came from); the other fields are those of the [`Event`] variant. Message
//! payloads are written as hex or base64 in `payload`, with `payload_encoding` saying which.
//! The schema is documented in `docs/CLI.md`; fields are only ever added.

use std::io::{self, Write};

use base64::Engine as _;
use serde_json::Value;

use super::event::Event;
use super::Sink;

/// How message payloads are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PayloadEncoding {
    /// Lower-case hex, two digits per byte.
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

impl PayloadEncoding {
    /// `hex` or `base64`.
    pub fn name(self) -> &'static str {
        match self {
            PayloadEncoding::Hex => "hex",
            PayloadEncoding::Base64 => "base64",
        }
    }

    /// Encodes `bytes`.
    ///
    /// ```
    /// use kafka07::dump::json::PayloadEncoding;
    /// assert_eq!(PayloadEncoding::Hex.encode(b"hi"), "6869");
    /// assert_eq!(PayloadEncoding::Base64.encode(b"hi"), "aGk=");
    /// ```
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            PayloadEncoding::Hex => hex::encode(bytes),
            PayloadEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }
}

/// The JSON object for one event (without the `file` field).
pub fn to_value(event: &Event<'_>, payload: PayloadEncoding) -> Value {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    if let (Some(p), Value::Object(map)) = (event.payload(), &mut v) {
        map.insert("payload".into(), Value::String(payload.encode(p)));
        map.insert(
            "payload_encoding".into(),
            Value::String(payload.name().into()),
        );
    }
    v
}

/// A [`Sink`] writing JSON Lines to `W`.
///
/// Write errors are kept (see [`error`](Self::error)); after one, nothing more is written.
#[derive(Debug)]
pub struct JsonWriter<W: Write> {
    out: W,
    payload: PayloadEncoding,
    file: String,
    error: Option<io::Error>,
}

impl<W: Write> JsonWriter<W> {
    /// A writer with the given payload encoding.
    pub fn new(out: W, payload: PayloadEncoding) -> Self {
        JsonWriter {
            out,
            payload,
            file: String::new(),
            error: None,
        }
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    /// Flushes the output (a failure is kept like a write error).
    pub fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.flush() {
                self.error = Some(e);
            }
        }
    }

    /// Flushes and returns the output, or the first write error.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Sink for JsonWriter<W> {
    fn event(&mut self, event: &Event<'_>) {
        if self.error.is_some() {
            return;
        }
        if let Event::Input(i) = event {
            self.file.clone_from(&i.path);
        }
        let mut v = to_value(event, self.payload);
        if let Value::Object(map) = &mut v {
            map.insert("file".into(), Value::String(self.file.clone()));
        }
        let r = serde_json::to_writer(&mut self.out, &v)
            .map_err(io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        if let Err(e) = r {
            self.error = Some(e);
        }
    }
}
