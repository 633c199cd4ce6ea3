// Linux TCP_INFO: tcpInfo() for users, silenceOf() for the monitor, and the decoder both use.
// Offsets and sizes are not written here: they come from the addon (`tcpInfoLayout`), which
// takes them from the one vendored copy of the kernel's struct tcp_info (native/tcp_info.h).
import { endianness } from 'node:os';
import { check, native } from './binding';
import { fdOf, type Target } from './target';

export type TcpState =
  | 'ESTABLISHED' | 'SYN_SENT' | 'SYN_RECV' | 'FIN_WAIT1' | 'FIN_WAIT2' | 'TIME_WAIT' | 'CLOSE'
  | 'CLOSE_WAIT' | 'LAST_ACK' | 'LISTEN' | 'CLOSING' | 'NEW_SYN_RECV' | 'BOUND_INACTIVE' | 'UNKNOWN';

export const TCP_STATES: readonly TcpState[] = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];
const CA_STATES = ['open', 'disorder', 'cwr', 'recovery', 'loss'] as const;

/**
 * Linux TCP_INFO. Times are milliseconds (fractional where the kernel counts microseconds);
 * `last*` fields are how long ago; rates are bytes per second; windows and queues in bytes
 * or segments as named. A field the kernel did not fill is undefined, never 0: the fields
 * through `totalRetrans` are in every Linux kernel's struct (since 2.6) and typed as present;
 * later ones are optional. An emulator can fill less (qemu-user fills the first 4 bytes:
 * `state`, `caState`, `retransmits`, `probes`), and then even those read undefined.
 */
export interface TcpInfo {
  state: TcpState;
  caState: (typeof CA_STATES)[number] | 'unknown';
  /** Retransmissions of the current unacknowledged segment (resets on ACK). */
  retransmits: number;
  /** Unanswered keepalive or zero-window probes. */
  probes: number;
  backoff: number;
  options: { timestamps: boolean; sack: boolean; windowScale: boolean; ecn: boolean; ecnSeen: boolean; synData: boolean };
  sndWscale: number;
  rcvWscale: number;
  /** ms */ rto: number;
  /** ms */ ato: number;
  sndMss: number;
  rcvMss: number;
  /** Segments sent and not yet acknowledged. */
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  /** ms since data was last sent. */ lastDataSent: number;
  /** ms since data was last received. */ lastDataRecv: number;
  /** ms since an ACK was last received. */ lastAckRecv: number;
  pmtu: number;
  rcvSsthresh: number;
  /** Smoothed round-trip time, ms. */ rtt: number;
  /** ms */ rttVar: number;
  sndSsthresh: number;
  /** Congestion window, segments. */ sndCwnd: number;
  advMss: number;
  reordering: number;
  /** ms */ rcvRtt: number;
  rcvSpace: number;
  totalRetrans: number;
  pacingRate?: number;
  maxPacingRate?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  notsentBytes?: number;
  /** ms */ minRtt?: number;
  dataSegsIn?: number;
  dataSegsOut?: number;
  deliveryRate?: number;
  /** ms */ busyTime?: number;
  /** ms */ rwndLimited?: number;
  /** ms */ sndbufLimited?: number;
  delivered?: number;
  deliveredCe?: number;
  bytesSent?: number;
  bytesRetrans?: number;
  dsackDups?: number;
  reordSeen?: number;
  rcvOoopack?: number;
  sndWnd?: number;
  rcvWnd?: number;
  rehash?: number;
  totalRto?: number;
  totalRtoRecoveries?: number;
  /** ms */ totalRtoTime?: number;
}

