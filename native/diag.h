// The connection inventory's core: one snapshot of a process's TCP sockets, made from its fd
// table (/proc/<pid>/fd) and one NETLINK_SOCK_DIAG dump for IPv4 and IPv6, the interface `ss`
// uses. Plain C++, no N-API; binding.cc converts. One implementation per OS (diag_linux.cc with
// fds_linux.cc's walk of the fds, diag_unsupported.cc), picked in binding.gyp.
#pragma once
#include <stdint.h>

#include <vector>

// One socket as the kernel reports it. src/connections/snapshot.ts reads it by offset: the
// static_asserts in diag_linux.cc pin every field it reads.
struct tl_conn {
  uint8_t family;   // AF_INET or AF_INET6
  uint8_t state;    // the kernel's TCP state number (TCP_ESTABLISHED = 1, ...)
  uint8_t timer;    // 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe
  uint8_t retrans;  // retransmissions (timer 1) or unanswered probes (timers 2, 4)
  uint16_t local_port;   // host byte order
  uint16_t remote_port;
  uint32_t inode;   // 0: no longer held by any fd (TIME_WAIT, orphaned)
  uint32_t uid;
  uint32_t expires;  // ms until the timer fires
  uint32_t recv_queue;  // bytes (a listener: connections waiting in accept)
  uint32_t send_queue;  // bytes (a listener: its backlog)
  int32_t fd;        // the process's fd holding it, -1 when none
  uint8_t local_address[16];   // network byte order; IPv4 in the first 4 bytes
  uint8_t remote_address[16];
  // From struct tcp_info (INET_DIAG_INFO); info_bytes = 0 when the kernel sent none.
  uint32_t info_bytes;
  uint32_t last_data_sent;  // ms ago
  uint32_t last_data_recv;
  uint32_t last_ack_recv;
  uint32_t unacked;         // segments sent and not yet acknowledged
  uint32_t probes;
  uint32_t backoff;
  uint32_t rto;             // µs
  uint32_t rtt;             // µs
  uint32_t total_retrans;
  // Keepalive settings read back on the process's fd (as tl_get_keepalive; another process's
  // through a duplicate, where the kernel grants one), -1: not read.
  int32_t ka_enable, ka_idle, ka_interval, ka_count, ka_user_timeout;
  // 0: from the kernel's socket tables; 1: from the fd alone (TCP_INFO), because the tables no
  // longer hold it (the kernel closed it) or it lives in another network namespace.
  int32_t source;
};

struct tl_snapshot {
  uint32_t fds = 0;  // open fds of the process, sockets or not
  std::vector<tl_conn> conns;
};

// Fills *out with every TCP socket whose inode is among pid's fds, plus the sockets no fd holds
// (inode 0: TIME_WAIT, orphans, half-open requests) on the ports where one of them listens.
// self != 0: pid is this process, whose fds it reads options from; otherwise it reads them on
// duplicates (pidfd_getfd) where the kernel grants them. netns_fd >= 0: dump in that network
// namespace (needs CAP_SYS_ADMIN), the one pid lives in. Returns 0 or a TL_FAIL code.
int tl_diag_snapshot(int pid, int self, int netns_fd, tl_snapshot* out);
