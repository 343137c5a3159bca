"""Kafka 0.7 byte builders and the canned broker responses fed to the peers.

Everything here is written from /work/shared/spec/kafka07-protocol.md
(sections 1-6 and the test vectors of 12.2/12.3); ``self_check()`` asserts the
builders reproduce the spec's hex vectors byte for byte.

``python3 vectors.py OUTDIR`` writes every canned response as OUTDIR/<name>.bin
plus OUTDIR/index.json, which records for each response what a spec-conformant
0.7 client should make of it (``spec_decode``).  Standard library only.
"""

import json
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------------------
# Primitive builders (spec 1-4, 6)
# ---------------------------------------------------------------------------


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def message(payload, magic=1, codec=0, crc=None):
    """One message-set entry: int32 N, magic, [attributes], CRC, payload (spec 2.1)."""
    crc = crc32(payload) if crc is None else crc
    if magic == 0:
        body = struct.pack(">BI", 0, crc) + payload
    else:
        body = struct.pack(">BBI", magic, codec & 0xFF, crc) + payload
    return struct.pack(">i", len(body)) + body


def short_string(text):
    raw = text.encode("ascii") if isinstance(text, str) else text
    return struct.pack(">h", len(raw)) + raw


def request(rtype, body):
    return struct.pack(">ih", 2 + len(body), rtype) + body


def produce_body(topic, partition, message_set):
    return short_string(topic) + struct.pack(">ii", partition, len(message_set)) + message_set


def fetch_body(topic, partition, offset, max_size):
    return short_string(topic) + struct.pack(">iqi", partition, offset, max_size)


def offsets_body(topic, partition, time, max_offsets):
    return short_string(topic) + struct.pack(">iqi", partition, time, max_offsets)


def fetch_response(message_set=b"", error=0):
    return struct.pack(">ih", 2 + len(message_set), error) + message_set


def multifetch_response(parts):
    """parts: list of (error, message_set)."""
    body = b"".join(struct.pack(">ih", 2 + len(ms), err) + ms for err, ms in parts)
    return struct.pack(">ih", 2 + len(body), 0) + body


def offsets_response(offsets, error=0):
    body = struct.pack(">hi", error, len(offsets)) + b"".join(struct.pack(">q", o) for o in offsets)
    return struct.pack(">i", len(body)) + body


