"""A tiny loopback TCP recorder that stands in for a Kafka 0.7 broker.

It accepts connections on 127.0.0.1 (ephemeral port), records every byte each
connection sends, and splits the stream into Kafka 0.7 request frames
(``int32 size`` + ``size`` bytes).  For every complete frame whose request type
expects an answer (FETCH 1, MULTIFETCH 2, OFFSETS 4) it sends the next canned
response from its queue, if any is left; PRODUCE (0) / MULTIPRODUCE (3) get
nothing, exactly like a real broker.  The queue is shared by all connections of
one recorder, so a peer that reconnects continues the sequence.

When the queue is empty the recorder either *holds* (stays silent, the client
waits or times out — the default) or *closes* the connection.

Python use (in-process)::

    rec = Recorder([resp_bytes]).start()
    ... drive a client against 127.0.0.1:rec.port ...
    summary = rec.stop(out_prefix="out/samsa/fetch_basic")

CLI use (for the Node encoders)::

    python3 recorder.py --out out/prozess/fetch_basic [--response FILE]...
                        [--on-exhausted hold|close] [--chunk N]

prints ``{"port": N}`` on one line, then reads commands from stdin: ``FRAMES``
answers ``{"frames": N, "bytes": M}`` (complete request frames / bytes received
so far, all connections); ``STOP`` (or EOF) writes the files and prints the JSON
summary on one line.

Files written by ``stop(out_prefix=P)``: ``P.bin`` holds the bytes of the first
connection that sent anything; any further connection that sent bytes goes to
``P.connN.bin`` (N = accept order).  The summary lists every connection.

Standard library only; works under any Python 3.8+.
"""

import argparse
import json
import os
import socket
import struct
import sys
import threading
import time

RESPONSE_TYPES = (1, 2, 4)
TYPE_NAMES = {0: "PRODUCE", 1: "FETCH", 2: "MULTIFETCH", 3: "MULTIPRODUCE", 4: "OFFSETS"}


def split_frames(data):
    """Split ``data`` into complete request frames.

    Returns (frames, rest) where frames is a list of dicts
    {offset, size, type, type_name} and rest is the number of trailing bytes
    that do not form a complete frame."""
    frames = []
    pos = 0
    while len(data) - pos >= 4:
        (size,) = struct.unpack_from(">i", data, pos)
        if size < 0 or len(data) - pos - 4 < size:
            break
        rtype = struct.unpack_from(">h", data, pos + 4)[0] if size >= 2 else None
        frames.append({"offset": pos, "size": size, "type": rtype,
                       "type_name": TYPE_NAMES.get(rtype, "UNKNOWN")})
        pos += 4 + size
    return frames, len(data) - pos


class _Conn:
    def __init__(self, index, sock):
        self.index = index
        self.sock = sock
        self.data = bytearray()
        self.frames_answered = 0
        self.responses_sent = []
        self.client_closed = False
        self.server_closed = False
        self.error = None
        self.opened_at = time.time()


