// Linux: the full platform.
#include "liveness.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

const int tl_supported = 1;

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
  // TCP-level options go first: on anything that is not a TCP socket the first of them fails,
  // so a pipe, a UDP socket or a file is refused before SO_KEEPALIVE (which any socket takes)
  // could be half-applied. With no TCP-level option to set, ask one to prove it is TCP.
  int r = 0;
  if (ka->idle < 0 && ka->interval < 0 && ka->count < 0 && ka->user_timeout < 0) {
    int ignored;
    r = get_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ignored, TL_SITE_TCP_KEEPIDLE);
  }
  if (r == 0 && ka->idle >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle, TL_SITE_TCP_KEEPIDLE);
  if (r == 0 && ka->interval >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, ka->interval, TL_SITE_TCP_KEEPINTVL);
  if (r == 0 && ka->count >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, ka->count, TL_SITE_TCP_KEEPCNT);
  if (r == 0 && ka->user_timeout >= 0)
    r = set_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, ka->user_timeout, TL_SITE_TCP_USER_TIMEOUT);
  if (r == 0 && ka->enable >= 0)
    r = set_opt(fd, SOL_SOCKET, SO_KEEPALIVE, ka->enable ? 1 : 0, TL_SITE_SO_KEEPALIVE);
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

int tl_poll(void* pollfds, size_t count) {
  int n;
  do n = poll(static_cast<struct pollfd*>(pollfds), count, 0);
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
  struct epoll_event evs[256];
  if (max > 256) max = 256;
  int n;
  do n = epoll_wait(epfd, evs, max, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return TL_FAIL(errno, TL_SITE_EPOLL_CTL);
  for (int i = 0; i < n; i++) {
    out[2 * i] = static_cast<double>(evs[i].data.u64);
    out[2 * i + 1] = evs[i].events;
  }
  return n;
}