def gzip_jdk(data, os_byte=0xFF):
    """A gzip member shaped like java.util.zip.GZIPOutputStream output (spec 4.2):
    10-byte header with MTIME 0, XFL 0, OS 0xFF (JDK 16+) or 0x00 (JDK <= 15);
    raw deflate at level 6; CRC-32 and ISIZE little-endian."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    deflated = comp.compress(data) + comp.flush()
    header = bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, os_byte])
    return header + deflated + struct.pack("<II", crc32(data), len(data) & 0xFFFFFFFF)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def snappy_block_literal(data):
    """A valid raw Snappy block made of literal elements only (no back-references)."""
    out = bytearray(_varint(len(data)))
    pos = 0
    while pos < len(data):
        piece = data[pos:pos + 65536]
        n = len(piece) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 0x100:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += piece
        pos += len(piece)
    return bytes(out)


XERIAL_MAGIC = bytes([0x82]) + b"SNAPPY" + b"\x00"


def snappy_xerial(data, chunk=32768):
    """snappy-java 1.0.4.1 SnappyOutputStream framing (spec 4.3)."""
    out = bytearray(XERIAL_MAGIC + struct.pack(">ii", 1, 1))
    for i in range(0, len(data), chunk):
        block = snappy_block_literal(data[i:i + chunk])
        out += struct.pack(">i", len(block)) + block
    return bytes(out)


def wrapper(inner_set, codec):
    if codec == 1:
        payload = gzip_jdk(inner_set)
    elif codec == 2:
        payload = snappy_xerial(inner_set)
    elif codec == "raw-snappy":
        payload, codec = snappy_block_literal(inner_set), 2
    else:
        raise ValueError(codec)
    return message(payload, magic=1, codec=codec)


# ---------------------------------------------------------------------------
# Payloads and entries used throughout
# ---------------------------------------------------------------------------

HELLO = b"hello"
THERE = b"there"
TESTING = b"testing"          # CRC 0xe8f35a06 (>= 2**31: exercises signed-CRC handling)
BINARY = bytes(range(256))
UTF8 = "h\u00e9llo w\u00f6rld \u20ac".encode("utf-8")

E_HELLO = message(HELLO)
E_THERE = message(THERE)
E_TESTING = message(TESTING)

# ---------------------------------------------------------------------------
# Canned responses with what a spec-conformant client should decode.
# next_offsets are relative to the fetch offset (spec 5.2/5.3).
# ---------------------------------------------------------------------------


def _flip_crc(entry):
    b = bytearray(entry)
    b[6] ^= 0xFF if b[4] == 1 else 0
    b[5] ^= 0xFF if b[4] == 0 else 0
    return bytes(b)


def _canned():
    gz = wrapper(E_HELLO + E_THERE, 1)
    sx = wrapper(E_HELLO + E_THERE, 2)
    sr = wrapper(E_HELLO + E_THERE, "raw-snappy")
    m0h, m0t = message(HELLO, magic=0), message(THERE, magic=0)
    e_empty = message(b"")
    e_bin = message(BINARY)
    e_utf8 = message(UTF8)
    e_magic2 = message(HELLO, magic=2)
    hl, th = len(E_HELLO), len(E_THERE)

    def ok(payloads, offsets, **extra):
        d = {"error": None, "payloads_hex": [p.hex() for p in payloads], "next_offsets": offsets}
        d.update(extra)
        return d

    R = {}

    def add(name, data, what, decode):
        R[name] = {"bytes": data, "what": what, "spec_decode": decode}

    # FETCH ----------------------------------------------------------------
    add("fetch_hello_there", fetch_response(E_HELLO + E_THERE),
        "FETCH ok, [hello, there] magic 1 (spec 12.3)", ok([HELLO, THERE], [hl, hl + th]))
    add("fetch_empty", fetch_response(b""), "FETCH ok, empty message set", ok([], []))
    add("fetch_error_1", fetch_response(b"", 1),
        "FETCH error code 1 OffsetOutOfRange, empty set (spec 12.3)",
        {"error": "OffsetOutOfRange (1)"})
    add("fetch_error_3", fetch_response(b"", 3), "FETCH error code 3 WrongPartition",
        {"error": "WrongPartition (3)"})
    add("fetch_error_unknown", fetch_response(b"", -1), "FETCH error code -1 Unknown",
        {"error": "Unknown (-1)"})
    add("fetch_cut_trailing", fetch_response(E_HELLO + E_THERE[:9]),
        "FETCH ok, [hello, first 9 of 15 bytes of 'there'] (max size cut the last message)",
        ok([HELLO], [hl], note="partial trailing entry silently dropped (spec 3.2 step 4)"))
    add("fetch_cut_first", fetch_response(E_HELLO[:12]),
        "FETCH ok, only 12 of the 15 bytes of the first message",
        {"error": "InvalidMessageSizeException (first entry larger than the set, spec 3.2 step 4)"})
    add("fetch_bad_crc", fetch_response(E_HELLO + _flip_crc(E_THERE)),
        "FETCH ok, [hello, there with CRC byte flipped]",
        {"error": "InvalidMessageException on the 2nd message (0.7.1+); 0.7.0 yields both",
         "payloads_before_error_hex": [HELLO.hex()]})
    add("fetch_gzip_between", fetch_response(E_HELLO + gz + E_THERE),
        "FETCH ok, [hello, gzip wrapper(hello, there), there] (spec 5.4)",
        ok([HELLO, HELLO, THERE, THERE], [hl, hl, hl + len(gz), hl + len(gz) + th]))
    add("fetch_gzip_only", fetch_response(gz), "FETCH ok, [gzip wrapper(hello, there)]",
        ok([HELLO, THERE], [0, len(gz)]))
    add("fetch_snappy_xerial", fetch_response(sx),
        "FETCH ok, [snappy wrapper (xerial framing) of (hello, there)] (spec 12.3)",
        ok([HELLO, THERE], [0, len(sx)]))
    add("fetch_snappy_raw", fetch_response(sr),
        "FETCH ok, [snappy wrapper whose payload is a bare Snappy block] (spec 4.3 compat mode)",
        ok([HELLO, THERE], [0, len(sr)]))
    add("fetch_magic0", fetch_response(m0h + m0t), "FETCH ok, [hello, there] magic 0",
        ok([HELLO, THERE], [len(m0h), len(m0h) + len(m0t)]))
    add("fetch_magic0_bad_crc", fetch_response(m0h + _flip_crc(m0t)),
        "FETCH ok, [hello, there with CRC byte flipped], both magic 0",
        {"error": "InvalidMessageException on the 2nd message (0.7.1+); 0.7.0 yields both",
         "payloads_before_error_hex": [HELLO.hex()]})
    add("fetch_magic0_cut_trailing", fetch_response(m0h + m0t[:9]),
        "FETCH ok, [hello, first 9 of 14 bytes of 'there'], both magic 0",
        ok([HELLO], [len(m0h)], note="partial trailing entry silently dropped (spec 3.2 step 4)"))
    add("fetch_mixed_magic", fetch_response(m0h + E_THERE),
        "FETCH ok, [hello magic 0, there magic 1]",
        ok([HELLO, THERE], [len(m0h), len(m0h) + th]))
    add("fetch_trailing_junk", fetch_response(E_HELLO + E_THERE + b"\x00\x00"),
        "FETCH ok, [hello, there] + 2 junk bytes", ok([HELLO, THERE], [hl, hl + th]))
    add("fetch_empty_payload", fetch_response(e_empty + E_HELLO),
        "FETCH ok, [empty payload, hello]", ok([b"", HELLO], [len(e_empty), len(e_empty) + hl]))
    add("fetch_binary_payload", fetch_response(e_bin + e_utf8),
        "FETCH ok, [bytes 00..ff, UTF-8 text]",
        ok([BINARY, UTF8], [len(e_bin), len(e_bin) + len(e_utf8)]))
    add("fetch_high_crc", fetch_response(E_TESTING + E_HELLO),
        "FETCH ok, [testing (CRC 0xe8f35a06 >= 2^31), hello]",
        ok([TESTING, HELLO], [len(E_TESTING), len(E_TESTING) + hl]))
    add("fetch_unknown_magic", fetch_response(e_magic2 + E_THERE),
        "FETCH ok, [entry with magic 2, there]",
        {"error": "UnknownMagicByteException / corrupt message (spec 2.4)"})

    # MULTIFETCH -----------------------------------------------------------
    add("multifetch_hello_err", multifetch_response([(0, E_HELLO), (1, b"")]),
        "MULTIFETCH [a: hello ok; b: code 1] (spec 12.3)",
        {"parts": [ok([HELLO], [hl]), {"error": "OffsetOutOfRange (1)"}]})
    add("multifetch_ok", multifetch_response([(0, E_HELLO), (0, E_THERE)]),
        "MULTIFETCH [a: hello; b: there]", {"parts": [ok([HELLO], [hl]), ok([THERE], [th])]})

    # OFFSETS --------------------------------------------------------------
    for name, offs, what in (
        ("offsets_240", [240, 216, 108, 0], "OFFSETS [240,216,108,0] (spec 12.3)"),
        ("offsets_zero", [0], "OFFSETS [0]"),
        ("offsets_empty", [], "OFFSETS []"),
        ("offsets_above_2_32", [2 ** 32 + 7, 15], "OFFSETS [2^32+7, 15]"),
        ("offsets_above_2_53", [2 ** 53 + 1], "OFFSETS [2^53+1] (not exact in a double)"),
        ("offsets_max", [2 ** 63 - 1], "OFFSETS [2^63-1]"),
    ):
        add(name, offsets_response(offs), what, {"error": None, "offsets": offs})
    return R


CANNED = _canned()


def canned(name):
    return CANNED[name]["bytes"]


# ---------------------------------------------------------------------------
# Self-check against the spec's vectors (12.2 / 12.3)
# ---------------------------------------------------------------------------

def _h(text):
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


def self_check():
    assert E_HELLO == _h("00 00 00 0b 01 00 36 10 a6 86 68 65 6c 6c 6f")
    assert E_THERE == _h("00 00 00 0b 01 00 5a 2f e9 96 74 68 65 72 65")
    assert message(b"") == _h("00 00 00 06 01 00 00 00 00 00")
    assert message(TESTING, magic=0) == _h("00 00 00 0c 00 e8 f3 5a 06 74 65 73 74 69 6e 67")
    assert E_TESTING == _h("00 00 00 0d 01 00 e8 f3 5a 06 74 65 73 74 69 6e 67")
    assert request(0, produce_body("test", 0, E_HELLO)) == \
        _h("00 00 00 1f 00 00 00 04 74 65 73 74 00 00 00 00 00 00 00 0f") + E_HELLO
    assert request(0, produce_body("test", 0, E_TESTING)) == _h(
        "00 00 00 21 00 00 00 04 74 65 73 74 00 00 00 00 00 00 00 11"
        " 00 00 00 0d 01 00 e8 f3 5a 06 74 65 73 74 69 6e 67")
    assert request(1, fetch_body("test", 0, 0, 1048576)) == _h(
        "00 00 00 18 00 01 00 04 74 65 73 74 00 00 00 00 00 00 00 00 00 00 00 00 00 10 00 00")
    assert canned("fetch_hello_there") == _h("00 00 00 20 00 00") + E_HELLO + E_THERE
    assert canned("fetch_error_1") == _h("00 00 00 02 00 01")
    assert request(4, offsets_body("test", 0, -1, 10)) == _h(
        "00 00 00 18 00 04 00 04 74 65 73 74 00 00 00 00 ff ff ff ff ff ff ff ff 00 00 00 0a")
    assert canned("offsets_240") == _h("00 00 00 26 00 00 00 00 00 04") + b"".join(
        struct.pack(">q", o) for o in (240, 216, 108, 0))
    mf = request(2, struct.pack(">h", 2) + fetch_body("a", 0, 0, 307200) + fetch_body("b", 0, 0, 307200))
    assert mf == _h("00 00 00 2a 00 02 00 02"
                    "00 01 61 00 00 00 00 00 00 00 00 00 00 00 00 00 04 b0 00"
                    "00 01 62 00 00 00 00 00 00 00 00 00 00 00 00 00 04 b0 00")
    assert canned("multifetch_hello_err") == _h("00 00 00 1d 00 00 00 00 00 11 00 00") + E_HELLO + \
        _h("00 00 00 02 00 01")
    mp = request(3, struct.pack(">h", 2) + produce_body("a", 0, E_HELLO) + produce_body("b", -1, E_THERE))
    assert mp == _h("00 00 00 38 00 03 00 02 00 01 61 00 00 00 00 00 00 00 0f") + E_HELLO + \
        _h("00 01 62 ff ff ff ff 00 00 00 0f") + E_THERE
    gz = gzip_jdk(E_HELLO + E_THERE)
    assert gz == _h("1f 8b 08 00 00 00 00 00 00 ff 63 60 60 e0 66 64 30 13 58 d6 96 91 9a 93 93 cf"
                    " 00 e6 46 e9 bf 9c 56 92 91 5a 94 0a 00 85 ba 71 2c 1e 00 00 00")
    assert wrapper(E_HELLO + E_THERE, 1) == _h("00 00 00 35 01 01 d9 f3 71 25") + gz
    sx = snappy_xerial(E_HELLO + E_THERE)
    assert sx == _h("82 53 4e 41 50 50 59 00 00 00 00 01 00 00 00 01 00 00 00 20 1e 74") + E_HELLO + E_THERE
    assert wrapper(E_HELLO + E_THERE, 2) == _h("00 00 00 3a 01 02 50 7f ed 60") + sx
    # Go client's gzip vector decodes to the magic-1 "testing" entry (12.2)
    go_gz = _h("1f 8b 08 00 00 00 00 00 04 ff 62 60 60 e0 65 64 78 f1 39 8a ad 24 b5 b8 24 33 2f"
               " 1d 10 00 00 ff ff 0c 6a 82 91 11 00 00 00")
    assert zlib.decompress(go_gz, 31) == E_TESTING
    assert crc32(go_gz) == 0x07FDC376
    return True


def write_all(outdir):
    os.makedirs(outdir, exist_ok=True)
    index = {}
    for name, item in CANNED.items():
        with open(os.path.join(outdir, name + ".bin"), "wb") as f:
            f.write(item["bytes"])
        index[name] = {"file": name + ".bin", "what": item["what"], "hex": item["bytes"].hex(),
                       "spec_decode": item["spec_decode"]}
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    return index


if __name__ == "__main__":
    self_check()
    if len(sys.argv) == 2:
        idx = write_all(sys.argv[1])
        print("vectors: self-check ok; wrote %d canned responses to %s" % (len(idx), sys.argv[1]))
    else:
        print("vectors: self-check ok")
