// What `npm run bench` measures. A row is one of our calls against one comparison; to add one,
// add its measurements (unless they exist) and an entry to `rows`.
'use strict';
// Imported as users do: named functions, not looked up through the module object at each call.
const { setKeepAlive, getKeepAlive, takeSocketError, readiness, getOption, setOption, constants } = require('..');
const netKeepAlive = require('net-keepalive');
const sockopt = require('sockopt');

const { IPPROTO_TCP, TCP_KEEPINTVL, SOL_SOCKET, SO_KEEPALIVE } = constants;
// Node 26 added interval and count to socket.setKeepAlive (enable, initialDelay, interval, count,
// or one options object); earlier versions declare two parameters. Its row is timed only there.
const nodeKeepAliveTakesIntervalAndCount = require('node:net').Socket.prototype.setKeepAlive.length >= 4;

// A JS measurement: prepare(ctx) (may be async) returns op(i), called with a running count i.
// ctx.socket is a connected TCP socket, ctx.sockets[0 .. sockets-1] more of them; the far ends
// live in another process. A C measurement names an operation of bench/floor.c, which runs on
// those same sockets. batch: operations per timed batch.
// Node skips a socket.setKeepAlive() that changes nothing, so each full configuration switches
// idle between 10 s and 11 s (in C too) to make every call reach the kernel.
const measurements = {
  // enable defaults to true: TCP_KEEPINTVL and SO_KEEPALIVE, two syscalls.
  'setKeepAlive(s, { interval })': { batch: 1000, prepare: ({ socket }) => () => setKeepAlive(socket, { interval: 7000 }) },
  'setOption(s, TCP, KEEPINTVL, 7)': { batch: 1000, prepare: ({ socket }) => () => setOption(socket, IPPROTO_TCP, TCP_KEEPINTVL, 7) },
  'getOption(s, TCP, KEEPINTVL)': { batch: 1000, prepare: ({ socket }) => () => getOption(socket, IPPROTO_TCP, TCP_KEEPINTVL) },
  'setKeepAlive(s, { enable, idle, interval, count })': {
    batch: 1000,
    prepare: ({ socket }) => (i) => setKeepAlive(socket, { enable: true, idle: i & 1 ? 11000 : 10000, interval: 2000, count: 3 }),
  },
  'getKeepAlive(s)': { batch: 1000, prepare: ({ socket }) => () => getKeepAlive(socket) },
  'takeSocketError(s)': { batch: 1000, prepare: ({ socket }) => () => takeSocketError(socket) },
  'readiness(1k sockets)': { batch: 50, sockets: 1000, prepare: ({ sockets }) => ((s) => () => readiness(s))(sockets.slice(0, 1000)) },
  'readiness(10k sockets)': { batch: 5, sockets: 10000, prepare: ({ sockets }) => ((s) => () => readiness(s))(sockets.slice(0, 10000)) },
  // The same sockets as fd numbers: what is left when no socket object is asked for its fd.
  'readiness(10k fd numbers)': {
    batch: 5, sockets: 10000, prepare: ({ sockets }) => ((fds) => () => readiness(fds))(sockets.slice(0, 10000).map((s) => s._handle.fd)),
  },

  // Both take the net.Socket and read its fd themselves; net-keepalive takes ms, sockopt the
  // kernel's value (seconds).
  'net-keepalive setKeepAliveInterval': { batch: 100, prepare: ({ socket }) => () => netKeepAlive.setKeepAliveInterval(socket, 7000) },
  'net-keepalive getKeepAliveInterval': { batch: 100, prepare: ({ socket }) => () => netKeepAlive.getKeepAliveInterval(socket) },
  'sockopt setsockopt': { batch: 1000, prepare: ({ socket }) => () => sockopt.setsockopt(socket, IPPROTO_TCP, TCP_KEEPINTVL, 7) },
  'sockopt getsockopt': { batch: 1000, prepare: ({ socket }) => () => sockopt.getsockopt(socket, IPPROTO_TCP, TCP_KEEPINTVL) },
  // The same work as setKeepAlive(s, { interval }): the interval, and keepalive turned on.
  'sockopt setsockopt KEEPINTVL, SO_KEEPALIVE': {
    batch: 1000,
    prepare: ({ socket }) => () => {
      sockopt.setsockopt(socket, IPPROTO_TCP, TCP_KEEPINTVL, 7);
      sockopt.setsockopt(socket, SOL_SOCKET, SO_KEEPALIVE, 1);
    },
  },
  // SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (libuv's uv_tcp_keepalive): four syscalls.
  'socket.setKeepAlive(true, ms)': { batch: 1000, prepare: ({ socket }) => (i) => socket.setKeepAlive(true, i & 1 ? 11000 : 10000) },
  // Node 26's own full configuration (nodejs/node#63825): the same four syscalls, interval and
  // count as asked. Checked on the socket first: a Node that ignored them would be timed doing less.
  'socket.setKeepAlive({ enable, initialDelay, interval, count })': {
    batch: 1000,
    prepare: ({ socket }) => {
      socket.setKeepAlive({ enable: true, initialDelay: 12000, interval: 3000, count: 4 });
      const got = getKeepAlive(socket);
      if (got.idle !== 12000 || got.interval !== 3000 || got.count !== 4) throw new Error(`this Node's socket.setKeepAlive ignored interval/count: ${JSON.stringify(got)}`);
      return (i) => socket.setKeepAlive({ enable: true, initialDelay: i & 1 ? 11000 : 10000, interval: 2000, count: 3 });
    },
  },

  'C: setsockopt KEEPINTVL, SO_KEEPALIVE': { batch: 1000, c: 'set-intvl-ka' },
  'C: setsockopt KEEPINTVL': { batch: 1000, c: 'set-intvl' },
  'C: getsockopt KEEPINTVL': { batch: 1000, c: 'get-intvl' },
  'C: 4 setsockopt': { batch: 1000, c: 'set-keepalive4' },
  'C: 5 getsockopt': { batch: 1000, c: 'get-keepalive5' },
  'C: getsockopt SO_ERROR': { batch: 1000, c: 'so-error' },
  'C: poll(1k fds)': { batch: 50, sockets: 1000, c: 'poll-1000' },
  'C: poll(10k fds)': { batch: 5, sockets: 10000, c: 'poll-10000' },
};

