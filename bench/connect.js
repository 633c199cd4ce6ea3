// Client sockets for the bench, connected to a listener on 127.0.0.1 in waves of 500 (a burst of
// thousands would overflow the accept backlog and wait on SYN retries).
'use strict';
const { once } = require('node:events');
const net = require('node:net');

/** Connects until `sockets` holds `count` sockets; returns it. */
async function connectAll(port, count, sockets = []) {
  while (sockets.length < count) {
    const wave = [];
    for (let k = 0; k < 500 && sockets.length + wave.length < count; k++) {
      const s = net.connect(port, '127.0.0.1');
      wave.push(once(s, 'connect').then(() => s));
    }
    sockets.push(...(await Promise.all(wave)));
  }
  return sockets;
}

module.exports = { connectAll };
