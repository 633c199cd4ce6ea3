// The walk of a process's fd table (/proc/<pid>/fd): which of its fds are sockets, by inode, the
// connection inventory (diag_linux.cc) matches its inet_diag dump against. Plain C++, no N-API;
// Linux only (fds_linux.cc), and internal to the inventory: binding.cc never includes it.
#pragma once
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include "liveness.h"

namespace tl_fds {

// Closes what we opened (the inventory's netlink socket, Borrowed's pidfd), on every path.
struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) close(fd); }
};

// One fd of the process that is a socket, with its keepalive settings when the walk could read
// them (another process's TCP socket, on a duplicate); enable -1: not read.
struct Held {
  uint32_t inode;
  int fd;
  tl_keepalive keepalive = {-1, -1, -1, -1, -1};
  bool operator<(const Held& o) const { return inode != o.inode ? inode < o.inode : fd < o.fd; }
};

// The fds to read from: this process's own, or duplicates of another process's (pidfd_getfd,
// Linux 5.6), which the kernel grants where it would let us ptrace-attach (the same user, or
// root). A duplicate is only read (fstat, getsockopt: nothing the process sees changes) and closed
// at once; it is ours, the process's own fd is never touched. Safe to share between threads.
class Borrowed {
 public:
  static constexpr int kClosed = -1;  // the process closed that fd meanwhile
  static constexpr int kDenied = -2;  // no duplicate to be had (not permitted, no pidfd_getfd, ...)

  Borrowed(int pid, int self) : self_(self != 0) {
    if (!self_) pidfd_.fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  }
  // fd itself (our own), a duplicate of it, kClosed or kDenied.
  int take(int fd) {
    if (self_) return fd;
    if (pidfd_.fd < 0 || denied_.load(std::memory_order_relaxed)) return kDenied;
    int copy = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd_.fd, fd, 0));
    if (copy >= 0) return copy;
    if (errno == EBADF) return kClosed;
    // Not permitted (or not supported, or the process is gone): the same for every fd, so no
    // more tries. A flag, not closing the pidfd: another thread may be using it.
    denied_.store(true, std::memory_order_relaxed);
    return kDenied;
  }
  void give_back(int copy) {
    if (!self_ && copy >= 0) close(copy);
  }

 private:
  bool self_;
  Fd pidfd_;
  std::atomic<bool> denied_{false};
};

// The process's socket fds, sorted by inode, and how many fds it has in all. An fd closed between
// reading the directory and looking at it still counts in *count (it was open a moment ago; the
// count is the directory's), but is not in *held. `netlink`: the inventory's own netlink socket,
// open while it walks, which is not counted among this process's fds.
int read_fds(int pid, int self, int netlink, Borrowed* fds, std::vector<Held>* held, uint32_t* count);

}  // namespace tl_fds
