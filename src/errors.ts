// Errors shaped like Node's own: system errors carry code, negative errno and syscall (plus the
// socket option), argument errors carry ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE.
import { getSystemErrorMap } from 'node:util';

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

export function unsupportedError(what: string): Error {
  return withCode(
    new Error(`${what} is not supported on ${process.platform}: tcp-liveness supports Linux`),
    'ERR_TCP_LIVENESS_UNSUPPORTED',
  );
}

/** An integer in [min, max]; `name` is how the user wrote the argument. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** A time in milliseconds (finite, >= 0). */
export function validateMs(value: unknown, name: string, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isFinite(value) || value < 0 || value > max) throw outOfRange(name, `>= 0 && <= ${max}`, value);
  return value;
}

export function validateBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
  return value;
}

export function validateObject(value: unknown, name: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  return value as Record<string, unknown>;
}

export function validateFunction(value: unknown, name: string): (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
  return value as (...args: never[]) => unknown;
}
