// `npm run demo` leaves the repository alone: the chart goes to the temporary directory and its
// path is printed; only `npm run demo:docs` rewrites the README's tracked docs/demo.svg.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.join(__dirname, '..');
const digest = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('npm run demo output', function () {
  this.timeout(60_000);

  it('writes the chart to the temporary directory, prints where, and never rewrites docs/demo.svg', async () => {
    const tracked = path.join(ROOT, 'docs', 'demo.svg');
    const before = digest(tracked);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-demo-out-'));
    try {
      // The demo's defaults, shortened (as test/demo.test.ts does), and no namespaces: only where
      // the chart goes is under test here.
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'examples', 'demo.js'),
        '--idle', '1s', '--interval', '1s', '--count', '2', '--heartbeat-interval', '300', '--heartbeat-timeout', '300',
        '--gap', '200', '--no-netns'], { cwd: ROOT, env: { ...process.env, TMPDIR: tmp }, encoding: 'utf8' })
        .catch((err) => { throw new Error(`${err.message}\n${err.stdout}${err.stderr}`); });
      const chart = path.join(tmp, 'tcp-liveness-demo.svg');
      assert.match(stdout, new RegExp(`^chart: ${chart.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `, 'm'));
      assert.match(fs.readFileSync(chart, 'utf8'), /^<svg /);
      assert.equal(digest(tracked), before, 'docs/demo.svg changed');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('has a separate script that regenerates docs/demo.svg', () => {
    const { scripts } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(scripts['demo:docs'], 'node examples/demo.js --svg docs/demo.svg');
    assert.doesNotMatch(scripts.demo, /docs/);
  });
});