class Recorder:
    def __init__(self, responses=(), on_exhausted="hold", chunk=None, chunk_delay=0.02):
        if on_exhausted not in ("hold", "close"):
            raise ValueError("on_exhausted must be 'hold' or 'close'")
        self.responses = [bytes(r) for r in responses]
        self.on_exhausted = on_exhausted
        self.chunk = chunk
        self.chunk_delay = chunk_delay
        self._lock = threading.Lock()
        self._conns = []
        self._threads = []
        self._stopping = False
        self._listener = None
        self.port = None

    # -- lifecycle ---------------------------------------------------------
    def start(self):
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", 0))
        lst.listen(16)
        lst.settimeout(0.2)
        self._listener = lst
        self.port = lst.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="recorder-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def wait_for_bytes(self, count=1, timeout=5.0, frames=None):
        """Block until some connection has sent >= count bytes (or >= frames
        complete frames, if given), or timeout.  Returns True on success."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self._lock:
                for c in self._conns:
                    if frames is not None:
                        if len(split_frames(bytes(c.data))[0]) >= frames:
                            return True
                    elif len(c.data) >= count:
                        return True
            time.sleep(0.01)
        return False

    def total_frames(self):
        with self._lock:
            return sum(len(split_frames(bytes(c.data))[0]) for c in self._conns)

    def total_bytes(self):
        with self._lock:
            return sum(len(c.data) for c in self._conns)

    def stop(self, out_prefix=None, settle=0.1):
        time.sleep(settle)
        self._stopping = True
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.sock.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2.0)
        return self._summary(conns, out_prefix)

    # -- internals ---------------------------------------------------------
    def _accept_loop(self):
        index = 0
        while not self._stopping:
            try:
                sock, _addr = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(index, sock)
            index += 1
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                 name="recorder-conn-%d" % conn.index)
            t.start()
            self._threads.append(t)

    def _next_response(self):
        with self._lock:
            if self.responses:
                return self.responses.pop(0)
            return None

    def _send(self, conn, payload):
        if not self.chunk:
            conn.sock.sendall(payload)
            return
        for i in range(0, len(payload), self.chunk):
            conn.sock.sendall(payload[i:i + self.chunk])
            time.sleep(self.chunk_delay)

    def _serve(self, conn):
        sock = conn.sock
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError as exc:
                if not self._stopping:
                    conn.error = "%s: %s" % (type(exc).__name__, exc)
                break
            if not chunk:
                conn.client_closed = not self._stopping
                break
            with self._lock:
                conn.data.extend(chunk)
                frames, _rest = split_frames(bytes(conn.data))
            for frame in frames[conn.frames_answered:]:
                conn.frames_answered += 1
                if frame["type"] not in RESPONSE_TYPES:
                    continue
                resp = self._next_response()
                if resp is None:
                    if self.on_exhausted == "close":
                        conn.server_closed = True
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        sock.close()
                        return
                    continue
                try:
                    self._send(conn, resp)
                    conn.responses_sent.append(len(resp))
                except OSError as exc:
                    conn.error = "send: %s" % exc
                    return

    def _summary(self, conns, out_prefix):
        out = {"port": self.port, "connections": [], "unused_responses": len(self.responses)}
        first_written = False
        for c in conns:
            data = bytes(c.data)
            frames, rest = split_frames(data)
            entry = {
                "index": c.index,
                "bytes": len(data),
                "frames": [{"size": f["size"], "type": f["type"], "type_name": f["type_name"]}
                           for f in frames],
                "trailing_unframed_bytes": rest,
                "responses_sent": list(c.responses_sent),
                "client_closed": c.client_closed,
                "server_closed": c.server_closed,
                "error": c.error,
                "file": None,
            }
            if out_prefix and data:
                if not first_written:
                    path = out_prefix + ".bin"
                    first_written = True
                else:
                    path = "%s.conn%d.bin" % (out_prefix, c.index)
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                entry["file"] = os.path.basename(path)
            out["connections"].append(entry)
        out["data_connections"] = sum(1 for c in out["connections"] if c["bytes"])
        return out


def _main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="output prefix (writes PREFIX.bin, PREFIX.connN.bin)")
    ap.add_argument("--response", action="append", default=[],
                    help="file with one canned response (repeatable, used in order)")
    ap.add_argument("--on-exhausted", default="hold", choices=("hold", "close"))
    ap.add_argument("--chunk", type=int, default=None,
                    help="send responses in pieces of N bytes (20 ms apart)")
    args = ap.parse_args(argv)
    responses = []
    for path in args.response:
        with open(path, "rb") as f:
            responses.append(f.read())
    rec = Recorder(responses, on_exhausted=args.on_exhausted, chunk=args.chunk).start()
    sys.stdout.write(json.dumps({"port": rec.port}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "STOP":
            break
        if cmd == "FRAMES":
            sys.stdout.write(json.dumps({"frames": rec.total_frames(),
                                         "bytes": rec.total_bytes()}) + "\n")
            sys.stdout.flush()
    summary = rec.stop(out_prefix=args.out)
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
