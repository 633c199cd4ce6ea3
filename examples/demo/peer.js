// The far end of a demo connection on loopback, run as a child process so that it can be
// frozen with SIGSTOP (its kernel keeps ACKing while it is stopped).
//   node peer.js <host> <port> [half-open]
// It dials, answers every "ping" line with "pong", ends (FIN) or resets (RST) the connection
// when the demo says so over the IPC channel, and exits when the demo lets go of it.
'use strict';
const net = require('node:net');

const [host, port, flag] = process.argv.slice(2);
const report = (message) => process.connected && process.send(message);

// With half-open it keeps reading after its own FIN, as a client that has sent its whole
// request and waits for the answer.
const socket = net.connect({ host, port: Number(port), allowHalfOpen: flag === 'half-open' }, () => {
  report({ event: 'connected', localPort: socket.localPort });
});

let pending = '';
socket.setEncoding('utf8');
socket.on('data', (chunk) => {
  pending += chunk;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    if (pending.slice(0, nl) === 'ping' && socket.writable) socket.write('pong\n');
    pending = pending.slice(nl + 1);
  }
});
// The demo's side closing is what the CLOSE_WAIT case waits for: say when it arrives.
socket.on('end', () => report({ event: 'end' }));
socket.on('error', () => {});

process.on('message', (message) => {
  if (message.cmd !== 'end' && message.cmd !== 'reset') return;
  // When it happened, on CLOCK_MONOTONIC (process.hrtime), which every process shares: read
  // before the call, since the segment may be on its way before the call returns.
  const at = process.hrtime.bigint().toString();
  if (message.cmd === 'end') socket.end(); // FIN
  else socket.resetAndDestroy(); // SO_LINGER 0, then close: RST
  report({ event: 'done', cmd: message.cmd, at });
});
process.on('disconnect', () => process.exit(0));
