//! CRC-32 (IEEE, the gzip and Kafka CRC) arithmetic for combining checksums: the CRC of a
//! concatenation from the CRCs of its parts, so that deep gzip decoding can check a member's
//! trailer CRC from the inner messages' payload CRCs it computes anyway, without a second pass
//! over the inflated bytes (BENCHMARKS.md, "Deep gzip: the trailer CRC by combination").
//!
//! Values are CRC registers in the reflected convention crc32fast and zlib use: bit 31 is the
//! coefficient of x^0, bit 0 that of x^31. For the conditioned CRC-32 (initial value and final
//! XOR `0xFFFF_FFFF`), `crc(A ‖ B) = crc(A) · x^(8·|B|) mod P  ⊕  crc(B)` — the conditioning
//! terms cancel — so one multiplication by the constant `x^(8·|B|)` joins two CRCs. The
//! multiplication is a carry-less 32×32-bit product (done with integer multiplies on
//! bit-interleaved operands, no `unsafe` and no CPU feature needed) and a 4-byte table
//! reduction; the constants for lengths below [`SHORT`] come from a table built at compile time.

/// The CRC-32 polynomial, reflected.
const POLY: u32 = 0xedb8_8320;

/// Lengths below this have their `x^(8·len)` in [`SHIFT`].
pub(crate) const SHORT: usize = 2048;

/// Byte-wise tables: `TABLES[k][b]` is the register after feeding byte `b` then `k` zero bytes
/// into a zero register (slicing-by-10: a magic-1 message header in one step).
static TABLES: [[u32; 256]; 10] = TABLES_CONST;

/// The same tables for the compile-time builders below (a `const fn` may read a `const`,
/// and reads a `static` only from Rust 1.83 on; the crate's MSRV is 1.81).
const TABLES_CONST: [[u32; 256]; 10] = tables();

const fn tables() -> [[u32; 256]; 10] {
    let mut t = [[0u32; 256]; 10];
    let mut b = 0;
    while b < 256 {
        let mut c = b as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][b] = c;
        b += 1;
    }
    let mut k = 1;
    while k < 10 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

/// Carry-less product of two 32-bit values (63 bits), with ordinary integer multiplies: each
/// operand is split into four classes of every fourth bit, so that the carries of a product
/// (at most 8 terms per bit position) stay inside the 3-bit holes between the class's bits.
#[inline]
const fn clmul32(x: u32, y: u32) -> u64 {
    const M0: u64 = 0x1111_1111_1111_1111;
    const M1: u64 = M0 << 1;
    const M2: u64 = M0 << 2;
    const M3: u64 = M0 << 3;
    let (x, y) = (x as u64, y as u64);
    let (x0, x1, x2, x3) = (x & M0, x & M1, x & M2, x & M3);
    let (y0, y1, y2, y3) = (y & M0, y & M1, y & M2, y & M3);
    let z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
    let z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
    let z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
    let z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
    (z0 & M0) | (z1 & M1) | (z2 & M2) | (z3 & M3)
}

/// `a · b mod P` for two reflected registers.
#[inline]
fn mul(a: u32, b: u32) -> u32 {
    mul_in(&TABLES, a, b)
}

/// [`mul`] with the byte tables passed in (usable in `const` context with `TABLES_CONST`).
#[inline]
const fn mul_in(t: &[[u32; 256]; 10], a: u32, b: u32) -> u32 {
    // With bit k of a register standing for x^(31-k), bit m of the product stands for
    // x^(62-m): its top 32 bits are the terms x^0..x^31 as a register, and its low 31 bits,
    // shifted up by one, a register r standing for r·x^32, reduced by feeding 4 zero bytes.
    let p = clmul32(a, b);
    let low = (p >> 31) as u32;
    let r = (p as u32) << 1;
    low ^ t[3][(r & 0xff) as usize]
        ^ t[2][((r >> 8) & 0xff) as usize]
        ^ t[1][((r >> 16) & 0xff) as usize]
        ^ t[0][(r >> 24) as usize]
}

/// `x^(8·n) mod P` for `n < SHORT`: computed once at compile time, for [`SHIFT`] and for
/// the first entry of [`LONG`].
const SHIFT_CONST: [u32; SHORT] = shift_table();

/// `x^(8·n) mod P` for `n < SHORT`.
static SHIFT: [u32; SHORT] = SHIFT_CONST;

/// `x^(8·SHORT·2^j) mod P`, for lengths of `SHORT` and more.
static LONG: [u32; 64] = long_table();

const fn shift_table() -> [u32; SHORT] {
    let mut t = [0u32; SHORT];
    // x^0, then one multiplication by x^8 per entry.
    t[0] = 0x8000_0000;
    let mut n = 1;
    while n < SHORT {
        t[n] = mul_in(&TABLES_CONST, t[n - 1], 0x8000_0000 >> 8);
        n += 1;
    }
    t
}

