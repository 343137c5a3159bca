//! `kafka07 decode`: captures, raw streams, segments and log directories to text or JSON
//! Lines.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kafka07::dump::json::{JsonWriter, PayloadEncoding};
use kafka07::dump::render::{Render, Writer};
use kafka07::dump::text::{TextOptions, TextWriter};
use kafka07::dump::{
    decode_path, decode_raw_pair, decode_reader, event, Counter, DecodeConfig, DumpError, Event,
    Files, InputKind, Sink,
};
use kafka07::proto::{CrcPolicy, DEFAULT_MAX_FRAME};

use super::{Code, Failure};

/// What to read the inputs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum As {
    /// Detect: capture magic, `.kafka` name or valid first message, requests or responses.
    Auto,
    /// A pcap or pcapng capture.
    Capture,
    /// A raw client-to-broker byte stream.
    Requests,
    /// A raw broker-to-client byte stream.
    Responses,
    /// A 0.7 log segment (or any bare message set).
    Segment,
    /// A 0.7 log directory, or one `<topic>-<partition>` directory.
    LogDir,
}

/// CRC policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Crc {
    /// Check every CRC; a mismatch ends the message set (the 0.7.1+ client).
    Verify,
    /// Do not check (the 0.7.0 client and the broker's fetch path).
    Skip,
    /// Check, show each message's status, and go on.
    Report,
}

/// Payload encoding in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Payload {
    /// Lower-case hex.
    Hex,
    /// Standard base64.
    Base64,
}

/// `decode` options.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 decoded, nothing wrong (bytes a capture's snap length left \
    out are reported and counted, not defects); 1 I/O or other failure; 2 bad command line; \
    3 unknown input format; 4 decoded, but the input has defects (decode errors, bad CRCs, \
    capture gaps other than the snap length's, torn segment tails, broken segment chains)."
)]
pub struct Args {
    /// Captures (pcap, pcapng), raw streams, segment files (*.kafka) or log directories;
    /// `-` reads standard input (e.g. `tcpdump -w - ... | kafka07 decode -`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Read the inputs as this format instead of detecting it.
    #[arg(long = "as", value_enum, default_value_t = As::Auto, value_name = "FORMAT")]
    kind: As,
    /// A raw broker-to-client stream to pair with the single raw request stream FILE (the
    /// two directions of one connection, e.g. from `tshark -z follow,tcp,raw`).
    #[arg(long, value_name = "FILE")]
    responses: Option<PathBuf>,
    /// Broker port: picks the broker side of captured connections (repeatable).
    #[arg(long = "port", value_name = "PORT", default_values_t = [9092])]
    ports: Vec<u16>,
    /// Show every message of requests and responses (offset, magic, codec, CRC, preview).
    #[arg(short, long)]
    verbose: bool,
    /// Add hex dumps of frames (and of shown messages' payloads).
    #[arg(long)]
    hex: bool,
    /// Most bytes per hex dump (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    hex_max: usize,
    /// Payload bytes in a message line's preview.
    #[arg(long, value_name = "BYTES", default_value_t = 24)]
    preview: usize,
    /// One JSON object per line (JSON Lines) instead of text; schema in docs/CLI.md.
    #[arg(long)]
    json: bool,
    /// Payload encoding in JSON.
    #[arg(long, value_enum, default_value_t = Payload::Hex)]
    payload: Payload,
    /// Descend into gzip/snappy wrappers (messages get the reference's offsets).
    #[arg(long)]
    deep: bool,
    /// CRC policy for messages.
    #[arg(long, value_enum, default_value_t = Crc::Report)]
    crc: Crc,
    /// Base offset of a segment whose name is not its 20-digit start offset.
    #[arg(long, value_name = "OFFSET", value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    base_offset: Option<u64>,
    /// Largest frame accepted, in bytes (the broker's default: 100 MiB).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME)]
    max_frame: usize,
    /// Read files with plain reads instead of mapping them into memory.
    #[arg(long)]
    no_mmap: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// File access for `decode`: segments and raw streams mapped (or read), captures streamed
/// with a progress bar on stderr when it is a terminal, stdout is not, and the read takes
/// longer than a moment.
struct CliFiles {
    mmap: bool,
    progress: bool,
}

impl Files for CliFiles {
    fn load(&mut self, path: &Path) -> io::Result<Box<dyn AsRef<[u8]>>> {
        if self.mmap {
            let file = File::open(path)?;
            if file.metadata()?.len() > 0 {
                if let Ok(map) = map(&file) {
                    return Ok(Box::new(map));
                }
            }
        }
        Ok(Box::new(std::fs::read(path)?))
    }

    fn open(&mut self, path: &Path) -> io::Result<Box<dyn Read>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if !self.progress {
            return Ok(Box::new(BufReader::new(file)));
        }
        Ok(Box::new(Progress::new(BufReader::new(file), len, path)))
    }
}

/// Maps a file read-only.
///
/// Mapping is unsafe because another process could change the file while it is mapped
/// (a broker appending to its active segment only ever grows it, which does not change the
/// mapped range). `--no-mmap` reads instead.
#[allow(unsafe_code)]
fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and only read through a shared slice; a concurrent
    // truncation by another process is the accepted risk documented above.
    unsafe { memmap2::Mmap::map(file) }
}

/// A reader that drives a progress bar, visible only after half a second.
struct Progress<R> {
    inner: R,
    bar: ProgressBar,
    started: Instant,
    shown: bool,
    read: u64,
}

