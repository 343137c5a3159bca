//! # kafka07-proto
//!
//! A zero-copy, `no_std` codec for the Apache Kafka 0.7 wire protocol: messages (magic 0 and 1),
//! message sets with the reference iterator's exact offset semantics, the five requests
//! (PRODUCE, FETCH, MULTIFETCH, MULTIPRODUCE, OFFSETS) and their responses, framing, a sans-IO
//! request/response session and a streaming fetch decoder.
//!
//! Sans IO: no sockets, clocks or files. Decoding needs no allocation: views borrow the input,
//! repeated parts are iterated in place, and every length read from the wire is checked
//! against what is present (and against a limit) before it is used.
//!
//! ## Features
//!
//! * none: views, shallow and deep iteration (gzip and snappy decoding included), framing,
//!   emitting into caller slices.
//! * `alloc`: `to_vec()`, owned reprs, gzip encoding (`wrap`), the fused PRODUCE encoder
//!   (`ProduceEncoder`).
//! * `std` (default): `alloc`, plus runtime CPU detection in crc32fast (about 7x faster CRC).
//! * `snappy` (default): xerial-framed snappy encoding through the `snap` crate.
//! * `zlib-rs` (not default; implies `std`): the [`gzip::Backend`] `ZlibRs`, zlib-rs through
//!   flate2 as a faster inflate engine, chosen per iteration with [`DecodeOptions::inflate`] or
//!   per call with [`gzip::decompress_in`]; miniz_oxide stays the default backend.
//!
//! ## Example: decode a FETCH response
//!
//! ```
//! use kafka07_proto::{Expect, Response};
//! // Spec §12.3: a FETCH response holding "hello" and "there".
//! let wire = [
//!     0, 0, 0, 0x20, 0, 0,
//!     0, 0, 0, 0x0b, 1, 0, 0x36, 0x10, 0xa6, 0x86, b'h', b'e', b'l', b'l', b'o',
//!     0, 0, 0, 0x0b, 1, 0, 0x5a, 0x2f, 0xe9, 0x96, b't', b'h', b'e', b'r', b'e',
//! ];
//! let (resp, _) = Response::decode(&wire, Expect::Fetch)?;
//! let Response::Fetch(fetch) = resp else { unreachable!() };
//! for m in fetch.message_set(0).shallow() {
//!     let m = m?;
//!     println!("next offset {}: {:?}", m.offset, core::str::from_utf8(m.message.payload()));
//! }
//! # Ok::<(), kafka07_proto::Error>(())
//! ```
//!
//! The protocol facts this crate follows are in the project's specification (`kafka07-protocol.md`),
//! each cited to the 0.7.2 reference sources; section numbers (§) in these docs refer to it.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "alloc")]
mod compress;
mod crc_combine;
mod deep;
mod error;
mod frame;
pub mod gzip;
mod message;
mod message_set;
mod parts;
#[cfg(feature = "alloc")]
mod produce;
mod request;
mod response;
mod session;
pub mod snappy;
mod stream;
mod wire;
pub mod xerial;

#[cfg(feature = "alloc")]
pub use compress::{compress_set, wrap};
pub use deep::{Deep, DeepCursor, MAX_NESTING};
pub use error::{Error, ErrorKind, Layer, Result};
pub use frame::{frame, Frame, DEFAULT_MAX_FRAME};
pub use message::{
    crc32, Codec, CrcStatus, MessageRepr, MessageView, CODEC_MASK, HEADER_V0, HEADER_V1,
    LENGTH_PREFIX, MAGIC_0, MAGIC_1,
};
pub use message_set::{
    emit_set, set_wire_len, CrcPolicy, DecodeOptions, MessageAndOffset, MessageSet, Shallow, Stop,
};
pub use parts::{Part, Parts, PartsIter};
#[cfg(feature = "alloc")]
pub use produce::ProduceEncoder;
pub use request::{
    FetchRequest, MultiFetchRequest, MultiProduceRequest, OffsetsRequest, ProduceRequest, Request,
    RequestType, Topic, EARLIEST_TIME, LATEST_TIME, RANDOM_PARTITION,
};
pub use response::{
    ErrorCode, Expect, FetchResponse, MultiFetchResponse, OffsetsResponse, Response,
};
pub use session::Session;
pub use stream::{FetchStream, StreamEvent};
