// The floor: the same syscalls as the JS rows, made straight from C on the same sockets.
//
//   floor serve           listen on 127.0.0.1, print the port, accept and hold every connection
//                         (never reading) until stdin closes: the far ends of the bench's sockets
//                         live here, so the bench process keeps its fds for the near ends.
//   floor run [--single-thread]
//                         fd 3 is a connected TCP socket, fds 4.. more of them (inherited from the
//                         bench, or from bench/monitor.js for the epoll-N and keepalive-N floors).
//                         Reads requests "name batch batches" from stdin and answers each with the
//                         ns per operation of every batch, timed as bench/index.js times the JS
//                         rows; the bench asks in rounds, interleaved with its own batches.
//   floor peer            the far ends of bench/monitor.js's monitored sockets, and the faults it
//                         times. Reads commands from stdin until it closes:
//                           connect PORT N  connect N more sockets to 127.0.0.1:PORT, one at a time
//                                           (blocking); answers "connected TOTAL"
//                           fin LPORT       shutdown(SHUT_WR) the socket whose local port is LPORT:
//                                           the peer's FIN
//                           rst LPORT       close it with SO_LINGER 0: an RST
//                           ping LPORT      write one byte on it: the control, a wakeup for Node itself
//                         and answers each with "fault LPORT T", T the CLOCK_MONOTONIC ns
//                         taken just before the syscall. Node's process.hrtime.bigint() reads the
//                         same clock (libuv's uv_hrtime), system-wide, so the bench subtracts the
//                         two to get the latency from the fault to its 'dead' event.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SOCK 3
#define POLL_BASE 4

static void die(const char* what) {
  fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void set(int level, int name, int value) {
  if (setsockopt(SOCK, level, name, &value, sizeof value) != 0) die("setsockopt");
}

static int get(int level, int name) {
  int value;
  socklen_t len = sizeof value;
  if (getsockopt(SOCK, level, name, &value, &len) != 0) die("getsockopt");
  return value;
}

static volatile int sink;
static struct pollfd* pollfds;
static int npoll;

// One operation; i alternates values where the JS side does (Node skips a setKeepAlive that
// changes nothing, so every full-configuration row switches idle between 10 s and 11 s).
static void op_set_intvl(long i) { (void)i; set(IPPROTO_TCP, TCP_KEEPINTVL, 7); }
static void op_set_intvl_ka(long i) {  // what setKeepAlive(s, { interval }) does: enable defaults to true
  (void)i;
  set(IPPROTO_TCP, TCP_KEEPINTVL, 7);
  set(SOL_SOCKET, SO_KEEPALIVE, 1);
}
static void op_get_intvl(long i) { (void)i; sink = get(IPPROTO_TCP, TCP_KEEPINTVL); }
static void op_set_keepalive4(long i) {
  set(IPPROTO_TCP, TCP_KEEPIDLE, 10 + (int)(i & 1));
  set(IPPROTO_TCP, TCP_KEEPINTVL, 2);
  set(IPPROTO_TCP, TCP_KEEPCNT, 3);
  set(SOL_SOCKET, SO_KEEPALIVE, 1);
}
static void op_get_keepalive5(long i) {
  (void)i;
  sink = get(IPPROTO_TCP, TCP_KEEPIDLE) + get(IPPROTO_TCP, TCP_KEEPINTVL) + get(IPPROTO_TCP, TCP_KEEPCNT) +
         get(IPPROTO_TCP, TCP_USER_TIMEOUT) + get(SOL_SOCKET, SO_KEEPALIVE);
}
static void op_so_error(long i) { (void)i; sink = get(SOL_SOCKET, SO_ERROR); }
static void op_poll(long i) {
  (void)i;
  int n = poll(pollfds, npoll, 0);
  if (n < 0) die("poll");
  sink = n;
}

// epoll-N and keepalive-N: what LivenessMonitor add() + delete() cost the kernel, per socket, on
// fds 4 .. 4+N-1. One operation is the whole set; the bench divides by N.
static int epfd = -1;
static void op_epoll(long i) {
  (void)i;
  for (int k = 0; k < npoll; k++) {
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.u64 = (uint64_t)k};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, POLL_BASE + k, &ev) != 0) die("epoll_ctl ADD");
  }
  for (int k = 0; k < npoll; k++)
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, POLL_BASE + k, NULL) != 0) die("epoll_ctl DEL");
}
static void op_keepalive(long i) {  // setKeepAlive with all five fields: four TCP options, then SO_KEEPALIVE
  (void)i;
  for (int k = 0; k < npoll; k++) {
    int fd = POLL_BASE + k, v[5] = {120, 10, 3, 150000, 1};
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v[0], sizeof v[0]) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v[1], sizeof v[1]) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v[2], sizeof v[2]) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v[3], sizeof v[3]) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v[4], sizeof v[4]) != 0)
      die("setsockopt");
  }
}

