//! The one walk over events that both output formats share: a [`Render`] turns each
//! [`Event`] into its lines, and a [`Writer`] writes them, keeping the first write error.
//!
//! [`text::TextRenderer`](super::text::TextRenderer) and
//! [`json::JsonRenderer`](super::json::JsonRenderer) are the two renderers;
//! [`TextWriter`](super::text::TextWriter) and [`JsonWriter`](super::json::JsonWriter) are
//! this writer with one of them.

use std::io::{self, Write};

use super::event::{Event, Sink};

/// Turns events into output text.
pub trait Render {
    /// The text for one event, without a final newline; empty when the event is not shown.
    fn render(&mut self, event: &Event<'_>) -> String;

    /// Appends the text for one event (as [`render`](Self::render) makes it) to `out`.
    /// Renderers override it to write without building a `String` per event; the
    /// [`Writer`] calls this one.
    fn render_into(&mut self, event: &Event<'_>, out: &mut Vec<u8>) {
        out.extend_from_slice(self.render(event).as_bytes());
    }
}

/// Capacity of the line buffer kept between events.
const LINE_KEEP: usize = 1 << 20;

/// A [`Sink`] writing what a [`Render`] makes of each event to `W`, one newline after each.
///
/// Write errors are kept (see [`error`](Self::error)); after one, nothing more is written.
///
/// ```
/// use kafka07::dump::event::{Event, Summary};
/// use kafka07::dump::render::Writer;
/// use kafka07::dump::text::{TextOptions, TextRenderer};
/// use kafka07::dump::Sink;
/// let mut w = Writer::with_renderer(Vec::new(), TextRenderer::new(TextOptions::default()));
/// w.event(&Event::Summary(Summary::default()));
/// assert_eq!(w.finish()?, b"summary: nothing decoded; no problems found\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<W: Write, R> {
    out: W,
    renderer: R,
    error: Option<io::Error>,
    /// One event's text, reused from event to event.
    line: Vec<u8>,
}

impl<W: Write, R> Writer<W, R> {
    /// A writer rendering with `renderer`.
    pub fn with_renderer(out: W, renderer: R) -> Self {
        Writer {
            out,
            renderer,
            error: None,
            line: Vec::new(),
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

impl<W: Write, R: Render> Sink for Writer<W, R> {
    fn event(&mut self, event: &Event<'_>) {
        if self.error.is_some() {
            return;
        }
        self.line.clear();
        self.renderer.render_into(event, &mut self.line);
        if self.line.is_empty() {
            return;
        }
        self.line.push(b'\n');
        if let Err(e) = self.out.write_all(&self.line) {
            self.error = Some(e);
        }
        if self.line.capacity() > LINE_KEEP {
            // One huge event (a big payload) does not keep its buffer for the rest.
            self.line = Vec::new();
        }
    }
}
