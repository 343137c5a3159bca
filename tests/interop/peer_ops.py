"""Run a plan of operations with one Python Kafka 0.7 peer (samsa, brod, pykafka)
against a broker on 127.0.0.1 (our embedded broker, driven by the Rust tests
tests/interop_peers.rs).

    venv/bin/python peer_ops.py --plan PLAN.json --out RESULT.json

PLAN.json::

    {"peer": "samsa", "port": 12345, "op_timeout": 5,
     "ops": [{"id": "p1", "op": "produce", "topic": "t", "partition": 0,
              "payloads_hex": ["68656c6c6f"], "magic": 1},
             {"id": "f1", "op": "fetch", "topic": "t", "partition": 0,
              "offset": 0, "max_size": 1048576},
             {"id": "o1", "op": "offsets", "topic": "t", "partition": 0,
              "time": -1, "max": 10}]}

``op`` is one of produce, multiproduce, fetch, multifetch, offsets; a peer
without that operation answers ``"outcome": "unsupported"``.  Every call is
bounded by ``op_timeout`` seconds (a call that does not return is recorded as
``"outcome": "hang"``); the peers' sockets get a 3 s timeout.

RESULT.json: {"peer", "peer_version", "results": [{"id", "op", "outcome",
"value"?, "exception"?, "seconds"?, "peer_log"}]}.  Results of fetch-like
operations are normalized to {"messages": [{"payload_hex", ...peer fields}],
"resume_offset": the offset the peer would fetch next, or null}.

The peers are the unmodified PyPI packages, loaded through pycompat.py.
"""

import argparse
import json
import logging
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()

from casekit import PEER_LOGGERS, _LogCapture, bounded_call, exc_info, hx  # noqa: E402
from pycompat import B  # noqa: E402

SOCKET_TIMEOUT = 3


def payloads_of(op):
    return [bytes.fromhex(h) for h in op.get("payloads_hex", [])]


class Unsupported(Exception):
    pass


class Samsa:
    name = "samsa"

    def __init__(self, port):
        import samsa
        from samsa.client import Client
        from samsa.handlers import ThreadingHandler
        self.version = samsa.__version__
        self._client = lambda: Client("127.0.0.1", ThreadingHandler(), port=port,
                                      timeout=SOCKET_TIMEOUT)

    def produce(self, op):
        cl = self._client()
        try:
            kwargs = {"compression": op["compression"]} if "compression" in op else {}
            cl.produce(B(op["topic"]), op["partition"], payloads_of(op), version=op.get("magic", 0),
                       **kwargs)
        finally:
            cl.disconnect()

    def multiproduce(self, op):
        cl = self._client()
        try:
            cl.multiproduce([(B(i["topic"]), i["partition"], payloads_of(i)) for i in op["items"]],
                            version=op.get("magic", 0))
        finally:
            cl.disconnect()

    @staticmethod
    def _describe(msgs):
        return [{"payload_hex": hx(m.payload), "offset": m.offset, "next_offset": m.next_offset,
                 "magic": m["magic"], "compression": m.get("compression"), "valid": m.valid}
                for m in msgs]

    def fetch(self, op):
        cl = self._client()
        try:
            msgs = self._describe(cl.fetch(B(op["topic"]), op["partition"], op["offset"],
                                           op["max_size"]))
        finally:
            cl.disconnect()
        return {"messages": msgs,
                "resume_offset": msgs[-1]["next_offset"] if msgs else op["offset"]}

    def multifetch(self, op):
        cl = self._client()
        parts = []
        try:
            for gen in cl.multifetch([(B(i["topic"]), i["partition"], i["offset"], i["max_size"])
                                      for i in op["items"]]):
                parts.append({"messages": self._describe(list(gen))})
        finally:
            cl.disconnect()
        return {"parts": parts}

    def offsets(self, op):
        cl = self._client()
        try:
            return {"offsets": list(cl.offsets(B(op["topic"]), op["partition"], op["time"],
                                               op["max"]))}
        finally:
            cl.disconnect()