static const struct {
  const char* name;
  void (*fn)(long);
} ops[] = {
    {"set-intvl", op_set_intvl},           {"set-intvl-ka", op_set_intvl_ka}, {"get-intvl", op_get_intvl},
    {"set-keepalive4", op_set_keepalive4}, {"get-keepalive5", op_get_keepalive5}, {"so-error", op_so_error},
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// Prints the ns per operation of each of `batches` batches of `batch` operations, on one line.
static void measure(void (*fn)(long), long batch, long batches) {
  static long i;
  for (long b = 0; b < batches; b++) {
    double t0 = now_ns();
    for (long k = 0; k < batch; k++) fn(i++);
    printf("%s%.3f", b ? " " : "", (now_ns() - t0) / batch);
  }
  printf("\n");
  fflush(stdout);
}

static void* idle(void* arg) {
  for (;;) pause();
  return arg;
}

// Reads "name batch batches" lines from stdin until it closes; answers each with one line.
static int run(int single_thread) {
  // Node is never single-threaded, and the kernel takes a slower path for fds of a process
  // whose threads share the fd table (fdget takes a reference, fput drops it): ~70 ns per
  // syscall here. An idle thread puts the floor on the path every Node call takes.
  pthread_t thread;
  if (!single_thread && (errno = pthread_create(&thread, NULL, idle, NULL)) != 0) die("pthread_create");
  char line[256], name[64];
  long batch, batches;
  while (fgets(line, sizeof line, stdin)) {
    if (sscanf(line, "%63s %ld %ld", name, &batch, &batches) != 3 || batch < 1 || batches < 1) {
      fprintf(stderr, "floor: bad request %s", line);
      return 2;
    }
    void (*fn)(long) = NULL;
    const char* dash = strchr(name, '-');
    if (dash && (strncmp(name, "poll-", 5) == 0 || strncmp(name, "epoll-", 6) == 0 || strncmp(name, "keepalive-", 10) == 0)) {
      // poll-N: a zero-timeout poll over fds 4 .. 4+N-1, asking what readiness() asks; epoll-N
      // and keepalive-N: see op_epoll. The poll also proves the N fds are open.
      npoll = atoi(dash + 1);
      free(pollfds);
      pollfds = calloc(npoll, sizeof *pollfds);
      for (int k = 0; k < npoll; k++) {
        pollfds[k].fd = POLL_BASE + k;
        pollfds[k].events = POLLIN | POLLOUT | POLLRDHUP;
      }
      fn = name[0] == 'p' ? op_poll : name[0] == 'e' ? op_epoll : op_keepalive;
      if (fn == op_epoll && epfd < 0) {
        // Watched by another epoll set, as LivenessMonitor's is by libuv's: the kernel then takes
        // its slower, loop-checking path for every EPOLL_CTL_ADD.
        int outer = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        epfd = epoll_create1(EPOLL_CLOEXEC);
        if (outer < 0 || epfd < 0 || epoll_ctl(outer, EPOLL_CTL_ADD, epfd, &ev) != 0) die("epoll_create1");
      }
      op_poll(0);
      for (int k = 0; k < npoll; k++)
        if (pollfds[k].revents & POLLNVAL) {
          fprintf(stderr, "floor: fd %d is not open: %s needs %d inherited sockets\n", POLL_BASE + k, name, npoll);
          return 2;
        }
    }
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
      if (strcmp(ops[k].name, name) == 0) fn = ops[k].fn;
    if (fn == NULL) {
      fprintf(stderr, "floor: unknown op %s\n", name);
      return 2;
    }
    measure(fn, batch, batches);
  }
  return 0;
}

static int serve(void) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (lfd < 0 || bind(lfd, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0 ||
      getsockname(lfd, (struct sockaddr*)&addr, &len) != 0)
    die("listen");
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = 0, .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0 && errno != EINTR) die("poll");
    if (p[1].revents) return 0;  // stdin closed: the bench is done
    while (accept4(lfd, NULL, NULL, SOCK_CLOEXEC) >= 0) {
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR) die("accept");
  }
}

static int peer(void) {
  static int by_port[65536];  // fd + 1 of the socket with that local port; 0: none
  char line[256], cmd[32];
  long a, b;
  int total = 0;
  while (fgets(line, sizeof line, stdin)) {
    int n = sscanf(line, "%31s %ld %ld", cmd, &a, &b);
    if (n == 3 && strcmp(cmd, "connect") == 0) {
      struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
      for (long k = 0; k < b; k++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in me;
        socklen_t len = sizeof me;
        if (fd < 0 || connect(fd, (struct sockaddr*)&to, sizeof to) != 0 || getsockname(fd, (struct sockaddr*)&me, &len) != 0)
          die("peer connect");
        by_port[ntohs(me.sin_port)] = fd + 1;
        total++;
      }
      printf("connected %d\n", total);
    } else if (n == 2 && strcmp(cmd, "ping") == 0 && a > 0 && a < 65536 && by_port[a]) {
      double t = now_ns();
      if (write(by_port[a] - 1, "x", 1) != 1) die("write");
      printf("fault %ld %.0f\n", a, t);
    } else if (n == 2 && (strcmp(cmd, "fin") == 0 || strcmp(cmd, "rst") == 0) && a > 0 && a < 65536 && by_port[a]) {
      int fd = by_port[a] - 1;
      by_port[a] = 0;
      double t;
      if (cmd[0] == 'f') {
        t = now_ns();
        if (shutdown(fd, SHUT_WR) != 0) die("shutdown");
        // The fd stays open: closing it now would answer the monitored end's own close with an RST.
      } else {
        struct linger hard = {.l_onoff = 1, .l_linger = 0};
        if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) != 0) die("setsockopt SO_LINGER");
        t = now_ns();
        close(fd);
      }
      printf("fault %ld %.0f\n", a, t);
    } else {
      fprintf(stderr, "floor: bad peer command %s", line);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "serve") == 0) return serve();
  if (argc >= 2 && strcmp(argv[1], "peer") == 0) return peer();
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return run(argc >= 3 && strcmp(argv[2], "--single-thread") == 0);
  fprintf(stderr, "usage: floor serve | floor run [--single-thread] (then \"name batch batches\" lines on stdin) | floor peer\n");
  return 2;
}
