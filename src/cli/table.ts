// The inventory as a person reads it: the summary first, then one row per connection, worst first.
import type { Connection, Connections } from '../connections';

const COLUMNS = ['VERDICT', 'STATE', 'LOCAL', 'REMOTE', 'SEND-Q', 'RECV-Q', 'TIMER', 'SILENT', 'FD', 'REASON'] as const;

export function renderTable(inv: Connections, title: string): string {
  const { summary } = inv;
  const lines: string[] = [];
  const count = inv.connections.length;
  const limit = summary.fdLimit === null ? 'unlimited' : String(summary.fdLimit);
  lines.push(`${title} · ${count} connection${count === 1 ? '' : 's'} · fds ${summary.fds} / ${limit}${nearLimit(summary.fds, summary.fdLimit)}`);
  lines.push(`states    ${pairs(summary.states) || 'none'}`);
  lines.push(`verdicts  ${pairs(summary.verdicts, true) || 'none'}`);
  const listening = inv.listeners.map((l) => `${endpoint(l.localAddress, l.localPort)}${l.pending ? ` (${l.pending} waiting in accept)` : ''}`);
  lines.push(`listening ${listening.join('  ') || 'none'}${listening.length ? ` · TIME_WAIT on these ports: ${summary.timeWait}` : ''}`);
  if (count === 0) {
    lines.push('', 'no TCP connections');
    return lines.join('\n');
  }
  const rows = inv.connections.map(row);
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  lines.push('', format(COLUMNS), ...rows.map(format));
  return lines.join('\n');
}

function row(c: Connection): string[] {
  return [
    c.verdict,
    c.state,
    endpoint(c.localAddress, c.localPort),
    endpoint(c.remoteAddress, c.remotePort),
    String(c.sendQueue),
    String(c.receiveQueue),
    timer(c),
    c.lastAckReceived === null ? '-' : duration(Math.min(c.lastAckReceived, c.lastDataReceived ?? Infinity)),
    c.fd === null ? '-' : String(c.fd),
    c.reason,
  ];
}

function timer(c: Connection): string {
  const { kind, expiresIn, count } = c.timer;
  if (kind === 'none') return '-';
  if (kind === 'unknown' || expiresIn === null) return kind;
  return `${kind} ${duration(expiresIn)}${count > 0 ? ` #${count}` : ''}`;
}

function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function pairs(counts: Record<string, number | undefined>, skipZero = false): string {
  return Object.entries(counts)
    .filter(([, n]) => n !== undefined && (!skipZero || n > 0))
    .map(([k, n]) => `${k} ${n}`)
    .join('  ');
}

function nearLimit(fds: number, limit: number | null): string {
  return limit !== null && fds >= limit * 0.8 ? ' (near the limit: accept() fails with EMFILE at it)' : '';
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(ms / 3_600_000)}h${String(Math.floor((ms % 3_600_000) / 60_000)).padStart(2, '0')}m`;
}
