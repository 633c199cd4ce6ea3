// The floor: the same syscalls as the JS rows, made straight from C on the same sockets.
//
//   floor serve           listen on 127.0.0.1, print the port, accept and hold every connection
//                         (never reading) until stdin closes: the far ends of the bench's sockets
//                         live here, so the bench process keeps its fds for the near ends.
//   floor run [--single-thread]
//                         fd 3 is a connected TCP socket, fds 4.. more of them (inherited from the
//                         bench). Reads requests "name batch batches" from stdin and answers each
//                         with the ns per operation of every batch, timed as bench/index.js times
//                         the JS rows; the bench asks in rounds, interleaved with its own batches.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    if (strncmp(name, "poll-", 5) == 0) {
      // poll-N: a zero-timeout poll over fds 4 .. 4+N-1, asking what readiness() asks.
      npoll = atoi(name + 5);
      free(pollfds);
      pollfds = calloc(npoll, sizeof *pollfds);
      for (int k = 0; k < npoll; k++) {
        pollfds[k].fd = POLL_BASE + k;
        pollfds[k].events = POLLIN | POLLOUT | POLLRDHUP;
      }
      fn = op_poll;
      fn(0);
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

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "serve") == 0) return serve();
  if (argc >= 2 && strcmp(argv[1], "run") == 0) return run(argc >= 3 && strcmp(argv[2], "--single-thread") == 0);
  fprintf(stderr, "usage: floor serve | floor run [--single-thread] (then \"name batch batches\" lines on stdin)\n");
  return 2;
}
