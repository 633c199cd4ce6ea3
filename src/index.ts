// The public API. Each capability lives in its own file; see the README's layout paragraph.
export { setKeepAlive, getKeepAlive } from './keepalive';
export type { KeepAliveOptions, KeepAlive } from './keepalive';
export { takeSocketError, getOption, setOption, constants } from './socket-options';
export { readiness, peek } from './readiness';
export type { Readiness } from './readiness';
export { waitFor } from './wait';
export type { WaitOptions } from './wait';
export { probe } from './probe';
export type { Probe, ProbeState } from './probe';
export { tcpInfo } from './tcp-info';
export type { TcpInfo, TcpState } from './tcp-info';
export { supported } from './supported';
export type { Target } from './target';
export { LivenessMonitor } from './monitor';
export type {
  DeadReason, IdleKind, HeartbeatOptions, IdleOptions, WatchOptions, MonitorOptions, Verdict, MonitorStats,
} from './monitor';
export { connections, DEFAULT_THRESHOLDS } from './connections';
export type {
  Connection, Connections, ConnectionsOptions, ConnectionsSummary, ConnectionVerdict, Listener, Thresholds, TimerKind,
} from './connections';
export { policy, type Policy, type PolicyOptions, type PolicyStats, type PolicyConnection, type Direction, type Via } from './policy';

// `import tl from 'tcp-liveness'` (and `require('tcp-liveness').default`): the whole API as one
// object, beside the named exports. CommonJS hands this module its own exports object here.
import * as api from './index';
export default api;
