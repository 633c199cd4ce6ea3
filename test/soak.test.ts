import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

describe('churn soak (quick)', () => {
  it('20,000 add/delete cycles and 2,000 connections dying every way leave heap, RSS and fds at baseline', function () {
    this.timeout(60_000);
    const script = path.join(__dirname, '..', 'scripts', 'soak.js');
    const out = execFileSync(process.execPath, ['--expose-gc', script, '--quick'], { encoding: 'utf8' });
    const r = JSON.parse(out);
    assert.deepEqual(r.problems, []);
    assert.equal(r.watched, 0);
    assert.equal(r.added, r.removed);
    assert.ok(r.fdGrowth <= r.tolerance.fds);
  });
});