const fn long_table() -> [u32; 64] {
    let mut t = [0u32; 64];
    // x^(8·SHORT) = (x^(8·(SHORT-1)))·x^8, then squares.
    t[0] = mul_in(&TABLES_CONST, SHIFT_CONST[SHORT - 1], 0x8000_0000 >> 8);
    let mut j = 1;
    while j < 64 {
        t[j] = mul_in(&TABLES_CONST, t[j - 1], t[j - 1]);
        j += 1;
    }
    t
}

/// `x^(8·len) mod P`.
#[inline]
fn shift_of(len: usize) -> u32 {
    if len < SHORT {
        return SHIFT[len];
    }
    long_shift(len)
}

#[cold]
fn long_shift(len: usize) -> u32 {
    let mut k = SHIFT[len % SHORT];
    let mut q = len / SHORT;
    let mut j = 0;
    while q != 0 {
        if q & 1 != 0 {
            k = mul(k, LONG[j]);
        }
        q >>= 1;
        j += 1;
    }
    k
}

/// The CRC-32 of `A ‖ B` from `crc_a` = CRC-32 of A, and `crc_b` = CRC-32 of B, `len_b` bytes.
#[inline(always)]
pub(crate) fn combine(crc_a: u32, crc_b: u32, len_b: usize) -> u32 {
    mul(crc_a, shift_of(len_b)) ^ crc_b
}

/// The CRC-32 of `A ‖ bytes` from `crc_a` = CRC-32 of A, hashing `bytes` byte-wise (for the
/// few bytes of a message header; longer runs are better hashed with crc32fast and joined
/// with [`combine`]).
#[inline(always)]
pub(crate) fn extend_short(crc_a: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc_a;
    if let Ok(h) = <&[u8; 10]>::try_from(bytes) {
        // A magic-1 header, the common case: ten bytes in one slicing step.
        c ^= u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let t = &TABLES;
        return !(t[9][(c & 0xff) as usize]
            ^ t[8][((c >> 8) & 0xff) as usize]
            ^ t[7][((c >> 16) & 0xff) as usize]
            ^ t[6][(c >> 24) as usize]
            ^ t[5][h[4] as usize]
            ^ t[4][h[5] as usize]
            ^ t[3][h[6] as usize]
            ^ t[2][h[7] as usize]
            ^ t[1][h[8] as usize]
            ^ t[0][h[9] as usize]);
    }
    let mut chunks = bytes.chunks_exact(4);
    for w in &mut chunks {
        c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        c = TABLES[3][(c & 0xff) as usize]
            ^ TABLES[2][((c >> 8) & 0xff) as usize]
            ^ TABLES[1][((c >> 16) & 0xff) as usize]
            ^ TABLES[0][(c >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = TABLES[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u32) -> alloc::vec::Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as u8
            })
            .collect()
    }

    #[test]
    fn combine_equals_the_crc_of_the_concatenation() {
        for (la, lb) in [
            (0, 0),
            (0, 7),
            (5, 0),
            (1, 1),
            (10, 180),
            (300, 2047),
            (3, SHORT),
            (17, SHORT + 1),
            (1, 3 * SHORT + 5),
            (100, 70_000),
        ] {
            let a = bytes(la, 7);
            let b = bytes(lb, 11);
            let whole = [&a[..], &b[..]].concat();
            let got = combine(crc32fast::hash(&a), crc32fast::hash(&b), lb);
            assert_eq!(got, crc32fast::hash(&whole), "|A| = {la}, |B| = {lb}");
        }
    }

    #[test]
    fn extend_short_equals_crc32fast() {
        for n in 0..40 {
            let a = bytes(13, 3);
            let b = bytes(n, 5);
            let whole = [&a[..], &b[..]].concat();
            assert_eq!(
                extend_short(crc32fast::hash(&a), &b),
                crc32fast::hash(&whole)
            );
        }
        // The check value of CRC-32.
        assert_eq!(extend_short(0, b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn mul_by_one_and_by_x8_is_a_byte_shift() {
        for a in [0u32, 1, 0x8000_0000, 0xdead_beef, u32::MAX] {
            assert_eq!(mul(a, 0x8000_0000), a);
            // Feeding one zero byte into a raw register multiplies it by x^8.
            let fed = TABLES[0][(a & 0xff) as usize] ^ (a >> 8);
            assert_eq!(mul(a, SHIFT[1]), fed);
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn combine_matches_crc32fast(
            a in proptest::collection::vec(any::<u8>(), 0..600),
            b in proptest::collection::vec(any::<u8>(), 0..5000),
        ) {
            let whole = [&a[..], &b[..]].concat();
            let got = combine(crc32fast::hash(&a), crc32fast::hash(&b), b.len());
            prop_assert_eq!(got, crc32fast::hash(&whole));
            prop_assert_eq!(extend_short(crc32fast::hash(&a), &b[..b.len().min(40)]),
                crc32fast::hash(&whole[..a.len() + b.len().min(40)]));
        }
    }
}
