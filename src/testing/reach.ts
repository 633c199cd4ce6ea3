// Direct reachability: the test process's own network namespace is on the test network, so any
// connect from this process (a client library's own net.connect, a pool's reconnect) to a test
// host's address reaches that host, and goes nowhere else.
//
// Each host has a second veth pair, its "uplink", from the host (`veth1`) to this process's
// namespace (`tl-<slot>a` / `…b`), with a /32 route to the host's address through it: a fault on
// the host takes its uplink down with its cable, so these connections see exactly what agent
// sockets see. Addresses come per network from a /16 that no real network on the machine uses
// (checked before use), so several networks, in this process or in others, never share an
// address or a route. While this process has made any network, an `unreachable` route for the
// whole /16 is in place: a connect to an address of the range that is not a live test host
// (a client reconnecting after close(), a typo) fails at once with EHOSTUNREACH instead of
// leaving through the default route. That guard outlives close() on purpose, until the process
// exits: the clients that might reconnect live as long as the process does.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { alive, commandWorks, run } from './commands';

/** Route protocol number that marks the harness's guard routes (their metric is the owner's pid). */
const GUARD_PROTO = '231';
/** Ranges tried in order; the first that touches no route or address of the machine is used. */
const RANGES = ['10.231.0.0/16', '172.27.0.0/16', '10.147.0.0/16'];
/** Each network takes four addresses: unused, host a, host b, this process. */
const SLOTS = 1 << 14;
/** Names of uplinks in this process's namespace: `tl-<slot>a` / `tl-<slot>b`. */
const UPLINK_NAME = /^tl-\d+[ab]$/;

const toInt = (ip: string) => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

function span(cidr: string): [number, number] {
  const [ip, bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(ip) / size) * size;
  return [start, start + size - 1];
}

const overlaps = (x: string, y: string) => {
  const [a0, a1] = span(x);
  const [b0, b1] = span(y);
  return a0 <= b1 && b0 <= a1;
};

function ipJson<T>(args: readonly string[]): T[] {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) || '[]') as T[];
}

interface RouteEntry { dst: string; dev?: string; protocol?: string; type?: string; table?: string }
interface AddrEntry { ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }

/**
 * What in this namespace, other than the harness's own links and guards, uses addresses of
 * `range`: a route (the default route aside) or an address. Empty when the range is free.
 */
export function rangeUsers(range: string): string[] {
  const found: string[] = [];
  for (const r of ipJson<RouteEntry>(['-4', 'route', 'show', 'table', 'all'])) {
    if (r.dst === 'default' || r.protocol === GUARD_PROTO || (r.dev && UPLINK_NAME.test(r.dev))) continue;
    const dst = r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    if (overlaps(dst, range)) found.push(`route ${r.type && r.type !== 'unicast' ? `${r.type} ` : ''}${dst}${r.dev ? ` dev ${r.dev}` : ''}`);
  }
  for (const link of ipJson<AddrEntry>(['-4', 'address', 'show'])) {
    if (UPLINK_NAME.test(link.ifname)) continue;
    for (const a of link.addr_info) {
      if (a.family === 'inet' && overlaps(`${a.local}/${a.prefixlen}`, range)) found.push(`address ${a.local}/${a.prefixlen} on ${link.ifname}`);
    }
  }
  return found;
}

let chosen: string | null = null;
let guardedBy: string | null = null;

/** The range this process uses: the first candidate no real network here touches. */
function range(): string {
  if (chosen) return chosen;
  const taken: string[] = [];
  for (const candidate of RANGES) {
    const users = rangeUsers(candidate);
    if (users.length === 0) return (chosen = candidate);
    taken.push(`${candidate} (${users.join(', ')})`);
  }
  throw new Error(`test hosts need an address range no network on this machine uses, and every candidate is in use: ${taken.join('; ')}`);
}

const guardRouteArgs = (verb: 'replace' | 'del', cidr: string) =>
  ['route', verb, 'unreachable', cidr, 'metric', String(process.pid), 'proto', GUARD_PROTO];

