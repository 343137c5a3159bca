"""samsa's ZooKeeper mode (its Cluster, Topic.publish and balanced Consumer, over
kazoo) against kafka07 brokers registered in the same ZooKeeper.  Driven by the
Rust test tests/interop_zk.rs.

    venv/bin/python samsa_zk.py produce --zk HOSTS/CHROOT --topic T --prefix P --count N
    venv/bin/python samsa_zk.py consume --zk HOSTS/CHROOT --topic T --group G --count N
                                        [--timeout S] [--hold S] [--stop-file F --idle S]

Each prints one JSON object on stdout:

* produce: {"published": N, "partitions": ["<broker>-<partition>", ...]} - the
  partitions samsa saw (from /brokers/topics) when it finished;
* consume: {"messages": [{"payload_hex", "partition": "<b>-<p>", "offset",
  "next_offset"}], "owned": [...], "committed": {"<b>-<p>": offset}, "consumer_id"}.
  The consumer reads until it has COUNT messages, TIMEOUT seconds passed, or
  the file F exists and IDLE seconds passed without a message,
  commits its offsets (samsa's commit_offsets), waits HOLD seconds (so another
  member can be checked while it is in the group), and stops.

samsa is unmodified Python 2 code loaded through pycompat.py.  kazoo (a
current release, Python 3) speaks bytes for znode data where the Python 2
kazoo samsa was written against took and gave ``str``; ``Py2Kazoo`` restores
exactly that (data encoded on the way in, decoded on the way out) and nothing
else, so what samsa writes to and reads from ZooKeeper is what it did on 2.7.
"""

import argparse
import json
import logging
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import pycompat  # noqa: E402

pycompat.install()

from kazoo.client import KazooClient  # noqa: E402


class Py2Kazoo:
    """A KazooClient whose znode data is text, as on Python 2 (where str was bytes)."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    @staticmethod
    def _enc(value):
        if isinstance(value, str):
            return value.encode("latin-1")
        return bytes(value) if value is not None else b""

    def get(self, path, watch=None):
        data, stat = self._client.get(path, watch=watch)
        return (data.decode("latin-1") if data is not None else None), stat

    def create(self, path, value=b"", *args, **kwargs):
        return self._client.create(path, self._enc(value), *args, **kwargs)

    def set(self, path, value, version=-1):
        return self._client.set(path, self._enc(value), version)


def connect(hosts):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=20)
    return Py2Kazoo(zk)


def partition_names(topic):
    return sorted("%d-%d" % (p.broker.id, p.number) for p in topic.partitions)


def produce(args):
    from samsa.cluster import Cluster

    zk = connect(args.zk)
    cluster = Cluster(zk)
    topic = cluster.topics[args.topic]
    sent = 0
    while sent < args.count:
        n = min(args.batch, args.count - sent)
        # publish() picks a random partition for each call (samsa's random_partitioner).
        topic.publish([pycompat.B("%s-%d" % (args.prefix, sent + i)) for i in range(n)])
        sent += n
    time.sleep(0.5)  # the topic registration a first produce created reaches samsa's watch
    return {"published": sent, "partitions": partition_names(topic)}


def next_with_partition(registry, timeout):
    """samsa's ``PartitionOwnerRegistry.next_message`` (same queue, same skipping of
    partitions no longer owned), returning the partition with the message instead of
    the bare payload, so the test can check where each message came from."""
    while True:
        if not registry._current_message_set:
            try:
                registry._current_message_set = registry._message_queue.get(
                    block=True, timeout=timeout)
            except registry.cluster.handler.QueueEmptyError:
                return None
        try:
            partition, message = next(registry._current_message_set)
            if partition in registry._partitions:
                return partition, message
        except StopIteration:
            registry._current_message_set = None


def stop_ends(path):
    """The stop file's log end offsets ("<broker>-<partition> <offset>" per line; a
    partition it does not name has no end to reach), or None while it does not exist.
    samsa backs off longer after every empty fetch, so a member idle since it started may
    not have fetched what was produced just before the file appeared: stopping waits until
    every owned partition is read up to the end named here."""
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return {k: int(v) for k, v in (line.split() for line in f if line.strip())}


def consume(args):
    from samsa.cluster import Cluster

    zk = connect(args.zk)
    cluster = Cluster(zk)
    topic = cluster.topics[args.topic]
    consumer = topic.subscribe(args.group, backoff_increment=0.1, offset_reset="earliest")
    messages = []
    deadline = time.time() + args.timeout
    last = time.time()
    while len(messages) < args.count and time.time() < deadline:
        item = next_with_partition(consumer.partition_owner_registry, 0.2)
        if item is None:
            ends = stop_ends(args.stop_file)
            if (ends is not None and time.time() - last >= args.idle
                    and all(p.offset >= ends.get("%d-%d" % (p.broker.id, p.number), 0)
                            for p in consumer.partitions)):
                break
            continue
        last = time.time()
        partition, message = item
        messages.append({
            "payload_hex": bytes(message.payload).hex(),
            "partition": "%d-%d" % (partition.broker.id, partition.number),
            "offset": message.offset,
            "next_offset": message.next_offset,
        })
    consumer.commit_offsets()
    owned = sorted("%d-%d" % (p.broker.id, p.number) for p in consumer.partitions)
    committed = {"%d-%d" % (p.broker.id, p.number): p.offset for p in consumer.partitions}
    time.sleep(args.hold)
    consumer.stop_partitions()
    return {"messages": messages, "owned": owned, "committed": committed,
            "consumer_id": consumer.id}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("produce")
    p.add_argument("--zk", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--batch", type=int, default=50)
    c = sub.add_parser("consume")
    c.add_argument("--zk", required=True)
    c.add_argument("--topic", required=True)
    c.add_argument("--group", required=True)
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--timeout", type=float, default=30)
    c.add_argument("--hold", type=float, default=0)
    c.add_argument("--stop-file", help="stop once this file exists, IDLE s passed without a message, and every owned partition is read up to the end the file names")
    c.add_argument("--idle", type=float, default=2)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    out = produce(args) if args.cmd == "produce" else consume(args)
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # samsa's fetcher and monitor threads never end
