// tcp-liveness/testing: two test hosts joined by a cable, on the real kernel TCP stack, so a
// test can make a connection die every way it dies in production (the peer closes, resets,
// crashes, freezes, vanishes, comes back without the connection, stops reading) and assert how
// fast and why it is noticed.
//
// A host is a network namespace with one end of a veth pair, addressed only inside the pair
// (10.231.0.1/30 and 10.231.0.2/30), so no packet can leave it. Node cannot enter a namespace,
// so each host runs a small agent (`ip netns exec <host> node testing-agent.js`): it makes the
// sockets that must live in the host and hands them to this process over the IPC channel, and
// it is the peer program that the faults are done to. The code under test runs here, on
// ordinary net.Socket and net.Server objects whose kernel sockets are in the host.
//
// capability.ts   can this machine make test hosts
// network.ts      createTestNetwork, TestNetwork: two hosts and their cable
// host.ts         TestHost: sockets in a host, the peer, the faults
// peer.ts         what the peer program does with its connections
// agent.ts        the client of testing-agent.ts, the program in each host
// cleanup.ts      removal on exit and signals, sweep() of crashed runs
// assertions.ts   lastHeard, keepAliveBound, waitForDeath, assertDies, assertStaysAlive
// commands.ts     running ip/ss, looking at processes
export { unsupportedReason } from './capability';
export { createTestNetwork, TestNetwork, type TestNetworkOptions } from './network';
export { TestHost, type ConnectOptions, type ListenOptions, type TcpSocketEntry } from './host';
export type { PeerConnection, PeerOptions, PeerServer } from './peer';
export type { Behavior, ConnectionStats } from './testing-agent';
export { liveNamespaces, sweep } from './cleanup';
export {
  assertDies, assertStaysAlive, keepAliveBound, lastHeard, waitForDeath,
  type AssertDiesOptions, type Death, type WaitForDeathOptions,
} from './assertions';
