// Kept only for src/testing.ts, which still imports from here; the capabilities live in
// keepalive.ts, probe.ts and tcp-info.ts (see the README's layout).
export type { KeepAliveOptions } from './keepalive';
export { reasonOf } from './probe';
export { tcpInfo, type TcpInfo } from './tcp-info';
