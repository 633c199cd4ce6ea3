// Linux: the walk of a process's fd table (/proc/<pid>/fd) for the connection inventory; see fds.h.
#include "fds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "liveness.h"

namespace tl_fds {
namespace {

// Closes the directory on every path, as Fd does an fd.
struct Dir {
  DIR* dir = nullptr;
  ~Dir() { if (dir != nullptr) closedir(dir); }
};

// What the walk's threads share; only Borrowed's flag changes.
struct Walk {
  int self;
  int dir;  // the open /proc/<pid>/fd, for fstatat where there is no duplicate
  Borrowed* fds;
};

// One fd: when it is a socket, its inode into *held (and, on a duplicate of another process's,
// its keepalive settings). Returns 0 or a TL_FAIL code.
int visit(const Walk& w, int fd, std::vector<Held>* held) {
  struct stat st;
  int copy = w.fds->take(fd);
  if (copy == Borrowed::kClosed) return 0;  // closed since the directory was read
  if (copy >= 0) {
    // The duplicate pins the file: its inode and settings are one socket's, whatever the process
    // does with the fd number meanwhile. Our own fd (self) is read by number, no path walk.
    if (fstat(copy, &st) != 0) {
      int err = errno;
      w.fds->give_back(copy);
      if (err == EBADF) return 0;  // our own, closed by another thread meanwhile
      return TL_FAIL(err, TL_SITE_OPENDIR);
    }
    if (S_ISSOCK(st.st_mode)) {
      held->push_back({static_cast<uint32_t>(st.st_ino), fd});
      // Read here, once, rather than after the dump on a second duplicate. On anything but a TCP
      // socket the first getsockopt fails: left unread, as it should be. Our own fds are read
      // after the dump, and only the TCP sockets it shows (see snapshot_once in diag_linux.cc).
      tl_keepalive ka;
      if (!w.self && tl_get_keepalive(copy, &ka) == 0) held->back().keepalive = ka;
    }
    w.fds->give_back(copy);
    return 0;
  }
  // No duplicate: the inode through the magic link, no settings.
  char name[16];
  snprintf(name, sizeof name, "%d", fd);
  if (fstatat(w.dir, name, &st, 0) != 0) {
    if (errno == ENOENT || errno == EBADF) return 0;  // closed while we read
    return TL_FAIL(errno, TL_SITE_OPENDIR);
  }
  if (S_ISSOCK(st.st_mode)) held->push_back({static_cast<uint32_t>(st.st_ino), fd});
  return 0;
}

// A share of the fds, walked by one thread into its own vector.
struct Share {
  const Walk* walk;
  const int* begin;
  const int* end;
  std::vector<Held> held;
  int result = 0;
};

void* walk_share(void* arg) {
  Share* s = static_cast<Share*>(arg);
  s->held.reserve(static_cast<size_t>(s->end - s->begin));
  for (const int* fd = s->begin; fd != s->end && s->result == 0; ++fd) s->result = visit(*s->walk, *fd, &s->held);
  return nullptr;
}

// Past this many fds a second thread walks half of them. Each fd costs 1 syscall (our own), 3
// (another process's non-socket: pidfd_getfd, fstat, close) or 8 (its TCP socket, with 5
// getsockopt), about 1.3 µs each, all independent: at 1024 fds the half handed over is 0.7 to 5
// ms of work, against some 0.1 ms for the thread (its stack mapping, clone, waking on the other
// CPU, join). Most processes have far fewer fds, and stay on one thread.
constexpr size_t kSplitAbove = 1024;

}  // namespace

int read_fds(int pid, int self, int netlink, Borrowed* fds, std::vector<Held>* held, uint32_t* count) {
  char path[64];
  // Our own through /proc/self: right even where /proc belongs to another pid namespace.
  if (self) snprintf(path, sizeof path, "/proc/self/fd");
  else snprintf(path, sizeof path, "/proc/%d/fd", pid);
  Dir d;
  d.dir = opendir(path);
  if (d.dir == nullptr) return TL_FAIL(errno, TL_SITE_OPENDIR);
  int own = dirfd(d.dir);
  // The numbers first (getdents only), then each fd: the per-fd work can then be shared out.
  std::vector<int> numbers;
  for (;;) {
    errno = 0;
    struct dirent* e = readdir(d.dir);
    if (e == nullptr) {
      if (errno != 0) return TL_FAIL(errno, TL_SITE_OPENDIR);
      break;
    }
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    int fd = atoi(e->d_name);
    if (self && (fd == own || fd == netlink)) continue;  // the directory being read, our dump's socket
    numbers.push_back(fd);
  }
  *count = static_cast<uint32_t>(numbers.size());

  const Walk walk = {self, own, fds};
  const int* middle = numbers.data() + numbers.size() / 2;
  Share first = {&walk, numbers.data(), numbers.data() + numbers.size(), {}};
  Share second = {&walk, middle, first.end, {}};
  pthread_t thread;
  // No thread to be had (a thread limit): one walks it all; a second thread only saves time.
  bool split = numbers.size() > kSplitAbove && pthread_create(&thread, nullptr, walk_share, &second) == 0;
  if (split) first.end = middle;
  walk_share(&first);
  if (split) pthread_join(thread, nullptr);  // before anything returns: it reads our stack
  if (first.result != 0) return first.result;
  if (split && second.result != 0) return second.result;
  held->swap(first.held);
  held->insert(held->end(), second.held.begin(), second.held.end());
  std::sort(held->begin(), held->end());
  return 0;
}

}  // namespace tl_fds