impl<R> Progress<R> {
    fn new(inner: R, len: u64, path: &Path) -> Self {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(path.display().to_string());
        Progress {
            inner,
            bar,
            started: Instant::now(),
            shown: false,
            read: 0,
        }
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if !self.shown && self.started.elapsed() > Duration::from_millis(500) {
            self.shown = true;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(self.read);
        Ok(n)
    }
}

impl<R> Drop for Progress<R> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Runs `decode`.
pub fn run(args: Args) -> anyhow::Result<Code> {
    let cfg = DecodeConfig {
        crc: match args.crc {
            Crc::Verify => CrcPolicy::Verify,
            Crc::Skip => CrcPolicy::Skip,
            Crc::Report => CrcPolicy::Report,
        },
        deep: args.deep,
        max_frame: args.max_frame,
        broker_ports: args.ports.clone(),
        ..DecodeConfig::default()
    };
    let kind = match args.kind {
        As::Auto => InputKind::Auto,
        As::Capture => InputKind::Capture,
        As::Requests => InputKind::Requests,
        As::Responses => InputKind::Responses,
        As::Segment => InputKind::Segment,
        As::LogDir => InputKind::LogDir,
    };
    let progress = !args.no_progress && io::stderr().is_terminal() && !io::stdout().is_terminal();
    let mut files = CliFiles {
        mmap: !args.no_mmap,
        progress,
    };
    let stdout = io::stdout().lock();
    let out = BufWriter::new(stdout);
    let mut sink: Box<dyn OutputSink> = if args.json {
        let enc = match args.payload {
            Payload::Hex => PayloadEncoding::Hex,
            Payload::Base64 => PayloadEncoding::Base64,
        };
        Box::new(JsonWriter::new(out, enc))
    } else {
        Box::new(TextWriter::new(
            out,
            TextOptions {
                verbose: args.verbose,
                hex: args.hex,
                hex_max: args.hex_max,
                preview: args.preview,
            },
        ))
    };

    let mut worst = Code::Ok;
    if let Some(responses) = &args.responses {
        let [requests] = args.files.as_slice() else {
            return Err(Failure::new(
                Code::Usage,
                "--responses pairs one request stream: give exactly one FILE",
            )
            .into());
        };
        let summary = decode_pair(requests, responses, &cfg, &mut files, sink.as_sink())?;
        if summary.has_defects() {
            worst = Code::Defects;
        }
    } else {
        for path in &args.files {
            let result = if path.as_os_str() == "-" {
                // A capture is streamed (bounded memory, for as long as tcpdump runs);
                // anything else is read whole.
                decode_reader(
                    "<stdin>",
                    BufReader::new(io::stdin().lock()),
                    kind,
                    args.base_offset,
                    &cfg,
                    sink.as_sink(),
                )
            } else {
                decode_path(
                    path,
                    kind,
                    args.base_offset,
                    &cfg,
                    &mut files,
                    sink.as_sink(),
                )
            };
            let code = match result {
                Ok(summary) if summary.has_defects() => Code::Defects,
                Ok(_) => Code::Ok,
                Err(e @ DumpError::UnknownFormat { .. }) => {
                    sink.flush_out();
                    eprintln!("kafka07: {e}");
                    Code::UnknownFormat
                }
                Err(e @ DumpError::Io { .. }) => {
                    sink.flush_out();
                    eprintln!("kafka07: {e}");
                    Code::Failure
                }
            };
            if sink.broken_pipe() {
                return Ok(Code::Ok);
            }
            worst = worse(worst, code);
        }
    }
    match sink.finish_out() {
        Ok(()) => Ok(worst),
        Err(e) if is_broken_pipe(&e) => Ok(Code::Ok),
        Err(e) => Err(e).context("writing the output"),
    }
}

/// The more severe of two outcomes: failure, then unknown format, then defects, then ok.
fn worse(a: Code, b: Code) -> Code {
    let rank = |c: Code| match c {
        Code::Ok => 0,
        Code::Defects => 1,
        Code::UnknownFormat => 2,
        _ => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

fn decode_pair(
    requests: &Path,
    responses: &Path,
    cfg: &DecodeConfig,
    files: &mut CliFiles,
    sink: &mut dyn Sink,
) -> anyhow::Result<kafka07::dump::Summary> {
    let req = files
        .load(requests)
        .with_context(|| requests.display().to_string())?;
    let resp = files
        .load(responses)
        .with_context(|| responses.display().to_string())?;
    let (req, resp) = ((*req).as_ref(), (*resp).as_ref());
    let mut counter = Counter::new(sink);
    counter.event(&Event::Input(event::InputEvent {
        path: format!("{} + {}", requests.display(), responses.display()),
        format: event::Format::RawPair,
        size: (req.len() + resp.len()) as u64,
        detected_by: "forced",
        clean_shutdown_marker: None,
    }));
    decode_raw_pair(req, resp, cfg, &mut counter);
    let summary = counter.summary.clone();
    counter.event(&Event::Summary(summary.clone()));
    Ok(summary)
}

/// The text and JSON writers, behind one interface.
trait OutputSink {
    fn as_sink(&mut self) -> &mut dyn Sink;
    fn broken_pipe(&self) -> bool;
    fn flush_out(&mut self);
    fn finish_out(self: Box<Self>) -> io::Result<()>;
}

impl<W: Write, R: Render> OutputSink for Writer<W, R> {
    fn as_sink(&mut self) -> &mut dyn Sink {
        self
    }
    fn broken_pipe(&self) -> bool {
        self.error().is_some_and(is_broken_pipe)
    }
    fn flush_out(&mut self) {
        self.flush();
    }
    fn finish_out(self: Box<Self>) -> io::Result<()> {
        (*self).finish().map(drop)
    }
}
