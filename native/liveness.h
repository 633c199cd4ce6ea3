// The syscall core: plain functions that take an fd and return 0 (or a value) or -errno.
// No N-API here; binding.cc converts arguments and results. One implementation per OS,
// picked in binding.gyp.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Where a failure happened, so the JS error can name the option and the syscall.
// Keep in step with SITES in src/binding.ts.
enum tl_site {
  TL_SITE_NONE = 0,
  TL_SITE_SO_KEEPALIVE,
  TL_SITE_TCP_KEEPIDLE,
  TL_SITE_TCP_KEEPINTVL,
  TL_SITE_TCP_KEEPCNT,
  TL_SITE_TCP_USER_TIMEOUT,
  TL_SITE_SO_ERROR,
  TL_SITE_TCP_INFO,
  TL_SITE_POLL,
  TL_SITE_RECV,
  TL_SITE_EPOLL_CTL,
  TL_SITE_EPOLL_CREATE,
  TL_SITE_SOCKOPT,  // the integer escape hatch
  TL_SITE_COUNT      // < TL_SITE_READ
};

// Added to a site when the failing call was getsockopt rather than setsockopt.
#define TL_SITE_READ 16

// A failure is returned as -(errno * TL_SITES + site): one negative number, no allocation.
#define TL_SITES 32
#define TL_FAIL(err, site) (-((err) * TL_SITES + (site)))

// Keepalive settings; a negative field means "leave as it is". Seconds for idle/interval,
// milliseconds for user_timeout, as the kernel takes them.
struct tl_keepalive {
  int enable;
  int idle;
  int interval;
  int count;
  int user_timeout;
};

// Whether this build does the real thing (Linux) or refuses every call (elsewhere).
extern const int tl_supported;

int tl_set_keepalive(int fd, const tl_keepalive* ka);
int tl_get_keepalive(int fd, tl_keepalive* out);
int tl_take_error(int fd);  // >= 0: the pending errno (0: none), then cleared
int tl_set_int(int fd, int level, int name, int value);
int tl_get_int(int fd, int level, int name, int* value);
int tl_poll(void* pollfds, size_t count);  // zero timeout; returns how many are ready
int tl_peek(int fd);                       // 1 data, 0 eof, 2 nothing to read
int tl_tcp_info(int fd, void* buf, size_t size);  // returns bytes the kernel filled

// A private epoll set. Events carry a caller-chosen id, never an fd number.
int tl_poller_create(void);
int tl_poller_ctl(int epfd, int op, int fd, uint32_t events, uint64_t id);
// Fills ids[] and events[] with up to max ready registrations; returns how many.
int tl_poller_drain(int epfd, double* out, int max);
