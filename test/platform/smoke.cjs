// The package's smoke test, run by an official Node binary where the packed package was installed
// without scripts (no compiler ran): inside a Debian 11 root, and as arm64 under qemu-user.
// Prints one JSON line; exits non-zero on any failure. It does not read TCP_INFO: qemu-user fills
// only its first 4 bytes.
'use strict';
const net = require('node:net');
const path = require('node:path');
const { setKeepAlive, getKeepAlive, LivenessMonitor } = require('tcp-liveness');

const timer = setTimeout(() => {
  console.error('smoke: no verdict within 30 s');
  process.exit(1);
}, 30_000);

const server = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1');
  client.on('error', () => {});
  server.once('connection', (peer) => {
    client.once('connect', () => {
      setKeepAlive(client, { idle: 5000, interval: 1000, count: 4, userTimeout: 9000 });
      const keepAlive = getKeepAlive(client);
      const monitor = new LivenessMonitor();
      monitor.add(client);
      monitor.once('dead', (socket, reason, error) => {
        const dir = path.dirname(require.resolve('tcp-liveness/package.json'));
        console.log(JSON.stringify({
          node: process.version,
          arch: process.arch,
          binary: path.relative(dir, require('node-gyp-build').path(dir)),
          keepAlive,
          dead: { same: socket === client, reason, code: error && error.code },
        }));
        monitor.close();
        server.close();
        clearTimeout(timer);
      });
      peer.resetAndDestroy(); // the RST the monitor must report
    });
  });
});
