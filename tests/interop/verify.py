"""Independent spec-based check of everything the encoders captured.

For every out/<peer>/<case>.json that has a .bin, decode the raw bytes as Kafka
0.7 requests (spec sections 1-6: envelope, PRODUCE/MULTIPRODUCE/FETCH/
MULTIFETCH/OFFSETS bodies, messages magic 0/1, CRC, gzip and Snappy wrappers -
xerial framing and bare blocks) and compare the *first* request with the
case's ``expect``.  Any difference is listed; differences are facts about the
peer (e.g. a wrong CRC), not necessarily harness errors.

This is a reference for the Rust decoder's interop tests, written only from the
spec; it is not the decoder under test.

    python3 verify.py [OUTROOT]      # default: target/interop-out ; writes OUTROOT/verify.json

Exit status: 0 always when the files could be read (mismatches are data, not
failures); 2 when OUTROOT has no peer directories.  Standard library only.
"""

import json
import os
import struct
import sys
import zlib

TYPE_NAMES = {0: "PRODUCE", 1: "FETCH", 2: "MULTIFETCH", 3: "MULTIPRODUCE", 4: "OFFSETS"}


class Malformed(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise Malformed("need %d bytes at %d, only %d left" % (n, self.pos, len(self.data) - self.pos))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def short_string(self):
        n = self.i16()
        if n < 0:
            return None
        return self.take(n)

    def left(self):
        return len(self.data) - self.pos


def snappy_block_decode(buf):
    """Decode one raw Snappy block (format: varint length, literal/copy elements)."""
    pos = 0
    length = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise Malformed("snappy: truncated length varint")
        b = buf[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
    out = bytearray()
    while pos < len(buf):
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(buf[pos:pos + extra], "little")
                pos += extra
            n += 1
            if pos + n > len(buf):
                raise Malformed("snappy: literal runs past the block")
            out += buf[pos:pos + n]
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            off = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 2], "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            off = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        if off == 0 or off > len(out):
            raise Malformed("snappy: bad copy offset %d" % off)
        for _ in range(n):
            out.append(out[-off])
    if len(out) != length:
        raise Malformed("snappy: length %d != header %d" % (len(out), length))
    return bytes(out)


def snappy_decode(payload):
    """snappy-java 1.0.4.1 SnappyInputStream rules (spec 4.3): xerial framing when the
    8-byte magic matches, else the whole payload is one raw block."""
    magic = bytes([0x82]) + b"SNAPPY\x00"
    if len(payload) >= 16 and payload[:8] == magic:
        r = Reader(payload)
        r.take(16)
        out = bytearray()
        while r.left() >= 4:
            n = r.i32()
            out += snappy_block_decode(r.take(n))
        return bytes(out), "xerial"
    return snappy_block_decode(payload), "raw-block"


def decode_message_set(data, depth=0):
    """Shallow+deep decode of a message set. Returns (messages, issues)."""
    msgs, issues = [], []
    r = Reader(data)
    while r.left() >= 4:
        start = r.pos
        n = r.i32()
        if n < 0 or n > r.left():
            issues.append("entry at %d: length %d but %d bytes left" % (start, n, r.left()))
            break
        body = r.take(n)
        if n < 1:
            issues.append("entry at %d: length %d too small" % (start, n))
            continue
        magic = body[0]
        if magic == 0:
            if n < 5:
                issues.append("entry at %d: magic 0 but length %d < 5" % (start, n))
                continue
            codec, crc, payload = 0, struct.unpack(">I", body[1:5])[0], body[5:]
        elif magic == 1:
            if n < 6:
                issues.append("entry at %d: magic 1 but length %d < 6" % (start, n))
                continue
            codec, crc, payload = body[1] & 3, struct.unpack(">I", body[2:6])[0], body[6:]
        else:
            issues.append("entry at %d: unknown magic %d" % (start, magic))
            continue
        m = {"magic": magic, "codec": codec, "crc": crc, "crc_ok": crc == zlib.crc32(payload) & 0xFFFFFFFF,
             "payload_hex": payload.hex()}
        if magic == 1:
            m["attributes"] = body[1]
        if not m["crc_ok"]:
            issues.append("entry at %d: CRC %08x != crc32(payload) %08x" % (
                start, crc, zlib.crc32(payload) & 0xFFFFFFFF))
        if codec in (1, 2):
            try:
                if codec == 1:
                    inner = zlib.decompress(payload, 47)
                    m["gzip_header"] = payload[:10].hex()
                else:
                    inner, framing = snappy_decode(payload)
                    m["snappy_framing"] = framing
                inner_msgs, inner_issues = decode_message_set(inner, depth + 1)
                m["inner"] = inner_msgs
                issues += ["inside wrapper at %d: %s" % (start, i) for i in inner_issues]
            except (zlib.error, Malformed) as exc:
                issues.append("entry at %d: wrapper payload not decodable: %s" % (start, exc))
        elif codec == 3:
            issues.append("entry at %d: codec 3 (unknown)" % start)
        msgs.append(m)
    if 0 < r.left() < 4:
        issues.append("%d trailing bytes after the last entry" % r.left())
    return msgs, issues


def deep_payloads(msgs):
    out = []
    for m in msgs:
        if "inner" in m:
            out += deep_payloads(m["inner"])
        else:
            out.append(m["payload_hex"])
    return out


def _produce_body(r):
    topic = r.short_string()
    partition = r.i32()
    size = r.i32()
    ms = r.take(size)
    msgs, issues = decode_message_set(ms)
    return {"topic": topic.decode("latin-1") if topic is not None else None, "partition": partition,
            "message_set_size": size, "messages": msgs, "issues": issues}


def _fetch_body(r):
    topic = r.short_string()
    return {"topic": topic.decode("latin-1") if topic is not None else None, "partition": r.i32(),
            "offset": r.i64(), "max_size": r.i32()}


def decode_request(frame):
    """frame: bytes of one request without the 4-byte size."""
    r = Reader(frame)
    rtype = r.i16()
    out = {"type": TYPE_NAMES.get(rtype, "UNKNOWN(%d)" % rtype)}
    if rtype == 0:
        out.update(_produce_body(r))
    elif rtype == 3:
        count = r.i16()
        out["items"] = [_produce_body(r) for _ in range(count)]
    elif rtype == 1:
        out.update(_fetch_body(r))
    elif rtype == 2:
        count = r.i16()
        out["items"] = [_fetch_body(r) for _ in range(count)]
    elif rtype == 4:
        topic = r.short_string()
        out.update({"topic": topic.decode("latin-1") if topic is not None else None,
                    "partition": r.i32(), "time": r.i64(), "max_offsets": r.i32()})
    if r.left():
        out["unparsed_tail_bytes"] = r.left()
    return out


def decode_stream(data):
    frames = []
    r = Reader(data)
    while r.left() >= 4:
        size = r.i32()
        if size <= 0 or size > r.left():
            frames.append({"error": "request size %d but %d bytes left" % (size, r.left())})
            break
        body = r.take(size)
        try:
            frames.append(decode_request(body))
        except Malformed as exc:
            frames.append({"error": "malformed body: %s" % exc, "size": size})
    if 0 < r.left() < 4:
        frames.append({"error": "%d stray bytes" % r.left()})
    return frames


def _cmp(issues, label, want, got):
    if want is not None and want != got:
        issues.append("%s: expected %r, got %r" % (label, want, got))


def compare(expect, got):
    issues = []
    if "error" in got:
        return [got["error"]]
    if got["type"] != expect["type"]:
        return ["type: expected %s, got %s" % (expect["type"], got["type"])]
    if got.get("unparsed_tail_bytes"):
        issues.append("%d bytes after the body" % got["unparsed_tail_bytes"])
    t = expect["type"]

    def produce_item(exp, g, prefix=""):
        _cmp(issues, prefix + "topic", exp["topic"], g["topic"])
        _cmp(issues, prefix + "partition", exp.get("partition"), g["partition"])
        issues.extend(prefix + i for i in g["issues"])
        top = g["messages"]
        codec = expect.get("codec", 0)
        magic = expect.get("magic")
        if codec:
            if len(top) != 1 or top[0]["codec"] != codec:
                issues.append(prefix + "expected one wrapper with codec %d, got %s" % (
                    codec, [(m["magic"], m["codec"]) for m in top]))
            inner = [m for w in top for m in w.get("inner", [])]
            for m in inner:
                _cmp(issues, prefix + "inner magic", magic, m["magic"])
        else:
            for m in top:
                _cmp(issues, prefix + "magic", magic, m["magic"])
                _cmp(issues, prefix + "codec", 0, m["codec"])
        _cmp(issues, prefix + "payloads", exp["payloads_hex"], deep_payloads(top))

    if t == "PRODUCE":
        produce_item(expect, got)
    elif t == "MULTIPRODUCE":
        if len(expect["items"]) != len(got["items"]):
            issues.append("items: expected %d, got %d" % (len(expect["items"]), len(got["items"])))
        for i, (e, g) in enumerate(zip(expect["items"], got["items"])):
            produce_item(e, g, "item %d " % i)
    elif t == "FETCH":
        for k in ("topic", "partition", "offset", "max_size"):
            _cmp(issues, k, expect[k], got[k])
    elif t == "MULTIFETCH":
        if len(expect["items"]) != len(got["items"]):
            issues.append("items: expected %d, got %d" % (len(expect["items"]), len(got["items"])))
        for i, (e, g) in enumerate(zip(expect["items"], got["items"])):
            for k in ("topic", "partition", "offset", "max_size"):
                _cmp(issues, "item %d %s" % (i, k), e[k], g[k])
    elif t == "OFFSETS":
        for k in ("topic", "partition", "time", "max_offsets"):
            _cmp(issues, k, expect[k], got[k])
    return issues


def verify_case(peerdir, meta):
    binname = meta.get("bin")
    if not binname:
        return {"status": "no-bytes", "issues": [], "calls": [c.get("outcome") for c in meta.get("calls", [])]}
    with open(os.path.join(peerdir, binname), "rb") as f:
        data = f.read()
    frames = decode_stream(data)
    expect = meta["expect"]
    notes = []
    if not frames:
        issues = ["no complete request"]
    elif expect.get("split_over_frames") and expect["type"] == "PRODUCE":
        # the peer is expected to spread the payloads over several PRODUCE requests
        produce = [f for f in frames if f.get("type") == "PRODUCE"]
        merged = dict(produce[0])
        merged["messages"] = [m for f in produce for m in f["messages"]]
        merged["issues"] = [i for f in produce for i in f["issues"]]
        issues = compare(expect, merged)
        notes.append("payloads spread over %d PRODUCE requests: %s" % (
            len(produce), [len(f["messages"]) for f in produce]))
    else:
        issues = compare(expect, frames[0])
    for i, f in enumerate(frames):
        if f.get("type") == "PRODUCE" and f.get("message_set_size") == 0:
            notes.append("request %d is a PRODUCE with an empty message set" % i)
    return {"status": "match" if not issues else "mismatch", "issues": issues, "notes": notes,
            "frames": frames, "extra_frames": max(0, len(frames) - 1)}


def main(root):
    peers = sorted(d for d in os.listdir(root)
                   if os.path.isdir(os.path.join(root, d)) and d != "responses")
    if not peers:
        print("verify: no peer directories under %s" % root)
        return 2
    report = {}
    for peer in peers:
        pdir = os.path.join(root, peer)
        cases = {}
        for name in sorted(os.listdir(pdir)):
            if not name.endswith(".json") or name.endswith(".result.json") or name.startswith("_"):
                continue
            with open(os.path.join(pdir, name)) as f:
                meta = json.load(f)
            cases[meta["case"]] = verify_case(pdir, meta)
        report[peer] = cases
        counts = {}
        for v in cases.values():
            counts[v["status"]] = counts.get(v["status"], 0) + 1
        print("%-12s %s" % (peer, ", ".join("%s=%d" % kv for kv in sorted(counts.items()))))
        for case, v in sorted(cases.items()):
            if v["status"] == "mismatch":
                print("    %-36s %s" % (case, v["issues"][0][:110]))
                for extra in v["issues"][1:3]:
                    print("    %-36s %s" % ("", extra[:110]))
            for note in v.get("notes", []):
                print("    %-36s note: %s" % (case, note[:104]))
    with open(os.path.join(root, "verify.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "target", "interop-out")))
