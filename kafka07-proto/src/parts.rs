//! Repeated parts (MULTIFETCH, MULTIPRODUCE, MULTIFETCH responses, offset lists) without
//! allocation: either still on the wire (validated when parsed) or a caller's slice.

use crate::error::{Layer, Result};
use crate::wire::{Cursor, Writer};

mod sealed {
    pub trait Sealed {}
}

/// A structure that can appear repeated inside a request or response.
///
/// Implemented by [`FetchRequest`](crate::FetchRequest),
/// [`ProduceRequest`](crate::ProduceRequest), [`FetchResponse`](crate::FetchResponse) and `i64`
/// (offsets). Sealed: it exists so [`Parts`] can be generic.
pub trait Part<'a>: Copy + sealed::Sealed {
    #[doc(hidden)]
    fn parse_part(c: &mut Cursor<'a>) -> Result<Self>;
    #[doc(hidden)]
    fn part_len(&self) -> usize;
    #[doc(hidden)]
    fn emit_part(&self, w: &mut Writer<'_>);
}

impl sealed::Sealed for crate::FetchRequest<'_> {}
impl sealed::Sealed for crate::ProduceRequest<'_> {}
impl sealed::Sealed for crate::FetchResponse<'_> {}
impl sealed::Sealed for i64 {}

impl<'a> Part<'a> for i64 {
    fn parse_part(c: &mut Cursor<'a>) -> Result<Self> {
        c.i64()
    }
    fn part_len(&self) -> usize {
        8
    }
    fn emit_part(&self, w: &mut Writer<'_>) {
        w.i64(*self);
    }
}

#[derive(Clone, Copy, Debug)]
enum Repr<'a, T> {
    Wire {
        count: usize,
        bytes: &'a [u8],
        layer: Layer,
    },
    Slice(&'a [T]),
}

/// A list of parts: parsed from the wire (borrowed, already validated) or built from a slice.
///
/// ```
/// use kafka07_proto::{FetchRequest, MultiFetchRequest, Parts, Request};
/// let parts = [FetchRequest::new("a", 0, 0, 307_200), FetchRequest::new("b", 0, 0, 307_200)];
/// let req = Request::MultiFetch(MultiFetchRequest { parts: Parts::from_slice(&parts) });
/// let bytes = req.to_vec()?;
/// let (parsed, _) = Request::decode(&bytes)?;
/// let Request::MultiFetch(m) = parsed else { unreachable!() };
/// assert_eq!(m.parts.iter().map(|p| p.topic.as_bytes()).collect::<Vec<_>>(), [b"a", b"b"]);
/// # Ok::<(), kafka07_proto::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Parts<'a, T> {
    repr: Repr<'a, T>,
}

impl<'a, T: Part<'a>> Parts<'a, T> {
    /// Parts taken from a slice (for encoding).
    pub const fn from_slice(parts: &'a [T]) -> Self {
        Parts {
            repr: Repr::Slice(parts),
        }
    }

    /// Parses `count` parts from the cursor, validating each, and keeps their bytes.
    pub(crate) fn parse(c: &mut Cursor<'a>, count: usize, layer: Layer) -> Result<Self> {
        let start = c.pos();
        let rest = c.rest();
        for _ in 0..count {
            T::parse_part(c)?;
        }
        let bytes = &rest[..c.pos() - start];
        Ok(Parts {
            repr: Repr::Wire {
                count,
                bytes,
                layer,
            },
        })
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::Wire { count, .. } => count,
            Repr::Slice(s) => s.len(),
        }
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parts in order.
    pub fn iter(&self) -> PartsIter<'a, T> {
        match self.repr {
            Repr::Wire {
                count,
                bytes,
                layer,
            } => PartsIter {
                inner: IterRepr::Wire {
                    left: count,
                    cursor: Cursor::new(bytes, 0, layer),
                },
            },
            Repr::Slice(s) => PartsIter {
                inner: IterRepr::Slice(s.iter()),
            },
        }
    }

    /// Encoded size of all parts.
    pub fn wire_len(&self) -> usize {
        match self.repr {
            Repr::Wire { bytes, .. } => bytes.len(),
            Repr::Slice(s) => s.iter().map(Part::part_len).sum(),
        }
    }

    pub(crate) fn emit_parts(&self, w: &mut Writer<'_>) {
        match self.repr {
            Repr::Wire { bytes, .. } => w.put(bytes),
            Repr::Slice(s) => s.iter().for_each(|p| p.emit_part(w)),
        }
    }
}

impl<'a, T: Part<'a> + PartialEq> PartialEq for Parts<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: Part<'a> + Eq> Eq for Parts<'a, T> {}

impl<'a, T: Part<'a>> IntoIterator for Parts<'a, T> {
    type Item = T;
    type IntoIter = PartsIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Part<'a>> IntoIterator for &Parts<'a, T> {
    type Item = T;
    type IntoIter = PartsIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[derive(Clone, Debug)]
enum IterRepr<'a, T> {
    Wire { left: usize, cursor: Cursor<'a> },
    Slice(core::slice::Iter<'a, T>),
}

/// Iterator over [`Parts`].
#[derive(Clone, Debug)]
pub struct PartsIter<'a, T> {
    inner: IterRepr<'a, T>,
}

impl<'a, T: Part<'a>> Iterator for PartsIter<'a, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match &mut self.inner {
            IterRepr::Wire { left, cursor } => {
                if *left == 0 {
                    return None;
                }
                *left -= 1;
                // Validated when parsed, so this cannot fail; stop rather than panic if it did.
                T::parse_part(cursor).ok()
            }
            IterRepr::Slice(it) => it.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.inner {
            IterRepr::Wire { left, .. } => *left,
            IterRepr::Slice(it) => it.len(),
        };
        (n, Some(n))
    }
}

impl<'a, T: Part<'a>> ExactSizeIterator for PartsIter<'a, T> {}