// The numeric fields: our name, the kernel's, and whether the kernel counts microseconds.
const NUMBERS: ReadonlyArray<readonly [keyof TcpInfo, string, 'us'?]> = [
  ['retransmits', 'tcpi_retransmits'], ['probes', 'tcpi_probes'], ['backoff', 'tcpi_backoff'],
  ['rto', 'tcpi_rto', 'us'], ['ato', 'tcpi_ato', 'us'], ['sndMss', 'tcpi_snd_mss'], ['rcvMss', 'tcpi_rcv_mss'],
  ['unacked', 'tcpi_unacked'], ['sacked', 'tcpi_sacked'], ['lost', 'tcpi_lost'], ['retrans', 'tcpi_retrans'],
  ['lastDataSent', 'tcpi_last_data_sent'], ['lastDataRecv', 'tcpi_last_data_recv'], ['lastAckRecv', 'tcpi_last_ack_recv'],
  ['pmtu', 'tcpi_pmtu'], ['rcvSsthresh', 'tcpi_rcv_ssthresh'], ['rtt', 'tcpi_rtt', 'us'], ['rttVar', 'tcpi_rttvar', 'us'],
  ['sndSsthresh', 'tcpi_snd_ssthresh'], ['sndCwnd', 'tcpi_snd_cwnd'], ['advMss', 'tcpi_advmss'],
  ['reordering', 'tcpi_reordering'], ['rcvRtt', 'tcpi_rcv_rtt', 'us'], ['rcvSpace', 'tcpi_rcv_space'],
  ['totalRetrans', 'tcpi_total_retrans'], ['pacingRate', 'tcpi_pacing_rate'], ['maxPacingRate', 'tcpi_max_pacing_rate'],
  ['bytesAcked', 'tcpi_bytes_acked'], ['bytesReceived', 'tcpi_bytes_received'], ['segsOut', 'tcpi_segs_out'],
  ['segsIn', 'tcpi_segs_in'], ['notsentBytes', 'tcpi_notsent_bytes'], ['minRtt', 'tcpi_min_rtt', 'us'],
  ['dataSegsIn', 'tcpi_data_segs_in'], ['dataSegsOut', 'tcpi_data_segs_out'], ['deliveryRate', 'tcpi_delivery_rate'],
  ['busyTime', 'tcpi_busy_time', 'us'], ['rwndLimited', 'tcpi_rwnd_limited', 'us'],
  ['sndbufLimited', 'tcpi_sndbuf_limited', 'us'], ['delivered', 'tcpi_delivered'], ['deliveredCe', 'tcpi_delivered_ce'],
  ['bytesSent', 'tcpi_bytes_sent'], ['bytesRetrans', 'tcpi_bytes_retrans'], ['dsackDups', 'tcpi_dsack_dups'],
  ['reordSeen', 'tcpi_reord_seen'], ['rcvOoopack', 'tcpi_rcv_ooopack'], ['sndWnd', 'tcpi_snd_wnd'],
  ['rcvWnd', 'tcpi_rcv_wnd'], ['rehash', 'tcpi_rehash'], ['totalRto', 'tcpi_total_rto'],
  ['totalRtoRecoveries', 'tcpi_total_rto_recoveries'], ['totalRtoTime', 'tcpi_total_rto_time'],
];

const layout = native.tcpInfoLayout;
const littleEndian = endianness() === 'LE';
const infoBytes = new Uint8Array(layout.size?.[1] ?? 256);
const info = new DataView(infoBytes.buffer);

/** The kernel field `name` from the first `length` bytes of `view`, or undefined when they do not hold it. */
function field(view: DataView, length: number, name: string): number | undefined {
  const [offset, size] = layout[name];
  if (length < offset + size) return undefined;
  switch (size) {
    case 1: return view.getUint8(offset);
    case 2: return view.getUint16(offset, littleEndian);
    case 4: return view.getUint32(offset, littleEndian);
    default: return Number(view.getBigUint64(offset, littleEndian));
  }
}

/** Decodes the `length` bytes of struct tcp_info the kernel filled; fields past them are undefined. */
export function decodeTcpInfo(bytes: Uint8Array, length: number): TcpInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, Math.min(length, bytes.byteLength));
  length = view.byteLength;
  const state = field(view, length, 'tcpi_state');
  const caState = field(view, length, 'tcpi_ca_state');
  const opts = field(view, length, 'tcpi_options');
  const wscale = field(view, length, 'tcpi_wscale');
  const out: Record<string, unknown> = {
    state: state === undefined ? undefined : TCP_STATES[state] ?? 'UNKNOWN',
    caState: caState === undefined ? undefined : CA_STATES[caState] ?? 'unknown',
    options: opts === undefined ? undefined : {
      timestamps: (opts & 1) !== 0, sack: (opts & 2) !== 0, windowScale: (opts & 4) !== 0,
      ecn: (opts & 8) !== 0, ecnSeen: (opts & 16) !== 0, synData: (opts & 32) !== 0,
    },
    sndWscale: wscale === undefined ? undefined : wscale & 0xf,
    rcvWscale: wscale === undefined ? undefined : wscale >> 4,
  };
  for (const [name, kernelName, unit] of NUMBERS) {
    const value = field(view, length, kernelName);
    out[name] = unit === 'us' && value !== undefined ? value / 1000 : value;
  }
  return out as unknown as TcpInfo;
}

/** Linux TCP_INFO for a socket or listener. */
export function tcpInfo(target: Target): TcpInfo {
  const length = check(native.tcpInfo(fdOf(target), infoBytes), tcpInfo);
  return decodeTcpInfo(infoBytes, length);
}

/** How long the connection has been quiet, ms, by the kernel's clocks. */
interface Silence {
  lastDataRecv: number;
  lastAckRecv: number;
  lastDataSent: number;
}

/** How many bytes of TCP_INFO the kernel fills for this fd, or a native failure code. */
export function tcpInfoLength(fd: number): number {
  return native.tcpInfo(fd, infoBytes);
}

/** The monitor's read: null when the fd gives no TCP_INFO or too little of it to say. */
export function silenceOf(fd: number): Silence | null {
  const length = native.tcpInfo(fd, infoBytes);
  if (length < 0) return null;
  const lastDataRecv = field(info, length, 'tcpi_last_data_recv');
  const lastAckRecv = field(info, length, 'tcpi_last_ack_recv');
  const lastDataSent = field(info, length, 'tcpi_last_data_sent');
  if (lastDataRecv === undefined || lastAckRecv === undefined || lastDataSent === undefined) return null;
  return { lastDataRecv, lastAckRecv, lastDataSent };
}
