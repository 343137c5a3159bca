'use strict';
// Drive prozess@0.7.0 (npm) against the loopback recorder.
//
// prozess.Producer(topic, {host, port, partition}) sends PRODUCE with magic-1
// messages (no compression); prozess.Consumer({host, port, topic, partition,
// offset, maxMessageSize}) sends FETCH (consume) and OFFSETS (getOffsets /
// getLatestOffset / getEarliestOffset, time -1/-2 only).  No MULTIPRODUCE or
// MULTIFETCH.  Its native dependency bignum@0.6.2 is replaced by the harness
// stand-in (standins/bignum, pure JS on BigInt; see setup.sh).
//
// Usage: INTEROP_NPM_PREFIX=<cache>/npm node encode_prozess.js [OUTDIR]

const path = require('path');
const { Kit, expect, P, hx, sleep, peerRequire, peerVersion } = require('./casekit');

const PEER = 'prozess';
const prozess = peerRequire('prozess');
const T = 'test';

function producer(c, opts) {
  const p = new prozess.Producer(T, Object.assign({ host: '127.0.0.1', port: c.port }, opts || {}));
  return p;
}

function connectProducer(c, p) {
  return c.call((done) => { p.once('connect', () => done(null)); p.once('error', done); p.connect(); }, 3000, 'connect');
}

function closeProducer(p) {
  try { if (p.connection && p.connection._connection) p.connection._connection.destroy(); } catch (e) { /* ignore */ }
}

function consumer(c, opts) {
  return new prozess.Consumer(Object.assign({ host: '127.0.0.1', port: c.port, topic: T, partition: 0, offset: 0, maxMessageSize: 1048576 }, opts || {}));
}

function closeConsumer(k) {
  try { if (k.socket) k.socket.destroy(); } catch (e) { /* ignore */ }
}

function describe(msgs) {
  return (msgs || []).map((m) => ({
    payload_hex: hx(m.payload), magic: m.magic, compression: m.compression,
    checksum: m.checksum, is_valid: m.isValid(),
  }));
}

function offsetsToJson(list) {
  return (list || []).map((o) => (o && o.toString ? o.toString() : o));
}

