'use strict';
// Shared plumbing for the Node encoders (encode_prozess.js, encode_franz_kafka.js,
// encode_kafka_npm.js).  Mirrors casekit.py: one loopback recorder per case (the
// Python recorder.py, spawned as a child process), bounded calls into the peer,
// and the same three output files per case:
//
//   out/<peer>/<case>.bin          raw bytes the peer sent on its (first) connection
//   out/<peer>/<case>.json         what the peer was asked to send (`expect`) + recorder summary
//   out/<peer>/<case>.result.json  for cases fed canned responses: what the peer returned/raised
//
// Peers are resolved from the npm prefix given in $INTEROP_NPM_PREFIX (setup.sh
// creates it as <cache>/npm).

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const HERE = __dirname;
const PYTHON = process.env.INTEROP_PYTHON || 'python3';

function peerRequire(name) {
  const prefix = process.env.INTEROP_NPM_PREFIX;
  if (!prefix) throw new Error('INTEROP_NPM_PREFIX is not set (run setup.sh; see INTEROP.md at the repository root)');
  return require(require.resolve(name, { paths: [path.join(prefix, 'node_modules')] }));
}

function peerVersion(name) {
  const prefix = process.env.INTEROP_NPM_PREFIX;
  const pj = path.join(prefix, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(pj, 'utf8')).version;
}

function hx(buf) { return Buffer.from(buf).toString('hex'); }

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function errInfo(e) {
  if (e instanceof Error) {
    const where = (e.stack || '').split('\n').slice(1, 3).map((s) => s.trim()).join(' | ');
    return { type: e.constructor && e.constructor.name, name: e.name, message: String(e.message).slice(0, 500), where: where.slice(0, 400) };
  }
  return { type: typeof e, message: String(e).slice(0, 500), thrown_non_error: true };
}

class Recorder {
  constructor(prefix, responseFiles, onExhausted, chunk) {
    const args = [path.join(HERE, 'recorder.py'), '--out', prefix, '--on-exhausted', onExhausted || 'hold'];
    for (const f of responseFiles) args.push('--response', f);
    if (chunk) args.push('--chunk', String(chunk));
    this.proc = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = [];
    this.waiters = [];
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiters.shift();
      if (w) w(JSON.parse(line)); else this.lines.push(JSON.parse(line));
    });
  }
  next() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((r) => this.waiters.push(r));
  }
  async start() { this.port = (await this.next()).port; return this; }
  async frames() { this.proc.stdin.write('FRAMES\n'); return this.next(); }
  async stop() {
    this.proc.stdin.write('STOP\n');
    const summary = await this.next();
    this.proc.stdin.end();
    return summary;
  }
}

class Case {
  constructor(kit, spec) {
    this.kit = kit;
    this.name = spec.name;
    this.expect = spec.expect;
    this.api = spec.api;
    this.responseNames = spec.responses || [];
    this.onExhausted = spec.onExhausted || 'hold';
    this.chunk = spec.chunk || null;
    this.notes = spec.notes || [];
    this.calls = [];
    this.returned = null;
    this.observations = [];
    this.peerLog = [];
    this.uncaught = [];
  }
  get port() { return this.rec.port; }
  note(t) { this.observations.push(t); }

  // fn(done) must call done(err, value) once; or return a Promise.  Bounded by timeoutMs.
  call(fn, timeoutMs, label) {
    const t0 = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      const finish = (entry, value) => {
        if (settled) { // a second callback is itself a fact worth recording
          this.calls.push({ outcome: 'late-callback', after_ms: Date.now() - t0, detail: entry });
          return;
        }
        settled = true;
        clearTimeout(timer);
        if (label) entry.label = label;
        this.calls.push(entry);
        resolve({ entry, value });
      };
      const timer = setTimeout(() => finish({ outcome: 'hang', note: 'no callback within ' + timeoutMs + ' ms' }), timeoutMs);
      try {
        const p = fn((err, value) => {
          if (err) finish({ outcome: 'error', error: errInfo(err), ms: Date.now() - t0 });
          else finish({ outcome: 'returned', ms: Date.now() - t0 }, value);
        });
        if (p && typeof p.then === 'function') {
          p.then((v) => finish({ outcome: 'returned', ms: Date.now() - t0 }, v),
            (e) => finish({ outcome: 'exception', exception: errInfo(e), ms: Date.now() - t0 }));
        }
      } catch (e) {
        finish({ outcome: 'exception', exception: errInfo(e), ms: Date.now() - t0 });
      }
    });
  }

  async waitFrames(n, timeoutMs) {
    const end = Date.now() + (timeoutMs || 3000);
    while (Date.now() < end) {
      const f = await this.rec.frames();
      if (f.frames >= n) return true;
      await sleep(20);
    }
    return false;
  }
}

