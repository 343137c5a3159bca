"""Drive pykafka 0.1.3 (PyPI; installs a module named ``kafka``) against the
loopback recorder.

kafka.producer.Producer(topic, partition, host, port) sends PRODUCE with magic-0
messages; kafka.consumer.Consumer(topic, partition, host, port).consume() sends
FETCH.  There is no OFFSETS, MULTIPRODUCE, MULTIFETCH or compression.  The
consumer is exercised only to record how it decodes (it is known to be weak).

pykafka sockets have no timeout of their own; the harness sets
socket.setdefaulttimeout(3).

Run with the interop venv's python:  venv/bin/python encode_pykafka.py [OUTDIR]
"""

import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()

from casekit import CaseKit, fetch_expect, hx, produce_expect  # noqa: E402
from pycompat import B  # noqa: E402
import vectors as V  # noqa: E402

import kafka  # noqa: E402  (pykafka)
import kafka.consumer  # noqa: E402
import kafka.message  # noqa: E402
import kafka.producer  # noqa: E402

PEER = "pykafka"
VERSION = "0.1.3"
TIMEOUT = 3


def producer(case, partition=0, **kw):
    return kafka.producer.Producer(B("test"), partition=partition, host="127.0.0.1",
                                   port=case.port, **kw)


def consumer(case, offset=0, max_size=None):
    c = kafka.consumer.Consumer(B("test"), 0, "127.0.0.1", case.port)
    c.offset = offset
    if max_size is not None:
        c.max_size = max_size
    return c


def describe(msgs):
    return [{"payload_hex": hx(m.payload), "magic": m.magic, "checksum": m.checksum,
             "is_valid": m.is_valid()} for m in msgs]


def main(outdir):
    socket.setdefaulttimeout(TIMEOUT)
    kit = CaseKit(PEER, VERSION, outdir)
    T = "test"
    M = kafka.message.Message

    # ---------------------------------------------------------------- produce
    for label, payloads in (("one", [V.HELLO]), ("many", [V.HELLO, V.THERE, V.TESTING]),
                            ("empty_payload", [b""]), ("binary", [V.BINARY]), ("utf8", [V.UTF8])):
        name = "produce_%s_m0" % label
        with kit.case(name, produce_expect(T, 0, payloads, 0),
                      "Producer('test', 0).send([Message(p) for p in %d payloads])" % len(payloads)) as c:
            p = producer(c)
            c.call(lambda: p.send([M(x) for x in payloads]))
            c.wait_frames(1)
            p.disconnect()

    with kit.case("produce_single_message_m0", produce_expect(T, 0, [V.HELLO], 0),
                  "Producer('test', 0).send(Message('hello'))") as c:
        p = producer(c)
        c.call(lambda: p.send(M(V.HELLO)))
        c.wait_frames(1)
        p.disconnect()

    with kit.case("produce_batch_m0", produce_expect(T, 0, [V.HELLO, V.THERE], 0),
                  "with Producer('test', 0).batch() as msgs: msgs += [Message('hello'), Message('there')]") as c:
        p = producer(c)

        def run():
            with p.batch() as msgs:
                msgs.append(M(V.HELLO))
                msgs.append(M(V.THERE))

        c.call(run)
        c.wait_frames(1)
        p.disconnect()

    for part in (-1, 7):
        name = "produce_partition_%s_m0" % ("neg1" if part < 0 else part)
        with kit.case(name, produce_expect(T, part, [V.HELLO], 0),
                      "Producer('test', %d).send(Message('hello'))" % part) as c:
            p = producer(c, partition=part)
            c.call(lambda: p.send(M(V.HELLO)))
            c.wait_frames(1)
            p.disconnect()

    with kit.case("produce_split_m0", dict(produce_expect(T, 0, [V.HELLO, V.THERE, V.TESTING], 0),
                                           split_over_frames=True),
                  "Producer('test', 0, max_message_sz=12).send([hello, there, testing])",
                  notes=["expect lists all payloads; pykafka splits them over several PRODUCE"
                         " requests when the encoded size passes max_message_sz"]) as c:
        p = producer(c, max_message_sz=12)
        c.call(lambda: p.send([M(V.HELLO), M(V.THERE), M(V.TESTING)]))
        c.wait_frames(3)
        p.disconnect()

    with kit.case("produce_oversize_first_m0", dict(produce_expect(T, 0, [V.HELLO], 0),
                                                    split_over_frames=True),
                  "Producer('test', 0, max_message_sz=5).send([hello])",
                  notes=["the only message is larger than max_message_sz"]) as c:
        p = producer(c, max_message_sz=5)
        c.call(lambda: p.send([M(V.HELLO)]))
        c.wait_frames(2, timeout=1.5)
        p.disconnect()

    # ------------------------------------------------------------------ fetch
    fetch_responses = [
        "fetch_hello_there", "fetch_empty", "fetch_error_1", "fetch_error_unknown",
        "fetch_cut_trailing", "fetch_cut_first", "fetch_bad_crc", "fetch_gzip_between",
        "fetch_snappy_xerial", "fetch_magic0", "fetch_magic0_bad_crc", "fetch_magic0_cut_trailing", "fetch_mixed_magic", "fetch_trailing_junk",
        "fetch_empty_payload", "fetch_binary_payload", "fetch_high_crc", "fetch_unknown_magic",
    ]
    for resp in fetch_responses:
        with kit.case(resp, fetch_expect(T, 0, 0, 1048576),
                      "Consumer('test', 0).consume()  # offset 0, max_size 1048576 (defaults)",
                      responses=[resp]) as c:
            cons = consumer(c)
            r = c.call(cons.consume, timeout=TIMEOUT * 2)
            if r.done and r.error is None:
                c.returned = {"messages": describe(r.value), "offset_after": cons.offset}
            cons.disconnect()

    with kit.case("fetch_magic0_chunked", fetch_expect(T, 0, 0, 1048576),
                  "Consumer('test', 0).consume(); response sent 3 bytes at a time",
                  responses=["fetch_magic0"], chunk=3) as c:
        cons = consumer(c)
        r = c.call(cons.consume, timeout=TIMEOUT * 2)
        if r.done and r.error is None:
            c.returned = {"messages": describe(r.value), "offset_after": cons.offset}
        cons.disconnect()

    big = 2 ** 32 + 7
    with kit.case("fetch_offset_above_2_32", fetch_expect(T, 0, big, 307200),
                  "Consumer('test', 0) with .offset=2**32+7, .max_size=307200; consume()",
                  responses=["fetch_magic0"]) as c:
        cons = consumer(c, offset=big, max_size=307200)
        r = c.call(cons.consume, timeout=TIMEOUT * 2)
        if r.done and r.error is None:
            c.returned = {"messages": describe(r.value), "offset_after": cons.offset}
        cons.disconnect()

    with kit.case("fetch_connection_closed", fetch_expect(T, 0, 0, 1048576),
                  "Consumer('test', 0).consume(); the recorder closes without a response",
                  on_exhausted="close") as c:
        cons = consumer(c)
        r = c.call(cons.consume, timeout=4)
        if not r.done:
            c.note("call still running after 4 s: IO.read() loops on recv_into() returning 0"
                   " on a closed socket")
        elif r.error is None:
            c.returned = {"messages": describe(r.value), "offset_after": cons.offset}

    kit.finish({"patches": pycompat.describe_patches()})


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "target", "interop-out", PEER)
    main(out)
    sys.stdout.flush()
    os._exit(0)
