// Shared by the policy tests: settings no kernel or Node default has, a TLS certificate made
// with openssl for this run, and a way to find a connection's fd from the kernel's own tables
// (for clients such as fetch that never show their socket).
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { getKeepAlive, type KeepAlive, type Target } from '../../src';

/** What every policy test applies: 7 s, 3 s, 4 probes, 19 s. */
export const SETTINGS = { idle: 7000, interval: 3000, count: 4, userTimeout: 19_000 } as const;
export const APPLIED: KeepAlive = { enable: true, ...SETTINGS };
/** Linux's defaults for a new socket (net.ipv4.tcp_keepalive_*), which an untouched connection keeps. */
export const UNTOUCHED: KeepAlive = { enable: false, idle: 7_200_000, interval: 75_000, count: 9, userTimeout: 0 };

export function assertPolicyApplied(target: Target, what: string): void {
  assert.deepEqual(getKeepAlive(target), APPLIED, `${what}: the policy's settings are what the kernel holds`);
}

let credentials: { key: Buffer; cert: Buffer } | undefined;

/** A self-signed certificate for 127.0.0.1, made once per run. */
export function tlsCredentials(): { key: Buffer; cert: Buffer } {
  if (credentials) return credentials;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-policy-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    credentials = { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
    return credentials;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The socket inodes of the TCP connections in this network namespace whose ports pass `want`. */
function connectionInodes(want: (localPort: number, remotePort: number) => boolean): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (address: string) => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (want(port(f[1]), port(f[2]))) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** This process's fd numbers for the sockets with these inodes (through /proc/self/fd). */
function fdsOf(inodes: Set<string>): number[] {
  const fds: number[] = [];
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${name}`));
      if (m && inodes.has(m[1])) fds.push(Number(name));
    } catch {
      // an fd closed while we looked
    }
  }
  return fds;
}

/**
 * The fd number in this process of the TCP connection from local port `localPort` to
 * `remotePort`, found through /proc/net/tcp{,6} (the socket's inode) and /proc/self/fd: the
 * kernel's view, independent of any object the test or the policy holds.
 */
export function fdOfConnection(localPort: number, remotePort: number): number {
  const inodes = connectionInodes((l, r) => l === localPort && r === remotePort);
  assert.ok(inodes.size > 0, `no TCP connection ${localPort} -> ${remotePort} in /proc/net/tcp`);
  const [fd] = fdsOf(inodes);
  assert.ok(fd !== undefined, `the connection ${localPort} -> ${remotePort} is not this process's`);
  return fd;
}

/** The fd numbers of every TCP connection this process has to `remotePort`, found as above. */
export function connectionFdsTo(remotePort: number): number[] {
  return fdsOf(connectionInodes((_, r) => r === remotePort));
}

/** Which hook found each entry point's connection on this Node, printed after the suite for the README's table. */
export const coverage: string[] = [];
