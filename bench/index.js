// npm run bench [-- --quick] [--out file.json] [--only text] [--single-thread-floor]
//
// For each row of bench/rows.js, times our call and its comparison (another library, Node
// itself, or the same syscalls made by bench/floor.c on the same sockets) in this one run, and
// prints both medians and ours / theirs. Method, in JS and in C alike: batches of `batch`
// operations timed with a monotonic clock, ns per operation = batch time / batch, medians.
//
// A machine's speed can drift by tens of percent from one second to the next (shared cores, a
// VM, other work), so a row is timed in rounds, ours and theirs back to back (order swapped
// each round), the first round a warm-up. The ratio is the median of the rounds' ratios; the
// medians are over all batches. Timing all of ours, then all of theirs would measure the drift.
//
// The LivenessMonitor rows (add + delete, idle CPU, FIN/RST detection latency, memory per socket)
// are measured by bench/monitor.js in a child process, after the rows above, and printed in the
// same table: absolute values against absolute targets, a comparison where there is one.
//
// --quick: every row with tiny counts, to check the bench works (the numbers mean nothing).
// --only <text>: just the call rows whose operation contains text (no monitor, inventory or policy rows), e.g.
// --only 'full keepalive' to time one comparison without the whole run.
// --single-thread-floor: the C floor without its idle thread (see bench/floor.c), a floor no
// Node process can reach: the kernel's fd lookup is cheaper for single-threaded processes.
'use strict';
const { execFileSync, fork, spawn } = require('node:child_process');
const { once } = require('node:events');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { measurements, rows, monitorRows, policyRows } = require('./rows');
const { quantile, median } = require('./stats');
const { connectAll } = require('./connect');
const inventory = require('./connections');

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
const singleThreadFloor = args.includes('--single-thread-floor');
const outAt = args.indexOf('--out');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : null;
const chosen = only === null ? rows : rows.filter((r) => r.op.includes(only));
const work = path.join(__dirname, '..', '.bench');
const out = outAt >= 0 ? path.resolve(args[outAt + 1]) : path.join(work, quick ? 'results-quick.json' : 'results.json');

const ROUNDS = quick ? 2 : 21; // the first is a warm-up
const PER_ROUND = quick ? 2 : 5; // batches of each side per round
const batchOf = (m) => (quick ? Math.max(1, Math.ceil(m.batch / 100)) : m.batch);


// A timing loop of its own for each operation: V8 then sees one op at the call site and can
// inline it, as in a caller's own loop (one shared loop would see every op and call each).
function timer(op, batch) {
  return new Function('op', 'batch', `let i = 0;
    return async (batches) => {
      const samples = [];
      for (let b = 0; b < batches; b++) {
        const t0 = process.hrtime.bigint();
        for (let k = 0; k < batch; k++) op(i++);
        samples.push(Number(process.hrtime.bigint() - t0) / batch);
      }
      return samples;
    };`)(op, batch);
}

function buildFloor() {
  fs.mkdirSync(work, { recursive: true });
  const exe = path.join(work, 'floor');
  execFileSync(process.env.CC || 'cc', ['-O2', '-pthread', '-o', exe, path.join(__dirname, 'floor.c')], { stdio: 'inherit' });
  return exe;
}

