//! JSON Lines output: one object per event, for jq pipelines.
//!
//! Every object has a `type` (`input`, `connection`, `request`, `response`, `message`,
//! `gap`, `resync`, `error`, `close`, `segment`, `partition`, `summary`) and a `file` (the
//! input it came from); the other fields are those of the [`Event`] variant. Message
//! payloads are written as hex or base64 in `payload`, with `payload_encoding` saying which.
//! The schema is documented in `docs/CLI.md`; fields are only ever added.

use std::io::Write;

use base64::Engine as _;
use serde_json::Value;

use super::event::{Event, Sink};
use super::render::{Render, Writer};

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

/// Turns events into JSON Lines: each object gets a `file` field, the path of the last
/// [`Input`](Event::Input) event seen.
#[derive(Clone, Debug, Default)]
pub struct JsonRenderer {
    payload: PayloadEncoding,
    file: String,
}

impl JsonRenderer {
    /// A renderer with the given payload encoding.
    pub fn new(payload: PayloadEncoding) -> Self {
        JsonRenderer {
            payload,
            file: String::new(),
        }
    }
}

impl Render for JsonRenderer {
    fn render(&mut self, event: &Event<'_>) -> String {
        if let Event::Input(i) = event {
            self.file.clone_from(&i.path);
        }
        let mut v = to_value(event, self.payload);
        if let Value::Object(map) = &mut v {
            map.insert("file".into(), Value::String(self.file.clone()));
        }
        v.to_string()
    }
}

/// A [`Sink`] writing JSON Lines to `W` (the shared [`Writer`] with a [`JsonRenderer`]).
///
/// Write errors are kept (see [`Writer::error`]); after one, nothing more is written.
pub type JsonWriter<W> = Writer<W, JsonRenderer>;

impl<W: Write> Writer<W, JsonRenderer> {
    /// A writer with the given payload encoding.
    pub fn new(out: W, payload: PayloadEncoding) -> Self {
        Writer::with_renderer(out, JsonRenderer::new(payload))
    }
}

/// A sink that turns events into owned JSON values, for tests and tools.
///
/// ```
/// use kafka07::dump::{decode_raw, DecodeConfig, Direction, JsonCollector};
/// // Spec §12.2: FETCH "test"/0 offset 0 max 1 MiB.
/// let bytes = [0, 0, 0, 0x18, 0, 1, 0, 4, b't', b'e', b's', b't', 0, 0, 0, 0,
///              0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0];
/// let mut out = JsonCollector::default();
/// decode_raw(&bytes, Some(Direction::Requests), &DecodeConfig::default(), &mut out);
/// assert_eq!(out.values[0]["type"], "request");
/// assert_eq!(out.values[0]["topic"], "test");
/// assert_eq!(out.values[0]["max_size"], 1_048_576);
/// ```
#[derive(Debug, Default)]
pub struct JsonCollector {
    /// The events, as the JSON renderer writes them (payloads in hex).
    pub values: Vec<serde_json::Value>,
}

impl Sink for JsonCollector {
    fn event(&mut self, event: &Event<'_>) {
        self.values.push(to_value(event, PayloadEncoding::Hex));
    }
}
