'use strict';
// Drive franz-kafka@0.7.5 (npm) against the loopback recorder.
//
// franz-kafka writes magic-1 messages, optionally wrapped with gzip (Node zlib)
// or Snappy (the `snappy` addon, pinned to 6.3.5 and built natively by setup.sh;
// franz-kafka calls snappy.compress(), i.e. a *bare* Snappy block, not the
// xerial framing Kafka's JVM code writes).  A static broker list
// ({brokers: [{id, host, port}]}) avoids ZooKeeper.
//
// Requests: PRODUCE (Topic.write through its MessageBuffer), FETCH (Topic as a
// readable stream) and OFFSETS (only on the low-level Client: broker.client.offsets).
// No MULTIPRODUCE / MULTIFETCH.
//
// Usage: INTEROP_NPM_PREFIX=<cache>/npm node encode_franz_kafka.js [OUTDIR]

const path = require('path');
const { Kit, expect, P, hx, sleep, peerRequire, peerVersion } = require('./casekit');

const PEER = 'franz-kafka';
const franz = peerRequire('franz-kafka');
const T = 'test';

let snappyNative = null;
try {
  peerRequire('snappy');
  snappyNative = true;
} catch (e) {
  snappyNative = String(e.message);
}

function makeLogger(c) {
  const lg = {};
  for (const k of Object.keys(console)) {
    lg[k] = (...a) => { if (c.peerLog.length < 200) c.peerLog.push({ stream: 'franz.logger.' + k, message: a.map(String).join(' ').slice(0, 300) }); };
  }
  return lg;
}

async function connect(c, opts) {
  const k = franz(Object.assign({ brokers: [{ id: 0, host: '127.0.0.1', port: c.port }], logger: makeLogger(c) }, opts));
  await c.call((done) => k.connect(() => done(null)), 3000, 'connect');
  return k;
}

function close(k) {
  try { k.close(); } catch (e) { /* ignore */ }
}

