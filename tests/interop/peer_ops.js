'use strict';
// Run a plan of operations with one Node Kafka 0.7 peer (prozess, franz-kafka,
// kafka_npm) against a broker on 127.0.0.1 (our embedded broker, driven by the
// Rust tests tests/interop_peers.rs).  Same plan/result format as peer_ops.py:
//
//   INTEROP_NPM_PREFIX=<cache>/npm node peer_ops.js --plan PLAN.json --out RESULT.json
//
// ops: produce {topic, partition, payloads_hex, magic?, codec?: none|gzip|snappy,
//      partitions?: n (franz-kafka: round robin over n), as?: utf8|latin1 (kafka_npm strings)}
//      fetch {topic, partition, offset, max_size, expect_messages?, wait_ms?}
//      offsets {topic, partition, time, max}
// A peer without an operation (or an option of it) answers "outcome": "unsupported".
// Offsets above 2^53 cannot be JS numbers: they are passed and returned as
// decimal strings where the peer takes or gives them that way (prozess: bignum).

const fs = require('fs');
const { errInfo, hx, sleep, peerRequire, peerVersion } = require('./casekit');

class Unsupported extends Error {}

function payloadsOf(op) { return (op.payloads_hex || []).map((h) => Buffer.from(h, 'hex')); }
function numOrString(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  return String(v);
}

// Calls fn(done) once; resolves with {outcome, value|error, ms}; bounded by ms.
function bounded(fn, ms) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r) => { if (!settled) { settled = true; clearTimeout(timer); r.ms = Date.now() - t0; resolve(r); } };
    const timer = setTimeout(() => finish({ outcome: 'hang', note: 'no answer within ' + ms + ' ms' }), ms);
    try {
      const p = fn((err, value) => (err ? finish({ outcome: 'error', error: errInfo(err) }) : finish({ outcome: 'returned', value })));
      if (p && typeof p.then === 'function') p.then((v) => finish({ outcome: 'returned', value: v }), (e) => finish(e instanceof Unsupported ? { outcome: 'unsupported', note: e.message } : { outcome: 'exception', exception: errInfo(e) }));
    } catch (e) {
      finish(e instanceof Unsupported ? { outcome: 'unsupported', note: e.message } : { outcome: 'exception', exception: errInfo(e) });
    }
  });
}

// ------------------------------------------------------------------ prozess
class Prozess {
  constructor(port) { this.port = port; this.mod = peerRequire('prozess'); this.version = peerVersion('prozess'); }

  async produce(op) {
    if ((op.magic === undefined ? 1 : op.magic) !== 1 || (op.codec && op.codec !== 'none')) throw new Unsupported('prozess writes uncompressed magic 1 only');
    const p = new this.mod.Producer(op.topic, { host: '127.0.0.1', port: this.port, partition: op.partition });
    await new Promise((resolve, reject) => { p.once('connect', resolve); p.once('error', reject); p.connect(); });
    // message_magic / message_codec: explicit Message objects, new Message(payload, checksum, magic, compression)
    const payloads = payloadsOf(op).map((b) => (op.message_magic !== undefined || op.message_codec !== undefined
      ? new this.mod.Message(b, undefined, op.message_magic === undefined ? 1 : op.message_magic, op.message_codec || 0) : b));
    await new Promise((resolve, reject) => p.send(payloads, (err) => (err ? reject(err) : resolve())));
    await new Promise((resolve) => p.connection._connection.end(resolve));
    return null;
  }

  consumer(op) {
    return new this.mod.Consumer({ host: '127.0.0.1', port: this.port, topic: op.topic, partition: op.partition,
      offset: op.offset === undefined ? undefined : String(op.offset), maxMessageSize: op.max_size || 1048576 });
  }

  async fetch(op) {
    const k = this.consumer(op);
    try {
      await new Promise((resolve, reject) => k.connect((err) => (err ? reject(err) : resolve())));
      const msgs = await new Promise((resolve, reject) => k.consume((err, m) => (err ? reject(err) : resolve(m))));
      return {
        messages: (msgs || []).map((m) => ({ payload_hex: hx(m.payload), magic: m.magic, compression: m.compression, valid: m.isValid() })),
        resume_offset: k.offset ? k.offset.toString() : null,
      };
    } finally {
      try { k.socket.destroy(); } catch (e) { /* closing is best effort */ }
    }
  }

