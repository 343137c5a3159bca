#!/usr/bin/env python3
"""Inputs for the `kafka07 decode` figures in BENCHMARKS.md ("The CLI decoder"), written to
DIR (a scratch directory such as /tmp: they are big and never committed):

  raw20m.bin   a raw client-to-broker stream (~20 MB): PRODUCE requests to "bench"/0, each
               a set of 100 magic-1 messages of 100 bytes (181,500 messages)
  cap1g.pcap   a ~1 GB pcap (Ethernet/IPv4/TCP on 127.0.0.1) of 10 connections to port
               9092, each a loop of PRODUCE (100 x 100-byte messages), FETCH of that offset
               and the FETCH response holding the same set; segments of at most 65,000 bytes
  raw200m.bin  the same stream, ~200 MB (to compare peak RSS with the 20 MB one)
  cap50m.pcap  the same, ~50 MB (to compare peak RSS with the 1 GB one)

  python3 scripts/decode-bench-inputs.py /tmp/decode-bench
"""
import struct
import sys
import zlib
from pathlib import Path


def message(payload):
    body = struct.pack(">BBI", 1, 0, zlib.crc32(payload)) + payload
    return struct.pack(">I", len(body)) + body


def message_set(first):
    return b"".join(
        message((b"message %09d " % (first + i)).ljust(100, b"x")) for i in range(100)
    )


def produce(topic, mset):
    req = struct.pack(">hh", 0, len(topic)) + topic + struct.pack(">ii", 0, len(mset)) + mset
    return struct.pack(">I", len(req)) + req


def raw_stream(path, target):
    total, n = 0, 0
    with open(path, "wb") as out:
        while total < target:
            frame = produce(b"bench", message_set(n))
            n += 100
            out.write(frame)
            total += len(frame)
    print(f"{path}: {n} messages, {total} bytes")


class Pcap:
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01

    def __init__(self, path):
        self.out = open(path, "wb", buffering=1 << 22)
        self.out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.ts = [1_700_000_000, 0]
        self.written = 24

    def frame(self, sport, dport, seq, ack, flags, payload):
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                          5 << 4, flags, 65535, 0, 0)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0,
                         b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x01")
        pkt = b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload
        self.ts[1] += 1
        if self.ts[1] >= 1_000_000:
            self.ts = [self.ts[0] + 1, 0]
        self.out.write(struct.pack("<IIII", self.ts[0], self.ts[1], len(pkt), len(pkt)))
        self.out.write(pkt)
        self.written += 16 + len(pkt)


def capture(path, target, conns=10):
    p = Pcap(path)
    sets = [message_set(k * 100) for k in range(16)]
    state = []
    for c in range(conns):
        port, cseq, sseq = 40000 + c, 1000 + c, 5000 + c
        p.frame(port, 9092, cseq, 0, Pcap.SYN, b"")
        p.frame(9092, port, sseq, cseq + 1, Pcap.SYN | Pcap.ACK, b"")
        p.frame(port, 9092, cseq + 1, sseq + 1, Pcap.ACK, b"")
        state.append([port, cseq + 1, sseq + 1, 0])

    def send(c, to_server, data):
        for i in range(0, len(data), 65000):
            seg = data[i:i + 65000]
            if to_server:
                p.frame(c[0], 9092, c[1], c[2], Pcap.ACK | Pcap.PSH, seg)
                c[1] += len(seg)
            else:
                p.frame(9092, c[0], c[2], c[1], Pcap.ACK | Pcap.PSH, seg)
                c[2] += len(seg)

    k = 0
    while p.written < target:
        for c in state:
            s = sets[k % len(sets)]
            k += 1
            fetch = struct.pack(">hh", 1, 5) + b"bench" + struct.pack(">iqi", 0, c[3], 1 << 20)
            c[3] += len(s)
            resp = struct.pack(">h", 0) + s
            send(c, True, produce(b"bench", s) + struct.pack(">I", len(fetch)) + fetch)
            send(c, False, struct.pack(">I", len(resp)) + resp)
    for c in state:
        p.frame(c[0], 9092, c[1], c[2], Pcap.FIN | Pcap.ACK, b"")
        p.frame(9092, c[0], c[2], c[1] + 1, Pcap.FIN | Pcap.ACK, b"")
        p.frame(c[0], 9092, c[1] + 1, c[2] + 1, Pcap.ACK, b"")
    p.out.close()
    print(f"{path}: {p.written} bytes, {k} PRODUCE/FETCH/response rounds")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: decode-bench-inputs.py DIR")
    d = Path(sys.argv[1])
    d.mkdir(parents=True, exist_ok=True)
    raw_stream(d / "raw20m.bin", 20_000_000)
    raw_stream(d / "raw200m.bin", 200_000_000)
    capture(d / "cap50m.pcap", 50_000_000)
    capture(d / "cap1g.pcap", 1_000_000_000)


if __name__ == "__main__":
    main()
