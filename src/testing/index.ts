// tcp-liveness/testing: two test hosts joined by a cable, on the real kernel TCP stack, so a
// test can make a connection die every way it dies in production (the peer closes, resets,
// crashes, freezes, vanishes, comes back without the connection, stops reading) and assert how
// fast and why it is noticed.
//
// A host is a network namespace with one end of a veth pair (the cable to the other host) and
// an uplink to this process's namespace, with addresses of a range no real network here uses,
// so this process reaches the hosts directly and no packet for them can leave the machine.
// Node cannot enter a namespace,
// so each host runs a small agent (`ip netns exec <host> node testing-agent.js`): it makes the
// sockets that must live in the host and hands them to this process over the IPC channel, and
// it is the peer program that the faults are done to. The code under test runs here, on
// ordinary net.Socket and net.Server objects whose kernel sockets are in the host.
//
// capability.ts   can this machine make test hosts
// network.ts      createTestNetwork, TestNetwork: two hosts and their cable
// host.ts         TestHost: sockets in a host, the peer, the faults
// links.ts        a host's cable and uplink, up and down
// reach.ts        this process on the test network: address ranges, slots, the guard route
// service.ts      servers in a host, as another user, waited for until they accept
// peer.ts         what the peer program does with its connections
// agent.ts        the client of testing-agent.ts, the program in each host
// cleanup.ts      removal on exit and signals, sweep() of crashed runs
// assertions.ts   lastHeard, keepAliveBound, waitForDeath, assertDies, assertStaysAlive
// commands.ts     running ip/ss, looking at processes
// runner.ts       the tcp-liveness-netns command (rootless runs)
export { unsupportedReason } from './capability';
export { createTestNetwork, TestNetwork, type TestNetworkOptions } from './network';
export { TestHost, type ConnectOptions, type ListenOptions, type TcpSocketEntry } from './host';
export type { PeerConnection, PeerOptions, PeerServer } from './peer';
export type { Service, ServiceOptions } from './service';
export type { Behavior, ConnectionStats } from './testing-agent';
export { liveNamespaces, sweep } from './cleanup';
export { liveUplinks } from './reach';
export {
  assertDies, assertStaysAlive, keepAliveBound, lastHeard, waitForDeath,
  type AssertDiesOptions, type Death, type KeepAliveSettings, type WaitForDeathOptions,
} from './assertions';
