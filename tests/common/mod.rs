//! Helpers shared by the CLI's integration tests: building 0.7 frames and synthetic TCP
//! conversations, and running the `kafka07` binary with a time limit.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kafka07::dump::{text, DecodeConfig, Event, Sink};
use kafka07::io::capture::writer::{
    write_capture, FrameBuilder, PcapRecord, TcpFlags, WriteOptions,
};
use kafka07::io::capture::{linktype, Timestamp};
use kafka07::proto::{
    Codec, ErrorCode, FetchRequest, FetchResponse, MessageRepr, MultiFetchRequest,
    MultiFetchResponse, OffsetsRequest, OffsetsResponse, Parts, ProduceRequest, Request, Response,
};

/// The `kafka07` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kafka07")
}

/// What a finished child process left.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// [`Output`] with stdout kept as bytes.
#[derive(Debug)]
pub struct RawOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl RawOutput {
    /// Stdout, which must be UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("UTF-8 stdout")
    }
}

/// Waits for `child` at most `limit`, then kills it and panics naming `what`.
pub fn wait_for(child: &mut Child, what: &[&str], limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kafka07 {what:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads all of `r` on a thread of its own.
fn read_all(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = r.read_to_end(&mut s);
        s
    })
}

/// Runs `kafka07 ARGS` in `dir` (the package root when `None`), killing it after `limit`;
/// stdout as bytes.
pub fn run_raw(
    dir: Option<&Path>,
    args: &[&str],
    stdin: Option<&[u8]>,
    limit: Duration,
) -> RawOutput {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().expect("spawn kafka07");
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = w.write_all(&input);
        });
    }
    let t_out = read_all(child.stdout.take().unwrap());
    let t_err = read_all(child.stderr.take().unwrap());
    let status = wait_for(&mut child, args, limit);
    RawOutput {
        code: status.code(),
        stdout: t_out.join().unwrap(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}

/// Runs `kafka07 ARGS` in `dir` (the package root when `None`), killing it after `limit`.
pub fn run_in(dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let r = run_raw(dir, args, stdin, limit);
    Output {
        code: r.code,
        stdout: String::from_utf8_lossy(&r.stdout).into_owned(),
        stderr: r.stderr,
    }
}

/// Runs `kafka07 ARGS` from the package root with a 60 s limit.
pub fn run(args: &[&str]) -> Output {
    run_in(None, args, None, Duration::from_secs(60))
}

/// A message set of plain magic-1 messages.
pub fn set(payloads: &[&[u8]]) -> Vec<u8> {
    payloads
        .iter()
        .flat_map(|p| MessageRepr::new(*p).to_vec().unwrap())
        .collect()
}

/// A gzip (or snappy) wrapper entry holding plain messages.
pub fn wrapper(codec: Codec, payloads: &[&[u8]]) -> Vec<u8> {
    let inner: Vec<MessageRepr<&[u8]>> = payloads.iter().map(|p| MessageRepr::new(*p)).collect();
    kafka07::proto::wrap(codec, &inner)
        .unwrap()
        .unwrap()
        .to_vec()
        .unwrap()
}

pub fn produce(topic: &str, partition: i32, messages: &[u8]) -> Vec<u8> {
    Request::Produce(ProduceRequest::new(topic, partition, messages))
        .to_vec()
        .unwrap()
}

pub fn fetch(topic: &str, partition: i32, offset: i64, max: i32) -> Vec<u8> {
    Request::Fetch(FetchRequest::new(topic, partition, offset, max))
        .to_vec()
        .unwrap()
}

pub fn offsets(topic: &str, partition: i32, time: i64, max: i32) -> Vec<u8> {
    Request::Offsets(OffsetsRequest::new(topic, partition, time, max))
        .to_vec()
        .unwrap()
}

pub fn multifetch(parts: &[FetchRequest<'_>]) -> Vec<u8> {
    Request::MultiFetch(MultiFetchRequest {
        parts: Parts::from_slice(parts),
    })
    .to_vec()
    .unwrap()
}

pub fn fetch_response(code: i16, messages: &[u8]) -> Vec<u8> {
    Response::Fetch(FetchResponse {
        error: ErrorCode(code),
        messages,
    })
    .to_vec()
    .unwrap()
}

pub fn multifetch_response(parts: &[FetchResponse<'_>]) -> Vec<u8> {
    Response::MultiFetch(MultiFetchResponse {
        error: ErrorCode(0),
        parts: Parts::from_slice(parts),
    })
    .to_vec()
    .unwrap()
}

pub fn offsets_response(offsets: &[i64]) -> Vec<u8> {
    Response::Offsets(OffsetsResponse {
        error: ErrorCode(0),
        offsets: Parts::from_slice(offsets),
    })
    .to_vec()
    .unwrap()
}

/// One synthetic TCP connection, frame by frame, with a millisecond between frames.
pub struct Conv {
    c2s: FrameBuilder,
    s2c: FrameBuilder,
    /// Next client sequence number (relative to the ISN + 1 after the handshake).
    pub cseq: u32,
    /// Next server sequence number.
    pub sseq: u32,
    cisn: u32,
    sisn: u32,
    pub records: Vec<(Timestamp, Vec<u8>, Option<usize>)>,
    tick: u32,
}

impl Conv {
    /// A connection with its three-way handshake.
    pub fn new(client: &str, server: &str) -> Conv {
        let c2s = FrameBuilder::new(
            linktype::ETHERNET,
            client.parse().unwrap(),
            server.parse().unwrap(),
        )
        .unwrap();
        let s2c = c2s.reverse();
        let mut c = Conv {
            c2s,
            s2c,
            cseq: 0,
            sseq: 0,
            cisn: 1000,
            sisn: 50_000,
            records: Vec::new(),
            tick: 0,
        };
        let f = c.c2s.tcp(c.cisn, 0, TcpFlags::SYN, &[]).unwrap();
        c.push(f, None);
        let f = c
            .s2c
            .tcp(c.sisn, c.cisn + 1, TcpFlags::SYN | TcpFlags::ACK, &[])
            .unwrap();
        c.push(f, None);
        let f = c
            .c2s
            .tcp(c.cisn + 1, c.sisn + 1, TcpFlags::ACK, &[])
            .unwrap();
        c.push(f, None);
        c
    }

    fn push(&mut self, frame: Vec<u8>, caplen: Option<usize>) {
        self.tick += 1;
        let ts = Timestamp::new(1_700_000_000, self.tick * 1000);
        self.records.push((ts, frame, caplen));
    }

    /// A client segment carrying `data` at relative sequence `rel` (does not advance `cseq`).
    pub fn client_at(&mut self, rel: u32, data: &[u8]) {
        let f = self
            .c2s
            .tcp(
                self.cisn + 1 + rel,
                self.sisn + 1 + self.sseq,
                TcpFlags::ACK | TcpFlags::PSH,
                data,
            )
            .unwrap();
        self.push(f, None);
    }

    /// A server segment carrying `data` at relative sequence `rel`.
    pub fn server_at(&mut self, rel: u32, data: &[u8]) {
        let f = self
            .s2c
            .tcp(
                self.sisn + 1 + rel,
                self.cisn + 1 + self.cseq,
                TcpFlags::ACK | TcpFlags::PSH,
                data,
            )
            .unwrap();
        self.push(f, None);
    }

    /// The client sends `data` in segments of at most `mss` bytes.
    pub fn client(&mut self, data: &[u8], mss: usize) {
        for chunk in data.chunks(mss) {
            self.client_at(self.cseq, chunk);
            self.cseq += chunk.len() as u32;
        }
    }

    /// The server sends `data` in segments of at most `mss` bytes.
    pub fn server(&mut self, data: &[u8], mss: usize) {
        for chunk in data.chunks(mss) {
            self.server_at(self.sseq, chunk);
            self.sseq += chunk.len() as u32;
        }
    }

    /// A server segment captured with only `caplen` bytes of its frame (a snap length).
    pub fn server_truncated(&mut self, data: &[u8], caplen: usize) {
        let f = self
            .s2c
            .tcp(
                self.sisn + 1 + self.sseq,
                self.cisn + 1 + self.cseq,
                TcpFlags::ACK | TcpFlags::PSH,
                data,
            )
            .unwrap();
        self.sseq += data.len() as u32;
        self.push(f, Some(caplen));
    }

    /// Both sides close with FIN.
    pub fn fin(&mut self) {
        let f = self
            .c2s
            .tcp(
                self.cisn + 1 + self.cseq,
                self.sisn + 1 + self.sseq,
                TcpFlags::FIN | TcpFlags::ACK,
                &[],
            )
            .unwrap();
        self.push(f, None);
        let f = self
            .s2c
            .tcp(
                self.sisn + 1 + self.sseq,
                self.cisn + 2 + self.cseq,
                TcpFlags::FIN | TcpFlags::ACK,
                &[],
            )
            .unwrap();
        self.push(f, None);
    }

    /// The server resets the connection.
    pub fn rst(&mut self) {
        let f = self
            .s2c
            .tcp(
                self.sisn + 1 + self.sseq,
                self.cisn + 1 + self.cseq,
                TcpFlags::RST | TcpFlags::ACK,
                &[],
            )
            .unwrap();
        self.push(f, None);
    }

    /// The capture file (pcap, microseconds, little-endian).
    pub fn pcap(&self) -> Vec<u8> {
        let records: Vec<PcapRecord<'_>> = self
            .records
            .iter()
            .map(|(ts, f, cap)| match cap {
                Some(n) => PcapRecord::truncated(*ts, f, *n),
                None => PcapRecord::new(*ts, f),
            })
            .collect();
        let mut out = Vec::new();
        write_capture(
            &mut out,
            &WriteOptions::default(),
            linktype::ETHERNET,
            &records,
        )
        .unwrap();
        out
    }
}

/// Decodes a capture held in memory and renders it as text (`verbose` shows messages).
pub fn decode_capture_text(pcap: &[u8], verbose: bool) -> String {
    let mut lines = Vec::new();
    let mut r = text::TextRenderer::new(text::TextOptions {
        verbose,
        ..text::TextOptions::default()
    });
    let mut sink = |e: &Event<'_>| {
        let t = r.render(e);
        if !t.is_empty() {
            lines.push(t);
        }
    };
    kafka07::dump::decode_capture(pcap, &DecodeConfig::default(), &mut sink).unwrap();
    lines.join("\n")
}

/// Collects events as JSON values.
pub fn decode_capture_json(pcap: &[u8], cfg: &DecodeConfig) -> Vec<serde_json::Value> {
    let mut out = kafka07::dump::JsonCollector::default();
    kafka07::dump::decode_capture(pcap, cfg, &mut out as &mut dyn Sink).unwrap();
    out.values
}

/// Runs `kafka07 ARGS` with a stdout pipe whose reader goes away after reading `keep` bytes
/// (0: before the process writes anything), killing it after `limit`: the exit code, stderr
/// and the bytes read.
pub fn run_closed_pipe(
    args: &[&str],
    keep: usize,
    limit: Duration,
) -> (Option<i32>, String, Vec<u8>) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kafka07");
    // The first bytes are read on a thread, so a process that writes fewer of them and
    // keeps running (`--follow`) fails the test after `limit` instead of hanging it.
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut kept = vec![0u8; keep];
        let read = if keep > 0 {
            out.read_exact(&mut kept)
        } else {
            Ok(())
        };
        drop(out);
        let _ = tx.send(read.map(|()| kept));
    });
    let kept = match rx.recv_timeout(limit) {
        Ok(Ok(kept)) => kept,
        outcome => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kafka07 {args:?}: the first {keep} bytes of its output: {outcome:?}");
        }
    };
    let t_err = read_all(child.stderr.take().unwrap());
    let status = wait_for(&mut child, args, limit);
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    (status.code(), stderr, kept)
}

