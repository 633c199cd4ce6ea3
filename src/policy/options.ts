// policy()'s options, checked in full before anything is hooked: a bad field throws and the
// process is exactly as it was.
import { keepAliveArgs, type KeepAliveArgs, type KeepAliveOptions } from '../keepalive';
import { invalidArgType } from '../errors';
import { validateFunction, validateObject } from '../validators';
import { LivenessMonitor } from '../monitor';
import type { PolicyConnection } from './connection';

export interface PolicyOptions {
  /** Applied to every matched connection as `setKeepAlive` would, and kept against later `socket.setKeepAlive` calls. */
  keepAlive?: KeepAliveOptions;
  /** Which connections the policy takes; every TCP connection when omitted. */
  match?: (connection: PolicyConnection) => boolean;
  /** Every matched connection is added to it. */
  monitor?: LivenessMonitor;
}

export interface Rules {
  keepAlive: KeepAliveArgs | null;
  match: ((connection: PolicyConnection) => unknown) | null;
  monitor: LivenessMonitor | null;
}

export function parsePolicyOptions(options: unknown): Rules {
  validateObject(options, 'options');
  const { keepAlive, match, monitor } = options as PolicyOptions;
  const rules: Rules = {
    keepAlive: keepAlive === undefined ? null : keepAliveArgs(keepAlive, 'options.keepAlive'),
    match: match === undefined ? null : (validateFunction(match, 'options.match') as Rules['match']),
    monitor: null,
  };
  if (monitor !== undefined) {
    if (!(monitor instanceof LivenessMonitor)) {
      throw invalidArgType('options.monitor', 'an instance of LivenessMonitor', monitor);
    }
    rules.monitor = monitor;
  }
  // A policy with neither does nothing to any connection: most likely a misspelt field.
  if (rules.keepAlive === null && rules.monitor === null) {
    throw invalidArgType('options.keepAlive', 'of type object when options.monitor is not given', keepAlive);
  }
  return rules;
}