async function main(outdir) {
  const kit = new Kit(PEER, peerVersion('franz-kafka'), outdir);

  // ---------------------------------------------------------------- produce
  const sets = [['one', [P.HELLO]], ['many', [P.HELLO, P.THERE, P.TESTING]], ['empty_payload', [Buffer.alloc(0)]],
    ['binary', [P.BINARY]], ['utf8', [P.UTF8]]];
  const codecs = [['none', 0], ['gzip', 1], ['snappy', 2]];
  for (const [cname, codec] of codecs) {
    for (const [label, payloads] of sets) {
      const name = `produce_${label}_${cname}`;
      const notes = codec === 2 ? ['franz-kafka compresses with snappy.compress(): a bare Snappy block (no xerial header)',
        'snappy addon: ' + (snappyNative === true ? 'snappy@6.3.5 built natively' : 'NOT available: ' + snappyNative)] : [];
      await kit.run({ name, expect: expect.produce(T, 0, payloads, 1, codec), notes,
        api: `franz({brokers, compression: '${cname}', batchSize: ${payloads.length}}).topic('test', {partitions: {produce: ['0:1']}}); topic.write(x) for ${payloads.length} Buffers` }, async (c) => {
        const k = await connect(c, { compression: cname, batchSize: payloads.length, queueTime: 50 });
        const topic = k.topic(T, { partitions: { produce: ['0:1'] } });
        topic.on('error', (e) => c.note('topic error: ' + e.message));
        await c.call((done) => { for (const p of payloads) topic.write(p); done(null); }, 3000, 'write');
        await c.waitFrames(1, 2000);
        close(k);
      });
    }
  }

  await kit.run({ name: 'produce_string_none', expect: expect.produce(T, 0, [P.UTF8], 1, 0),
    api: "topic.write('h\\u00e9llo w\\u00f6rld \\u20ac')  // a JS string (utf8 default)" }, async (c) => {
    const k = await connect(c, { batchSize: 1, queueTime: 50 });
    const topic = k.topic(T, { partitions: { produce: ['0:1'] } });
    await c.call((done) => { topic.write(P.UTF8.toString('utf8')); done(null); }, 3000, 'write');
    await c.waitFrames(1, 2000);
    close(k);
  });

  await kit.run({ name: 'produce_queue_time', expect: expect.produce(T, 0, [P.HELLO, P.THERE], 1, 0),
    api: "franz({batchSize: 200, queueTime: 100}); topic.write(hello); topic.write(there)  // flushed by the timer" }, async (c) => {
    const k = await connect(c, { batchSize: 200, queueTime: 100 });
    const topic = k.topic(T, { partitions: { produce: ['0:1'] } });
    await c.call((done) => { topic.write(P.HELLO); topic.write(P.THERE); done(null); }, 3000, 'write');
    await c.waitFrames(1, 2000);
    close(k);
  });

  await kit.run({ name: 'produce_round_robin', expect: expect.produce(T, null, [P.HELLO], 1, 0),
    api: "topic('test', {partitions: {produce: ['0:3']}}), batchSize 1; topic.write x3 (hello, there, testing)",
    notes: ['expect describes the first request only; partition null = chosen by the peer (round robin over 0..2)'] }, async (c) => {
    const k = await connect(c, { batchSize: 1, queueTime: 50 });
    const topic = k.topic(T, { partitions: { produce: ['0:3'] } });
    await c.call((done) => { topic.write(P.HELLO); topic.write(P.THERE); topic.write(P.TESTING); done(null); }, 3000, 'write');
    await c.waitFrames(3, 2000);
    close(k);
  });

  // ------------------------------------------------------------------ fetch
  const fetchResponses = ['fetch_hello_there', 'fetch_empty', 'fetch_error_1', 'fetch_error_3', 'fetch_error_unknown',
    'fetch_cut_trailing', 'fetch_cut_first', 'fetch_bad_crc', 'fetch_gzip_between', 'fetch_gzip_only',
    'fetch_snappy_xerial', 'fetch_snappy_raw', 'fetch_magic0', 'fetch_magic0_bad_crc', 'fetch_magic0_cut_trailing', 'fetch_mixed_magic', 'fetch_trailing_junk',
    'fetch_empty_payload', 'fetch_binary_payload', 'fetch_high_crc', 'fetch_unknown_magic'];
  const runFetch = async (name, resp, startOffset, maxFetchSize, chunk, partitionId) => {
    const part = partitionId || 0;
    await kit.run({ name, expect: expect.fetch(T, part, startOffset, maxFetchSize), responses: [resp], chunk,
      api: `topic('test', {maxFetchSize: ${maxFetchSize}, partitions: {consume: ['0-${part}:${startOffset}']}}); on('data'); resume()`,
      notes: ['expect describes the first FETCH; franz-kafka keeps polling, and its next FETCH (if any) shows the offset it advanced to'] }, async (c) => {
      const k = await connect(c, { maxFetchSize, minFetchDelay: 0, maxFetchDelay: 200 });
      const topic = k.topic(T, { partitions: { consume: [`0-${part}:${startOffset}`] } });
      const data = [];
      const offsets = [];
      const errors = [];
      topic.on('data', (b) => data.push(hx(b)));
      topic.on('offset', (pname, off) => offsets.push([pname, off]));
      topic.on('error', (e) => errors.push(String(e && e.message)));
      await c.call((done) => { topic.resume(); done(null); }, 3000, 'resume');
      await c.waitFrames(2, 1200);
      await sleep(200);
      c.returned = { data_hex: data, offset_events: offsets, error_events: errors,
        partition_offset_after: topic.partition('0-' + part) ? topic.partition('0-' + part).offset : null };
      close(k);
    });
  };
  for (const resp of fetchResponses) await runFetch(resp, resp, 0, 1048576);
  await runFetch('fetch_hello_there_chunked', 'fetch_hello_there', 0, 1048576, 3);
  await runFetch('fetch_offset_above_2_32', 'fetch_hello_there', 2 ** 32 + 7, 307200, null, 3);

  // ---------------------------------------------------------------- offsets
  const offCases = [
    ['offsets_latest', -1, 10, 'offsets_240'],
    ['offsets_earliest', -2, 1, 'offsets_zero'],
    ['offsets_time', 1700000000000, 5, 'offsets_above_2_32'],
    ['offsets_empty', -1, 10, 'offsets_empty'],
    ['offsets_above_2_53', -1, 1, 'offsets_above_2_53'],
    ['offsets_max', -1, 1, 'offsets_max'],
  ];
  for (const [name, time, max, resp] of offCases) {
    await kit.run({ name, expect: expect.offsets(T, 0, time, max), responses: [resp],
      api: `kafka.broker(0).client.offsets(topic, topic.partition('0-0'), ${time}, ${max}, cb)` }, async (c) => {
      const k = await connect(c, {});
      const topic = k.topic(T, { partitions: { produce: ['0:1'] } });
      const r = await c.call((done) => k.broker(0).client.offsets(topic, topic.partition('0-0'), time, max,
        (err, length, offsets) => done(err, { length, offsets })), 3000, 'offsets');
      if (r.value) c.returned = { offsets: (r.value.offsets || []).map((o) => (typeof o === 'number' ? o : String(o))), bytes_parsed: r.value.length };
      close(k);
    });
  }

  kit.finish({ snappy_native: snappyNative });
}

main(process.argv[2] || path.join(__dirname, '..', '..', 'target', 'interop-out', PEER)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
