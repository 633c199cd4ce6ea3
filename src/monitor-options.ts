// The LivenessMonitor's options: their types, and their parsing into the Config each watched
// socket carries (validated once, defaults resolved, per-socket overrides merged).
import type * as net from 'node:net';
import { keepAliveArgs, type KeepAliveArgs, type KeepAliveOptions } from './keepalive';
import {
  validateAbortSignal, validateBoolean, validateFunction, validateObject, validatePositiveMs,
} from './validators';

export type IdleKind = 'read' | 'write' | 'all';

export interface HeartbeatOptions {
  /** Send a heartbeat when nothing has arrived for this long, ms. */
  interval: number;
  /** Declare the socket dead when nothing at all arrives this long after the heartbeat, ms. */
  timeout: number;
  /** Writes the application's ping. */
  send(socket: net.Socket): void;
}

/** Thresholds in ms for 'idle' events: nothing received (read), sent (write), or either (all). */
export interface IdleOptions {
  read?: number;
  write?: number;
  all?: number;
}

/** Per-socket (or per-server) settings; `false` turns a monitor-wide setting off. */
export interface WatchOptions {
  keepAlive?: KeepAliveOptions | false;
  heartbeat?: HeartbeatOptions | false;
  idle?: IdleOptions | false;
}

export interface MonitorOptions extends WatchOptions {
  /** Destroy dead sockets (default true). The cause travels in 'dead', never as an 'error' event. */
  destroy?: boolean;
  /** Aborting closes the monitor. */
  signal?: AbortSignal;
}

interface HeartbeatConfig {
  interval: number;
  timeout: number;
  /** How often an unanswered heartbeat is looked at, so the next one is never late by more. */
  step: number;
  send: (socket: net.Socket) => void;
}

/** Idle thresholds in ms; 0: that kind is not watched. */
interface IdleConfig {
  read: number;
  write: number;
  all: number;
}

/** What one watched socket gets, resolved. */
export interface Config {
  keepAlive: KeepAliveArgs | null;
  heartbeat: HeartbeatConfig | null;
  idle: IdleConfig | null;
}

/** `options` over `base` (the monitor's defaults, or null for the monitor itself); `name` prefixes errors. */
export function parseConfig(options: WatchOptions, base: Config | null, name: string): Config {
  validateObject(options, name);
  const { keepAlive, heartbeat, idle } = options;
  let heartbeatConfig = base?.heartbeat ?? null;
  if (heartbeat === false) heartbeatConfig = null;
  else if (heartbeat !== undefined) {
    validateObject(heartbeat, `${name}.heartbeat`);
    const interval = validatePositiveMs(heartbeat.interval, `${name}.heartbeat.interval`);
    const timeout = validatePositiveMs(heartbeat.timeout, `${name}.heartbeat.timeout`);
    heartbeatConfig = {
      interval,
      timeout,
      step: Math.min(1000, Math.max(10, Math.min(interval, timeout) / 10)),
      send: validateFunction(heartbeat.send, `${name}.heartbeat.send`) as (socket: net.Socket) => void,
    };
  }
  let idleConfig = base?.idle ?? null;
  if (idle === false) idleConfig = null;
  else if (idle !== undefined) {
    validateObject(idle, `${name}.idle`);
    const ms = (k: IdleKind) => (idle[k] === undefined ? 0 : validatePositiveMs(idle[k], `${name}.idle.${k}`));
    idleConfig = { read: ms('read'), write: ms('write'), all: ms('all') };
    if (!idleConfig.read && !idleConfig.write && !idleConfig.all) idleConfig = null;
  }
  return {
    keepAlive: keepAlive === false ? null : keepAlive === undefined ? base?.keepAlive ?? null : keepAliveArgs(keepAlive, `${name}.keepAlive`),
    heartbeat: heartbeatConfig,
    idle: idleConfig,
  };
}

/** The monitor-wide options: its defaults for every socket, and its own settings. */
export function parseMonitorOptions(options: MonitorOptions): { defaults: Config; destroy: boolean; signal: AbortSignal | undefined } {
  validateObject(options, 'options');
  const { destroy = true, signal } = options;
  validateBoolean(destroy, 'options.destroy');
  validateAbortSignal(signal, 'options.signal');
  return { defaults: parseConfig(options, null, 'options'), destroy, signal };
}