  async offsets(op) {
    // prozess asks for time -1 (getOffsets / getLatestOffset) and -2 (getEarliestOffset) only.
    let method;
    if (op.time === -1 && op.max === 1) method = 'getLatestOffset';
    else if (op.time === -1) method = 'getOffsets';
    else if (op.time === -2) method = 'getEarliestOffset';
    else throw new Unsupported('prozess has no OFFSETS with a time (it throws "TODO: support unix timestamp")');
    const k = this.consumer(Object.assign({}, op, { offset: 0 }));
    try {
      await new Promise((resolve, reject) => k.connect((err) => (err ? reject(err) : resolve())));
      const v = await new Promise((resolve, reject) => k[method]((err, x) => (err ? reject(err) : resolve(x))));
      const list = Array.isArray(v) ? v : [v];
      // getOffsets asks for MAX_OFFSETS (1 in 0.7.0), getLatest/EarliestOffset for 1.
      const maxSent = method === 'getOffsets' ? k.MAX_OFFSETS : 1;
      return { method, max_sent: maxSent, offsets: list.map((o) => (o === undefined || o === null ? null : o.toString())) };
    } finally {
      try { k.socket.destroy(); } catch (e) { /* closing is best effort */ }
    }
  }
}

// -------------------------------------------------------------- franz-kafka
class Franz {
  constructor(port) { this.port = port; this.mod = peerRequire('franz-kafka'); this.version = peerVersion('franz-kafka'); this.log = []; }

  logger() {
    const lg = {};
    for (const k of Object.keys(console)) lg[k] = (...a) => { if (this.log.length < 100) this.log.push({ stream: 'franz.logger.' + k, message: a.map(String).join(' ').slice(0, 300) }); };
    return lg;
  }

  async connect(opts) {
    const k = this.mod(Object.assign({ brokers: [{ id: 0, host: '127.0.0.1', port: this.port }], logger: this.logger() }, opts));
    await new Promise((resolve) => k.connect(resolve));
    return k;
  }

  async produce(op) {
    if ((op.magic === undefined ? 1 : op.magic) !== 1) throw new Unsupported('franz-kafka writes magic 1 only');
    const payloads = payloadsOf(op);
    const n = op.partitions || 1;
    const k = await this.connect({ compression: op.codec || 'none', batchSize: n > 1 ? 1 : payloads.length, queueTime: 50 });
    const topic = k.topic(op.topic, { partitions: { produce: ['0:' + n] } });
    const errors = [];
    topic.on('error', (e) => errors.push(String(e && e.message)));
    for (const p of payloads) topic.write(p);
    await sleep(op.settle_ms || 800); // no acknowledgement in 0.7: let the batch go out
    try { k.close(); } catch (e) { /* closing is best effort */ }
    return { error_events: errors };
  }

  async fetch(op) {
    const k = await this.connect({ maxFetchSize: op.max_size, minFetchDelay: 0, maxFetchDelay: 200 });
    const pname = '0-' + op.partition;
    const topic = k.topic(op.topic, { partitions: { consume: [pname + ':' + op.offset] } });
    const data = [];
    const errors = [];
    topic.on('data', (b) => data.push(hx(b)));
    topic.on('error', (e) => errors.push(String(e && e.message)));
    topic.resume();
    const want = op.expect_messages || 0;
    const end = Date.now() + (op.wait_ms || 1500);
    while (Date.now() < end && !(want && data.length >= want)) await sleep(20);
    await sleep(150); // a follow-up FETCH moves the partition offset past the last message
    const part = topic.partition(pname);
    const offset = part ? part.offset : null;
    try { topic.pause(); k.close(); } catch (e) { /* closing is best effort */ }
    return { messages: data.map((h) => ({ payload_hex: h })), resume_offset: numOrString(offset), error_events: errors };
  }

  async offsets(op) {
    const k = await this.connect({});
    const topic = k.topic(op.topic, { partitions: { produce: ['0:' + (op.partition + 1)] } });
    try {
      const r = await new Promise((resolve, reject) => k.broker(0).client.offsets(topic, topic.partition('0-' + op.partition), op.time, op.max,
        (err, length, offsets) => (err ? reject(err) : resolve(offsets))));
      return { offsets: (r || []).map(numOrString) };
    } finally {
      try { k.close(); } catch (e) { /* closing is best effort */ }
    }
  }
}

// ---------------------------------------------------------------- kafka_npm
class KafkaNpm {
  constructor(port) { this.port = port; this.mod = peerRequire('kafka'); this.version = peerVersion('kafka'); }

