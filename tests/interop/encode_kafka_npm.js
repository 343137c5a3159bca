'use strict';
// Drive the npm package `kafka@0.2.3` against the loopback recorder.  (Peer id
// "kafka_npm" to keep it apart from pykafka, whose Python module is also `kafka`.)
//
// kafka.Producer({host, port, topic, partition}).send(messages, topic, partition)
// writes PRODUCE with magic-0 messages.  Messages are JavaScript *strings*: the
// request is assembled as a string and turned into bytes one char code per byte.
// kafka.Client({host, port}) also has fetchTopic() (FETCH, magic-0 parser) and
// fetchOffsets() (OFFSETS, but with a time it computes itself); both are
// exercised to record their behaviour.  No MULTI* requests, no compression.
//
// Usage: INTEROP_NPM_PREFIX=<cache>/npm node encode_kafka_npm.js [OUTDIR]

const path = require('path');
const { Kit, expect, P, hx, sleep, peerRequire, peerVersion } = require('./casekit');

const PEER = 'kafka_npm';
const kafka = peerRequire('kafka');
const T = 'test';

async function connectProducer(c, opts) {
  const p = new kafka.Producer(Object.assign({ host: '127.0.0.1', port: c.port, topic: T, partition: 0 }, opts || {}));
  await c.call((done) => { p.on('error', (e) => c.note('producer error event: ' + e)); p.connect(() => done(null)); }, 3000, 'connect');
  return p;
}

function closeConn(x) {
  try { if (x._connection) x._connection.destroy(); } catch (e) { /* ignore */ }
}

async function connectClient(c) {
  const cl = new kafka.Client({ host: '127.0.0.1', port: c.port });
  await c.call((done) => { cl.connect(); cl._connection.once('connect', () => done(null)); }, 3000, 'connect');
  return cl;
}

