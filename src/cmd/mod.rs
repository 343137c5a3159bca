//! The subcommands, one module each, and the exit codes they share.

pub mod broker;
pub mod client;
pub mod cluster;
pub mod consume;
pub mod decode;
pub mod offsets;
pub mod out;
pub mod produce;

use std::fmt;
use std::process::ExitCode;

/// Exit codes that scripts can rely on (documented in `docs/CLI.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// Success; for `decode`: every input decoded and nothing wrong found.
    Ok = 0,
    /// Any other failure (I/O error, internal error).
    Failure = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// `decode`: an input is in no format `decode` reads.
    UnknownFormat = 3,
    /// `decode`: decoded, but the input has defects (decode errors, bad CRCs, capture gaps,
    /// torn segment tails, broken segment chains).
    Defects = 4,
    /// No broker could be reached.
    Unreachable = 5,
    /// The requested offset is outside the partition's range.
    OffsetOutOfRange = 6,
    /// The broker closed the connection or answered with an error.
    BrokerError = 7,
}

impl Code {
    /// The process exit code.
    pub fn exit(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// An error that carries the exit code it should end the process with.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: Code,
    /// What to tell the user.
    pub message: String,
}

impl Failure {
    /// A failure with a code and a message.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for an error: the [`Failure`]'s code if there is one in the chain.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>().map(|f| f.code))
        .unwrap_or(Code::Failure)
}