// ratio = ours / theirs; a row meets its target when ratio <= max.
const FLOOR = { max: 1.3, text: '<= 1.3' };
const FFI = { max: 1 / 15, text: '<= 1/15' };
const FASTER = { max: 1, text: '< 1' };
const NO_SLOWER = { max: 1, text: '<= 1' };

const rows = [
  { op: 'set TCP_KEEPINTVL', ours: 'setKeepAlive(s, { interval })', theirs: 'C: setsockopt KEEPINTVL, SO_KEEPALIVE', target: FLOOR },
  { op: 'set TCP_KEEPINTVL', ours: 'setKeepAlive(s, { interval })', theirs: 'sockopt setsockopt KEEPINTVL, SO_KEEPALIVE', target: FASTER },
  { op: 'set TCP_KEEPINTVL', ours: 'setOption(s, TCP, KEEPINTVL, 7)', theirs: 'C: setsockopt KEEPINTVL', target: FLOOR },
  { op: 'set TCP_KEEPINTVL', ours: 'setOption(s, TCP, KEEPINTVL, 7)', theirs: 'net-keepalive setKeepAliveInterval', target: FFI },
  { op: 'set TCP_KEEPINTVL', ours: 'setOption(s, TCP, KEEPINTVL, 7)', theirs: 'sockopt setsockopt', target: FASTER },
  { op: 'get TCP_KEEPINTVL', ours: 'getOption(s, TCP, KEEPINTVL)', theirs: 'C: getsockopt KEEPINTVL', target: FLOOR },
  { op: 'get TCP_KEEPINTVL', ours: 'getOption(s, TCP, KEEPINTVL)', theirs: 'net-keepalive getKeepAliveInterval', target: FFI },
  { op: 'get TCP_KEEPINTVL', ours: 'getOption(s, TCP, KEEPINTVL)', theirs: 'sockopt getsockopt', target: FASTER },
  { op: 'full keepalive config', ours: 'setKeepAlive(s, { enable, idle, interval, count })', theirs: 'C: 4 setsockopt', target: FLOOR },
  { op: 'full keepalive config', ours: 'setKeepAlive(s, { enable, idle, interval, count })', theirs: 'socket.setKeepAlive(true, ms)', target: NO_SLOWER },
  ...(nodeKeepAliveTakesIntervalAndCount ? [{
    op: 'full keepalive config', ours: 'setKeepAlive(s, { enable, idle, interval, count })',
    theirs: 'socket.setKeepAlive({ enable, initialDelay, interval, count })', target: NO_SLOWER,
  }] : []),
  { op: 'keepalive read-back', ours: 'getKeepAlive(s)', theirs: 'C: 5 getsockopt', target: FLOOR },
  { op: 'take SO_ERROR', ours: 'takeSocketError(s)', theirs: 'C: getsockopt SO_ERROR', target: FLOOR },
  { op: 'readiness, 1k sockets', ours: 'readiness(1k sockets)', theirs: 'C: poll(1k fds)', target: FLOOR },
  { op: 'readiness, 10k sockets', ours: 'readiness(10k sockets)', theirs: 'C: poll(10k fds)', target: FLOOR },
  { op: 'readiness, 10k fds', ours: 'readiness(10k fd numbers)', theirs: 'C: poll(10k fds)', target: FLOOR },
];