class Brod:
    name = "brod"
    version = "0.4.3"  # brod has no __version__; pinned by setup.sh

    def __init__(self, port):
        import brod
        self._kafka = lambda: brod.Kafka("127.0.0.1", port)

    @staticmethod
    def _close(k):
        try:
            k._disconnect()
        except Exception:  # closing is best effort
            pass

    def produce(self, op):
        if op.get("magic", 0) != 0:
            raise Unsupported("brod writes magic 0 only")
        k = self._kafka()
        try:
            k.produce(op["topic"], [B(p) for p in payloads_of(op)], partition=op["partition"])
        finally:
            self._close(k)

    def fetch(self, op):
        k = self._kafka()
        try:
            items = k.fetch(op["topic"], op["offset"], partition=op["partition"],
                            max_size=op["max_size"])
        finally:
            self._close(k)
        msgs = []
        for item in items:
            d = {"offset": item[0], "payload_hex": hx(item[1])}
            if len(item) > 2:
                d["corrupt"] = item[2]
            msgs.append(d)
        # brod returns the start offset of each message and keeps no position of its own.
        return {"messages": msgs, "resume_offset": None}

    def offsets(self, op):
        k = self._kafka()
        try:
            return {"offsets": list(k.offsets(B(op["topic"]), op["time"], op["max"],
                                              partition=op["partition"]))}
        finally:
            self._close(k)


class PyKafka:
    name = "pykafka"
    version = "0.1.3"

    def __init__(self, port):
        import kafka.consumer
        import kafka.message
        import kafka.producer
        self._port = port
        self._mod = kafka

    def produce(self, op):
        if op.get("magic", 0) != 0:
            raise Unsupported("pykafka writes magic 0 only")
        M = self._mod.message.Message
        kwargs = {"max_message_sz": op["max_message_sz"]} if "max_message_sz" in op else {}
        p = self._mod.producer.Producer(B(op["topic"]), partition=op["partition"],
                                        host="127.0.0.1", port=self._port, **kwargs)
        try:
            p.send([M(x) for x in payloads_of(op)])
        finally:
            p.disconnect()

    def fetch(self, op):
        c = self._mod.consumer.Consumer(B(op["topic"]), op["partition"], "127.0.0.1", self._port)
        c.offset = op["offset"]
        c.max_size = op["max_size"]
        try:
            msgs = c.consume()
        finally:
            c.disconnect()
        return {"messages": [{"payload_hex": hx(m.payload), "magic": m.magic,
                              "checksum": m.checksum, "valid": m.is_valid()} for m in msgs],
                "resume_offset": c.offset}


PEERS = {"samsa": Samsa, "brod": Brod, "pykafka": PyKafka}


def run(plan):
    socket.setdefaulttimeout(SOCKET_TIMEOUT)
    peer = PEERS[plan["peer"]](plan["port"])
    timeout = float(plan.get("op_timeout", 5))
    results = []
    for op in plan["ops"]:
        log = _LogCapture()
        for name in PEER_LOGGERS:
            lg = logging.getLogger(name)
            lg.setLevel(logging.DEBUG)
            lg.propagate = False
            lg.addHandler(log)
        entry = {"id": op.get("id"), "op": op["op"]}
        method = getattr(peer, op["op"], None)
        if method is None:
            entry.update(outcome="unsupported", note="%s has no %s" % (peer.name, op["op"]))
        else:
            res = bounded_call(lambda: method(op), op.get("timeout", timeout))
            if isinstance(res.error, Unsupported):
                entry.update(outcome="unsupported", note=str(res.error))
            else:
                entry.update(res.as_json())
                if res.done and res.error is None and res.value is not None:
                    entry["value"] = res.value
        for name in PEER_LOGGERS:
            logging.getLogger(name).removeHandler(log)
        entry["peer_log"] = log.records[:50]
        results.append(entry)
    return {"peer": peer.name, "peer_version": peer.version, "results": results}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    with open(args.plan) as f:
        plan = json.load(f)
    try:
        out = run(plan)
    except BaseException as exc:  # a driver failure is reported, not hidden
        out = {"peer": plan.get("peer"), "driver_error": exc_info(exc), "results": []}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # samsa's worker threads and a peer spinning on a closed socket never end
