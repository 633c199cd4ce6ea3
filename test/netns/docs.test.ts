// The README's tcp-liveness/testing examples run as written, against the built package, as a
// user runs them: each is a node:test file in a project that has installed tcp-liveness (and pg).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asOrdinaryUser, requireTestHosts } from './gate';

const root = join(__dirname, '..', '..');
const doc = readFileSync(join(root, 'README.md'), 'utf8');
const examples = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).filter((js) => js.includes("'tcp-liveness/testing'"));

/** What each example, named by its first line, must print. */
const expected: Record<string, RegExp> = {
  'vanished-peer.test.js': /dropped as timeout \d+ ms after the peer was last heard/,
  'vanished-database.test.js': /the query failed with ETIMEDOUT \d+ ms after the database was last heard/,
};

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }));
  });
}

describe('the README\'s tcp-liveness/testing examples', function () {
  this.timeout(60_000);

  before(function () {
    requireTestHosts(this);
  });

  it('has both: a vanished peer and a vanished database', () => {
    const names = examples.map((js) => /^\/\/ (\S+\.test\.js)/.exec(js)?.[1]);
    assert.deepEqual(names.sort(), Object.keys(expected).sort());
  });

  const runs = [
    ...Object.keys(expected).map((name) => ({ name, rootless: false })),
    // PostgreSQL refuses root, inside a user namespace too: the example's `user:` must carry it.
    { name: 'vanished-database.test.js', rootless: true },
  ];
  for (const { name, rootless } of runs) {
    const how = rootless ? 'as an ordinary user through tcp-liveness-netns' : 'against the installed package';
    it(`${name} passes with node --test ${how}`, async () => {
      assert.ok(existsSync(join(root, 'dist', 'testing', 'index.js')), 'dist/ is built (npm run build:ts)');
      const example = examples.find((js) => js.startsWith(`// ${name}`));
      assert.ok(example, `the README has ${name}`);
      // A project that has installed tcp-liveness (this package) and pg.
      const project = mkdtempSync(join(tmpdir(), 'tl-docs-'));
      try {
        mkdirSync(join(project, 'node_modules'));
        symlinkSync(root, join(project, 'node_modules', 'tcp-liveness'), 'dir');
        symlinkSync(join(root, 'node_modules', 'pg'), join(project, 'node_modules', 'pg'), 'dir');
        writeFileSync(join(project, name), example);
        const test = [process.execPath, '--test', '--test-reporter=tap', name];
        if (rootless) chmodSync(project, 0o755); // for nobody to read
        const { code, output } = rootless
          ? await run(...asOrdinaryUser(process.execPath, [join(root, 'bin', 'tcp-liveness-netns.js'), ...test]), project)
          : await run(test[0], test.slice(1), project);
        assert.equal(code, 0, output);
        assert.match(output, /# pass 1/, output);
        assert.match(output, expected[name], output);
      } finally {
        rmSync(project, { recursive: true, force: true });
      }
    });
  }
});