  async produce(op) {
    if ((op.magic || 0) !== 0 || (op.codec && op.codec !== 'none')) throw new Unsupported('kafka (npm) writes uncompressed magic 0 only');
    // The API takes JavaScript strings: the payload bytes as UTF-8 text (default) or latin1.
    const strings = payloadsOf(op).map((b) => b.toString(op.as === 'latin1' ? 'latin1' : 'utf8'));
    const p = new this.mod.Producer({ host: '127.0.0.1', port: this.port, topic: op.topic, partition: op.partition });
    const errors = [];
    p.on('error', (e) => errors.push(String(e)));
    await new Promise((resolve) => p.connect(resolve));
    p.send(strings, op.topic, op.partition);
    await new Promise((resolve) => p._connection.end(resolve));
    return { error_events: errors };
  }

  async client(op) {
    const cl = new this.mod.Client({ host: '127.0.0.1', port: this.port, maxSize: op.max_size || 1048576 });
    await new Promise((resolve) => { cl.connect(); cl._connection.once('connect', resolve); });
    return cl;
  }

  async fetch(op) {
    const cl = await this.client(op);
    const messages = [];
    const errors = [];
    let last = null;
    try {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, op.wait_ms || 1500);
        cl.on('message', (t, payload, off) => messages.push({ payload_hex: hx(Buffer.from(payload, 'utf8')), chars: payload.length, offset: numOrString(off) }));
        cl.on('error', (code, label) => { errors.push([code, String(label)]); clearTimeout(timer); resolve(); });
        cl.on('lastmessage', (t, off) => { last = off; clearTimeout(timer); resolve(); });
        cl.fetchTopic({ name: op.topic, partition: op.partition, offset: op.offset });
      });
    } finally {
      try { cl._connection.destroy(); } catch (e) { /* closing is best effort */ }
    }
    return { messages, resume_offset: numOrString(last), error_events: errors };
  }

  async offsets(op) {
    // The API has no time parameter: the client sends a time of its own (see INTEROP.md).
    const cl = await this.client(op);
    const offsets = [];
    const errors = [];
    try {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, op.wait_ms || 1500);
        cl.on('offset', (t, off) => offsets.push(numOrString(off)));
        cl.on('error', (code, label) => { errors.push([code, String(label)]); clearTimeout(timer); resolve(); });
        cl.on('lastoffset', () => { clearTimeout(timer); resolve(); });
        cl.fetchOffsets({ name: op.topic, partition: op.partition, offsets: op.max });
      });
    } finally {
      try { cl._connection.destroy(); } catch (e) { /* closing is best effort */ }
    }
    return { offsets, error_events: errors, time_sent_by_peer: 'its own clock (seconds), see INTEROP.md' };
  }
}

const PEERS = { prozess: Prozess, 'franz-kafka': Franz, kafka_npm: KafkaNpm };

async function run(plan) {
  const peer = new PEERS[plan.peer](plan.port);
  const timeoutMs = 1000 * (plan.op_timeout || 5);
  const results = [];
  for (const op of plan.ops) {
    const log = [];
    const uncaught = [];
    const saved = { error: console.error, log: console.log, warn: console.warn };
    console.error = (...a) => log.push({ stream: 'console.error', message: a.map(String).join(' ').slice(0, 300) });
    console.warn = (...a) => log.push({ stream: 'console.warn', message: a.map(String).join(' ').slice(0, 300) });
    console.log = (...a) => log.push({ stream: 'console.log', message: a.map(String).join(' ').slice(0, 300) });
    const onUncaught = (e) => uncaught.push(errInfo(e));
    process.on('uncaughtException', onUncaught);
    const entry = { id: op.id, op: op.op };
    const method = peer[op.op];
    if (typeof method !== 'function') {
      Object.assign(entry, { outcome: 'unsupported', note: plan.peer + ' has no ' + op.op });
    } else {
      const r = await bounded(() => method.call(peer, op), 1000 * (op.timeout || 0) || timeoutMs);
      Object.assign(entry, r);
      if (r.outcome === 'returned' && (r.value === undefined || r.value === null)) delete entry.value;
    }
    await sleep(50);
    process.removeListener('uncaughtException', onUncaught);
    Object.assign(console, saved);
    if (peer.log) { log.push(...peer.log); peer.log = []; }
    entry.peer_log = log.slice(0, 50);
    entry.uncaught = uncaught;
    results.push(entry);
  }
  return { peer: plan.peer, peer_version: peer.version, results };
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : null; };
  const plan = JSON.parse(fs.readFileSync(arg('--plan'), 'utf8'));
  let out;
  try {
    out = await run(plan);
  } catch (e) {
    out = { peer: plan.peer, driver_error: errInfo(e), results: [] };
  }
  fs.writeFileSync(arg('--out'), JSON.stringify(out, null, 1));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
