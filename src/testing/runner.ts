// tcp-liveness-netns <command…>: runs a test command where tcp-liveness/testing works without
// root. A running Node process cannot move itself into a new user namespace, and an ordinary user
// cannot add links to the machine's namespace, so the command starts inside new user, network and
// mount namespaces (`unshare --user --map-root-user --net --mount`): there it is root over a
// network of its own (only loopback, brought up here, no route out), with a tmpfs on /run for
// `ip netns` to keep its namespaces in. Nothing it does is seen by the machine's network.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const NAME = 'tcp-liveness-netns';
const UNSHARE = ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private'];
const SETUP = 'mount -t tmpfs -o mode=0755 tcp-liveness-run /run && ip link set lo up && exec "$@"';

function sysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * Why the command cannot be run here, in one message that says what is missing and how to
 * enable it, or null. Trying is the only reliable test (a kernel option, a sysctl, a security
 * module can each forbid it); the sysctls then tell which one did.
 */
export function runnerProblem(): string | null {
  if (process.platform !== 'linux') return `${NAME}: needs Linux user and network namespaces; this is ${process.platform}`;
  const tried = spawnSync('unshare', [...UNSHARE, '--', 'true'], { encoding: 'utf8' });
  if (tried.error) return `${NAME}: needs the \`unshare\` command (util-linux): ${tried.error.message}`;
  if (tried.status === 0) return null;
  const why = (tried.stderr || `exit ${tried.status}`).trim();
  const fixes: string[] = [];
  for (const [name, off, on] of [
    ['user.max_user_namespaces', '0', '15000'],
    ['user.max_net_namespaces', '0', '15000'],
    ['user.max_mnt_namespaces', '0', '15000'],
    ['kernel.unprivileged_userns_clone', '0', '1'],
    ['kernel.apparmor_restrict_unprivileged_userns', '1', '0'],
  ] as const) {
    if (sysctl(name) === off) fixes.push(`${name} is ${off}: enable with \`sudo sysctl -w ${name}=${on}\` (to keep it, add \`${name} = ${on}\` to /etc/sysctl.d/99-userns.conf)`);
  }
  const what = fixes.length > 0 ? fixes.join('; ') : 'no sysctl here forbids them: check that the kernel has CONFIG_USER_NS and that no security module (AppArmor, SELinux, seccomp in a container) blocks unshare(CLONE_NEWUSER)';
  return `${NAME}: unprivileged user namespaces are not allowed on this machine (${why}). ${what}. Or run the tests as root, without ${NAME}.`;
}

export function main(args: string[]): void {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
    console.log(`usage: ${NAME} <command> [args…]\nRuns the command in new user, network and mount namespaces, where tcp-liveness/testing works without root.`);
    process.exit(args.length === 0 ? 2 : 0);
  }
  const problem = runnerProblem();
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
  const child = spawn('unshare', [...UNSHARE, '--', 'sh', '-c', SETUP, NAME, ...args], { stdio: 'inherit' });
  // The command gets the signals this process gets; this process then dies as the command did.
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward);
  child.on('error', (err) => {
    console.error(`${NAME}: could not run unshare: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, sig) => {
    if (sig) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, forward);
      process.kill(process.pid, sig);
    } else {
      process.exit(code ?? 1);
    }
  });
}

if (require.main === module) main(process.argv.slice(2));
