// The quick variant of `npm run fuzz` (scripts/fuzz.js): 20,000 random calls straight into the
// native addon, below the TypeScript validation, in a child process so that a crash shows as
// a signal instead of taking the test runner down.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const script = path.join(__dirname, '..', '..', 'scripts', 'fuzz.js');

interface Report {
  seed: number;
  calls: number;
  stats: Record<string, { calls: number; ok: number; errno: number; typeError: number }>;
  pollerCallbacks: number;
  violations: string[];
}

function runFuzz(count: number, seed: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--no-deprecation', script, '--child', String(count), String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

describe('hardening: fuzzing the native layer', function () {
  it('20,000 random calls with random argument types: the process survives, every failure is a TypeError or an errno', async function () {
    this.timeout(120_000);
    const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const { code, signal, out, err } = await runFuzz(20_000, seed);
    const repro = `(repeat with: node scripts/fuzz.js 20000 ${seed})`;
    assert.equal(signal, null, `the fuzzed process died of ${signal} ${repro}\n${err}`);
    const report = JSON.parse(out.trim().split('\n').pop()!) as Report;
    assert.deepEqual(report.violations, [], repro);
    assert.equal(code, 0, `exit code ${code} ${repro}\n${err}`);
    assert.ok(report.calls >= 20_000, `${report.calls} calls`);
    for (const [name, s] of Object.entries(report.stats)) {
      // Every export was called many times, and some calls got past the backstop to the kernel.
      assert.ok(s.calls >= 500, `${name} called ${s.calls} times`);
      assert.ok(s.typeError > 0, `${name} never refused an argument`);
      assert.ok(s.ok + s.errno > 0, `${name} never reached the kernel`);
    }
    assert.ok(report.pollerCallbacks > 0, 'no poller ever delivered an event');
  });
});
