// The benchmark's smoke mode: every row runs and yields numbers. Never asserts speed: timings on
// a shared machine are noise at these counts; `npm run bench` is where speed is judged.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const root = join(__dirname, '..');
const run = promisify(execFile);

interface Row { op: string; ours: string; theirs: string; oursNs: number; theirsNs: number; ratio: number; met: boolean }
interface MonitorRow {
  op: string; ours: string; theirs: string; unit: string; value: number; theirsValue: number | null;
  ratio: number | null; target: string; met: boolean | null;
}

describe('npm run bench -- --quick', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'tcp-liveness-bench-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'results.json');
  let stdout = '';
  let results: { quick: boolean; rows: (Row | MonitorRow)[]; monitor: Record<string, unknown> };
  let listed: { rows: Row[]; monitorRows: MonitorRow[]; policyRows: MonitorRow[] };

  before(async () => {
    ({ stdout } = await run(process.execPath, ['bench/index.js', '--quick', '--out', out], { cwd: root }));
    results = JSON.parse(readFileSync(out, 'utf8'));
    // The row lists, read in a child: bench/rows.js loads the compared libraries (one over FFI).
    const rows = await run(process.execPath, ['-p', 'JSON.stringify(require("./bench/rows"))'], { cwd: root });
    listed = JSON.parse(rows.stdout);
  });

  it('lists the call rows, then the monitor rows, then the policy rows, in one table and one JSON file', () => {
    assert.equal(results.quick, true);
    assert.ok(listed.rows.length > 0 && listed.monitorRows.length > 0 && listed.policyRows.length > 0);
    assert.deepEqual(
      results.rows.map((r) => [r.op, r.ours, r.theirs]),
      [...listed.rows, ...listed.monitorRows, ...listed.policyRows].map((r) => [r.op, r.ours, r.theirs]),
    );
    for (const r of results.rows) {
      assert.match(stdout, new RegExp(`${escape(r.op)}\\s+${escape(r.ours)}.*${escape(r.theirs)}`), `the table shows ${r.op}: ${r.ours}`);
    }
  });

  it('times every call row against its comparison and reports finite positive medians and ratios', () => {
    const calls = results.rows.slice(0, listed.rows.length) as Row[];
    for (const r of calls) {
      for (const value of [r.oursNs, r.theirsNs, r.ratio]) {
        assert.ok(Number.isFinite(value) && value > 0, `${r.ours} vs ${r.theirs}: ${value}`);
      }
      assert.equal(typeof r.met, 'boolean');
    }
  });

  it('measures policy(): connections/s with and without it through net.connect and http.Agent, and its time per connection beside the floor', () => {
    const policy = results.rows.slice(listed.rows.length + listed.monitorRows.length) as MonitorRow[];
    assert.deepEqual(
      [...new Set(policy.map((r) => r.op))],
      ['conn/s, net.connect', 'conn/s, http.Agent', 'policy per connection'],
    );
    for (const r of policy) {
      const what = `${r.op}: ${r.ours}`;
      // Time per connection is a difference (less the timing brackets' own cost): finite, maybe near 0.
      assert.ok(Number.isFinite(r.value) && (r.unit === 'ns' || r.value > 0), `${what}: ${r.value}`);
      if (r.theirs !== '—') assert.ok(Number.isFinite(r.ratio) && r.ratio! > 0, `${what} ratio: ${r.ratio}`);
      assert.ok(r.target === '—' ? r.met === null : typeof r.met === 'boolean', `${what}: met ${r.met} for target ${r.target}`);
    }
  });

  it('measures the monitor: add + delete, idle CPU beside no monitor, FIN and RST latency, memory per socket', () => {
    const monitor = results.rows.slice(listed.rows.length, listed.rows.length + listed.monitorRows.length) as MonitorRow[];
    const ops = new Set(monitor.map((r) => r.op));
    for (const op of ['monitor add + delete', 'monitor idle CPU', 'FIN → dead event', 'RST → dead event', 'memory per socket']) {
      assert.ok(ops.has(op), `a row for ${op}`);
    }
    for (const r of monitor) {
      const what = `${r.op}: ${r.ours}`;
      // RSS moves by whole pages: at the smoke test's 200 sockets (about 50 kB of heap) it can
      // honestly read 0. Every other value is positive.
      if (r.ours.startsWith('RSS')) assert.ok(Number.isFinite(r.value) && r.value >= 0, `${what}: ${r.value}`);
      else assert.ok(Number.isFinite(r.value) && r.value > 0, `${what}: ${r.value}`);
      if (r.theirs === '—') {
        assert.equal(r.theirsValue, null, what);
        assert.equal(r.ratio, null, what);
      } else {
        assert.ok(Number.isFinite(r.theirsValue) && r.theirsValue! > 0, `${what} vs ${r.theirs}: ${r.theirsValue}`);
        assert.ok(Number.isFinite(r.ratio) && r.ratio! > 0, `${what} ratio: ${r.ratio}`);
      }
      assert.ok(r.target === '—' ? r.met === null : typeof r.met === 'boolean', `${what}: met ${r.met} for target ${r.target}`);
    }
  });

  it('detects every injected FIN as peer-closed and every RST as reset', () => {
    const latency = results.monitor.latency as Record<'fin' | 'rst', { count: number; missed: number; reasons: Record<string, number> }>;
    assert.equal(latency.fin.missed, 0);
    assert.equal(latency.rst.missed, 0);
    assert.deepEqual(latency.fin.reasons, { 'peer-closed': latency.fin.count });
    assert.deepEqual(latency.rst.reasons, { reset: latency.rst.count });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
