// Every platform but Linux: the package installs and loads, and each call says it is unsupported.
#include "liveness.h"

#include <errno.h>

const int tl_supported = 0;
// No socket options to offer: every call that would take them is refused.
const tl_constant tl_socket_constants[] = {{NULL, 0}};
// Never passed to a syscall here, but TypeScript builds its Readiness objects from distinct
// bits, so a target without an fd still reads as invalid: Linux's generic values.
const tl_constant tl_event_constants[] = {
  {"POLLIN", 0x1},    {"POLLOUT", 0x4},    {"POLLERR", 0x8},       {"POLLHUP", 0x10},
  {"POLLNVAL", 0x20}, {"POLLRDHUP", 0x2000},
  {"EPOLL_CTL_ADD", 1}, {"EPOLL_CTL_DEL", 2}, {"EPOLL_CTL_MOD", 3},
  {"EPOLLIN", 0x1},   {"EPOLLOUT", 0x4},   {"EPOLLERR", 0x8},      {"EPOLLHUP", 0x10},
  {"EPOLLRDHUP", 0x2000}, {"EPOLLONESHOT", 0x40000000},
  {NULL, 0},
};

#define NO(site) TL_FAIL(ENOSYS, site)
int tl_set_keepalive(int, const tl_keepalive*) { return NO(TL_SITE_SO_KEEPALIVE); }
int tl_get_keepalive(int, tl_keepalive*) { return NO(TL_SITE_SO_KEEPALIVE); }
int tl_take_error(int) { return NO(TL_SITE_SO_ERROR); }
int tl_set_int(int, int, int, int) { return NO(TL_SITE_SOCKOPT); }
int tl_get_int(int, int, int, int*) { return NO(TL_SITE_SOCKOPT | TL_SITE_READ); }
int tl_poll(int32_t*, size_t) { return NO(TL_SITE_POLL); }
int tl_peek(int) { return NO(TL_SITE_RECV); }
int tl_tcp_info(int, void*, size_t) { return NO(TL_SITE_TCP_INFO); }
int tl_port(int, int peer) { return NO(peer ? TL_SITE_GETPEERNAME : TL_SITE_GETSOCKNAME); }
int tl_poller_create(void) { return NO(TL_SITE_EPOLL_CREATE); }
int tl_poller_ctl(int, int, int, uint32_t, uint64_t) { return NO(TL_SITE_EPOLL_CTL); }
int tl_poller_drain(int, double*, int) { return NO(TL_SITE_EPOLL_WAIT); }
void tl_poller_close(int) {}
