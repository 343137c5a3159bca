//! A counting global allocator shows that decoding needs no heap: decoding a FETCH response,
//! iterating its messages, streaming it in pieces, and parsing requests allocate nothing.

mod common;
use common::{data, hex};

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kafka07_proto::{Expect, FetchStream, MessageSet, Request, Response, StreamEvent};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations it made. The test binary runs this file's single
/// test alone, so no other thread allocates meanwhile.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn decoding_a_fetch_response_allocates_nothing() {
    // A FETCH response carrying the reference's 100-message segment, cut at 10,000 bytes.
    let seg = data("reference/MagicByte0-0/00000000000000000000.kafka");
    let mut resp = Vec::with_capacity(10_006);
    resp.extend_from_slice(&10_002u32.to_be_bytes());
    resp.extend_from_slice(&[0, 0]);
    resp.extend_from_slice(&seg[..10_000]);
    let fetch_req = hex("00000018 0001 0004 74657374 00000000 0000000000000000 00100000");

    let mut count = 0;
    let mut last = 0;
    let n = allocations_in(|| {
        let (r, _) = Response::decode(&resp, Expect::Fetch).unwrap();
        let Response::Fetch(f) = r else { panic!() };
        for m in MessageSet::new(f.messages, 0).shallow() {
            let m = m.unwrap();
            count += 1;
            last = m.offset;
        }
        let (req, _) = Request::decode(&fetch_req).unwrap();
        assert!(matches!(req, Request::Fetch(_)));
    });
    assert_eq!((count, last), (91, 91 * 109));
    assert_eq!(n, 0, "one-shot decode allocated");

    let mut streamed = 0;
    let n = allocations_in(|| {
        let mut dec = FetchStream::new([0u8; 256], 0);
        for piece in resp.chunks(1500) {
            let mut input = piece;
            loop {
                let (used, ev) = dec.decode(input).unwrap();
                if let Some(StreamEvent::Message(m)) = ev {
                    assert!(m.crc.is_ok());
                    streamed += 1;
                }
                input = &input[used..];
                if used == 0 && ev.is_none() {
                    break;
                }
            }
        }
        assert!(dec.is_done());
    });
    assert_eq!(streamed, 91);
    assert_eq!(n, 0, "streaming decode allocated");
}
