// Can this machine make test hosts? One line saying why not, for a test suite to skip or fail with.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { commandWorks } from './commands';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

/**
 * Why test hosts cannot be made here, in one line, or null when they can: Linux, root (network
 * namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN; root in a user namespace, as under
 * tcp-liveness-netns, will do), and iproute2's `ip` and `ss`.
 */
export function unsupportedReason(): string | null {
  if (process.platform !== 'linux') return `test hosts need Linux network namespaces; this is ${process.platform}`;
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  const caps = capEff ? BigInt(`0x${capEff[1]}`) : 0n;
  if (((caps >> CAP_SYS_ADMIN) & 1n) === 0n || ((caps >> CAP_NET_ADMIN) & 1n) === 0n) {
    return 'test hosts need root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces: run as root, or through `npx tcp-liveness-netns <command>`';
  }
  if (!commandWorks('ip', ['-V'])) return 'test hosts need the `ip` command (iproute2), which is not installed';
  if (!commandWorks('ss', ['-V'])) return 'test hosts need the `ss` command (iproute2), which is not installed';
  const probe = `tl-${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    return `test hosts need network namespaces, and \`ip netns add\` failed here: ${stderr || (err as Error).message}`;
  }
  commandWorks('ip', ['netns', 'del', probe]);
  return null;
}
