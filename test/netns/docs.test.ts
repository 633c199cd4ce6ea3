// The README's tcp-liveness/testing example runs as written, against the built package, as a user runs it.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTestHosts } from './gate';

const root = join(__dirname, '..', '..');

describe('the README\'s tcp-liveness/testing example', function () {
  this.timeout(30_000);

  before(function () {
    requireTestHosts(this);
  });

  it('its example passes with node --test against the installed package', async () => {
    assert.ok(existsSync(join(root, 'dist', 'testing', 'index.js')), 'dist/ is built (npm run build:ts)');
    const doc = readFileSync(join(root, 'README.md'), 'utf8');
    const example = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((js) => js.includes("'tcp-liveness/testing'"));
    assert.ok(example, 'the README has a tcp-liveness/testing example');
    // A project that has installed tcp-liveness: node_modules/tcp-liveness is this package.
    const project = mkdtempSync(join(tmpdir(), 'tl-docs-'));
    try {
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(root, join(project, 'node_modules', 'tcp-liveness'), 'dir');
      writeFileSync(join(project, 'vanished-peer.test.js'), example);
      const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(process.execPath, ['--test', '--test-reporter=tap', 'vanished-peer.test.js'], { cwd: project }, (err, stdout, stderr) =>
          resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, output: stdout + stderr }));
      });
      assert.equal(code, 0, output);
      assert.match(output, /# pass 1/, output);
      assert.match(output, /dropped as timeout \d+ ms after the peer was last heard/, output);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
