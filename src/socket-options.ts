// Socket options by number: the pending error (SO_ERROR) and the integer escape hatch
// (getOption / setOption with the public `constants`).
import { constants, failure, native } from './binding';
import { systemError } from './errors';
import { fdOf, type Target } from './target';
import { validateInteger } from './validators';

export { constants };

/**
 * Reads and CLEARS the socket's pending error (SO_ERROR). Destructive: once taken, Node's next
 * read on that socket sees an end of stream instead of the error. A healthy socket can return
 * a stored soft error (an ICMP message the kernel noted). Returns null when none is pending.
 */
export function takeSocketError(target: Target): NodeJS.ErrnoException | null {
  const r = native.takeSocketError(fdOf(target));
  if (r < 0) throw failure(r, undefined, takeSocketError);
  if (r === 0) return null;
  const err = systemError(r, 'getsockopt', 'SO_ERROR');
  Error.captureStackTrace(err, takeSocketError);
  return err;
}

const optionOut = new Int32Array(1);

/** getsockopt for an integer option: `getOption(sock, constants.SOL_SOCKET, constants.SO_RCVBUF)`. */
export function getOption(target: Target, level: number, name: number): number {
  validateInteger(level, 'level', 0, 0x7fffffff);
  validateInteger(name, 'name', 0, 0x7fffffff);
  const r = native.getOption(fdOf(target), level, name, optionOut);
  if (r < 0) throw failure(r, `level ${level} option ${name}`, getOption); // the name only when needed
  return optionOut[0];
}

/** setsockopt for an integer option. */
export function setOption(target: Target, level: number, name: number, value: number): void {
  validateInteger(level, 'level', 0, 0x7fffffff);
  validateInteger(name, 'name', 0, 0x7fffffff);
  validateInteger(value, 'value', -0x80000000, 0x7fffffff);
  const r = native.setOption(fdOf(target), level, name, value);
  if (r < 0) throw failure(r, `level ${level} option ${name}`, setOption);
}
