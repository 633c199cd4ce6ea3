// A short tour of the core API on loopback: tune keepalive, watch a FIN and an RST arrive.
'use strict';
const net = require('node:net');
const { once } = require('node:events');
const { setKeepAlive, getKeepAlive, probe, tcpInfo, waitFor } = require('..');

async function main() {
  const server = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  setKeepAlive(server, { idle: 5000, interval: 1000, count: 3, userTimeout: 8000 });
  console.log('listener keepalive:', getKeepAlive(server));

  for (const fault of ['end', 'resetAndDestroy']) {
    const client = net.connect(server.address().port, '127.0.0.1');
    const [conn] = await once(server, 'connection');
    await once(client, 'connect');
    console.log(`\naccepted socket inherited: ${JSON.stringify(getKeepAlive(conn))}`);
    console.log(`before: ${probe(conn).state}, ${tcpInfo(conn).state}, rtt ${tcpInfo(conn).rtt} ms`);
    const t0 = process.hrtime.bigint();
    const woke = waitFor(conn, { readable: true, timeout: 2000 });
    client[fault]();
    await woke;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const p = probe(conn, { takeError: true });
    console.log(`peer did ${fault}(): probe says ${p.state}${p.error ? ` (${p.error.code})` : ''}` +
      `, TCP state ${p.tcp ? p.tcp.state : '-'}, noticed after ${ms.toFixed(2)} ms`);
    conn.destroy();
  }
  server.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