async function main(outdir) {
  const kit = new Kit(PEER, peerVersion('prozess'), outdir);

  // ---------------------------------------------------------------- produce
  const sets = [['one', [P.HELLO]], ['many', [P.HELLO, P.THERE, P.TESTING]], ['empty_payload', [Buffer.alloc(0)]],
    ['binary', [P.BINARY]], ['utf8', [P.UTF8]]];
  for (const [label, payloads] of sets) {
    await kit.run({ name: `produce_${label}_m1`, expect: expect.produce(T, 0, payloads, 1),
      api: `Producer('test', {partition: 0}).send([${payloads.length} Buffers], cb)` }, async (c) => {
      const p = producer(c);
      await connectProducer(c, p);
      await c.call((done) => p.send(payloads.slice(), done), 3000, 'send');
      await c.waitFrames(1);
      closeProducer(p);
    });
  }

  await kit.run({ name: 'produce_string_m1', expect: expect.produce(T, 0, [P.UTF8], 1),
    api: "Producer('test').send('h\\u00e9llo w\\u00f6rld \\u20ac', cb)  // a JS string" }, async (c) => {
    const p = producer(c);
    await connectProducer(c, p);
    await c.call((done) => p.send(P.UTF8.toString('utf8'), done), 3000, 'send');
    await c.waitFrames(1);
    closeProducer(p);
  });

  await kit.run({ name: 'produce_message_magic0', expect: expect.produce(T, 0, [P.HELLO], 0),
    api: "Producer('test').send(new Message(Buffer('hello'), undefined, 0), cb)  // explicit magic 0",
    notes: ['prozess Message.toBytes always writes the attributes byte, whatever the magic'] }, async (c) => {
    const p = producer(c);
    await connectProducer(c, p);
    await c.call((done) => p.send(new prozess.Message(P.HELLO, undefined, 0), done), 3000, 'send');
    await c.waitFrames(1);
    closeProducer(p);
  });

  await kit.run({ name: 'produce_message_codec1_uncompressed', expect: expect.produce(T, 0, [P.HELLO], 1, 1),
    api: "Producer('test').send(new Message(Buffer('hello'), undefined, 1, 1), cb)  // codec 1 requested",
    notes: ['prozess has no compression: the codec is only copied into the attributes byte;',
      'expect.codec=1 states what was asked; the payload is not gzip'] }, async (c) => {
    const p = producer(c);
    await connectProducer(c, p);
    await c.call((done) => p.send(new prozess.Message(P.HELLO, undefined, 1, 1), done), 3000, 'send');
    await c.waitFrames(1);
    closeProducer(p);
  });

  for (const part of [-1, 7]) {
    const name = `produce_partition_${part < 0 ? 'neg1' : part}_m1`;
    await kit.run({ name, expect: expect.produce(T, part, [P.HELLO], 1),
      api: `Producer('test', {partition: ${part}}).send(Buffer('hello'), cb)` }, async (c) => {
      const p = producer(c, { partition: part });
      await connectProducer(c, p);
      await c.call((done) => p.send(P.HELLO, done), 3000, 'send');
      await c.waitFrames(1, 1000);
      closeProducer(p);
    });
  }

  await kit.run({ name: 'produce_other_topic_m1', expect: expect.produce('other-topic.x_1', 3, [P.HELLO], 1),
    api: "Producer('test').send(Buffer('hello'), {topic: 'other-topic.x_1', partition: 3}, cb)" }, async (c) => {
    const p = producer(c);
    await connectProducer(c, p);
    await c.call((done) => p.send(P.HELLO, { topic: 'other-topic.x_1', partition: 3 }, done), 3000, 'send');
    await c.waitFrames(1);
    closeProducer(p);
  });

  // ------------------------------------------------------------------ fetch
  const fetchResponses = ['fetch_hello_there', 'fetch_empty', 'fetch_error_1', 'fetch_error_3', 'fetch_error_unknown',
    'fetch_cut_trailing', 'fetch_cut_first', 'fetch_bad_crc', 'fetch_gzip_between', 'fetch_gzip_only',
    'fetch_snappy_xerial', 'fetch_snappy_raw', 'fetch_magic0', 'fetch_magic0_bad_crc', 'fetch_magic0_cut_trailing', 'fetch_mixed_magic', 'fetch_trailing_junk',
    'fetch_empty_payload', 'fetch_binary_payload', 'fetch_high_crc', 'fetch_unknown_magic'];
  for (const resp of fetchResponses) {
    await kit.run({ name: resp, expect: expect.fetch(T, 0, 0, 1048576), responses: [resp],
      api: "Consumer({topic: 'test', partition: 0, offset: 0, maxMessageSize: 1048576}).consume(cb)" }, async (c) => {
      const k = consumer(c);
      await c.call((done) => k.connect(done), 3000, 'connect');
      const r = await c.call((done) => k.consume(done), 3000, 'consume');
      c.returned = { messages: r.value ? describe(r.value) : null, offset_after: k.offset ? k.offset.toString() : k.offset };
      closeConsumer(k);
    });
  }

  await kit.run({ name: 'fetch_hello_there_chunked', expect: expect.fetch(T, 0, 0, 1048576), responses: ['fetch_hello_there'], chunk: 3,
    api: 'Consumer(...).consume(cb); response sent 3 bytes at a time' }, async (c) => {
    const k = consumer(c);
    await c.call((done) => k.connect(done), 3000, 'connect');
    const r = await c.call((done) => k.consume(done), 4000, 'consume');
    c.returned = { messages: r.value ? describe(r.value) : null, offset_after: k.offset ? k.offset.toString() : k.offset };
    await sleep(600); // let the rest of the response arrive: shows what prozess does with it
    closeConsumer(k);
  });

  const big = '4294967303'; // 2**32 + 7
  await kit.run({ name: 'fetch_offset_above_2_32', expect: expect.fetch(T, 3, 2 ** 32 + 7, 307200), responses: ['fetch_hello_there'],
    api: "Consumer({partition: 3, offset: '4294967303', maxMessageSize: 307200}).consume(cb)" }, async (c) => {
    const k = consumer(c, { partition: 3, offset: big, maxMessageSize: 307200 });
    await c.call((done) => k.connect(done), 3000, 'connect');
    const r = await c.call((done) => k.consume(done), 3000, 'consume');
    c.returned = { messages: r.value ? describe(r.value) : null, offset_after: k.offset ? k.offset.toString() : k.offset };
    closeConsumer(k);
  });

  await kit.run({ name: 'fetch_then_fetch', expect: expect.fetch(T, 0, 0, 1048576), responses: ['fetch_hello_there', 'fetch_empty'],
    api: 'Consumer(offset 0).consume(cb) twice (second request shows the advanced offset)',
    notes: ['expect describes the first request; the second FETCH carries prozess\'s next offset'] }, async (c) => {
    const k = consumer(c);
    await c.call((done) => k.connect(done), 3000, 'connect');
    const r1 = await c.call((done) => k.consume(done), 3000, 'consume#1');
    const off1 = k.offset ? k.offset.toString() : null;
    const r2 = await c.call((done) => k.consume(done), 3000, 'consume#2');
    c.returned = { first: r1.value ? describe(r1.value) : null, offset_after_first: off1, second: r2.value ? describe(r2.value) : null };
    closeConsumer(k);
  });

  // ---------------------------------------------------------------- offsets
  const offCases = [
    ['offsets_latest', -1, 1, 'offsets_240', 'getLatestOffset'],
    ['offsets_latest_list', -1, 1, 'offsets_240', 'getOffsets'],
    ['offsets_earliest', -2, 1, 'offsets_zero', 'getEarliestOffset'],
    ['offsets_empty', -1, 1, 'offsets_empty', 'getOffsets'],
    ['offsets_above_2_32', -1, 1, 'offsets_above_2_32', 'getOffsets'],
    ['offsets_above_2_53', -1, 1, 'offsets_above_2_53', 'getOffsets'],
    ['offsets_max', -1, 1, 'offsets_max', 'getOffsets'],
  ];
  for (const [name, time, max, resp, method] of offCases) {
    await kit.run({ name, expect: expect.offsets(T, 0, time, max), responses: [resp],
      api: `Consumer({topic: 'test', partition: 0}).${method}(cb)` }, async (c) => {
      const k = consumer(c);
      await c.call((done) => k.connect(done), 3000, 'connect');
      const r = await c.call((done) => k[method](done), 3000, method);
      if (r.entry.outcome === 'returned') {
        c.returned = method === 'getOffsets' ? { offsets: offsetsToJson(r.value) } : { offset: r.value && r.value.toString ? r.value.toString() : r.value };
      }
      closeConsumer(k);
    });
  }

  await kit.run({ name: 'offsets_time', expect: expect.offsets(T, 0, 1700000000000, 5),
    api: "new OffsetsRequest('test', 0, 1700000000000, 5).toBytes() written by hand to the socket",
    notes: ['prozess only encodes time -1 and -2; any other time throws before anything is sent'] }, async (c) => {
    const k = consumer(c);
    await c.call((done) => k.connect(done), 3000, 'connect');
    await c.call((done) => { k.socket.write(new prozess.OffsetsRequest(T, 0, 1700000000000, 5).toBytes()); done(null); }, 3000, 'toBytes');
    closeConsumer(k);
  });

  // consume() with no offset: prozess first asks OFFSETS(-1, 1), then FETCHes from the answer
  await kit.run({ name: 'consume_from_latest', expect: expect.offsets(T, 0, -1, 1), responses: ['offsets_above_2_32', 'fetch_hello_there'],
    api: "Consumer({topic: 'test', partition: 0}) without offset; consume(cb)",
    notes: ['expect describes the first request (OFFSETS); the second is a FETCH at the returned offset'] }, async (c) => {
    const k = consumer(c, { offset: undefined });
    await c.call((done) => k.connect(done), 3000, 'connect');
    const r = await c.call((done) => k.consume(done), 3000, 'consume');
    c.returned = { messages: r.value ? describe(r.value) : null, offset_after: k.offset ? k.offset.toString() : k.offset };
    closeConsumer(k);
  });

  kit.finish({ standins: { bignum: 'standins/bignum (pure JS stand-in for the native bignum@0.6.2)' } });
}

main(process.argv[2] || path.join(__dirname, '..', '..', 'target', 'interop-out', PEER)).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
