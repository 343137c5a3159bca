'use strict';
// Time the Node Kafka 0.7 peers (prozess, franz-kafka, kafka_npm) for scripts/bench-peers.sh.
//
//   INTEROP_NPM_PREFIX=<cache>/npm node bench_peers.js decode PEER FILE SECONDS
//   INTEROP_NPM_PREFIX=<cache>/npm node bench_peers.js consume PEER PORT TOPIC COUNT
//
// decode: the peer's own message-set decoder over one FETCH response frame (4-byte size,
// 2-byte error code, message set) held in memory, repeated for SECONDS; every payload is
// touched, and the peer's CRC check is called where it has one. Gzip wrappers are
// decompressed by the peers that can (franz-kafka; asynchronously, through Node's zlib).
// consume: the peer's own consumer draining COUNT messages of partition 0 of TOPIC from a
// broker on 127.0.0.1:PORT, from offset 0, 1 MiB per fetch. Both print one JSON line.

const fs = require('fs');
const path = require('path');
const { peerRequire } = require('./casekit');

function peerFile(name, rel) {
  const prefix = process.env.INTEROP_NPM_PREFIX;
  return require(path.join(prefix, 'node_modules', name, rel));
}

function franzParts() {
  const inherits = require('util').inherits;
  const zlib = require('zlib');
  const crc32 = peerFile('franz-kafka', '../buffer-crc32');
  let snappy = null;
  try { snappy = peerRequire('snappy'); } catch (e) { /* gzip only then */ }
  const State = peerFile('franz-kafka', 'client/state')(inherits);
  const Message = peerFile('franz-kafka', 'client/message')(zlib, snappy, crc32);
  const FetchBody = peerFile('franz-kafka', 'client/fetch-response')(inherits, State, Message);
  return { Message, FetchBody };
}

const DECODERS = {
  prozess: {
    crc: 'isValid() called per message',
    make() {
      const FetchResponse = peerFile('prozess', 'FetchResponse');
      return (resp) => {
        const r = FetchResponse.fromBytes(resp);
        let n = 0; let b = 0;
        for (const m of r.messages) {
          if (!m.isValid()) throw new Error('prozess: invalid message');
          if (m.compression) throw new Error('prozess returns compressed wrappers undecoded');
          b += m.payload.length; n += 1;
        }
        return Promise.resolve([n, b]);
      };
    },
  },
  'franz-kafka': {
    crc: 'computed per message by Message.parse (a mismatch is only logged)',
    make() {
      const { FetchBody } = franzParts();
      return (resp) => {
        const body = new FetchBody(0);
        body.buffer = resp.slice(6);
        const msgs = body.parse();
        let n = 0; let b = 0;
        const wrappers = [];
        for (const m of msgs) {
          if (m.compression) {
            wrappers.push(new Promise((resolve) => m.unpack((payloads) => resolve(payloads))));
          } else {
            b += m.payload.length; n += 1;
          }
        }
        return Promise.all(wrappers).then((lists) => {
          for (const ps of lists) for (const p of ps) { b += p.length; n += 1; }
          return [n, b];
        });
      };
    },
  },
  kafka_npm: {
    crc: 'none (kafka_npm never checks a CRC)',
    make() {
      const Client = peerFile('kafka', 'lib/Client');
      return (resp) => {
        const c = new Client({ host: '127.0.0.1', port: 1, maxSize: 1 << 20 });
        let n = 0; let b = 0;
        c.on('message', (t, payload) => { b += payload.length; n += 1; });
        // The state its fetchTopic leaves for a FETCH response (fetch_defaults.next = RESPONSE_MSG_0).
        c._requests.push({ next: 6, last: 'lastmessage', name: 't', offset: 0 });
        c._onData(resp);
        return Promise.resolve([n, b]);
      };
    },
  },
};

async function decode(peer, file, seconds) {
  const resp = fs.readFileSync(file);
  const d = DECODERS[peer];
  const fn = d.make();
  const [n, b] = await fn(resp);
  let passes = 0;
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  while (elapsed() < seconds) {
    const [n2, b2] = await fn(resp);
    if (n2 !== n || b2 !== b) throw new Error('decode changed between passes');
    passes += 1;
  }
  const t = elapsed();
  return { decoder: peer, messages: n, payload_bytes: b, passes, messages_per_s: Math.round((n * passes) / t), crc: d.crc };
}

async function consume(peer, port, topic, count) {
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let n = 0;
  if (peer === 'prozess') {
    const mod = peerRequire('prozess');
    const k = new mod.Consumer({ host: '127.0.0.1', port, topic, partition: 0, offset: '0', maxMessageSize: 1 << 20 });
    await new Promise((resolve, reject) => k.connect((err) => (err ? reject(err) : resolve())));
    while (n < count && elapsed() < 300) {
      const msgs = await new Promise((resolve, reject) => k.consume((err, m) => (err ? reject(err) : resolve(m))));
      for (const m of msgs || []) n += m.payload ? 1 : 0;
    }
    k.socket.destroy();
  } else if (peer === 'kafka_npm') {
    const Client = peerFile('kafka', 'lib/Client');
    const cl = new Client({ host: '127.0.0.1', port, maxSize: 1 << 20 });
    await new Promise((resolve) => { cl.connect(); cl._connection.once('connect', resolve); });
    let offset = 0;
    let brokerError = null;
    // Its FETCH encodes offsets of 65536 and more wrongly (INTEROP.md, kafka_npm-2): the broker
    // answers OffsetOutOfRange, which ends the drain short; the row says so.
    cl.on('error', (code) => { brokerError = code; });
    while (n < count && elapsed() < 60 && brokerError === null) {
      const before = n;
      // eslint-disable-next-line no-loop-func
      offset = await new Promise((resolve) => {
        const onMsg = () => { n += 1; };
        cl.on('message', onMsg);
        cl.once('lastmessage', (t, off) => { cl.removeListener('message', onMsg); resolve(off); });
        cl.fetchTopic({ name: topic, partition: 0, offset });
      });
      if (n === before) break;
    }
    cl._connection.destroy();
  } else {
    throw new Error('no consumer driver for ' + peer);
  }
  const t = elapsed();
  return { consumer: peer, messages: n, seconds: Math.round(t * 1000) / 1000, messages_per_s: Math.round(n / t) };
}

async function main() {
  const a = process.argv.slice(2);
  let out;
  if (a[0] === 'decode') out = await decode(a[1], a[2], Number(a[3]));
  else if (a[0] === 'consume') out = await consume(a[1], Number(a[2]), a[3], Number(a[4]));
  else throw new Error('usage: bench_peers.js decode PEER FILE SECONDS | consume PEER PORT TOPIC COUNT');
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); process.exit(1); });
