#!/usr/bin/env python3
"""Derives test captures from the real snap-length captures (tests/data/captures/snaplen/),
changing nothing but IPv4 length fields, as scripts/make-snaplen-captures.sh documents:

  tso-s96.pcap       s96.pcap with every IPv4 total length set to 0, as in captures taken
                     where TSO/GSO hands the capture one large packet before the NIC splits
                     it (the kernel leaves the length 0): only the record's original length
                     says how long each packet was.
  mismatch-s96.pcap  s96.pcap with the IPv4 total length of ONE cut data packet (the first
                     packet over 200 bytes long) raised by 1000: the IP header and the record
                     disagree, and the record's length must win (and be reported).

  lost-s96.pcap      s96.pcap without that same packet's record (frame 40): a packet the
                     capture lost, on top of the snap length: real damage (a gap that is
                     not the snap length's).

The IPv4 header checksum is recomputed in the first two, so the headers stay valid. Record headers
(caplen, orig_len, timestamps) and all other bytes are copied unchanged.
"""
import struct
import sys
from pathlib import Path

DIR = Path(__file__).resolve().parent.parent / "tests/data/captures/snaplen"


def checksum(header: bytes) -> int:
    total = 0
    for i in range(0, len(header), 2):
        total += (header[i] << 8) | header[i + 1]
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def records(data: bytes):
    magic = data[:4]
    if magic != b"\xd4\xc3\xb2\xa1":
        sys.exit("expected a little-endian microsecond pcap (tcpdump on Linux)")
    linktype = struct.unpack_from("<I", data, 20)[0]
    if linktype != 1:
        sys.exit(f"expected Ethernet (linktype 1), got {linktype}")
    pos = 24
    while pos + 16 <= len(data):
        caplen, origlen = struct.unpack_from("<II", data, pos + 8)
        yield pos, pos + 16, caplen, origlen
        pos += 16 + caplen


def patch(src: Path, dst: Path, change) -> int:
    data = bytearray(src.read_bytes())
    changed = 0
    for n, (_, frame, caplen, origlen) in enumerate(records(bytes(data))):
        ip = frame + 14
        if caplen < 34 or data[frame + 12 : frame + 14] != b"\x08\x00":
            continue
        ihl = (data[ip] & 0x0F) * 4
        total = struct.unpack_from(">H", data, ip + 2)[0]
        new = change(n, total, caplen, origlen, changed)
        if new is None or new == total:
            continue
        struct.pack_into(">H", data, ip + 2, new)
        struct.pack_into(">H", data, ip + 10, 0)
        struct.pack_into(">H", data, ip + 10, checksum(bytes(data[ip : ip + ihl])))
        changed += 1
    dst.write_bytes(bytes(data))
    return changed


def main():
    src = DIR / "s96.pcap"
    n = patch(src, DIR / "tso-s96.pcap", lambda _n, total, *_: 0)
    print(f"tso-s96.pcap: {n} IPv4 total lengths set to 0")

    def one(_n, total, caplen, origlen, changed):
        if changed == 0 and origlen > 200 and origlen > caplen:
            return total + 1000
        return None

    n = patch(src, DIR / "mismatch-s96.pcap", one)
    print(f"mismatch-s96.pcap: {n} IPv4 total length raised by 1000")

    data = src.read_bytes()
    for n, (rec, frame, caplen, origlen) in enumerate(records(data)):
        if origlen > 200 and origlen > caplen:
            (DIR / "lost-s96.pcap").write_bytes(data[:rec] + data[frame + caplen :])
            print(f"lost-s96.pcap: record {n} (frame {n + 1}) removed")
            break


if __name__ == "__main__":
    main()
