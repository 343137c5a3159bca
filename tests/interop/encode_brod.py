"""Drive brod 0.4.3 (PyPI) against the loopback recorder.

brod.Kafka(host, port) (the blocking client) speaks PRODUCE (magic 0 only),
FETCH and OFFSETS.  It has no MULTIPRODUCE/MULTIFETCH and no compression.
Only ``brod`` / ``brod.base`` / ``brod.blocking`` are imported (``brod.zk`` needs
zc.zk and the C ZooKeeper bindings and is not used).

brod sockets have no timeout of their own; the harness sets
socket.setdefaulttimeout(3) so a missing response ends the call instead of
blocking forever.

Run with the interop venv's python:  venv/bin/python encode_brod.py [OUTDIR]
"""

import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()

from casekit import CaseKit, fetch_expect, hx, offsets_expect, produce_expect  # noqa: E402
from pycompat import B  # noqa: E402
import vectors as V  # noqa: E402

import brod  # noqa: E402

PEER = "brod"
VERSION = "0.4.3"  # brod has no __version__; pinned by setup.sh
TIMEOUT = 3


def kafka(case):
    return brod.Kafka("127.0.0.1", case.port)


def close(k):
    try:
        k._disconnect()
    except Exception:
        pass


def describe(result):
    out = []
    for item in result:
        d = {"offset": item[0], "payload_hex": hx(item[1])}
        if len(item) > 2:
            d["corrupt"] = item[2]
        out.append(d)
    return out