// The floor on the bench's own sockets (fd 3 is ctx.socket, fds 4.. are ctx.sockets), answering
// "name batch batches" with the ns per operation of each batch.
function startFloor(exe, ctx) {
  const fds = [ctx.socket, ...ctx.sockets].map((s) => s._handle.fd);
  const child = spawn(exe, ['run', ...(singleThreadFloor ? ['--single-thread'] : [])], { stdio: ['pipe', 'pipe', 'inherit', ...fds] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async measure(op, batch, batches) {
      child.stdin.write(`${op} ${batch} ${batches}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error(`bench/floor.c stopped at ${op}`);
      return value.split(' ').map(Number);
    },
    close: () => child.stdin.end(),
  };
}

function fmt(ns) {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`;
}

const UNITS = {
  ns: fmt,
  'conn/s': (rate) => `${rate.toFixed(0)}/s`,
  'cpu-ms': (ms) => `${ms.toFixed(2)} ms`,
  B: (bytes) => `${bytes.toFixed(0)} B`,
};

function printTable(results) {
  const head = ['operation', 'ours', 'value', 'vs', 'value', 'ratio', 'target', ''];
  const lines = results.map((r) => r.unit === undefined
    ? [r.op, r.ours, fmt(r.oursNs), r.theirs, fmt(r.theirsNs), r.ratio.toFixed(2), r.target, r.met === null ? '' : r.met ? 'met' : 'MISSED']
    : [
      r.op, r.ours, UNITS[r.unit](r.value), r.theirs, r.theirsValue === null ? '' : UNITS[r.unit](r.theirsValue),
      r.ratio === null ? '' : r.ratio.toFixed(2), r.target, r.met === null ? '' : r.met ? 'met' : 'MISSED',
    ]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const right = new Set([2, 4, 5]);
  const show = (l) => l.map((x, c) => (right.has(c) ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join('  ').trimEnd();
  console.log(show(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(show(l));
}

// bench/monitor.js (or bench/policy.js) in a child with an fd budget of its own; resolves with what it measured.
async function measureMonitor(exe, script = 'monitor.js') {
  const child = fork(path.join(__dirname, script), [exe, ...(quick ? ['--quick'] : [])], {
    execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let measured = null;
  child.on('message', (m) => { measured = m; });
  const [code] = await once(child, 'exit');
  if (code !== 0 || measured === null) throw new Error(`bench/${script} failed (exit code ${code})`);
  return measured;
}

// A row's ratio is ours / theirs, unless pick() gives its own (a median of per-round ratios).
function monitorResults(m, list = monitorRows) {
  return list.map((r) => {
    const { ours, theirs = null, ratio = theirs === null ? null : ours / theirs } = r.pick(m);
    const met = r.target.met === null ? null : r.target.met(ours, theirs, m);
    return {
      op: r.op, ours: r.ours, theirs: r.theirs, unit: r.unit, value: ours, theirsValue: theirs,
      ratio, target: r.target.text, met,
    };
  });
}

function monitorNotes(m) {
  const ad = m.addDelete;
  const lat = (k) => `${m.latency[k].count} ${k.toUpperCase()}, max ${fmt(m.latency[k].max)}, ${JSON.stringify(m.latency[k].reasons)}` +
    (m.latency[k].missed ? `, ${m.latency[k].missed} MISSED` : '');
  const idle = (k) => m.idle[k].samples.map((v) => v.toFixed(2)).join(', ');
  return [
    `Monitor rows (bench/monitor.js, a process of its own): ${m.sockets} sockets accepted with pauseOnConnect, far ends in \`floor peer\`.`,
    `  add + delete: batches of ${m.addDeleteBatch} sockets (all added, then all deleted), median of ${ad.bare.batches} batches;` +
      ` the kernel's part alone (bench/floor.c, same fds): epoll_ctl ADD + DEL ${fmt(ad.floorEpoll.median)},` +
      ` 5 setsockopt (keepAlive) ${fmt(ad.floorKeepAlive.median)} per socket.`,
    `  idle CPU: process.cpuUsage() user + sys over ${m.windowMs} ms windows, median; windows (ms CPU): none ${idle('none')};` +
      ` bare ${idle('bare')}; keepAlive + heartbeat ${idle('realistic')}. Each window starts once the process is quiet.`,
    `  FIN/RST: one fault at a time, from the far end's CLOCK_MONOTONIC timestamp to 'dead': ${lat('fin')}; ${lat('rst')}.`,
    `  control, between faults: the far end writes a byte, Node's own 'data' event (nothing of ours on the path):` +
      ` p50 ${fmt(m.latency.control.p50)}, p99 ${fmt(m.latency.control.p99)}, max ${fmt(m.latency.control.max)} (${m.latency.control.count}): the machine's wakeup cost now.`,
    `  memory: heapUsed and RSS after global.gc(), delta / ${m.sockets}; bare monitor: heap ${m.memory.bare.heap.toFixed(0)} B.` +
      ` Not in RSS: the kernel's struct epitem per registration (${m.memory.kernelEpitem ?? '?'} B, slab eventpoll_epi) and its wait-queue entry.`,
  ];
}

function policyNotes(m) {
  const t = (k) => `${m.throughput[k].rounds} rounds of ${m.throughput[k].total}, ${m.throughput[k].concurrency} at a time`;
  const cpu = (k) => `${k === 'net' ? 'net.connect' : 'http.Agent'} matching ${m.throughput[k].cpuRatio.matching.toFixed(2)},` +
    ` not matching ${m.throughput[k].cpuRatio.nonMatching.toFixed(2)}, by hand ${m.throughput[k].cpuRatio.byHand.toFixed(2)}`;
  const p = m.perConnection;
  return [
    `Policy rows (bench/policy.js, a process of its own; servers in a child without a policy): connections/s ${t('net')} (net.connect),` +
      ` ${t('agent')} (http.Agent); ratio = median over rounds of the variant's rate / no policy's rate in the same round.`,
    `  the same per second of the client process's CPU time (less disturbed by other processes): ${cpu('net')}; ${cpu('agent')}.`,
    `  per connection: ${p.rounds} rounds of ${p.batch} accepted connections per variant, the policy's subscriber timed between two of the` +
      ` bench's own (${fmt(p.bracket)} for the two alone, taken out); floor: bench/floor.c keepalive-${p.batch} on one such batch, one pass per round among the variants.`,
  ];
}

async function main() {
  const loadBefore = os.loadavg();
  const exe = buildFloor();
  const results = await measureCalls(exe);
  const whole = only === null; // --only: call rows alone
  const monitor = whole ? await measureMonitor(exe) : null;
  const inv = whole ? await inventory.measure(exe, quick) : { rows: [], notes: [] };
  const policy = whole ? await measureMonitor(exe, 'policy.js') : null;
  const all = whole ? [...results, ...monitorResults(monitor), ...monitorResults(policy, policyRows)] : results;
  const loadAfter = os.loadavg();
  printTable([...all, ...inv.rows]);
  const env = {
    node: process.version, kernel: os.release(), cpu: os.cpus()[0]?.model, cpus: os.cpus().length,
    quick, singleThreadFloor, rounds: ROUNDS - 1, batchesPerRound: PER_ROUND, date: new Date().toISOString(),
    loadavg: { before: loadBefore, after: loadAfter },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ ...env, rows: all, monitor, policy, inventory: { rows: inv.rows, measured: inv.measured } }, null, 2)}\n`);
  const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\n${quick ? 'QUICK RUN: the numbers mean nothing. ' : ''}Call rows: time per operation, median of ${(ROUNDS - 1) * PER_ROUND} batches;` +
    ` ratio = ours / theirs, median over ${ROUNDS - 1} rounds timed back to back.`);
  for (const line of [...(whole ? [...monitorNotes(monitor), ...policyNotes(policy)] : []), ...inv.notes]) console.log(line);
  console.log(`Load average (1, 5, 15 min): ${load(loadBefore)} before, ${load(loadAfter)} after; ${env.cpus} CPUs. Written to ${path.relative(process.cwd(), out)}`);
}

// The call rows: each against its comparison, on sockets whose far ends live in `floor serve`.
async function measureCalls(exe) {
  const server = spawn(exe, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const port = await readline.createInterface({ input: server.stdout })[Symbol.asyncIterator]().next();
    if (port.done) throw new Error('bench/floor.c serve did not start');
    const used = [...new Set(chosen.flatMap((r) => [r.ours, r.theirs]))];
    for (const name of used) if (!measurements[name]) throw new Error(`bench/rows.js: no measurement "${name}"`);
    const need = Math.max(0, ...used.map((n) => measurements[n].sockets ?? 0));
    // Their far ends live in the floor's process: 10k connected pairs in one process would need
    // more fds than the 20k this machine allows.
    const [socket, ...sockets] = await connectAll(Number(port.value), need + 1);
    const ctx = { socket, sockets };
    const floor = startFloor(exe, ctx);
    try {
      return await measureRows(ctx, floor, used);
    } finally {
      floor.close();
      for (const s of [socket, ...sockets]) s.destroy();
    }
  } finally {
    server.stdin.end();
  }
}

async function measureRows(ctx, floor, used) {
  const run = {};
  for (const name of used) {
    const m = measurements[name];
    run[name] = m.c ? (n) => floor.measure(m.c, batchOf(m), n) : timer(await m.prepare(ctx), batchOf(m));
  }
  const stats = chosen.map(() => ({ ours: [], theirs: [], ratios: [] }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, row] of chosen.entries()) {
      const first = round % 2 ? await run[row.ours](PER_ROUND) : null;
      const theirs = await run[row.theirs](PER_ROUND);
      const ours = first ?? (await run[row.ours](PER_ROUND));
      if (round === 0) continue;
      stats[k].ours.push(...ours);
      stats[k].theirs.push(...theirs);
      stats[k].ratios.push(median(ours) / median(theirs));
    }
  }
  return chosen.map((r, k) => {
    const { ours, theirs, ratios } = stats[k];
    const ratio = median(ratios);
    return {
      op: r.op, ours: r.ours, oursNs: median(ours), theirs: r.theirs, theirsNs: median(theirs),
      ratio, ratioQuartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
      target: r.target.text, met: ratio <= r.target.max,
    };
  });
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
