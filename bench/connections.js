// The connection-inventory rows of `npm run bench`, in a process of their own (forked by
// bench/index.js; sends its rows back over IPC). This process holds N client sockets (5,000,
// then 15,000: two sizes, to show time growing linearly); their far ends live in a peer process
// (bench/floor.c `serve`), each process within the 20,000-fd limit.
//
// Rows, each against `ss -tanpoi` on the same sockets in the same run (ss's own filter
// `dport = :<peer port>` picks exactly this process's connections, in the kernel):
//   connections()                in this process: one call, its result built and judged
//   tcp-liveness inspect --json  a new process inspecting this one: Node's start-up, the snapshot,
//                                the JSON written to a pipe; what a user's script pays
// Both sides are timed as wall time per call, alternating (order swapped each round), medians.
'use strict';
const { fork, spawn, spawnSync } = require('node:child_process');
const { once } = require('node:events');
const path = require('node:path');
const readline = require('node:readline');
const { connections } = require('..');
const { median } = require('./stats');
const { connectAll } = require('./connect');

const quick = process.argv.includes('--quick');
const exe = process.argv[2];
const SIZES = quick ? [200, 600] : [5000, 15000];
const ROUNDS = quick ? 2 : 9; // the first is a warm-up
const BIN = path.join(__dirname, '..', 'bin', 'tcp-liveness.js');

function timed(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

// Runs a command to completion with its output in a pipe (read in full, as a script would).
function run(cmd, args) {
  const r = spawnSync(cmd, args, { maxBuffer: 1 << 30, encoding: 'buffer' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function main() {
  const server = spawn(exe, ['serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await readline.createInterface({ input: server.stdout })[Symbol.asyncIterator]().next();
  if (first.done) throw new Error('bench/floor.c serve did not start');
  const port = Number(first.value);
  const ss = ['-tanpoi', 'dport', '=', `:${port}`];
  const sockets = [];
  const measured = [];
  try {
    for (const size of SIZES) {
      await connectAll(port, size, sockets);
      // The sockets are what ss and we both see: check once, outside the timing. ss may list
      // more to that port than ours (a TIME_WAIT left by an earlier user of the port number, seen
      // once in CI), so its lines are counted by this process's pid.
      const seen = connections().connections.filter((c) => c.remotePort === port).length;
      const lines = run('ss', ['-H', ...ss]).toString().split('\n').filter((l) => l.includes(`pid=${process.pid},`)).length;
      if (seen !== size || lines !== size) throw new Error(`expected ${size} sockets, connections() saw ${seen}, ss ${lines}`);
      const sides = {
        'connections()': () => connections(),
        'inspect --json': () => run(process.execPath, [BIN, 'inspect', '--json', String(process.pid)]),
        ss: () => run('ss', ss),
      };
      const times = { 'connections()': [], 'inspect --json': [], ss: [] };
      const ratios = { 'connections()': [], 'inspect --json': [] };
      for (let round = 0; round < ROUNDS; round++) {
        for (const ours of ['connections()', 'inspect --json']) {
          const order = round % 2 ? [ours, 'ss'] : ['ss', ours];
          const t = {};
          for (const side of order) t[side] = timed(sides[side]);
          if (round === 0) continue;
          times[ours].push(t[ours]);
          times.ss.push(t.ss);
          ratios[ours].push(t[ours] / t.ss);
        }
      }
      for (const ours of ['connections()', 'inspect --json']) {
        measured.push({ size, ours, oursNs: median(times[ours]), ssNs: median(times.ss), ratio: median(ratios[ours]) });
      }
    }
  } finally {
    for (const s of sockets) s.destroy();
    server.stdin.end();
  }
  process.send(measured);
}

/** For bench/index.js: runs this file in a child of its own; resolves with table rows and notes. */
async function measure(floorExe, quickRun) {
  const child = fork(__filename, [floorExe, ...(quickRun ? ['--quick'] : [])], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let measured = null;
  child.on('message', (m) => { measured = m; });
  const [code] = await once(child, 'exit');
  if (code !== 0 || measured === null) throw new Error(`bench/connections.js failed (exit code ${code})`);
  const at = (size, ours) => measured.find((m) => m.size === size && m.ours === ours);
  const [small, large] = [...new Set(measured.map((m) => m.size))];
  const n = (x) => x.toLocaleString('en-US');
  const rows = [];
  for (const ours of ['connections()', 'inspect --json']) {
    for (const size of [small, large]) {
      const m = at(size, ours);
      // The target is at the larger size, as the issue sets it (15,000); the smaller is shown
      // beside it, where fixed costs weigh more (inspect: Node's own start-up, about 90 ms here).
      const judged = size === large;
      rows.push({
        op: `inventory of ${n(size)} sockets`, ours, oursNs: m.oursNs, theirs: 'ss -tanpoi', theirsNs: m.ssNs,
        ratio: m.ratio, target: judged ? '<= 1.00' : '—', met: judged ? m.ratio <= 1 : null,
      });
    }
    // Linear: the time per socket at the larger size is no more than at the smaller (fixed costs
    // such as Node's start-up and the walk of the kernel's whole table only make it smaller).
    const [a, b] = [at(small, ours), at(large, ours)];
    const growth = (b.oursNs / large) / (a.oursNs / small);
    rows.push({
      op: `${ours} per socket`, ours: `at ${n(large)}`, oursNs: b.oursNs / large, theirs: `at ${n(small)}`,
      theirsNs: a.oursNs / small, ratio: growth, target: '<= 1.10 (linear)', met: growth <= 1.1,
    });
  }
  const notes = [
    `Inventory rows (bench/connections.js, a process of its own holding the sockets; far ends in \`floor serve\`): wall time per call,` +
      ` ${quickRun ? 1 : ROUNDS - 1} rounds alternating with \`ss -tanpoi dport = :<peer port>\` (the same sockets, filtered in the kernel);` +
      ` inspect --json is a new Node process inspecting the holder, its JSON read from a pipe.`,
  ];
  return { rows, notes, measured };
}

module.exports = { measure };

if (require.main === module) {
  if (!exe) throw new Error('usage: node bench/connections.js <bench/floor executable> [--quick] (run by bench/index.js)');
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