/// A `kafka07 broker --stop-on-eof` process: stopped cleanly (stdin closed, bounded wait) or
/// killed when dropped.
pub struct BrokerProc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// `HOST:PORT`, from its first line (`listening on ...`).
    pub addr: String,
}

impl BrokerProc {
    /// `kafka07 broker --port 0 --stop-on-eof EXTRA`, stderr discarded.
    pub fn start(extra: &[&str]) -> BrokerProc {
        BrokerProc::start_with(&[&["--port", "0"], extra].concat(), false)
    }

    /// `kafka07 broker ARGS --stop-on-eof`; with `keep_stderr`, what it logs is kept for
    /// [`stop_with_stderr`](Self::stop_with_stderr).
    pub fn start_with(args: &[&str], keep_stderr: bool) -> BrokerProc {
        BrokerProc::start_under(&[], args, keep_stderr)
    }

    /// [`start_with`](Self::start_with), run under a wrapper command (`wrapper[0]` with the
    /// rest of `wrapper` as its first arguments, then the kafka07 binary), such as `prlimit`.
    pub fn start_under(wrapper: &[&str], args: &[&str], keep_stderr: bool) -> BrokerProc {
        let mut cmd = match wrapper.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let mut child = cmd
            .arg("broker")
            .args(args)
            .arg("--stop-on-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if keep_stderr {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("spawn broker");
        let stderr = child.stderr.take().map(read_all);
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the broker did not print its address");
        };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let stdin = child.stdin.take();
        BrokerProc {
            child,
            stdin,
            stderr,
            addr,
        }
    }

    /// Closes stdin (the broker stops cleanly) and waits for the exit code.
    pub fn stop(mut self) -> Option<i32> {
        drop(self.stdin.take());
        wait_for(&mut self.child, &["broker"], Duration::from_secs(30)).code()
    }

    /// [`stop`](Self::stop), and what the broker wrote to stderr (started with `keep_stderr`).
    pub fn stop_with_stderr(mut self) -> (Option<i32>, String) {
        let err = self.stderr.take().expect("started with keep_stderr");
        drop(self.stdin.take());
        let code = wait_for(&mut self.child, &["broker"], Duration::from_secs(30)).code();
        let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
        (code, err)
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
