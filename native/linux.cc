// Linux: the full platform.
#include "liveness.h"

#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_info.h"

const int tl_supported = 1;

const tl_constant tl_socket_constants[] = {
  {"SOL_SOCKET", SOL_SOCKET},       {"IPPROTO_TCP", IPPROTO_TCP},     {"SO_KEEPALIVE", SO_KEEPALIVE},
  {"SO_RCVBUF", SO_RCVBUF},         {"SO_SNDBUF", SO_SNDBUF},         {"TCP_NODELAY", TCP_NODELAY},
  {"TCP_KEEPIDLE", TCP_KEEPIDLE},   {"TCP_KEEPINTVL", TCP_KEEPINTVL}, {"TCP_KEEPCNT", TCP_KEEPCNT},
  {"TCP_USER_TIMEOUT", TCP_USER_TIMEOUT},
  {NULL, 0},
};

const tl_constant tl_event_constants[] = {
  {"POLLIN", POLLIN},       {"POLLOUT", POLLOUT},           {"POLLERR", POLLERR},
  {"POLLHUP", POLLHUP},     {"POLLNVAL", POLLNVAL},         {"POLLRDHUP", POLLRDHUP},
  {"EPOLL_CTL_ADD", EPOLL_CTL_ADD}, {"EPOLL_CTL_DEL", EPOLL_CTL_DEL}, {"EPOLL_CTL_MOD", EPOLL_CTL_MOD},
  {"EPOLLIN", EPOLLIN},     {"EPOLLOUT", EPOLLOUT},         {"EPOLLERR", EPOLLERR},
  {"EPOLLHUP", EPOLLHUP},   {"EPOLLRDHUP", EPOLLRDHUP},     {"EPOLLONESHOT", static_cast<int>(EPOLLONESHOT)},
  {NULL, 0},
};

// src/readiness.ts writes struct pollfd as two 32-bit words: fd, then events and revents.
static_assert(sizeof(struct pollfd) == 8 && offsetof(struct pollfd, events) == 4, "struct pollfd is two 32-bit words");

// The vendored tcp_info against glibc's, for every field glibc's header has.
#define TL_SAME_AS_GLIBC(field)                                                          \
  static_assert(offsetof(struct tl_kernel_tcp_info, field) == offsetof(struct tcp_info, field), \
                "native/tcp_info.h disagrees with <netinet/tcp.h> on " #field);
TL_SAME_AS_GLIBC(tcpi_state)
TL_SAME_AS_GLIBC(tcpi_options)
TL_SAME_AS_GLIBC(tcpi_rto)
TL_SAME_AS_GLIBC(tcpi_unacked)
TL_SAME_AS_GLIBC(tcpi_lost)
TL_SAME_AS_GLIBC(tcpi_retrans)
TL_SAME_AS_GLIBC(tcpi_last_data_sent)
TL_SAME_AS_GLIBC(tcpi_last_data_recv)
TL_SAME_AS_GLIBC(tcpi_last_ack_recv)
TL_SAME_AS_GLIBC(tcpi_pmtu)
TL_SAME_AS_GLIBC(tcpi_rtt)
TL_SAME_AS_GLIBC(tcpi_rttvar)
TL_SAME_AS_GLIBC(tcpi_snd_cwnd)
TL_SAME_AS_GLIBC(tcpi_reordering)
TL_SAME_AS_GLIBC(tcpi_rcv_rtt)
TL_SAME_AS_GLIBC(tcpi_rcv_space)
TL_SAME_AS_GLIBC(tcpi_total_retrans)
#undef TL_SAME_AS_GLIBC

static int set_opt(int fd, int level, int name, int value, int site) {
  if (setsockopt(fd, level, name, &value, sizeof value) == 0) return 0;
  return TL_FAIL(errno, site);
}

static int get_opt(int fd, int level, int name, int* value, int site) {
  socklen_t len = sizeof *value;
  if (getsockopt(fd, level, name, value, &len) == 0) return 0;
  return TL_FAIL(errno, site | TL_SITE_READ);
}

int tl_set_keepalive(int fd, const tl_keepalive* ka) {
  // The order is the kernel's, twice over (net/ipv4/tcp.c, tcp_timer.c):
  // - TCP-level options first: on anything that is not a TCP socket the first of them fails, so
  //   a pipe, a UDP or Unix socket or a file is refused before SO_KEEPALIVE (which any socket
  //   takes) could be half-applied. With only idle to set, setting it twice proves it is TCP
  //   (the first time also names the option the caller gave in an error); with no TCP-level
  //   option at all, a getsockopt does.
  // - Interval, count and user timeout before keepalive starts: the timer reads them when it
  //   fires, and the TCP_KEEPIDLE below may make it fire at once.
  // - SO_KEEPALIVE, then TCP_KEEPIDLE last: enabling keepalive that was off arms the timer a full
  //   idle from now (tcp_set_keepalive; when it was already on it is left alone), while setting
  //   TCP_KEEPIDLE on a socket with keepalive on re-arms it at idle minus the silence already
  //   passed (tcp_sock_set_keepidle_locked). So the first probe goes out idle after the peer was
  //   last heard, not idle after this call: at once on a connection already silent that long.
  int r = 0;
  if (ka->interval < 0 && ka->count < 0 && ka->user_timeout < 0) {
    int ignored;
    r = ka->idle >= 0 ? set_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle, TL_SITE_TCP_KEEPIDLE)
                      : get_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ignored, TL_SITE_TCP_KEEPIDLE);
  }
  if (r == 0 && ka->interval >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, ka->interval, TL_SITE_TCP_KEEPINTVL);
  if (r == 0 && ka->count >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, ka->count, TL_SITE_TCP_KEEPCNT);
  if (r == 0 && ka->user_timeout >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, ka->user_timeout, TL_SITE_TCP_USER_TIMEOUT);
  if (r == 0 && ka->enable >= 0)
    r = set_opt(fd, SOL_SOCKET, SO_KEEPALIVE, ka->enable ? 1 : 0, TL_SITE_SO_KEEPALIVE);
  if (r == 0 && ka->idle >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle, TL_SITE_TCP_KEEPIDLE);
  return r;
}

