export {
  setKeepAlive, getKeepAlive, takeSocketError, readiness, waitFor, peek, probe, tcpInfo,
  getOption, setOption, supported, constants,
} from './core';
export type {
  Target, KeepAliveOptions, KeepAlive, Readiness, WaitOptions, Probe, ProbeState, TcpInfo, TcpState,
} from './core';
export { LivenessMonitor } from './monitor';
export type {
  DeadReason, IdleKind, HeartbeatOptions, IdleOptions, WatchOptions, MonitorOptions, Verdict, MonitorStats,
} from './monitor';
