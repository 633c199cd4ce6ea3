// Argument checks, one per kind of value, used everywhere (as Node keeps
// lib/internal/validators.js beside lib/internal/errors.js). Each returns the value it
// accepted and throws ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE naming the argument.
import { invalidArgType, outOfRange } from './errors';

const MAX_MS = 2 ** 31 - 1; // what a Node timer and TCP_USER_TIMEOUT take
const MAX_KEEPALIVE_S = 32767; // the kernel's limit for TCP_KEEPIDLE and TCP_KEEPINTVL

/** An integer in [min, max]; `name` is how the user wrote the argument. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** A time in milliseconds (finite, >= 0). */
export function validateMs(value: unknown, name: string, max = MAX_MS): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isFinite(value) || value < 0 || value > max) throw outOfRange(name, `>= 0 && <= ${max}`, value);
  return value;
}

/** A time in milliseconds that must be more than zero. */
export function validatePositiveMs(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!(value > 0 && value <= MAX_MS)) throw outOfRange(name, `> 0 && <= ${MAX_MS}`, value);
  return value;
}

/** A keepalive time in ms, returned in whole seconds as the kernel takes it: rounded up, never shorter than asked. */
export function validateKeepAliveSeconds(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  const s = Math.ceil(value / 1000);
  if (!(s >= 1 && s <= MAX_KEEPALIVE_S)) {
    throw outOfRange(name, `> 0 && <= ${MAX_KEEPALIVE_S * 1000} (milliseconds, rounded up to whole seconds)`, value);
  }
  return s;
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

/** An AbortSignal, or undefined. */
export function validateAbortSignal(value: unknown, name: string): AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw invalidArgType(name, 'an instance of AbortSignal', value);
  return value;
}
