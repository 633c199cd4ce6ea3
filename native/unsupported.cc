// Every platform but Linux: the package installs and loads, and each call says it is unsupported.
#include "liveness.h"

#include <errno.h>

const int tl_supported = 0;
// No socket options or event bits to offer: every call that would use them is refused.
const tl_constant tl_socket_constants[] = {{NULL, 0}};
const tl_constant tl_event_constants[] = {{NULL, 0}};

#define NO(site) TL_FAIL(ENOSYS, site)
int tl_set_keepalive(int, const tl_keepalive*) { return NO(TL_SITE_SO_KEEPALIVE); }
int tl_get_keepalive(int, tl_keepalive*) { return NO(TL_SITE_SO_KEEPALIVE); }
int tl_take_error(int) { return NO(TL_SITE_SO_ERROR); }
int tl_set_int(int, int, int, int) { return NO(TL_SITE_SOCKOPT); }
int tl_get_int(int, int, int, int*) { return NO(TL_SITE_SOCKOPT | TL_SITE_READ); }
int tl_poll(int32_t*, size_t) { return NO(TL_SITE_POLL); }
int tl_peek(int) { return NO(TL_SITE_RECV); }
int tl_tcp_info(int, void*, size_t) { return NO(TL_SITE_TCP_INFO); }
int tl_poller_create(void) { return NO(TL_SITE_EPOLL_CREATE); }
int tl_poller_ctl(int, int, int, uint32_t, uint64_t) { return NO(TL_SITE_EPOLL_CTL); }
int tl_poller_drain(int, double*, int) { return NO(TL_SITE_EPOLL_WAIT); }
void tl_poller_close(int) {}