// The LivenessMonitor rows, measured by bench/monitor.js in a process of its own (see there for
// how). A value is absolute, in `unit`: `pick(m)` takes { ours, theirs? } from what that process
// measured, `met(ours, theirs, m)` judges the target; a row without one (`met` null) is context.
const US = 1e3;
const MS = 1e6;
const BYTES = { text: '< 512 B', met: (ours) => ours < 512 };
const DETECTED = { text: '< 5 ms', met: (ours) => ours < 5 * MS };
// "Indistinguishable from no monitor": an idle Node process uses about 0.01% of a core; a
// difference under 0.1% of a core (5 ms of CPU in 5 s) is below what anyone could notice or
// this measurement resolve on a shared machine.
const IDLE = { text: 'Δ ≤ 0.1% core', met: (ours, theirs, m) => ours - theirs <= 0.001 * m.windowMs };
const CONTEXT = { text: '—', met: null };

const monitorRows = [
  // Against the syscalls add() + delete() make, from C on the same fds in the same process run
  // (bench/floor.c): epoll_ctl ADD + DEL, and with keepAlive the five setsockopt calls too.
  { op: 'monitor add + delete', ours: 'bare monitor, per socket', theirs: 'C: epoll_ctl ADD + DEL', unit: 'ns',
    target: { text: '<= 1.5', met: (ours, theirs) => ours <= 1.5 * theirs },
    pick: (m) => ({ ours: m.addDelete.bare.median, theirs: m.addDelete.floorEpoll.median }) },
  { op: 'monitor add + delete', ours: 'keepAlive + heartbeat, per socket', theirs: 'C: the same + 5 setsockopt', unit: 'ns',
    target: CONTEXT,
    pick: (m) => ({ ours: m.addDelete.realistic.median, theirs: m.addDelete.floorEpoll.median + m.addDelete.floorKeepAlive.median }) },
  { op: 'monitor idle CPU', ours: 'bare monitor', theirs: 'no monitor', unit: 'cpu-ms',
    target: IDLE, pick: (m) => ({ ours: m.idle.bare.median, theirs: m.idle.none.median }) },
  { op: 'monitor idle CPU', ours: 'keepAlive + heartbeat every 60 s', theirs: 'no monitor', unit: 'cpu-ms',
    target: IDLE, pick: (m) => ({ ours: m.idle.realistic.median, theirs: m.idle.none.median }) },
  { op: 'FIN → dead event', ours: 'p50', theirs: '—', unit: 'ns', target: CONTEXT, pick: (m) => ({ ours: m.latency.fin.p50 }) },
  { op: 'FIN → dead event', ours: 'p99', theirs: '—', unit: 'ns', target: DETECTED, pick: (m) => ({ ours: m.latency.fin.p99 }) },
  { op: 'RST → dead event', ours: 'p50', theirs: '—', unit: 'ns', target: CONTEXT, pick: (m) => ({ ours: m.latency.rst.p50 }) },
  { op: 'RST → dead event', ours: 'p99', theirs: '—', unit: 'ns', target: DETECTED, pick: (m) => ({ ours: m.latency.rst.p99 }) },
  { op: 'memory per socket', ours: 'heap, keepAlive + heartbeat', theirs: '—', unit: 'B',
    target: BYTES, pick: (m) => ({ ours: m.memory.realistic.heap }) },
  { op: 'memory per socket', ours: 'RSS, keepAlive + heartbeat', theirs: '—', unit: 'B',
    target: BYTES, pick: (m) => ({ ours: m.memory.realistic.rss }) },
];

