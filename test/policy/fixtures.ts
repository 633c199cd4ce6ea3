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

/**
 * The fd number in this process of the TCP connection from local port `localPort` to
 * `remotePort`, found through /proc/net/tcp{,6} (the socket's inode) and /proc/self/fd: the
 * kernel's view, independent of any object the test or the policy holds.
 */
export function fdOfConnection(localPort: number, remotePort: number): number {
  const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');
  let inode: string | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1].endsWith(`:${hex(localPort)}`) && f[2].endsWith(`:${hex(remotePort)}`)) inode = f[9];
    }
  }
  assert.ok(inode, `no TCP connection ${localPort} -> ${remotePort} in /proc/net/tcp`);
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${name}`) === `socket:[${inode}]`) return Number(name);
    } catch {
      // an fd closed while we looked
    }
  }
  assert.fail(`the connection ${localPort} -> ${remotePort} is not this process's`);
}

/** Which hook found each entry point's connection on this Node, printed after the suite for the README's table. */
export const coverage: string[] = [];
