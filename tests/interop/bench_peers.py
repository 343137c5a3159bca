"""Time the Python Kafka 0.7 peers (samsa, brod, pykafka) for scripts/bench-peers.sh.

    venv/bin/python bench_peers.py decode PEER FILE SECONDS
    venv/bin/python bench_peers.py consume PEER PORT TOPIC COUNT

``decode``: the peer's own message-set decoder over one FETCH response frame
(4-byte size, 2-byte error code, message set) held in memory, repeated for
SECONDS; every payload is touched and, where the peer has one, its CRC check is
called.  ``consume``: the peer's own consumer API draining COUNT messages of
partition 0 of TOPIC from a broker on 127.0.0.1:PORT, from offset 0, 1 MiB per
fetch.  Both print one JSON line (messages, seconds, messages_per_s, notes).
The peers are the unmodified packages loaded through pycompat.py.
"""

import io
import json
import logging
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()
from pycompat import B  # noqa: E402

logging.disable(logging.CRITICAL)  # brod logs an "error" at the end of every set


def samsa_decode(resp):
    from samsa.client import decode_messages
    n = b = 0
    for m in decode_messages(pycompat.py2_buffer(resp, 6), 0):
        if not m.valid:  # computed by the constructor: CRC checked
            raise AssertionError("samsa: invalid message")
        b += len(m.payload)
        n += 1
    return n, b


def brod_decode(resp):
    import brod
    k = brod.Kafka("127.0.0.1", 1)  # no connection is made until a request
    buf = io.BytesIO(resp[4:])
    buf.read(2)  # the error code, as brod's _read_response does
    n = b = 0
    for _offset, payload in k._parse_message_set(0, buf):  # computes each CRC
        b += len(payload)
        n += 1
    return n, b


def pykafka_decode(resp):
    import kafka.consumer
    c = kafka.consumer.Consumer.__new__(kafka.consumer.Consumer)  # no socket
    c.offset = 0
    n = b = 0
    for m in c.parse_message_set_from(resp[6:]):
        if not m.is_valid():  # CRC check (pykafka does not call it itself)
            raise AssertionError("pykafka: invalid message")
        b += len(m.payload)
        n += 1
    return n, b


DECODERS = {
    "samsa": (samsa_decode, "CRC computed per message (Message.valid)"),
    "brod": (brod_decode, "CRC computed per message"),
    "pykafka": (pykafka_decode, "CRC computed per message (is_valid(), called here)"),
}


def decode(peer, path, seconds):
    with open(path, "rb") as f:
        resp = f.read()
    fn, note = DECODERS[peer]
    n, b = fn(resp)
    passes = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        if fn(resp) != (n, b):
            raise AssertionError("decode changed between passes")
        passes += 1
    t = time.perf_counter() - t0
    return {"decoder": peer, "messages": n, "payload_bytes": b, "passes": passes,
            "messages_per_s": round(n * passes / t), "crc": note}


def consume(peer, port, topic, count):
    n = 0
    offset = 0
    t0 = time.perf_counter()
    deadline = t0 + 300
    if peer == "samsa":
        from samsa.client import Client
        from samsa.handlers import ThreadingHandler
        cl = Client("127.0.0.1", ThreadingHandler(), port=port, timeout=30)
        while n < count and time.perf_counter() < deadline:
            msgs = cl.fetch(B(topic), 0, offset, 1 << 20)
            for m in msgs:
                len(m.payload)
            n += len(msgs)
            if msgs:
                offset = msgs[-1].next_offset
        cl.disconnect()
    elif peer == "brod":
        import brod
        k = brod.Kafka("127.0.0.1", port)
        while n < count and time.perf_counter() < deadline:
            items = k.fetch(topic, offset, partition=0, max_size=1 << 20)
            n += len(items)
            if items:
                last_offset, last_payload = items[-1][0], items[-1][1]
                # brod returns each message's start offset; magic 0: 4 + 1 + 4 + payload.
                offset = last_offset + 9 + len(last_payload)
        k._disconnect()
    elif peer == "pykafka":
        import kafka.consumer
        c = kafka.consumer.Consumer(B(topic), 0, "127.0.0.1", port)
        c.max_size = 1 << 20
        while n < count and time.perf_counter() < deadline:
            msgs = c.consume()
            for m in msgs:
                len(m.payload)
            n += len(msgs)
        c.disconnect()
    t = time.perf_counter() - t0
    return {"consumer": peer, "messages": n, "seconds": round(t, 3),
            "messages_per_s": round(n / t)}


def main(argv):
    if argv[0] == "decode":
        out = decode(argv[1], argv[2], float(argv[3]))
    elif argv[0] == "consume":
        out = consume(argv[1], int(argv[2]), argv[3], int(argv[4]))
    else:
        raise SystemExit(__doc__)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(0)  # samsa's worker threads never end
