// The syscall core: plain functions that take an fd and return 0 (or a value) or -errno.
// No N-API here; binding.cc converts arguments and results. One implementation per OS,
// picked in binding.gyp.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Where a failure happened, so the JS error can name the syscall and the option. The one table
// of sites: binding.cc exports it (as `sites`, indexed by site code) for src/binding.ts and
// scripts/fuzz.js, so a site's meaning is written here only.
//   X(name, syscall, option or NULL)
#define TL_SITE_TABLE(X)                                   \
  X(NONE, "unknown", NULL)                                 \
  X(SO_KEEPALIVE, "setsockopt", "SO_KEEPALIVE")            \
  X(TCP_KEEPIDLE, "setsockopt", "TCP_KEEPIDLE")            \
  X(TCP_KEEPINTVL, "setsockopt", "TCP_KEEPINTVL")          \
  X(TCP_KEEPCNT, "setsockopt", "TCP_KEEPCNT")              \
  X(TCP_USER_TIMEOUT, "setsockopt", "TCP_USER_TIMEOUT")    \
  X(SO_ERROR, "getsockopt", "SO_ERROR")                    \
  X(TCP_INFO, "getsockopt", "TCP_INFO")                    \
  X(POLL, "poll", NULL)                                    \
  X(RECV, "recv", NULL)                                    \
  X(EPOLL_CTL, "epoll_ctl", NULL)                          \
  X(EPOLL_CREATE, "epoll_create1", NULL)                   \
  X(EPOLL_WAIT, "epoll_wait", NULL)                        \
  X(SOCKOPT, "setsockopt", NULL) /* the integer escape hatch */ \
  X(OPENDIR, "opendir", NULL) /* the inventory: /proc/<pid>/fd */ \
  X(NETLINK, "netlink", "NETLINK_SOCK_DIAG") /* its dump */      \
  X(SETNS, "setns", NULL) /* entering a process's network namespace */ \
  X(GETPEERNAME, "getpeername", NULL) /* a policy's remotePort */ \
  X(GETSOCKNAME, "getsockname", NULL) /* and its localPort */

#define TL_SITE_ENUM(name, syscall, option) TL_SITE_##name,
enum tl_site { TL_SITE_TABLE(TL_SITE_ENUM) TL_SITE_COUNT };
#undef TL_SITE_ENUM

// Added to a setsockopt site when the failing call was getsockopt on the same option. Above
// every site (19 of them since the port lookups' two).
#define TL_SITE_READ 32

// A failure is returned as -(errno * TL_SITES + site): one negative number, no allocation.
#define TL_SITES 64
#define TL_FAIL(err, site) (-((err) * TL_SITES + (site)))

// Ready registrations one drain hands to JS at most; the JS side sizes its buffer from it.
#define TL_POLLER_BATCH 256

// Keepalive settings; a negative field means "leave as it is". Seconds for idle/interval,
// milliseconds for user_timeout, as the kernel takes them.
struct tl_keepalive {
  int enable;
  int idle;
  int interval;
  int count;
  int user_timeout;
};

// A named integer the platform defines (a socket option, a poll bit), for binding.cc to export.
struct tl_constant {
  const char* name;
  int value;
};

// Whether this build does the real thing (Linux) or refuses every call (elsewhere).
extern const int tl_supported;
// Socket-option numbers users pass to getOption/setOption (public), terminated by {NULL, 0}.
extern const tl_constant tl_socket_constants[];
// poll/epoll bits and epoll_ctl ops the TypeScript side uses (internal), terminated by {NULL, 0}.
extern const tl_constant tl_event_constants[];

int tl_set_keepalive(int fd, const tl_keepalive* ka);
int tl_get_keepalive(int fd, tl_keepalive* out);
int tl_take_error(int fd);  // >= 0: the pending errno (0: none), then cleared
int tl_set_int(int fd, int level, int name, int value);
int tl_get_int(int fd, int level, int name, int* value);
// Zero timeout over count (fd, events | revents) pairs laid out as struct pollfd, in place;
// returns how many are ready.
int tl_poll(int32_t* pollfds, size_t count);
int tl_peek(int fd);                              // 1 data, 0 eof, 2 nothing to read
int tl_tcp_info(int fd, void* buf, size_t size);  // returns bytes the kernel filled
// The peer's port (peer != 0: getpeername) or the local one (getsockname), IPv4 or IPv6, in host
// order; no address is formatted.
int tl_port(int fd, int peer);

// A private epoll set. Events carry a caller-chosen id, never an fd number.
int tl_poller_create(void);
int tl_poller_ctl(int epfd, int op, int fd, uint32_t events, uint64_t id);
// Fills out[] with up to max (<= TL_POLLER_BATCH) ready (id, events) pairs; returns how many.
int tl_poller_drain(int epfd, double* out, int max);
// Closes an epoll fd tl_poller_create opened.
void tl_poller_close(int epfd);