int tl_get_keepalive(int fd, tl_keepalive* out) {
  int r = get_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &out->idle, TL_SITE_TCP_KEEPIDLE);
  if (r == 0) r = get_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &out->interval, TL_SITE_TCP_KEEPINTVL);
  if (r == 0) r = get_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, &out->count, TL_SITE_TCP_KEEPCNT);
  if (r == 0)
    r = get_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &out->user_timeout, TL_SITE_TCP_USER_TIMEOUT);
  if (r == 0) r = get_opt(fd, SOL_SOCKET, SO_KEEPALIVE, &out->enable, TL_SITE_SO_KEEPALIVE);
  return r;
}

int tl_take_error(int fd) {
  int err = 0;
  int r = get_opt(fd, SOL_SOCKET, SO_ERROR, &err, TL_SITE_SO_ERROR);
  return r == 0 ? err : r;
}

int tl_set_int(int fd, int level, int name, int value) {
  return set_opt(fd, level, name, value, TL_SITE_SOCKOPT);
}

int tl_get_int(int fd, int level, int name, int* value) {
  return get_opt(fd, level, name, value, TL_SITE_SOCKOPT);
}

int tl_poll(int32_t* pollfds, size_t count) {
  int n;
  do n = poll(reinterpret_cast<struct pollfd*>(pollfds), count, 0);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : TL_FAIL(errno, TL_SITE_POLL);
}

int tl_peek(int fd) {
  char c;
  ssize_t n;
  do n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n > 0) return 1;
  if (n == 0) return 0;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 2;
  return TL_FAIL(errno, TL_SITE_RECV);
}

int tl_tcp_info(int fd, void* buf, size_t size) {
  socklen_t len = static_cast<socklen_t>(size);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, buf, &len) != 0) return TL_FAIL(errno, TL_SITE_TCP_INFO);
  return static_cast<int>(len);
}

int tl_port(int fd, int peer) {
  // Big enough for either family; a longer address (AF_UNIX) is truncated, its family still set.
  union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
  } addr;
  socklen_t len = sizeof addr;
  int site = peer ? TL_SITE_GETPEERNAME : TL_SITE_GETSOCKNAME;
  if ((peer ? getpeername(fd, &addr.sa, &len) : getsockname(fd, &addr.sa, &len)) != 0) return TL_FAIL(errno, site);
  if (addr.sa.sa_family == AF_INET) return ntohs(addr.in.sin_port);
  if (addr.sa.sa_family == AF_INET6) return ntohs(addr.in6.sin6_port);
  return TL_FAIL(EAFNOSUPPORT, site);  // no port to give: the caller asks Node instead
}

int tl_poller_create(void) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  return epfd >= 0 ? epfd : TL_FAIL(errno, TL_SITE_EPOLL_CREATE);
}

int tl_poller_ctl(int epfd, int op, int fd, uint32_t events, uint64_t id) {
  struct epoll_event ev = {};
  ev.events = events;
  ev.data.u64 = id;
  if (epoll_ctl(epfd, op, fd, &ev) == 0) return 0;
  return TL_FAIL(errno, TL_SITE_EPOLL_CTL);
}

int tl_poller_drain(int epfd, double* out, int max) {
  struct epoll_event evs[TL_POLLER_BATCH];
  if (max > TL_POLLER_BATCH) max = TL_POLLER_BATCH;
  int n;
  do n = epoll_wait(epfd, evs, max, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return TL_FAIL(errno, TL_SITE_EPOLL_WAIT);
  for (int i = 0; i < n; i++) {
    out[2 * i] = static_cast<double>(evs[i].data.u64);
    out[2 * i + 1] = evs[i].events;
  }
  return n;
}

void tl_poller_close(int epfd) {
  close(epfd);
}
