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

describe('npm run bench -- --quick', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'tcp-liveness-bench-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('times every row against its comparison and reports finite positive medians and ratios', async () => {
    const out = join(dir, 'results.json');
    const { stdout } = await run(process.execPath, ['bench/index.js', '--quick', '--out', out], { cwd: root });
    // The row list, read in a child: bench/rows.js loads the compared libraries (one over FFI).
    const listed = await run(process.execPath, ['-p', 'JSON.stringify(require("./bench/rows").rows)'], { cwd: root });
    const rows = JSON.parse(listed.stdout) as Row[];
    assert.ok(rows.length > 0);
    const results = JSON.parse(readFileSync(out, 'utf8')) as { quick: boolean; rows: Row[] };
    assert.equal(results.quick, true);
    assert.deepEqual(results.rows.map((r) => [r.op, r.ours, r.theirs]), rows.map((r) => [r.op, r.ours, r.theirs]));
    for (const r of results.rows) {
      for (const value of [r.oursNs, r.theirsNs, r.ratio]) {
        assert.ok(Number.isFinite(value) && value > 0, `${r.ours} vs ${r.theirs}: ${value}`);
      }
      assert.equal(typeof r.met, 'boolean');
      assert.match(stdout, new RegExp(`${escape(r.ours)}.*${escape(r.theirs)}`), 'the table shows the row');
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