// The policy() rows, measured by bench/policy.js in a process of its own (see there for how).
const rateRow = (kind, variant, label, target = { text: '>= 0.95', met: (ours, theirs, m) => m.throughput[kind].ratio[variant] >= 0.95 }) => ({
  op: `conn/s, ${kind === 'net' ? 'net.connect' : 'http.Agent'}`, ours: label, theirs: 'no policy', unit: 'conn/s', target,
  pick: (m) => ({ ours: m.throughput[kind].rate[variant], theirs: m.throughput[kind].rate.none, ratio: m.throughput[kind].ratio[variant] }),
});
const policyRows = [
  rateRow('net', 'matching', 'policy, matching'),
  rateRow('net', 'nonMatching', 'policy, not matching'),
  // The control: the same settings applied by the application's own code, no policy.
  rateRow('net', 'byHand', 'no policy, setKeepAlive by hand', CONTEXT),
  rateRow('agent', 'matching', 'policy, matching'),
  rateRow('agent', 'nonMatching', 'policy, not matching'),
  rateRow('agent', 'byHand', 'no policy, setKeepAlive by hand', CONTEXT),
  { op: 'policy per connection', ours: 'matched: keepalive + guard', theirs: 'C: 5 setsockopt', unit: 'ns',
    target: { text: '<= 1.3', met: (ours, theirs) => ours / theirs <= 1.3 }, pick: (m) => ({ ours: m.perConnection.matched, theirs: m.perConnection.floor }) },
  { op: 'policy per connection', ours: 'matched: keepalive + guard', theirs: 'setKeepAlive(s, all five)', unit: 'ns',
    target: { text: '<= 1.15', met: (ours, theirs) => ours / theirs <= 1.15 }, pick: (m) => ({ ours: m.perConnection.matched, theirs: m.perConnection.setKeepAlive }) },
  { op: 'policy per connection', ours: 'declined on direction', theirs: '—', unit: 'ns',
    target: { text: '< 1 µs', met: (ours) => ours < 1 * US }, pick: (m) => ({ ours: m.perConnection.declined }) },
  { op: 'policy per connection', ours: 'declined on remotePort', theirs: '—', unit: 'ns',
    target: CONTEXT, pick: (m) => ({ ours: m.perConnection.declinedByPort }) },
];

module.exports = { measurements, rows, monitorRows, policyRows };