let guarding: Promise<string> | null = null;

/**
 * Puts this process's guard in place, once: the range's unreachable route. Resolves with the
 * range. `onInstalled` gets the function that removes the guard, for the caller to run at exit.
 */
export function guard(onInstalled: (removeSync: () => void) => void): Promise<string> {
  guarding ??= (async () => {
    const cidr = range();
    await run('ip', guardRouteArgs('replace', cidr));
    guardedBy = cidr;
    onInstalled(() => {
      commandWorks('ip', guardRouteArgs('del', cidr));
      guardedBy = null;
      guarding = null;
    });
    return cidr;
  })();
  guarding.catch(() => { guarding = null; });
  return guarding;
}

/** The addresses of one network: hosts a and b, and this process's end of their uplinks. */
export interface Slot {
  slot: number;
  a: string;
  b: string;
  local: string;
}

const used = new Set<number>();

/** A slot not used before by this process, at random so another process rarely reuses it soon. */
export function pickSlot(cidr: string, excluded: ReadonlySet<number> = new Set()): Slot {
  for (let tries = 0; tries < SLOTS; tries++) {
    const slot = randomInt(1, SLOTS);
    if (used.has(slot) || excluded.has(slot)) continue;
    used.add(slot);
    const base = span(cidr)[0] + slot * 4;
    return { slot, a: toIp(base + 1), b: toIp(base + 2), local: toIp(base + 3) };
  }
  throw new Error(`no free address slot left in ${cidr}`);
}

/** The uplink's name in this process's namespace. */
export const uplinkName = (slot: number, side: 'a' | 'b') => `tl-${slot}${side}`;

/** A locally administered MAC address that spells an IPv4 address, `kind` telling the link apart. */
export function macOf(kind: number, ip: string): string {
  return ['02', kind.toString(16).padStart(2, '0'), ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

interface LinkEntry { ifname: string; ifalias?: string }

/**
 * Removes the uplinks and guards whose process is gone (matched by `pattern` on the uplink's
 * alias, the host's name, and by pid on the guard's metric). Returns what it removed.
 */
export function sweepReach(pattern: RegExp): string[] {
  const removed: string[] = [];
  let links: LinkEntry[] = [];
  let guards: Array<{ dst: string; metric?: number }> = [];
  try {
    links = ipJson<LinkEntry>(['link', 'show', 'type', 'veth']);
    guards = ipJson(['-4', 'route', 'show', 'proto', GUARD_PROTO]);
  } catch {
    return removed;
  }
  for (const link of links) {
    const m = link.ifalias && UPLINK_NAME.test(link.ifname) ? pattern.exec(link.ifalias) : null;
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    commandWorks('ip', ['link', 'del', link.ifname]);
    removed.push(`link ${link.ifname}`);
  }
  for (const g of guards) {
    if (g.metric === undefined || g.metric === process.pid || alive(g.metric)) continue;
    if (commandWorks('ip', ['route', 'del', 'unreachable', g.dst, 'metric', String(g.metric), 'proto', GUARD_PROTO])) {
      removed.push(`route unreachable ${g.dst} proto ${GUARD_PROTO} metric ${g.metric}`);
    }
  }
  return removed;
}

/** Uplinks in this namespace made by this process (for leak checks). */
export function liveUplinks(prefix = 'tl'): string[] {
  try {
    return ipJson<LinkEntry>(['link', 'show', 'type', 'veth'])
      .filter((l) => UPLINK_NAME.test(l.ifname) && l.ifalias?.startsWith(`${prefix}-${process.pid}-`))
      .map((l) => l.ifname);
  } catch {
    return [];
  }
}

/** This process's guard route, if it has one, as `ip route` names it (for leak checks). */
export function guardRoute(): string | null {
  return guardedBy && `unreachable ${guardedBy} proto ${GUARD_PROTO} metric ${process.pid}`;
}
