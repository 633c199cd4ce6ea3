// What this platform supports: Linux is the full platform; elsewhere the package loads and
// every call throws ERR_TCP_LIVENESS_UNSUPPORTED.
import { native } from './binding';

export const supported = Object.freeze({
  platform: process.platform,
  keepAlive: native.supported,
  userTimeout: native.supported,
  socketError: native.supported,
  readiness: native.supported,
  waitFor: native.supported,
  peek: native.supported,
  tcpInfo: native.supported,
  monitor: native.supported,
});
