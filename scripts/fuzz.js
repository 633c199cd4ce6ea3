#!/usr/bin/env node
// Fuzzes the native addon directly, below the TypeScript validation: random calls with random
// argument types and values to every exported native function. The addon must survive, and
// every failure must be a thrown TypeError or a negative result code that decodes to a real
// errno and call site.
//
//   node scripts/fuzz.js [count=100000] [seed]     supervise: run the fuzz in a child, judge it
//   node scripts/fuzz.js --child <count> <seed>    the fuzz itself (prints one JSON line)
//
// The fuzz runs in a child so that a crash is seen as a signal or a non-zero exit instead of
// taking the caller down. fd arguments come only from fds the child opened itself (TCP, UDP and
// Unix sockets in various states, a FIFO, files, a directory, the pollers' own epoll fds) and
// from numbers that are not open: the fds the process had before the fuzz began (stdio, libuv's
// epoll, its eventfds, ...) are never passed, and are checked to be intact at the end.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

if (process.argv[2] === '--child') {
  child(Number(process.argv[3]), Number(process.argv[4])).catch((err) => {
    console.error(err);
    process.exit(2);
  });
} else {
  supervise();
}

function supervise() {
  const count = Number(process.argv[2] ?? 100_000);
  const seed = Number(process.argv[3] ?? process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, not ${process.argv[2]}`);
  console.log(`fuzzing the native addon: ${count} calls, seed ${seed}`);
  const started = Date.now();
  const proc = spawn(process.execPath, ['--expose-gc', '--no-deprecation', __filename, '--child', String(count), String(seed)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.on('close', (code, signal) => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const line = out.trim().split('\n').pop();
    let report;
    try { report = JSON.parse(line); } catch { report = undefined; }
    if (signal || code !== 0 || !report) {
      console.error(`FAILED after ${secs} s: exit code ${code}, signal ${signal} (seed ${seed})`);
      if (out) console.error(out);
      process.exitCode = 1;
      return;
    }
    console.log(JSON.stringify(report, null, 2));
    console.log(`ok: ${report.calls} calls in ${secs} s, the process survived and every failure was a TypeError or an errno`);
  });
}

// ---- the child ----

async function child(count, seed) {
  const fs = require('node:fs');
  const net = require('node:net');
  const dgram = require('node:dgram');
  const os = require('node:os');
  const { once } = require('node:events');
  const { execFileSync } = require('node:child_process');
  const { getSystemErrorMap } = require('node:util');
  const native = require('node-gyp-build')(root);

  const rand = mulberry32(seed);
  const int = (n) => Math.floor(rand() * n);
  const pick = (xs) => xs[int(xs.length)];
  const chance = (p) => rand() < p;

  const fdsBefore = fdTable();
  const sites = native.sites; // the addon's own table: a code decodes when its site has a row
  const errnos = getSystemErrorMap();

  // ---- fds of our own ----
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-fuzz-'));
  const keep = []; // the JS objects behind the fds, so none is collected and closed
  const own = new Map(); // fd -> what it is

  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  keep.push(server);
  own.set(server._handle.fd, 'tcp listener');
  const { port } = server.address();
  const accepted = [];
  server.on('connection', (s) => { accepted.push(s); s.on('error', () => {}); });
  const clients = [];
  for (let i = 0; i < 5; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'connect');
    clients.push(c);
  }
  while (accepted.length < 5) await new Promise((r) => setTimeout(r, 5));
  clients[1].write('data waiting');
  clients[2].end(); // FIN: the accepted end is in CLOSE_WAIT
  clients[3].resetAndDestroy(); // RST: the accepted end has ECONNRESET pending
  for (const [i, s] of accepted.entries()) own.set(s._handle.fd, `tcp accepted #${i}`);
  for (const [i, c] of clients.entries()) if (c._handle) own.set(c._handle.fd, `tcp client #${i}`);
  keep.push(...accepted, ...clients);

  const udp = dgram.createSocket('udp4');
  await new Promise((r) => udp.bind(0, '127.0.0.1', r));
  udp.on('message', () => {});
  udp.send('x', udp.address().port, '127.0.0.1');
  // dgram has no public fd and Node 26 removed `_handle` (DEP0112): find it as `ss -p` does, by the
  // socket's inode in /proc/net/udp and the /proc/self/fd entry that links to it.
  const udpPort = `:${udp.address().port.toString(16).toUpperCase().padStart(4, '0')}`;
  const udpInode = fs.readFileSync('/proc/net/udp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)).find((c) => c[1]?.endsWith(udpPort))[9];
  own.set(Number(fs.readdirSync('/proc/self/fd').find((fd) => { try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === `socket:[${udpInode}]`; } catch { return false; } })), 'udp');
  keep.push(udp);

  const unixServer = net.createServer({ pauseOnConnect: true }).listen(path.join(tmp, 'sock'));
  await once(unixServer, 'listening');
  const unixClient = net.connect(path.join(tmp, 'sock'));
  unixClient.on('error', () => {});
  await once(unixClient, 'connect');
  own.set(unixServer._handle.fd, 'unix listener');
  own.set(unixClient._handle.fd, 'unix client');
  keep.push(unixServer, unixClient);

  execFileSync('mkfifo', [path.join(tmp, 'fifo')]);
  const fifo = fs.openSync(path.join(tmp, 'fifo'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  fs.writeSync(fifo, 'x');
  own.set(fifo, 'fifo');
  own.set(fs.openSync(__filename, 'r'), 'file');
  own.set(fs.openSync(path.join(tmp, 'rw'), 'w+'), 'file rw');
  own.set(fs.openSync('/dev/null', 'r+'), '/dev/null');
  own.set(fs.openSync(tmp, 'r'), 'directory');
  await new Promise((r) => setTimeout(r, 50)); // let the FIN and the RST arrive

  // Numbers that are not open. A number freed here may later be taken by a poller's epoll fd
  // (the kernel hands out the lowest free number): still ours, and harmless.
  const closed = [];
  for (let i = 0; i < 3; i++) {
    const fd = fs.openSync('/dev/null', 'r');
    fs.closeSync(fd);
    closed.push(fd);
  }
  const notOpen = [...closed, 999, 4096, 19_999, 20_000, 65_535, 1_000_000, 0x7fffffff];
  const ownFds = [...own.keys()];
  for (const fd of [...ownFds, ...notOpen]) {
    if (fdsBefore.has(fd)) throw new Error(`fd ${fd} was open before the fuzz: refusing to pass it`);
  }
  const pollerFds = new Set(); // the epoll fds our pollers opened, found in /proc/self/fd
  const randomFd = () => {
    const x = rand();
    if (x < 0.6 || pollerFds.size === 0) return pick(ownFds);
    if (x < 0.8) return pick(notOpen);
    return pick([...pollerFds]);
  };

  // ---- values ----
  const marker = new Error('fuzz: a callback threw on purpose');
  const numbers = [
    0, -0, 1, 2, 3, -1, -2, 7, 16, 31, 32, 255, 256, 1024, 0x7fff, 0x8000, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, -0x80000000, -0x80000001, 0xffffffff, 2 ** 32, 2 ** 32 + 5, 2 ** 53, 2 ** 53 + 2,
    -(2 ** 53), 2 ** 63, 2 ** 64, NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE,
    Number.EPSILON, 0.5, 1.5, 3.000001, -0.5, 1e-300, 1e300, -1e300,
  ];
  const errnoValues = Object.values(os.constants.errno);
  const strings = ['', '0', '3', '-1', 'abc', '0x10', 'NaN', '\u0000', 'x'.repeat(10_000)];
  const functions = [
    () => {},
    function named() { return 1; },
    () => { throw marker; },
    async () => {},
    Math.max,
    class Klass {},
    function* gen() {},
    (() => {}).bind(null),
  ];
  const hostile = new Proxy({}, {
    get() { throw marker; }, has() { throw marker; }, ownKeys() { throw marker; },
    getPrototypeOf() { throw marker; }, getOwnPropertyDescriptor() { throw marker; },
  });
  const sab = new SharedArrayBuffer(4096);
  const resizable = new ArrayBuffer(64, { maxByteLength: 4096 });
  const fakeExternal = Object.create(null);
  function detached(Type, length) {
    const a = new Type(length);
    structuredClone(a.buffer, { transfer: [a.buffer] });
    return a;
  }
  const typedKinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array];
  function typedArray() {
    const Type = chance(0.5) ? pick([Int32Array, Uint8Array, Float64Array]) : pick(typedKinds);
    const length = pick([0, 1, 2, 3, 4, 5, 6, 8, 16, 64, 256, 257, 1000, int(600)]);
    switch (int(8)) {
      case 0: { // a view on a SharedArrayBuffer, at an offset
        const offset = Type.BYTES_PER_ELEMENT * int(8);
        return new Type(sab, offset, Math.min(length, (sab.byteLength - offset) / Type.BYTES_PER_ELEMENT));
      }
      case 1: return detached(Type, length);
      case 2: { // a length-tracking view on a resizable buffer, resized at random
        resizable.resize(Type.BYTES_PER_ELEMENT * 8 * int(64));
        return new Type(resizable);
      }
      case 3: { // a subarray: the data does not start at the buffer's start
        const a = new Type(length + 8);
        return a.subarray(int(8) + 1);
      }
      case 4: { // an Int32Array full of pollfds: (fd, events) pairs from our pool
        const a = new Int32Array(2 * (1 + int(8)));
        for (let i = 0; i < a.length; i += 2) {
          a[i] = chance(0.9) ? randomFd() : -1 - int(5);
          a[i + 1] = int(0x10000);
        }
        return a;
      }
      default: return new Type(length);
    }
  }

  const pollers = []; // { handle, out }
  const MAX_POLLERS = 24;
  let callbacks = 0;
  let reentrant = 0;
  // The callback reaches its own poller only through a WeakRef: the addon holds the callback
  // strongly, so a strong reference here would keep a dropped poller from ever being collected.
  function goodCallback(entry) {
    return function onEvents(n) {
      callbacks++;
      if (!Number.isInteger(n) || n < 1 || n > 256) violation(`poller callback got count ${n}`);
      const self = entry.handle?.deref();
      if (self && chance(0.05)) { reentrant++; native.pollerClose(self); }
      else if (self && chance(0.1)) { reentrant++; callNative('pollerCtl', [self, pick([1, 2, 3]), randomFd(), int(64), int(100)]); }
      if (chance(0.02)) throw marker;
    };
  }

  function value(depth = 0) {
    switch (int(depth > 0 ? 10 : 12)) {
      case 0: case 1: return pick(numbers);
      case 2: return randomFd();
      case 3: return chance(0.5) ? int(64) : -pick(errnoValues);
      case 4: return pick(strings);
      case 5: return pick([undefined, null, true, false, Symbol('s'), 3n, -1n, 2n ** 64n]);
      case 6: return pick([{}, { fd: randomFd() }, { valueOf: () => 3 }, hostile, fakeExternal, new Date(0), /x/, new Map()]);
      case 7: return pick([[], [randomFd()], [1, 2, 3], new Array(5), new ArrayBuffer(8), sab, new DataView(new ArrayBuffer(8)),
        Buffer.alloc(pick([0, 1, 256]))]);
      case 8: case 9: return typedArray();
      case 10: return pick(functions);
      default: return pollers.length ? pick(pollers).handle : pick(numbers);
    }
  }

  // Arguments shaped like a real call most of the time, so calls get past the backstop and
  // reach the kernel; entirely random the rest of the time.
  function plausible(name) {
    const p = () => (pollers.length && chance(0.9) ? pick(pollers).handle : value());
    const n = () => (chance(0.8) ? pick([-1, 0, 1, 2, 5, 60, 127, 128, 32767, 32768, 0x7fffffff]) : value());
    switch (name) {
      case 'setKeepAlive': return [randomFd(), n(), n(), n(), n(), n()];
      case 'getKeepAlive': return [randomFd(), chance(0.8) ? new Int32Array(5 + int(3)) : typedArray()];
      case 'takeSocketError': case 'peek': return [randomFd()];
      case 'setOption': return [randomFd(), pick([0, 1, 6, 17, 41, 255, 0x7fffffff]), int(80), n()];
      case 'getOption': return [randomFd(), pick([0, 1, 6, 17, 41, 255]), int(80), chance(0.8) ? new Int32Array(1 + int(2)) : typedArray()];
      case 'poll': {
        const a = typedArray();
        return [a, chance(0.7) ? int(a.length / 2 + 2) : value()];
      }
      case 'port': return [randomFd(), chance(0.8) ? chance(0.5) : value()];
      case 'tcpInfo': return [randomFd(), chance(0.7) ? new Uint8Array(pick([1, 8, 100, 104, 232, 256, 512])) : typedArray()];
      case 'pollerOpen': return [chance(0.8) ? new Float64Array(pick([2, 3, 4, 16, 512, 513])) : typedArray(), chance(0.8) ? null : value()];
      case 'pollerCtl': return [p(), pick([1, 2, 3, 0, 4]), randomFd(),
        chance(0.8) ? pick([1, 4, 5, 0x2001, 0x40000001, 0x40002005, 0xffffffff]) : value(), chance(0.8) ? int(1000) : value()];
      case 'pollerRef': return [p(), chance(0.8) ? chance(0.5) : value()];
      case 'pollerClose': return [p()];
      // A real snapshot walks the host's whole socket table (milliseconds): mostly the backstop.
      case 'diagSnapshot': return chance(0.03)
        ? [process.pid, pick([0, 1]), pick([-1, -1, randomFd()]), new Float64Array(1)]
        : [chance(0.5) ? process.pid : value(), pick([0, 1, 2, value()]), pick([-1, randomFd(), value()]), chance(0.5) ? new Float64Array(1) : typedArray()];
      default: throw new Error(name);
    }
  }

  const functionsUnderTest = Object.keys(native).filter((k) => typeof native[k] === 'function');
  // Registrations are what make the pollers call back, and closing is cheap to reach: weigh
  // the choice so that pollers live long enough to deliver events.
  const weighted = functionsUnderTest.flatMap((k) => Array((({ pollerCtl: 6, pollerClose: 1 })[k] ?? 2)).fill(k));
  const stats = Object.fromEntries(functionsUnderTest.map((k) => [k, { calls: 0, ok: 0, errno: 0, typeError: 0 }]));
  const violations = [];
  function violation(what) {
    if (violations.length < 20) violations.push(what);
  }
  process.on('uncaughtException', (err) => {
    // A poller callback that throws reaches 'uncaughtException', like any I/O callback's error.
    if (err !== marker && !(err instanceof TypeError && /class constructor/i.test(err.message))) {
      violation(`uncaught exception: ${err && err.stack}`);
    }
  });

  function describe(args) {
    return args.map((a) => {
      if (typeof a === 'bigint') return `${a}n`;
      if (typeof a === 'symbol' || typeof a === 'function') return String(a).slice(0, 40);
      if (ArrayBuffer.isView(a)) return `${a.constructor.name}(${a.length ?? a.byteLength})${a.buffer instanceof SharedArrayBuffer ? ' shared' : ''}`;
      if (a === hostile) return 'Proxy';
      if (a && typeof a === 'object') return Object.prototype.toString.call(a);
      if (typeof a === 'string') return JSON.stringify(a.slice(0, 20));
      return String(a);
    }).join(', ');
  }

  function decodes(r) {
    const code = -r;
    const errno = Math.floor(code / sites.length);
    return Number.isInteger(r) && errnos.has(-errno) && sites[code % sites.length] !== undefined;
  }

  function callNative(name, args) {
    const s = stats[name];
    s.calls++;
    let r;
    try {
      r = native[name](...args);
    } catch (err) {
      if (err instanceof TypeError && !(err === marker)) { s.typeError++; return undefined; }
      violation(`${name}(${describe(args)}) threw ${err && err.constructor && err.constructor.name}: ${err && err.message}`);
      return undefined;
    }
    if (name === 'pollerRef' || name === 'pollerClose') {
      if (r !== undefined) violation(`${name}(${describe(args)}) returned ${String(r)}`);
      s.ok++;
      return r;
    }
    if (name === 'pollerOpen' && typeof r === 'object' && r !== null) { s.ok++; return r; }
    if (name === 'diagSnapshot' && r instanceof ArrayBuffer) {
      if (r.byteLength % 128 !== 0) violation(`${name}(${describe(args)}) returned ${r.byteLength} bytes, not whole 128-byte records`);
      s.ok++;
      return r;
    }
    if (typeof r !== 'number' || !Number.isInteger(r)) {
      violation(`${name}(${describe(args)}) returned ${typeof r} ${String(r)}`);
      return undefined;
    }
    if (r < 0) {
      if (!decodes(r)) violation(`${name}(${describe(args)}) returned ${r}, which is no errno and site`);
      s.errno++;
      return r;
    }
    s.ok++;
    const range = {
      setKeepAlive: [0, 0], getKeepAlive: [0, 0], setOption: [0, 0], getOption: [0, 0], pollerCtl: [0, 0],
      takeSocketError: [0, 4095], peek: [0, 2], port: [0, 65535], poll: [0, typeof args[1] === 'number' ? args[1] : 0],
      tcpInfo: [0, ArrayBuffer.isView(args[1]) ? args[1].byteLength : 0],
    }[name];
    if (range && (r < range[0] || r > range[1])) violation(`${name}(${describe(args)}) returned ${r}, outside ${range}`);
    return r;
  }

  function fuzzOne() {
    const name = pick(weighted);
    let args;
    if (chance(0.6)) args = plausible(name);
    else args = Array.from({ length: int(8) }, () => value());
    if (name === 'pollerOpen' && args[1] === null) {
      const weak = { handle: undefined };
      args[1] = goodCallback(weak);
      const r = callNative(name, args);
      if (r && typeof r === 'object') {
        weak.handle = new WeakRef(r);
        const entry = { handle: r, out: args[0] };
        pollers.push(entry);
        if (chance(0.05) && ArrayBuffer.isView(entry.out) && !(entry.out.buffer instanceof SharedArrayBuffer) && !entry.out.buffer.resizable) {
          // The poller keeps writing events into this array: take its memory away.
          structuredClone(entry.out.buffer, { transfer: [entry.out.buffer] });
        }
      }
    } else {
      const r = callNative(name, args);
      if (name === 'pollerOpen' && r && typeof r === 'object') pollers.push({ handle: r, out: args[0] });
    }
    if (pollers.length > MAX_POLLERS) {
      // Drop one at random, closed or not: an unclosed one is closed by its finalizer when collected.
      const [old] = pollers.splice(int(pollers.length), 1);
      if (chance(0.5)) native.pollerClose(old.handle);
    }
  }

  function notePollerFds() {
    for (const [fd, link] of fdTable()) {
      if (!fdsBefore.has(fd) && !own.has(fd) && link === 'anon_inode:[eventpoll]') pollerFds.add(fd);
    }
  }

  const CHUNK = 200;
  let done = 0;
  let chunks = 0;
  while (done < count) {
    const n = Math.min(CHUNK, count - done);
    for (let i = 0; i < n; i++) fuzzOne();
    done += n;
    chunks++;
    if (chunks % 4 === 1) notePollerFds();
    if (chunks % 10 === 0 && global.gc) global.gc();
    // Let the loop turn: poller events are delivered, finalizers and close callbacks run.
    await new Promise((r) => setImmediate(r));
    if (chance(0.2)) clients[0].write('x'); // keeps something readable arriving
  }

  for (const p of pollers) native.pollerClose(p.handle);
  pollers.length = 0;
  if (global.gc) global.gc();
  await new Promise((r) => setTimeout(r, 20));

  // The fds the process had before the fuzz are all still there, and still the same things.
  const fdsAfter = fdTable();
  for (const [fd, link] of fdsBefore) {
    if (fdsAfter.get(fd) !== link) violation(`fd ${fd} (${link}) is now ${fdsAfter.get(fd)}`);
  }
  const leftover = [...fdsAfter].filter(([fd, link]) => !fdsBefore.has(fd) && !own.has(fd) && link === 'anon_inode:[eventpoll]');
  if (leftover.length) violation(`epoll fds still open after closing every poller: ${leftover.map(([fd]) => fd)}`);

  const total = Object.values(stats).reduce((a, s) => a + s.calls, 0);
  process.stdout.write(`${JSON.stringify({
    seed, calls: total, stats, pollerCallbacks: callbacks, reentrantCalls: reentrant,
    ownFds: Object.fromEntries(own), pollerFdsSeen: pollerFds.size, violations,
  })}\n`);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(violations.length ? 1 : 0);
}

/** fd -> what /proc says it is. */
function fdTable() {
  const fs = require('node:fs');
  const table = new Map();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try { table.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`)); } catch { /* the readdir's own fd */ }
  }
  return table;
}

/** A small seeded PRNG, so a failing run can be repeated with its seed. */
function mulberry32(a) {
  return function next() {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