def main(outdir):
    socket.setdefaulttimeout(TIMEOUT)
    kit = CaseKit(PEER, VERSION, outdir)
    T = "test"

    # ---------------------------------------------------------------- produce
    for label, payloads in (("one", [V.HELLO]), ("many", [V.HELLO, V.THERE, V.TESTING]),
                            ("empty_payload", [b""]), ("binary", [V.BINARY]), ("utf8", [V.UTF8])):
        name = "produce_%s_m0" % label
        with kit.case(name, produce_expect(T, 0, payloads, 0),
                      "Kafka.produce('test', [%d payloads], partition=0)" % len(payloads)) as c:
            k = kafka(c)
            c.call(lambda: k.produce(T, [B(p) for p in payloads], partition=0))
            c.wait_frames(1)
            close(k)

    with kit.case("produce_single_str_m0", produce_expect(T, 0, [V.HELLO], 0),
                  "Kafka.produce('test', 'hello')  # a single py2 str, not a list") as c:
        k = kafka(c)
        c.call(lambda: k.produce(T, B(V.HELLO)))
        c.wait_frames(1)
        close(k)

    with kit.case("produce_single_unicode_m0", produce_expect(T, 0, [V.UTF8], 0),
                  "Kafka.produce('test', u'h\\xe9llo w\\xf6rld \\u20ac')  # unicode -> UTF-8") as c:
        k = kafka(c)
        c.call(lambda: k.produce(T, V.UTF8.decode("utf-8")))
        c.wait_frames(1)
        close(k)

    with kit.case("produce_partition_neg1_m0", produce_expect(T, -1, [V.HELLO], 0),
                  "Kafka.produce('test', ['hello'], partition=-1)") as c:
        k = kafka(c)
        c.call(lambda: k.produce(T, [B(V.HELLO)], partition=-1))
        c.wait_frames(1, timeout=1.0)
        close(k)

    with kit.case("produce_partition_7_m0", produce_expect(T, 7, [V.HELLO], 0),
                  "Kafka.produce('test', ['hello'], partition=7)") as c:
        k = kafka(c)
        c.call(lambda: k.produce(T, [B(V.HELLO)], partition=7))
        c.wait_frames(1)
        close(k)

    # ------------------------------------------------------------------ fetch
    fetch_responses = [
        "fetch_hello_there", "fetch_empty", "fetch_error_1", "fetch_error_3",
        "fetch_error_unknown", "fetch_cut_trailing", "fetch_cut_first", "fetch_bad_crc",
        "fetch_gzip_between", "fetch_gzip_only", "fetch_snappy_xerial", "fetch_snappy_raw",
        "fetch_magic0", "fetch_magic0_bad_crc", "fetch_magic0_cut_trailing", "fetch_mixed_magic", "fetch_trailing_junk", "fetch_empty_payload",
        "fetch_binary_payload", "fetch_high_crc", "fetch_unknown_magic",
    ]
    for resp in fetch_responses:
        with kit.case(resp, fetch_expect(T, 0, 0, 1048576),
                      "Kafka.fetch('test', 0, partition=0, max_size=1048576)", responses=[resp]) as c:
            k = kafka(c)
            r = c.call(lambda: k.fetch(T, 0, partition=0, max_size=1048576), timeout=TIMEOUT * 2)
            if r.done and r.error is None:
                c.returned = {"messages": describe(r.value)}
            close(k)

    for resp in ("fetch_bad_crc", "fetch_hello_there", "fetch_magic0", "fetch_cut_trailing"):
        name = resp + "_include_corrupt"
        with kit.case(name, fetch_expect(T, 0, 0, 1048576),
                      "Kafka(include_corrupt=True).fetch('test', 0, partition=0, max_size=1048576,"
                      " include_corrupt=True)", responses=[resp]) as c:
            k = brod.Kafka("127.0.0.1", c.port, include_corrupt=True)
            r = c.call(lambda: k.fetch(T, 0, partition=0, max_size=1048576, include_corrupt=True),
                       timeout=TIMEOUT * 2)
            if r.done and r.error is None:
                c.returned = {"messages": describe(r.value)}
            close(k)

    with kit.case("fetch_hello_there_chunked", fetch_expect(T, 0, 0, 1048576),
                  "Kafka.fetch('test', 0, partition=0, max_size=1048576); response in 3-byte pieces",
                  responses=["fetch_hello_there"], chunk=3) as c:
        k = kafka(c)
        r = c.call(lambda: k.fetch(T, 0, partition=0, max_size=1048576), timeout=TIMEOUT * 3)
        if r.done and r.error is None:
            c.returned = {"messages": describe(r.value)}
        close(k)

    big = 2 ** 32 + 7
    with kit.case("fetch_offset_above_2_32", fetch_expect(T, 3, big, 307200),
                  "Kafka.fetch('test', 2**32+7, partition=3, max_size=307200)",
                  responses=["fetch_hello_there"]) as c:
        k = kafka(c)
        r = c.call(lambda: k.fetch(T, big, partition=3, max_size=307200), timeout=TIMEOUT * 2)
        if r.done and r.error is None:
            c.returned = {"messages": describe(r.value)}
        close(k)

    with kit.case("fetch_size_steps", fetch_expect(T, 0, 0, 100),
                  "Kafka.fetch('test', 0, min_size=100, max_size=400, fetch_step=100)",
                  responses=["fetch_empty", "fetch_empty", "fetch_hello_there"],
                  notes=["expect describes the first request; brod steps the max size"
                         " 100, 200, 300 until a fetch returns messages"]) as c:
        k = kafka(c)
        r = c.call(lambda: k.fetch(T, 0, min_size=100, max_size=400, fetch_step=100),
                   timeout=TIMEOUT * 3)
        if r.done and r.error is None:
            c.returned = {"messages": describe(r.value)}
        close(k)

    # ---------------------------------------------------------------- offsets
    for name, tm, mx, resp in (
        ("offsets_latest", -1, 10, "offsets_240"),
        ("offsets_earliest", -2, 1, "offsets_zero"),
        ("offsets_time", 1700000000000, 5, "offsets_above_2_32"),
        ("offsets_empty", -1, 10, "offsets_empty"),
        ("offsets_above_2_53", -1, 1, "offsets_above_2_53"),
        ("offsets_max", -1, 1, "offsets_max"),
    ):
        with kit.case(name, offsets_expect(T, 0, tm, mx),
                      "Kafka.offsets('test', %d, %d, partition=0)" % (tm, mx), responses=[resp]) as c:
            k = kafka(c)
            r = c.call(lambda: k.offsets(B(T), tm, mx, partition=0), timeout=TIMEOUT * 2)
            if r.done and r.error is None:
                c.returned = {"offsets": list(r.value)}
            close(k)

    # A connection the broker closes without answering.  brod's blocking _read
    # loops on recv() until it has `length` bytes and never checks for EOF.
    with kit.case("fetch_connection_closed", fetch_expect(T, 0, 0, 1048576),
                  "Kafka.fetch('test', 0); the recorder closes the connection without a response",
                  on_exhausted="close") as c:
        k = kafka(c)
        r = c.call(lambda: k.fetch(T, 0, partition=0, max_size=1048576), timeout=4)
        if not r.done:
            c.note("call still running after 4 s: brod spins in _read() on a closed socket"
                   " (recv returns b'' forever; the loop only ends when `length` bytes arrived)")
        elif r.error is None:
            c.returned = {"messages": describe(r.value)}

    kit.finish({"patches": pycompat.describe_patches()})


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "target", "interop-out", PEER)
    main(out)
    sys.stdout.flush()
    os._exit(0)  # the spinning thread of fetch_connection_closed never ends by itself
