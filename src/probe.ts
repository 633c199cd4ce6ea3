// probe: an honest "is this connection alive right now?" from readiness, TCP_INFO and (only
// when asked) the pending error; reasonOf: what a socket error means for the connection.
import { readiness, type Readiness } from './readiness';
import { takeSocketError } from './socket-options';
import { tcpInfo, type TcpInfo } from './tcp-info';
import { type Target } from './target';
import { validateBoolean, validateObject } from './validators';

export type ProbeState = 'open' | 'peer-closed' | 'reset' | 'timeout' | 'unreachable' | 'closed' | 'error';

export interface Probe {
  state: ProbeState;
  /** The pending error, when it was taken (`takeError: true`); otherwise null. */
  error: NodeJS.ErrnoException | null;
  readiness: Readiness;
  /** TCP_INFO, or null when the target has no fd. */
  tcp: TcpInfo | null;
}

const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECONNREFUSED']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/** The word for what a socket error means for the connection. */
export function reasonOf(err: NodeJS.ErrnoException): 'reset' | 'timeout' | 'unreachable' | 'error' {
  if (err.code === 'ETIMEDOUT') return 'timeout';
  if (RESET.has(err.code!)) return 'reset';
  if (UNREACHABLE.has(err.code!)) return 'unreachable';
  return 'error';
}

/**
 * Is this connection alive right now? Looks at readiness, TCP_INFO and (only with
 * `takeError: true`) the pending error. By default the pending error is left for Node to
 * read: then a connection with an error pending is reported as 'error' with `error: null`,
 * because the kernel only says *which* error by clearing it.
 */
export function probe(target: Target, options: { takeError?: boolean } = {}): Probe {
  validateObject(options, 'options');
  const { takeError = false } = options;
  validateBoolean(takeError, 'options.takeError');
  const ready = readiness(target);
  if (ready.invalid) return { state: 'closed', error: null, readiness: ready, tcp: null };
  const tcp = tcpInfo(target);
  const error = takeError && ready.error ? takeSocketError(target) : null;
  let state: ProbeState;
  if (error) state = reasonOf(error);
  else if (ready.error) state = 'error';
  else if (tcp.state === 'CLOSE') state = 'closed';
  else if (ready.peerClosed) state = 'peer-closed';
  else state = 'open';
  return { state, error, readiness: ready, tcp };
}
