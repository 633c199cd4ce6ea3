// A host's links and what pulling them does: the cable to the other host (`veth0`), the uplink
// to this process's namespace (`veth1` there, `tl-<slot>a|b` here), their addresses, routes and
// static neighbours, taken down and brought back as one.
import { commandWorks, ipBatch, run, sleep } from './commands';

export const CABLE = 'veth0';
export const UPLINK = 'veth1';

/** What the link layer needs to know of a host. */
export interface Wiring {
  /** The host's network namespace. */
  readonly name: string;
  readonly address: string;
  /** The MAC of the host's end of the cable. */
  readonly mac: string;
  /** The uplink's name in this process's namespace. */
  readonly uplink: string;
  /** The MAC of the host's end of the uplink, and of this namespace's end. */
  readonly uplinkMac: string;
  readonly localMac: string;
  /** This process's address on the test network. */
  readonly local: string;
}

/** The link states in a namespace (null: this one), by name: 'UP', 'DOWN', 'LOWERLAYERDOWN', … */
async function states(ns: string | null): Promise<Map<string, string>> {
  const links = JSON.parse(await run('ip', [...(ns === null ? [] : ['-n', ns]), '-j', 'link', 'show'])) as Array<{ ifname: string; operstate: string }>;
  return new Map(links.map((l) => [l.ifname, l.operstate]));
}

/** Waits until every link listed per namespace is in a state `done` accepts. */
async function waitFor(links: ReadonlyArray<[ns: string | null, link: string]>, done: (state: string) => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  let pending = [...links];
  for (;;) {
    const namespaces = [...new Set(pending.map(([ns]) => ns))];
    const seen = new Map(await Promise.all(namespaces.map(async (ns) => [ns, await states(ns)] as const)));
    pending = pending.filter(([ns, link]) => !done(seen.get(ns)!.get(link) ?? 'missing'));
    if (pending.length === 0) return;
    if (Date.now() > end) {
      const [ns, link] = pending[0];
      throw new Error(`${ns ?? 'this namespace'}: ${link} did not ${what} (it is ${seen.get(ns)!.get(link) ?? 'missing'})`);
    }
    await sleep(10);
  }
}

/**
 * The host's side: links up, its address, and static routes and neighbours to the other host
 * (over the cable) and to this process (over the uplink). The neighbours are static so that a
 * vanished host is silence, not an ARP failure (whose local ICMP error would end a connection
 * as EHOSTUNREACH instead of ETIMEDOUT); a link going down loses its routes and neighbours,
 * hence replace, every time.
 */
function hostLines(h: Wiring, other: Wiring): string[] {
  return [
    `link set ${CABLE} up`,
    `link set ${UPLINK} up`,
    `address replace ${h.address}/32 dev ${CABLE}`,
    `route replace ${other.address}/32 dev ${CABLE} src ${h.address}`,
    `neighbour replace ${other.address} lladdr ${other.mac} dev ${CABLE} nud permanent`,
    `route replace ${h.local}/32 dev ${UPLINK} src ${h.address}`,
    `neighbour replace ${h.local} lladdr ${h.localMac} dev ${UPLINK} nud permanent`,
  ];
}

/** Brings both hosts' links, and their uplinks here, up and wired; resolves once all are up. */
export async function linksUp(h: Wiring, other: Wiring): Promise<void> {
  await Promise.all([
    ipBatch(h.name, hostLines(h, other)),
    ipBatch(other.name, hostLines(other, h)),
    ipBatch(null, [h, other].flatMap((x) => uplinkRoutes(x.uplink, x.address, x.uplinkMac, x.local))),
  ]);
  await waitFor([
    ...[h, other].flatMap((x) => [[x.name, CABLE], [x.name, UPLINK]] as Array<[string, string]>),
    [null, h.uplink], [null, other.uplink],
  ], (state) => state === 'UP', 'come up');
}

/**
 * Takes the host's cable and uplink down. Resolves with performance.now() at the moment they
 * went down, once the other host's and this namespace's kernels have taken in the lost carrier.
 */
export async function linksDown(h: Wiring, other: Wiring): Promise<number> {
  await ipBatch(h.name, [`link set ${CABLE} down`, `link set ${UPLINK} down`]);
  const down = performance.now();
  // Linux applies a carrier change up to a second later (linkwatch). Until then the other
  // end refuses packets, which TCP takes as a local failure and retries without counting a
  // retransmission; afterwards they leave and vanish, as they would on a real network.
  await waitFor([[other.name, CABLE], [null, h.uplink]], (state) => state !== 'UP', 'lose its carrier');
  return down;
}

/**
 * The cable between the two hosts, made inside their namespaces: no end of it is ever here.
 * Its ends get different interface indexes: Linux applies a carrier change at once only on a
 * link whose index differs from its peer's (linkwatch_urgent_event); equal ones (each end the
 * first link of its namespace) wait up to a second behind any other link change on the machine,
 * and a vanished host would go on refusing packets locally for that second.
 */
export function addCable(a: Wiring, b: Wiring): Promise<string> {
  return run('ip', [
    'link', 'add', CABLE, 'netns', a.name, 'index', '10', 'address', a.mac, 'type', 'veth',
    'peer', 'name', CABLE, 'netns', b.name, 'index', '11', 'address', b.mac,
  ]);
}

/**
 * Makes the host's uplink: `veth1` in the host, `h.uplink` here. Its name is the claim on the
 * network's address slot: false when another network has it (the link exists), so the caller
 * picks another slot.
 */
export async function addUplink(h: Wiring): Promise<boolean> {
  try {
    await run('ip', ['link', 'add', h.uplink, 'address', h.localMac, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', h.name, 'address', h.uplinkMac]);
  } catch (err) {
    if (/File exists/.test((err as Error).message)) return false;
    throw err;
  }
  // The alias names the host, and with it the owning process, for sweep().
  await run('ip', ['link', 'set', h.uplink, 'alias', h.name, 'up']);
  return true;
}

/** The routes and neighbour entry that send this namespace's packets for `address` up `link`. */
export function uplinkRoutes(link: string, address: string, hostMac: string, local: string): string[] {
  return [
    `address replace ${local}/32 dev ${link}`,
    `route replace ${address}/32 dev ${link} src ${local}`,
    `neighbour replace ${address} lladdr ${hostMac} dev ${link} nud permanent`,
  ];
}

/** Removes an uplink (both ends, and the routes through it). */
export function removeUplink(name: string): Promise<unknown> {
  return run('ip', ['link', 'del', name]).catch(() => {});
}

export function removeUplinkSync(name: string): void {
  commandWorks('ip', ['link', 'del', name]);
}
