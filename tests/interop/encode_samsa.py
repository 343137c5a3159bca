"""Drive samsa 0.3.11 (PyPI) against the loopback recorder.

samsa.client.Client(host, handler, port) speaks PRODUCE, MULTIPRODUCE, FETCH,
MULTIFETCH and OFFSETS, with message magic 0 (default) or 1.  No ZooKeeper is
involved: only samsa.client is imported (it does not need kazoo).

Run with the interop venv's python:  venv/bin/python encode_samsa.py [OUTDIR]
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()

from casekit import (CaseKit, fetch_expect, hx, multifetch_expect,  # noqa: E402
                     multiproduce_expect, offsets_expect, produce_expect)
from pycompat import B  # noqa: E402
import vectors as V  # noqa: E402

import samsa  # noqa: E402
from samsa.client import Client  # noqa: E402
from samsa.handlers import ThreadingHandler  # noqa: E402

PEER = "samsa"
TIMEOUT = 3  # samsa's own socket timeout (Client(timeout=...))


def client(case):
    return Client("127.0.0.1", ThreadingHandler(), port=case.port, timeout=TIMEOUT)


def describe_messages(msgs):
    out = []
    for m in msgs:
        out.append({"offset": m.offset, "next_offset": m.next_offset,
                    "payload_hex": hx(m.payload), "magic": m["magic"],
                    "compression": m.get("compression"), "valid": m.valid})
    return out


def main(outdir):
    kit = CaseKit(PEER, samsa.__version__, outdir)
    T = "test"

    # ---------------------------------------------------------------- produce
    produce_sets = [
        ("one", [V.HELLO]),
        ("many", [V.HELLO, V.THERE, V.TESTING]),
        ("empty_payload", [b""]),
        ("binary", [V.BINARY]),
        ("utf8", [V.UTF8]),
    ]
    for magic in (0, 1):
        for label, payloads in produce_sets:
            name = "produce_%s_m%d" % (label, magic)
            api = "Client.produce(%r, 0, %d payloads, version=%d)" % (T, len(payloads), magic)
            with kit.case(name, produce_expect(T, 0, payloads, magic), api) as c:
                cl = client(c)
                c.call(lambda: cl.produce(B(T), 0, list(payloads), version=magic))
                c.wait_frames(1)
                cl.disconnect()

    for magic in (0, 1):
        name = "produce_partition_neg1_m%d" % magic
        with kit.case(name, produce_expect(T, -1, [V.HELLO], magic),
                      "Client.produce('test', -1, [hello], version=%d)" % magic) as c:
            cl = client(c)
            c.call(lambda: cl.produce(B(T), -1, [V.HELLO], version=magic))
            c.wait_frames(1)
            cl.disconnect()

    for codec, cname in ((1, "gzip"), (2, "snappy")):
        name = "produce_%s_m1" % cname
        with kit.case(name, produce_expect(T, 0, [V.HELLO, V.THERE], 1, codec),
                      "Client.produce('test', 0, [hello, there], version=1, compression=%d)" % codec,
                      notes=["samsa 0.3.11 Message.pack_into raises NotImplementedError for any"
                             " compression other than 0 (a TODO in its source)"]) as c:
            cl = client(c)
            c.call(lambda: cl.produce(B(T), 0, [V.HELLO, V.THERE], version=1, compression=codec))
            c.wait_frames(1, timeout=1.0)
            cl.disconnect()

    # ----------------------------------------------------------- multiproduce
    items = [("a", 0, [V.HELLO]), ("b", -1, [V.THERE])]
    for magic in (0, 1):
        name = "multiproduce_m%d" % magic
        with kit.case(name, multiproduce_expect(items, magic),
                      "Client.multiproduce([('a',0,[hello]),('b',-1,[there])], version=%d)" % magic) as c:
            cl = client(c)
            c.call(lambda: cl.multiproduce([(B(t), p, list(pl)) for t, p, pl in items], version=magic))
            c.wait_frames(1)
            cl.disconnect()
    items3 = [("a", 0, [V.HELLO, V.THERE]), ("b", 1, [V.TESTING]), ("a", 2, [b""])]
    with kit.case("multiproduce_three_m1", multiproduce_expect(items3, 1),
                  "Client.multiproduce(3 items, version=1)") as c:
        cl = client(c)
        c.call(lambda: cl.multiproduce([(B(t), p, list(pl)) for t, p, pl in items3], version=1))
        c.wait_frames(1)
        cl.disconnect()

    # ------------------------------------------------------------------ fetch
    fetch_responses = [
        "fetch_hello_there", "fetch_empty", "fetch_error_1", "fetch_error_3",
        "fetch_error_unknown", "fetch_cut_trailing", "fetch_cut_first", "fetch_bad_crc",
        "fetch_gzip_between", "fetch_gzip_only", "fetch_snappy_xerial", "fetch_snappy_raw",
        "fetch_magic0", "fetch_magic0_bad_crc", "fetch_magic0_cut_trailing", "fetch_mixed_magic", "fetch_trailing_junk", "fetch_empty_payload",
        "fetch_binary_payload", "fetch_high_crc", "fetch_unknown_magic",
    ]
    for resp in fetch_responses:
        name = resp if resp.startswith("fetch_") else "fetch_" + resp
        with kit.case(name, fetch_expect(T, 0, 0, 1048576),
                      "Client.fetch('test', 0, 0, 1048576)", responses=[resp]) as c:
            cl = client(c)
            r = c.call(lambda: cl.fetch(B(T), 0, 0, 1048576), timeout=TIMEOUT * 3)
            if r.done and r.error is None:
                c.returned = {"messages": describe_messages(r.value)}
            if c.recorder.total_frames() > 1:
                c.note("samsa sent %d FETCH requests (it retries with size*1.5 when the first"
                       " message does not fit)" % c.recorder.total_frames())
            cl.disconnect()

    with kit.case("fetch_hello_there_chunked", fetch_expect(T, 0, 0, 1048576),
                  "Client.fetch('test', 0, 0, 1048576); response sent 3 bytes at a time",
                  responses=["fetch_hello_there"], chunk=3) as c:
        cl = client(c)
        r = c.call(lambda: cl.fetch(B(T), 0, 0, 1048576), timeout=TIMEOUT * 3)
        if r.done and r.error is None:
            c.returned = {"messages": describe_messages(r.value)}
        cl.disconnect()

    big = 2 ** 32 + 7
    with kit.case("fetch_offset_above_2_32", fetch_expect(T, 3, big, 300 * 1024),
                  "Client.fetch('test', 3, 2**32+7, 307200)", responses=["fetch_hello_there"]) as c:
        cl = client(c)
        r = c.call(lambda: cl.fetch(B(T), 3, big, 300 * 1024), timeout=TIMEOUT * 3)
        if r.done and r.error is None:
            c.returned = {"messages": describe_messages(r.value)}
        cl.disconnect()

    # ------------------------------------------------------------- multifetch
    mf_items = [("a", 0, 0, 307200), ("b", 0, 0, 307200)]
    for resp in ("multifetch_hello_err", "multifetch_ok"):
        with kit.case(resp, multifetch_expect(mf_items),
                      "list(map(list, Client.multifetch([('a',0,0,307200),('b',0,0,307200)])))",
                      responses=[resp]) as c:
            cl = client(c)
            parts = []

            def run():
                for gen in cl.multifetch([(B(t), p, o, m) for t, p, o, m in mf_items]):
                    parts.append(describe_messages(list(gen)))
                return parts

            r = c.call(run, timeout=TIMEOUT * 3)
            c.returned = {"parts_completed": parts}
            cl.disconnect()

    # ---------------------------------------------------------------- offsets
    off_cases = [
        ("offsets_latest", -1, 10, "offsets_240"),
        ("offsets_earliest", -2, 1, "offsets_zero"),
        ("offsets_time", 1700000000000, 5, "offsets_above_2_32"),
        ("offsets_empty", -1, 10, "offsets_empty"),
        ("offsets_above_2_53", -1, 1, "offsets_above_2_53"),
        ("offsets_max", -1, 1, "offsets_max"),
    ]
    for name, tm, mx, resp in off_cases:
        with kit.case(name, offsets_expect(T, 0, tm, mx),
                      "Client.offsets('test', 0, %d, %d)" % (tm, mx), responses=[resp]) as c:
            cl = client(c)
            r = c.call(lambda: cl.offsets(B(T), 0, tm, mx), timeout=TIMEOUT * 3)
            if r.done and r.error is None:
                c.returned = {"offsets": list(r.value)}
            cl.disconnect()

    kit.finish({"patches": pycompat.describe_patches()})


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "target", "interop-out", PEER)
    main(out)
    sys.stdout.flush()
    os._exit(0)  # samsa registers atexit handlers that join its worker queues