async function main(outdir) {
  const kit = new Kit(PEER, peerVersion('kafka'), outdir);

  // ---------------------------------------------------------------- produce
  const strSets = [
    ['one', ['hello'], [P.HELLO]],
    ['many', ['hello', 'there', 'testing'], [P.HELLO, P.THERE, P.TESTING]],
    ['empty_payload', [''], [Buffer.alloc(0)]],
    ['utf8_string', [P.UTF8.toString('utf8')], [P.UTF8]],
    ['binary_latin1_string', [P.BINARY.toString('latin1')], [P.BINARY]],
  ];
  for (const [label, strings, bytes] of strSets) {
    const notes = [];
    if (label === 'utf8_string') notes.push('a JS string with non-ASCII characters; expect = its UTF-8 bytes');
    if (label === 'binary_latin1_string') notes.push("bytes 00..ff passed as a 'binary'/latin1 JS string (the only way to send bytes)");
    await kit.run({ name: `produce_${label}_m0`, expect: expect.produce(T, 0, bytes, 0), notes,
      api: `new Producer({topic: 'test', partition: 0}).send([${strings.length} strings])` }, async (c) => {
      const p = await connectProducer(c);
      await c.call((done) => { p.send(strings.slice()); done(null); }, 3000, 'send');
      await c.waitFrames(1, 2000);
      closeConn(p);
    });
  }

  await kit.run({ name: 'produce_single_string_m0', expect: expect.produce('other', 5, [P.HELLO], 0),
    api: "new Producer({...}).send('hello', 'other', 5)  // one string, explicit topic and partition" }, async (c) => {
    const p = await connectProducer(c);
    await c.call((done) => { p.send('hello', 'other', 5); done(null); }, 3000, 'send');
    await c.waitFrames(1, 2000);
    closeConn(p);
  });

  await kit.run({ name: 'produce_partition_neg1_m0', expect: expect.produce(T, -1, [P.HELLO], 0),
    api: "new Producer({topic: 'test', partition: -1}).send('hello')" }, async (c) => {
    const p = await connectProducer(c, { partition: -1 });
    await c.call((done) => { p.send('hello'); done(null); }, 3000, 'send');
    await c.waitFrames(1, 2000);
    closeConn(p);
  });

  await kit.run({ name: 'produce_buffer_m0', expect: expect.produce(T, 0, [P.HELLO], 0),
    api: "new Producer({...}).send([Buffer('hello')])  // a Buffer instead of a string",
    notes: ['the API is string-only; this records what happens with a Buffer'] }, async (c) => {
    const p = await connectProducer(c);
    await c.call((done) => { p.send([P.HELLO]); done(null); }, 3000, 'send');
    await c.waitFrames(1, 1000);
    closeConn(p);
  });

  // ------------------------------------------------------------------ fetch
  const fetchResponses = ['fetch_hello_there', 'fetch_empty', 'fetch_error_1', 'fetch_error_unknown',
    'fetch_cut_trailing', 'fetch_cut_first', 'fetch_bad_crc', 'fetch_gzip_between', 'fetch_magic0', 'fetch_magic0_bad_crc', 'fetch_magic0_cut_trailing',
    'fetch_mixed_magic', 'fetch_trailing_junk', 'fetch_empty_payload', 'fetch_binary_payload', 'fetch_high_crc'];
  const runFetch = async (name, resp, offset, chunk) => {
    await kit.run({ name, expect: expect.fetch(T, 0, offset, 1048576), responses: [resp], chunk,
      api: `new Client({}).fetchTopic({name: 'test', partition: 0, offset: ${offset}})  // max size = its 1 MiB buffer` }, async (c) => {
      const cl = await connectClient(c);
      const messages = [];
      const errors = [];
      let last = null;
      cl.on('message', (topic, payload, off) => messages.push({ topic, payload_utf8_hex: hx(Buffer.from(payload, 'utf8')), payload_chars: payload.length, offset: off }));
      cl.on('error', (code, label) => errors.push([code, label]));
      await c.call((done) => {
        cl.on('lastmessage', (topic, off) => { last = off; done(null); });
        cl.fetchTopic({ name: T, partition: 0, offset });
      }, 2000, 'fetchTopic');
      await sleep(100);
      c.returned = { messages, error_events: errors, lastmessage_offset: last };
      closeConn(cl);
    });
  };
  for (const resp of fetchResponses) await runFetch(resp, resp, 0);
  await runFetch('fetch_hello_there_chunked', 'fetch_hello_there', 0, 3);
  await runFetch('fetch_offset_70000', 'fetch_magic0', 70000);
  await runFetch('fetch_offset_above_2_32', 'fetch_magic0', 2 ** 32 + 7);

  // ---------------------------------------------------------------- offsets
  for (const [name, resp] of [['offsets_client_time', 'offsets_240'], ['offsets_above_2_32', 'offsets_above_2_32'], ['offsets_empty', 'offsets_empty']]) {
    await kit.run({ name, expect: expect.offsets(T, 0, null, 10), responses: [resp],
      api: "new Client({}).fetchOffsets({name: 'test', partition: 0, offsets: 10})",
      notes: ['the API takes no time: the client sends its own (Date.now()/1000, see the .bin); expect.time = null'] }, async (c) => {
      const cl = await connectClient(c);
      const offsets = [];
      const errors = [];
      let last = null;
      cl.on('offset', (topic, off) => offsets.push(off));
      cl.on('error', (code, label) => errors.push([code, label]));
      const before = Date.now();
      await c.call((done) => {
        cl.on('lastoffset', (topic, off) => { last = off; done(null); });
        cl.fetchOffsets({ name: T, partition: 0, offsets: 10 });
      }, 2000, 'fetchOffsets');
      c.returned = { offset_events: offsets, lastoffset: last, error_events: errors, wallclock_ms_at_call: before };
      closeConn(cl);
    });
  }

  kit.finish();
}

main(process.argv[2] || path.join(__dirname, '..', '..', 'target', 'interop-out', PEER)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
