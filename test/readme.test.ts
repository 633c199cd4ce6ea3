// Every ```js sample in the README runs, and prints what its comments say it prints.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
// The tcp-liveness/testing example is a node:test file that needs root: test/netns/docs.test.ts
// runs it as a user would, from an installed package.
const samples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  .filter((js) => !js.includes("'tcp-liveness/testing'"));

/** `console.log(x); // printed text` lines: the text (after an optional "label: ") must be printed. */
function expectations(code: string): string[] {
  return [...code.matchAll(/console\.log\(.*\);[ \t]*\/\/ (?:[a-z ]+: )?(.*)$/gm)].map((m) => m[1]);
}

const squash = (s: string) => s.replace(/\s+/g, '');
// TypeScript samples are ES modules with top-level await, run through tsx from a file inside the
// package (so 'tcp-liveness' resolves to it, as it would from node_modules).
const tsSamples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('README samples', () => {
  it('has samples to run', () => assert.ok(samples.length >= 2 && tsSamples.length >= 1));

  tsSamples.forEach((code, i) => {
    it(`TypeScript sample ${i + 1} runs and prints what it says`, () => {
      const file = path.join(root, `.readme-sample-${process.pid}-${i}.mts`);
      fs.writeFileSync(file, code);
      try {
        const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
        for (const expected of expectations(code)) {
          assert.ok(squash(out).includes(squash(expected)), `expected ${expected} in:\n${out}`);
        }
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });

  samples.forEach((code, i) => {
    it(`sample ${i + 1} runs and prints what it says`, () => {
      // Run from the project root so require('tcp-liveness') resolves to this package.
      const out = execFileSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 30_000 });
      for (const expected of expectations(code)) {
        assert.ok(squash(out).includes(squash(expected)), `expected ${expected} in:\n${out}`);
      }
    });
  });
});
