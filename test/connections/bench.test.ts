// The inventory rows of `npm run bench` in smoke mode (bench/connections.js with a few hundred
// sockets): every row runs, checks it saw the same sockets as ss, and yields numbers. Never
// asserts speed: at these counts on a shared machine timings are noise; `npm run bench` judges.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

describe('npm run bench: the inventory rows (--quick)', function () {
  this.timeout(120_000);

  it('times connections() and inspect --json against ss -tanpoi at two sizes, and their growth', async () => {
    const exe = join(root, '.bench', 'floor-inventory-test');
    mkdirSync(join(root, '.bench'), { recursive: true });
    execFileSync(process.env.CC || 'cc', ['-O2', '-pthread', '-o', exe, join(root, 'bench', 'floor.c')]);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { measure } = require(join(root, 'bench', 'connections.js'));
    const { rows, notes } = await measure(exe, true);
    assert.deepEqual(rows.map((r: { op: string; ours: string }) => `${r.op}: ${r.ours}`), [
      'inventory of 200 sockets: connections()', 'inventory of 600 sockets: connections()', 'connections() per socket: at 600',
      'inventory of 200 sockets: inspect --json', 'inventory of 600 sockets: inspect --json', 'inspect --json per socket: at 600',
    ]);
    for (const r of rows) {
      for (const v of [r.oursNs, r.theirsNs, r.ratio]) assert.ok(Number.isFinite(v) && v > 0, `${r.op}: ${v}`);
      // Judged at the larger size (the 15,000); the smaller is context, as in the table.
      assert.ok(r.target === '—' ? r.met === null : typeof r.met === 'boolean', `${r.op}: met ${r.met} for target ${r.target}`);
    }
    assert.deepEqual(rows.map((r: { target: string }) => r.target), ['—', '<= 1.00', '<= 1.10 (linear)', '—', '<= 1.00', '<= 1.10 (linear)']);
    assert.match(notes[0], /ss -tanpoi dport = :<peer port>/);
  });
});