class Kit {
  constructor(peer, version, outdir) {
    this.peer = peer;
    this.version = version;
    this.outdir = outdir;
    this.index = [];
    fs.mkdirSync(outdir, { recursive: true });
    this.respdir = path.join(path.dirname(outdir), 'responses');
    execFileSync(PYTHON, [path.join(HERE, 'vectors.py'), this.respdir], { stdio: 'ignore' });
    this.respIndex = JSON.parse(fs.readFileSync(path.join(this.respdir, 'index.json'), 'utf8'));
  }

  async run(spec, body) {
    const c = new Case(this, spec);
    const prefix = path.join(this.outdir, c.name);
    for (const f of fs.readdirSync(this.outdir)) {
      if (f.startsWith(c.name + '.')) fs.unlinkSync(path.join(this.outdir, f));
    }
    c.rec = await new Recorder(prefix, c.responseNames.map((n) => path.join(this.respdir, n + '.bin')),
      c.onExhausted, c.chunk).start();
    // capture what the peer prints and what it throws from its event handlers
    const origError = console.error;
    const origLog = console.log;
    const origWarn = console.warn;
    console.error = (...a) => c.peerLog.push({ stream: 'console.error', message: a.map(String).join(' ').slice(0, 400) });
    console.warn = (...a) => c.peerLog.push({ stream: 'console.warn', message: a.map(String).join(' ').slice(0, 400) });
    console.log = (...a) => c.peerLog.push({ stream: 'console.log', message: a.map(String).join(' ').slice(0, 400) });
    const onUncaught = (e) => { c.uncaught.push(errInfo(e)); };
    process.on('uncaughtException', onUncaught);
    try {
      await body(c);
    } catch (e) {
      c.calls.push({ outcome: 'harness-exception', exception: errInfo(e) });
    }
    await sleep(150);
    process.removeListener('uncaughtException', onUncaught);
    console.error = origError;
    console.log = origLog;
    console.warn = origWarn;
    const summary = await c.rec.stop();
    const meta = {
      peer: this.peer, peer_version: this.version, case: c.name, api: c.api, expect: c.expect,
      bin: summary.data_connections ? c.name + '.bin' : null, recorder: summary,
      calls: c.calls, uncaught: c.uncaught, notes: c.notes, peer_log: c.peerLog,
    };
    fs.writeFileSync(prefix + '.json', JSON.stringify(meta, null, 1));
    if (c.responseNames.length || c.onExhausted === 'close') {
      const result = {
        peer: this.peer, case: c.name,
        responses: c.responseNames.map((n) => ({ name: n, hex: this.respIndex[n].hex, what: this.respIndex[n].what, spec_decode: this.respIndex[n].spec_decode })),
        responses_unused: summary.unused_responses,
        calls: c.calls, uncaught: c.uncaught, returned: c.returned, observations: c.observations, peer_log: c.peerLog,
      };
      fs.writeFileSync(prefix + '.result.json', JSON.stringify(result, null, 1));
    }
    const frames = summary.connections.reduce((t, x) => t + x.frames.length, 0);
    this.index.push({ case: c.name, frames, calls: c.calls.map((x) => x.outcome), uncaught: c.uncaught.length });
    const status = c.calls.map((x) => x.outcome).join(',') || '-';
    process.stdout.write('  ' + c.name.padEnd(34) + ' frames=' + frames + ' ' + status + (c.uncaught.length ? ' uncaught=' + c.uncaught.length : '') + '\n');
  }

  finish(extra) {
    const data = Object.assign({ peer: this.peer, peer_version: this.version, cases: this.index }, extra || {});
    fs.writeFileSync(path.join(this.outdir, '_index.json'), JSON.stringify(data, null, 1));
    process.stdout.write(this.peer + ': ' + this.index.length + ' cases written to ' + this.outdir + '\n');
  }
}

// expect builders (same schema as casekit.py; see INTEROP.md)
const expect = {
  produce: (topic, partition, payloads, magic, codec) => ({ type: 'PRODUCE', topic, partition, magic, codec: codec || 0, count: payloads.length, payloads_hex: payloads.map(hx) }),
  multiproduce: (items, magic, codec) => ({ type: 'MULTIPRODUCE', magic, codec: codec || 0, items: items.map(([t, p, pl]) => ({ topic: t, partition: p, count: pl.length, payloads_hex: pl.map(hx) })) }),
  fetch: (topic, partition, offset, maxSize) => ({ type: 'FETCH', topic, partition, offset, max_size: maxSize }),
  offsets: (topic, partition, time, maxOffsets) => ({ type: 'OFFSETS', topic, partition, time, max_offsets: maxOffsets }),
};

// payloads shared with vectors.py
const P = {
  HELLO: Buffer.from('hello'),
  THERE: Buffer.from('there'),
  TESTING: Buffer.from('testing'),
  BINARY: Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
  UTF8: Buffer.from('h\u00e9llo w\u00f6rld \u20ac', 'utf8'),
};

module.exports = { Kit, expect, P, hx, sleep, errInfo, peerRequire, peerVersion };
