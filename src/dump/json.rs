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

    /// Appends the encoding of `bytes` to `out` (the same text as [`encode`](Self::encode)).
    ///
    /// ```
    /// use kafka07::dump::json::PayloadEncoding;
    /// let mut out = b"x=".to_vec();
    /// PayloadEncoding::Hex.encode_into(b"hi", &mut out);
    /// PayloadEncoding::Base64.encode_into(b"hi", &mut out);
    /// assert_eq!(out, b"x=6869aGk=");
    /// ```
    pub fn encode_into(self, bytes: &[u8], out: &mut Vec<u8>) {
        match self {
            PayloadEncoding::Hex => {
                let at = out.len();
                out.resize(at + 2 * bytes.len(), 0);
                // The slice is exactly twice the input: encoding cannot fail.
                let _ = hex::encode_to_slice(bytes, &mut out[at..]);
            }
            PayloadEncoding::Base64 => {
                let engine = &base64::engine::general_purpose::STANDARD;
                let at = out.len();
                out.resize(at + base64::encoded_len(bytes.len(), true).unwrap_or(0), 0);
                let n = engine.encode_slice(bytes, &mut out[at..]).unwrap_or(0);
                out.truncate(at + n);
            }
        }
    }
}

/// Appends the JSON object for one event to `out`: the event's fields as `serde` writes
/// them (no intermediate value), then `payload` and `payload_encoding` (messages) and
/// `file` (when given, already JSON-encoded). The same bytes as [`to_value`] with those
/// fields added, written out by `serde_json`.
fn write_event(
    event: &Event<'_>,
    payload: PayloadEncoding,
    file: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, event).is_err() || out.last() != Some(&b'}') {
        // Not an object (never, for an event): what `to_value` would have made of it.
        out.truncate(start);
        out.extend_from_slice(b"null");
        return;
    }
    out.pop();
    if let Some(p) = event.payload() {
        out.extend_from_slice(b",\"payload\":\"");
        // Hex and base64 need no escaping.
        payload.encode_into(p, out);
        out.extend_from_slice(b"\",\"payload_encoding\":\"");
        out.extend_from_slice(payload.name().as_bytes());
        out.push(b'"');
    }
    if let Some(file) = file {
        out.extend_from_slice(b",\"file\":");
        out.extend_from_slice(file);
    }
    out.push(b'}');
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
#[derive(Clone, Debug)]
pub struct JsonRenderer {
    payload: PayloadEncoding,
    /// The current input's path as a JSON string.
    file: Vec<u8>,
}

impl Default for JsonRenderer {
    fn default() -> Self {
        JsonRenderer::new(PayloadEncoding::default())
    }
}

impl JsonRenderer {
    /// A renderer with the given payload encoding.
    pub fn new(payload: PayloadEncoding) -> Self {
        JsonRenderer {
            payload,
            file: b"\"\"".to_vec(),
        }
    }
}

impl Render for JsonRenderer {
    fn render(&mut self, event: &Event<'_>) -> String {
        let mut out = Vec::new();
        self.render_into(event, &mut out);
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    fn render_into(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        if let Event::Input(i) = event {
            self.file.clear();
            if serde_json::to_writer(&mut self.file, &i.path).is_err() {
                self.file = b"\"\"".to_vec();
            }
        }
        write_event(event, self.payload, Some(&self.file), out);
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
