// struct tcp_info as the kernel fills it: a copy of the layout in Linux's
// include/uapi/linux/tcp.h (v6.7: fields through tcpi_total_rto_time), vendored because the
// system's headers cannot describe it alone: glibc's <netinet/tcp.h> stops at
// tcpi_total_retrans and older kernel headers lack the later fields. It is the single source
// of every offset TypeScript reads: binding.cc exports TL_TCP_INFO_FIELDS' offsets and sizes
// (`tcpInfoLayout`), and linux.cc checks the fields glibc has against glibc's struct.
// The kernel copies min(its size, the caller's) bytes and says how many: a field past that
// length was not filled (an older kernel, or qemu-user, which fills 4 bytes).
#pragma once
#include <stddef.h>
#include <stdint.h>

struct tl_kernel_tcp_info {
  uint8_t tcpi_state;
  uint8_t tcpi_ca_state;
  uint8_t tcpi_retransmits;
  uint8_t tcpi_probes;
  uint8_t tcpi_backoff;
  uint8_t tcpi_options;
  uint8_t tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
  uint8_t tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2;

  uint32_t tcpi_rto;
  uint32_t tcpi_ato;
  uint32_t tcpi_snd_mss;
  uint32_t tcpi_rcv_mss;

  uint32_t tcpi_unacked;
  uint32_t tcpi_sacked;
  uint32_t tcpi_lost;
  uint32_t tcpi_retrans;
  uint32_t tcpi_fackets;

  uint32_t tcpi_last_data_sent;
  uint32_t tcpi_last_ack_sent;
  uint32_t tcpi_last_data_recv;
  uint32_t tcpi_last_ack_recv;

  uint32_t tcpi_pmtu;
  uint32_t tcpi_rcv_ssthresh;
  uint32_t tcpi_rtt;
  uint32_t tcpi_rttvar;
  uint32_t tcpi_snd_ssthresh;
  uint32_t tcpi_snd_cwnd;
  uint32_t tcpi_advmss;
  uint32_t tcpi_reordering;

  uint32_t tcpi_rcv_rtt;
  uint32_t tcpi_rcv_space;

  uint32_t tcpi_total_retrans;

  uint64_t tcpi_pacing_rate;
  uint64_t tcpi_max_pacing_rate;
  uint64_t tcpi_bytes_acked;
  uint64_t tcpi_bytes_received;
  uint32_t tcpi_segs_out;
  uint32_t tcpi_segs_in;

  uint32_t tcpi_notsent_bytes;
  uint32_t tcpi_min_rtt;
  uint32_t tcpi_data_segs_in;
  uint32_t tcpi_data_segs_out;

  uint64_t tcpi_delivery_rate;

  uint64_t tcpi_busy_time;
  uint64_t tcpi_rwnd_limited;
  uint64_t tcpi_sndbuf_limited;

  uint32_t tcpi_delivered;
  uint32_t tcpi_delivered_ce;

  uint64_t tcpi_bytes_sent;
  uint64_t tcpi_bytes_retrans;
  uint32_t tcpi_dsack_dups;
  uint32_t tcpi_reord_seen;

  uint32_t tcpi_rcv_ooopack;

  uint32_t tcpi_snd_wnd;
  uint32_t tcpi_rcv_wnd;

  uint32_t tcpi_rehash;

  uint16_t tcpi_total_rto;
  uint16_t tcpi_total_rto_recoveries;
  uint32_t tcpi_total_rto_time;
};

// The fields TypeScript reads, by name; binding.cc exports offsetof/sizeof of each. The two
// window scales share the byte after tcpi_options (4-bit fields have no offsetof): exported
// as TL_TCP_INFO_WSCALE_OFFSET.
#define TL_TCP_INFO_FIELDS(X)                                                                 \
  X(tcpi_state) X(tcpi_ca_state) X(tcpi_retransmits) X(tcpi_probes) X(tcpi_backoff)          \
  X(tcpi_options) X(tcpi_rto) X(tcpi_ato) X(tcpi_snd_mss) X(tcpi_rcv_mss) X(tcpi_unacked)    \
  X(tcpi_sacked) X(tcpi_lost) X(tcpi_retrans) X(tcpi_last_data_sent) X(tcpi_last_data_recv) \
  X(tcpi_last_ack_recv) X(tcpi_pmtu) X(tcpi_rcv_ssthresh) X(tcpi_rtt) X(tcpi_rttvar)         \
  X(tcpi_snd_ssthresh) X(tcpi_snd_cwnd) X(tcpi_advmss) X(tcpi_reordering) X(tcpi_rcv_rtt)    \
  X(tcpi_rcv_space) X(tcpi_total_retrans) X(tcpi_pacing_rate) X(tcpi_max_pacing_rate)        \
  X(tcpi_bytes_acked) X(tcpi_bytes_received) X(tcpi_segs_out) X(tcpi_segs_in)                \
  X(tcpi_notsent_bytes) X(tcpi_min_rtt) X(tcpi_data_segs_in) X(tcpi_data_segs_out)           \
  X(tcpi_delivery_rate) X(tcpi_busy_time) X(tcpi_rwnd_limited) X(tcpi_sndbuf_limited)        \
  X(tcpi_delivered) X(tcpi_delivered_ce) X(tcpi_bytes_sent) X(tcpi_bytes_retrans)            \
  X(tcpi_dsack_dups) X(tcpi_reord_seen) X(tcpi_rcv_ooopack) X(tcpi_snd_wnd) X(tcpi_rcv_wnd)  \
  X(tcpi_rehash) X(tcpi_total_rto) X(tcpi_total_rto_recoveries) X(tcpi_total_rto_time)

#define TL_TCP_INFO_WSCALE_OFFSET (offsetof(struct tl_kernel_tcp_info, tcpi_options) + 1)

// The uapi layout is fixed ABI: a slip in this copy fails the build.
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_rto) == 8, "tcp_info: tcpi_rto");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_last_data_sent) == 44, "tcp_info: tcpi_last_data_sent");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_last_data_recv) == 52, "tcp_info: tcpi_last_data_recv");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_last_ack_recv) == 56, "tcp_info: tcpi_last_ack_recv");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_total_retrans) == 100, "tcp_info: tcpi_total_retrans");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_pacing_rate) == 104, "tcp_info: tcpi_pacing_rate");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_delivery_rate) == 160, "tcp_info: tcpi_delivery_rate");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_snd_wnd) == 228, "tcp_info: tcpi_snd_wnd");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_total_rto) == 240, "tcp_info: tcpi_total_rto");
static_assert(offsetof(struct tl_kernel_tcp_info, tcpi_total_rto_time) == 244, "tcp_info: tcpi_total_rto_time");
static_assert(sizeof(struct tl_kernel_tcp_info) == 248, "tcp_info: size through tcpi_total_rto_time");
