// Error constructors, shaped like Node's own: system errors carry code, negative errno and
// syscall (plus the socket option), argument errors carry ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE.
// The checks that throw them are in validators.ts.
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

const systemErrors = getSystemErrorMap();

/** `"ECONNRESET: connection reset by peer, getsockopt SO_ERROR"`, like Node's UVException. */
export function systemError(errno: number, syscall: string, option?: string): NodeJS.ErrnoException & { option?: string } {
  const [code, description] = systemErrors.get(-errno) ?? [`Unknown system error ${errno}`, 'unknown error'];
  const err: NodeJS.ErrnoException & { option?: string } = new Error(
    `${code}: ${description}, ${syscall}${option ? ` ${option}` : ''}`,
  );
  err.errno = -errno;
  err.code = code;
  err.syscall = syscall;
  if (option) err.option = option;
  return err;
}

function withCode<E extends Error>(err: E, code: string): E & { code: string } {
  return Object.assign(err, { code });
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${value}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = value.constructor?.name;
    return name ? `Received an instance of ${name}` : 'Received an object';
  }
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 25 ? `${value.slice(0, 25)}...` : value) : String(value);
  return `Received type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}. ${describe(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`),
    'ERR_OUT_OF_RANGE',
  );
}

export function socketError(code: 'ERR_SOCKET_CLOSED' | 'ERR_SOCKET_NOT_CONNECTED' | 'ERR_SERVER_NOT_RUNNING', message: string): Error {
  return withCode(new Error(message), code);
}

export function heartbeatError(timeout: number): Error {
  return withCode(new Error(`No data arrived within ${timeout} ms of a heartbeat`), 'ERR_TCP_LIVENESS_HEARTBEAT');
}

export function unsupportedError(what: string): Error {
  return withCode(
    new Error(`${what} is not supported on ${process.platform}: tcp-liveness supports Linux`),
    'ERR_TCP_LIVENESS_UNSUPPORTED',
  );
}

/**
 * The error Node's own read raises for a socket error (lib/internal/errors.js errnoException):
 * `read ETIMEDOUT`, code, negative errno, syscall 'read'. The monitor hands a kernel error it
 * took to the application in this shape, as Node would have.
 */
export function readError(errno: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  const err: NodeJS.ErrnoException = new Error(`read ${code}`);
  err.errno = -errno;
  err.code = code;
  err.syscall = 'read';
  return err;
}

/** monitor.add of something that is not TCP; `transport` as transportOf() names it. */
export function notTcp(transport: string): TypeError {
  const what = transport === 'pipe' ? 'a Unix domain socket (or a named pipe)' : `a ${transport} handle`;
  return withCode(
    new TypeError(`LivenessMonitor watches TCP connections only (keepalive, TCP_INFO and the TCP states it reads exist only there); this is ${what}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

/** Heartbeats or idle events asked for where TCP_INFO is `length` bytes, too short to say when the peer was last heard. */
export function shortTcpInfo(length: number): Error {
  return withCode(
    new Error(
      "heartbeat and idle events need TCP_INFO's last-receive times (tcpi_last_data_recv, tcpi_last_ack_recv), " +
      `and this kernel filled only ${length} bytes of TCP_INFO (an emulator such as qemu-user does that): add the ` +
      'socket with { heartbeat: false, idle: false }; keepalive and FIN, RST and error detection work without them',
    ),
    'ERR_TCP_LIVENESS_UNSUPPORTED',
  );
}
