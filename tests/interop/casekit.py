"""Shared plumbing for the Python encoders (encode_samsa.py, encode_brod.py,
encode_pykafka.py): one recorder per case, bounded calls into the peer, and the
three output files per case:

* ``out/<peer>/<case>.bin``          raw bytes the peer sent on its (first) connection
* ``out/<peer>/<case>.json``         what the peer was asked to send (``expect``),
                                     how it was asked (``api``), recorder summary
* ``out/<peer>/<case>.result.json``  only for cases fed canned responses: which
                                     responses, what the peer returned or raised

The ``expect`` schema is documented in INTEROP.md ("Capture output format").
"""

import json
import logging
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import recorder as _recorder  # noqa: E402
import vectors as _vectors  # noqa: E402


def hx(data):
    return bytes(data).hex()


def exc_info(exc):
    return {"type": type(exc).__name__,
            "module": type(exc).__module__,
            "message": str(exc)[:500],
            "where": traceback.format_exception(type(exc), exc, exc.__traceback__)[-2].strip()[:400]
            if exc.__traceback__ else None}


class CallResult:
    def __init__(self):
        self.done = False
        self.value = None
        self.error = None
        self.seconds = None

    def as_json(self):
        if not self.done:
            return {"outcome": "hang", "note": "call did not return within the time limit"}
        if self.error is not None:
            return {"outcome": "exception", "exception": exc_info(self.error),
                    "seconds": round(self.seconds, 3)}
        return {"outcome": "returned", "seconds": round(self.seconds, 3)}


def bounded_call(fn, timeout):
    """Run fn() in a daemon thread; give up waiting after timeout seconds."""
    res = CallResult()

    def run():
        t0 = time.time()
        try:
            res.value = fn()
        except BaseException as exc:  # record everything the peer raises
            res.error = exc
        res.seconds = time.time() - t0
        res.done = True

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    return res


PEER_LOGGERS = ("samsa", "brod", "kafka")


class _LogCapture(logging.Handler):
    """Collects the peers' own log records during one case (evidence for INTEROP.md)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception as exc:  # a peer's own broken log call is a fact too
            msg = "<unformattable log record %r: %s>" % (record.msg, exc)
        self.records.append({"logger": record.name, "level": record.levelname,
                             "message": msg[:400]})


class Case:
    def __init__(self, kit, name, expect, api, responses, on_exhausted, chunk, notes):
        self.kit = kit
        self.name = name
        self.expect = expect
        self.api = api
        self.response_names = list(responses or [])
        self.on_exhausted = on_exhausted
        self.chunk = chunk
        self.notes = list(notes or [])
        self.calls = []
        self.returned = None
        self.observations = []
        self.recorder = None

    @property
    def port(self):
        return self.recorder.port

    def __enter__(self):
        resp = [_vectors.canned(n) for n in self.response_names]
        self.log = _LogCapture()
        for name in PEER_LOGGERS:
            lg = logging.getLogger(name)
            lg.setLevel(logging.DEBUG)
            lg.propagate = False
            lg.addHandler(self.log)
        self.recorder = _recorder.Recorder(resp, on_exhausted=self.on_exhausted,
                                           chunk=self.chunk).start()
        return self

    def call(self, fn, timeout=6.0, label=None):
        res = bounded_call(fn, timeout)
        entry = res.as_json()
        if label:
            entry["label"] = label
        self.calls.append(entry)
        return res

    def wait_frames(self, n=1, timeout=5.0):
        return self.recorder.wait_for_bytes(frames=n, timeout=timeout)

    def note(self, text):
        self.observations.append(text)

    def __exit__(self, etype, evalue, tb):
        if etype is not None:
            self.calls.append({"outcome": "harness-exception", "exception": exc_info(evalue)})
        prefix = os.path.join(self.kit.outdir, self.name)
        for stale in [p for p in os.listdir(self.kit.outdir)
                      if p.startswith(self.name + ".")]:
            os.remove(os.path.join(self.kit.outdir, stale))
        summary = self.recorder.stop(out_prefix=prefix)
        for name in PEER_LOGGERS:
            logging.getLogger(name).removeHandler(self.log)
        meta = {
            "peer": self.kit.peer,
            "peer_version": self.kit.version,
            "case": self.name,
            "api": self.api,
            "expect": self.expect,
            "bin": (self.name + ".bin") if summary["data_connections"] else None,
            "recorder": summary,
            "calls": self.calls,
            "notes": self.notes,
            "peer_log": self.log.records,
        }
        with open(prefix + ".json", "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
        if self.response_names or self.on_exhausted == "close":
            result = {
                "peer": self.kit.peer,
                "case": self.name,
                "responses": [{"name": n, "hex": hx(_vectors.canned(n)),
                               "what": _vectors.CANNED[n]["what"],
                               "spec_decode": _vectors.CANNED[n]["spec_decode"]}
                              for n in self.response_names],
                "responses_unused": summary["unused_responses"],
                "calls": self.calls,
                "returned": self.returned,
                "observations": self.observations,
                "peer_log": self.log.records,
            }
            with open(prefix + ".result.json", "w") as f:
                json.dump(result, f, indent=1, sort_keys=True)
        self.kit.index.append({"case": self.name, "frames": sum(len(c["frames"]) for c in
                                                                 summary["connections"]),
                               "calls": [c["outcome"] for c in self.calls]})
        status = ",".join(c["outcome"] for c in self.calls) or "-"
        print("  %-34s frames=%d %s" % (self.name, self.kit.index[-1]["frames"], status))
        return True  # a harness exception is recorded, not fatal for the other cases


class CaseKit:
    def __init__(self, peer, version, outdir):
        self.peer = peer
        self.version = version
        self.outdir = outdir
        self.index = []
        os.makedirs(outdir, exist_ok=True)

    def case(self, name, expect, api, responses=(), on_exhausted="hold", chunk=None, notes=()):
        return Case(self, name, expect, api, responses, on_exhausted, chunk, notes)

    def finish(self, extra=None):
        data = {"peer": self.peer, "peer_version": self.version, "cases": self.index}
        if extra:
            data.update(extra)
        with open(os.path.join(self.outdir, "_index.json"), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        print("%s: %d cases written to %s" % (self.peer, len(self.index), self.outdir))


# -- expect builders (schema in INTEROP.md) ------------------------------------

def produce_expect(topic, partition, payloads, magic, codec=0):
    return {"type": "PRODUCE", "topic": topic, "partition": partition, "magic": magic,
            "codec": codec, "count": len(payloads), "payloads_hex": [hx(p) for p in payloads]}


def multiproduce_expect(items, magic, codec=0):
    return {"type": "MULTIPRODUCE", "magic": magic, "codec": codec,
            "items": [{"topic": t, "partition": p, "count": len(pl),
                       "payloads_hex": [hx(x) for x in pl]} for t, p, pl in items]}


def fetch_expect(topic, partition, offset, max_size):
    return {"type": "FETCH", "topic": topic, "partition": partition, "offset": offset,
            "max_size": max_size}


def multifetch_expect(items):
    return {"type": "MULTIFETCH", "items": [
        {"topic": t, "partition": p, "offset": o, "max_size": m} for t, p, o, m in items]}


def offsets_expect(topic, partition, time_, max_offsets):
    return {"type": "OFFSETS", "topic": topic, "partition": partition, "time": time_,
            "max_offsets": max_offsets}
