// Who may run the network-namespace suites: root on Linux with iproute2. On a developer's machine
// without that they skip with one line saying why; under CI a missing privilege is a failure,
// because a suite that silently never runs proves nothing.
import { readFileSync } from 'node:fs';
import { unsupportedReason } from '../../src/testing';

export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

let reason: string | null | undefined;
let said = false;

/** For a mocha `before` hook: passes, skips the suite (not in CI) or fails it (in CI). */
export function requireTestHosts(context: Mocha.Context): void {
  reason ??= unsupportedReason();
  if (reason === null) return;
  notHere(context, 'the network-namespace tests', reason, !said);
  said = true;
}

/** A test this machine cannot run: skipped with one line on a developer's machine, a failure in CI. */
export function notHere(context: Mocha.Context, what: string, why: string, say = true): never {
  if (inCI()) throw new Error(`CI must run ${what}, but ${why}`);
  if (say) console.log(`      ${what} not run: ${why}`);
  return context.skip();
}

/**
 * A command line that runs `command` as an ordinary user: as root on the machine, as `nobody`
 * (runuser); in a user namespace (the suite itself run through tcp-liveness-netns), where no
 * other uid exists, as is: outside the namespace this process already is an ordinary user.
 */
export function asOrdinaryUser(command: string, args: readonly string[]): [string, string[]] {
  const initial = /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
  return initial && process.getuid?.() === 0 ? ['runuser', ['-u', 'nobody', '--', command, ...args]] : [command, [...args]];
}
