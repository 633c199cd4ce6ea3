// Where a policy meets connections: Node's own diagnostics channels, and a fallback for the
// connects a running Node does not publish.
//
// - `net.server.socket`: every socket a net/http/https/http2 server accepts (a TLS server's raw
//   TCP socket, before the TLSSocket wraps it; both share one TCP handle and fd).
// - `net.client.socket`: on Node 20 and 22 before 22.17 it is published by `net.connect()` only,
//   so `new net.Socket().connect()` (pg, postgres.js) and `tls.connect()` go unseen; later lines
//   publish it from `Socket.prototype.connect`, which every client connect goes through.
// - `undici:client:connected`: undici and global fetch, with the socket once connected; covers
//   connectors that hand undici a socket made some other way.
// - The fallback, a guard around `Socket.prototype.connect`, tells the two cases apart at run
//   time, per connect: a socket the channel has not announced by the time the original
//   `connect()` returns is taken by the guard. The first time the channel is seen announcing a
//   socket from inside `connect()` itself, this Node publishes every client connect there, and
//   the guard takes itself out of the prototype for good.
//
// A socket's fd is read only once it is connected (`'connect'`, or the accept): an fd read from
// an async_hooks TCPWRAP `init` crashed Node 20 in a trial, and before connect there is none.
import * as dc from 'node:diagnostics_channel';
import * as net from 'node:net';
import type { Direction, Via } from './connection';

export type Decide = (socket: net.Socket, direction: Direction, via: Via) => void;

const CLIENT = 'net.client.socket';
const SERVER = 'net.server.socket';
const UNDICI = 'undici:client:connected';

// Set from the moment a connect is announced until its 'connect' event: the hook that saw it.
const kArmed = Symbol('tcp-liveness policy armed');
type Armable = net.Socket & { [kArmed]?: Via };

let decide: Decide | null = null;

// One shared listener that removes itself, rather than prependOnceListener: a once-wrapper is
// two allocations per connection for what this does in one line.
function onConnect(this: Armable): void {
  this.removeListener('connect', onConnect);
  const via = this[kArmed]!;
  this[kArmed] = undefined;
  decide?.(this, 'outbound', via);
}

/**
 * Decides the socket once it connects; a socket announced twice (channel and guard) is armed
 * once. First among 'connect' listeners, so the application's own (and a client library's
 * setKeepAlive in it) come after the policy's settings and its guard.
 */
function arm(socket: Armable, via: Via): void {
  if (socket[kArmed] !== undefined) return;
  socket[kArmed] = via;
  socket.prependListener('connect', onConnect);
}

const onClientSocket = (message: unknown) => arm((message as { socket: Armable }).socket, CLIENT);
const onServerSocket = (message: unknown) => decide?.((message as { socket: net.Socket }).socket, 'inbound', SERVER);
const onUndiciConnected = (message: unknown) => {
  const socket = (message as { socket?: unknown }).socket;
  if (socket instanceof net.Socket) decide?.(socket, 'outbound', UNDICI);
};

// ---- the fallback around Socket.prototype.connect ----

type Connect = (this: net.Socket, ...args: unknown[]) => net.Socket;
interface Guard {
  connect: Connect;
  /** What it wraps: Node's method, or another library's wrapper. */
  original: Connect;
  /** False once removed: a guard that could not be taken out only passes calls through. */
  active: boolean;
}
const proto = net.Socket.prototype as unknown as { connect: Connect };
let guard: Guard | null = null;
/** Learned at run time: this Node publishes net.client.socket from inside Socket.prototype.connect. */
let channelInConnect = false;

function makeGuard(original: Connect): Guard {
  const g: Guard = {
    original,
    active: true,
    connect(this: Armable, ...args: unknown[]): net.Socket {
      if (!g.active) return original.apply(this, args);
      const announced = this[kArmed] !== undefined; // by net.connect(), before it called us
      const r = original.apply(this, args);
      if (!announced) {
        if (this[kArmed] === CLIENT) {
          channelInConnect = true;
          removeGuard();
        } else if (this[kArmed] === undefined) {
          arm(this, 'connect-fallback');
        }
      }
      return r;
    },
  };
  return g;
}

function installGuard(): void {
  guard = makeGuard(proto.connect);
  proto.connect = guard.connect;
}

function removeGuard(): void {
  if (guard === null) return;
  guard.active = false;
  // Only our own wrapper is taken out: if another library wrapped it since, removing ours
  // would remove theirs too. Then ours stays in their chain, passing calls through.
  if (proto.connect === guard.connect) proto.connect = guard.original;
  guard = null;
}

// ---- install / remove ----

export function installHooks(fn: Decide): void {
  decide = fn;
  dc.subscribe(CLIENT, onClientSocket);
  dc.subscribe(SERVER, onServerSocket);
  dc.subscribe(UNDICI, onUndiciConnected);
  if (!channelInConnect) installGuard();
}

export function removeHooks(): void {
  decide = null;
  dc.unsubscribe(CLIENT, onClientSocket);
  dc.unsubscribe(SERVER, onServerSocket);
  dc.unsubscribe(UNDICI, onUndiciConnected);
  removeGuard();
}
