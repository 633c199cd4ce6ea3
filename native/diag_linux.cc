// Linux: the connection inventory from NETLINK_SOCK_DIAG (inet_diag) dumps, matched against the
// walk of /proc/<pid>/fd (fds_linux.cc).
#include "diag.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "fds.h"
#include "liveness.h"

// What src/connections/snapshot.ts reads, by offset (it reads the record as 32-bit words and
// bytes): a change here must change it too, and this fails the build first.
static_assert(sizeof(tl_conn) == 128, "tl_conn is 128 bytes");
static_assert(offsetof(tl_conn, local_port) == 4 && offsetof(tl_conn, inode) == 8, "tl_conn ports, inode");
static_assert(offsetof(tl_conn, expires) == 16 && offsetof(tl_conn, fd) == 28, "tl_conn expires, fd");
static_assert(offsetof(tl_conn, local_address) == 32 && offsetof(tl_conn, remote_address) == 48, "tl_conn addresses");
static_assert(offsetof(tl_conn, info_bytes) == 64 && offsetof(tl_conn, total_retrans) == 100, "tl_conn tcp_info part");
static_assert(offsetof(tl_conn, ka_enable) == 104 && offsetof(tl_conn, source) == 124, "tl_conn keepalive, source");
// The tcp_info fields copied, where the kernel's uapi puts them (glibc's header has them all).
static_assert(offsetof(struct tcp_info, tcpi_last_data_sent) == 44, "tcpi_last_data_sent");
static_assert(offsetof(struct tcp_info, tcpi_last_ack_recv) == 56, "tcpi_last_ack_recv");
static_assert(offsetof(struct tcp_info, tcpi_total_retrans) == 100, "tcpi_total_retrans");

namespace {

// The fd walk (fds_linux.cc), used here by its plain names.
using tl_fds::Borrowed;
using tl_fds::Fd;
using tl_fds::Held;
using tl_fds::read_fds;

// The netlink socket, opened in the given network namespace (or ours).
struct InNamespace {
  int netns_fd;
  int fd;
  int result;
};

// A socket belongs to the namespace of the thread that made it, for life. setns changes only the
// calling thread's namespace, so a thread of our own enters, makes the socket and ends: the
// caller's thread never leaves its namespace, and there is nothing to restore (or fail to).
void* open_in_namespace(void* arg) {
  InNamespace* job = static_cast<InNamespace*>(arg);
  if (setns(job->netns_fd, CLONE_NEWNET) != 0) {
    job->result = TL_FAIL(errno, TL_SITE_SETNS);
    return nullptr;
  }
  job->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  job->result = job->fd >= 0 ? 0 : TL_FAIL(errno, TL_SITE_NETLINK);
  return nullptr;
}

int open_netlink(int netns_fd, Fd* nl) {
  if (netns_fd < 0) {
    nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    return nl->fd >= 0 ? 0 : TL_FAIL(errno, TL_SITE_NETLINK);
  }
  InNamespace job = {netns_fd, -1, 0};
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, open_in_namespace, &job);
  if (err != 0) return TL_FAIL(err, TL_SITE_SETNS);
  pthread_join(thread, nullptr);
  nl->fd = job.fd;  // the thread shares our fd table: the socket is ours to use and close
  return job.result;
}

// A connection request not yet accepted (include/net/tcp_states.h); not in the uapi headers.
constexpr int kTcpNewSynRecv = 12;

// 12 bytes of filter per port; an attribute's length is 16 bits.
constexpr size_t kMaxFilterPorts = 4096;

const Held* find(const std::vector<Held>& held, uint32_t inode) {
  auto it = std::lower_bound(held.begin(), held.end(), Held{inode, -1});
  return it != held.end() && it->inode == inode ? &*it : nullptr;
}

void from_diag(const inet_diag_msg* m, const struct tcp_info* info, size_t info_bytes, tl_conn* c) {
  memset(c, 0, sizeof *c);
  c->family = m->idiag_family;
  c->state = m->idiag_state;
  c->timer = m->idiag_timer;
  c->retrans = m->idiag_retrans;
  c->local_port = ntohs(m->id.idiag_sport);
  c->remote_port = ntohs(m->id.idiag_dport);
  c->inode = m->idiag_inode;
  c->uid = m->idiag_uid;
  c->expires = m->idiag_expires;
  c->recv_queue = m->idiag_rqueue;
  c->send_queue = m->idiag_wqueue;
  c->fd = -1;
  memcpy(c->local_address, m->id.idiag_src, 16);
  memcpy(c->remote_address, m->id.idiag_dst, 16);
  c->info_bytes = static_cast<uint32_t>(info_bytes);
  if (info_bytes > 0) {
    c->last_data_sent = info->tcpi_last_data_sent;
    c->last_data_recv = info->tcpi_last_data_recv;
    c->last_ack_recv = info->tcpi_last_ack_recv;
    c->unacked = info->tcpi_unacked;
    c->probes = info->tcpi_probes;
    c->backoff = info->tcpi_backoff;
    c->rto = info->tcpi_rto;
    c->rtt = info->tcpi_rtt;
    c->total_retrans = info->tcpi_total_retrans;
  }
  c->ka_enable = c->ka_idle = c->ka_interval = c->ka_count = c->ka_user_timeout = -1;
}

void put_keepalive(tl_conn* c, const tl_keepalive& ka) {
  c->ka_enable = ka.enable;
  c->ka_idle = ka.idle;
  c->ka_interval = ka.interval;
  c->ka_count = ka.count;
  c->ka_user_timeout = ka.user_timeout;
}

// A kernel-side filter (INET_DIAG_REQ_BYTECODE) that passes sockets whose local port is one of
// `ports`, built as ss builds `sport = :a or sport = :b ...`: per port a test whose "no" skips the
// JMP after it, and a JMP to the end (accept) when it matched. The kernel's audit only accepts
// jumps that land on an op reachable through the "yes" chain, which this layout keeps.
std::vector<char> port_filter(const std::vector<uint16_t>& ports) {
  std::vector<char> bc;
  for (size_t i = 0; i < ports.size(); i++) {
    inet_diag_bc_op test[2] = {{INET_DIAG_BC_S_EQ, 8, 12}, {0, 0, ports[i]}};
    bc.insert(bc.end(), reinterpret_cast<char*>(test), reinterpret_cast<char*>(test) + sizeof test);
    if (i + 1 == ports.size()) break;
    uint16_t rest = static_cast<uint16_t>((ports.size() - i - 1) * 12 - 4);
    inet_diag_bc_op jump = {INET_DIAG_BC_JMP, 4, static_cast<uint16_t>(rest + 4)};
    bc.insert(bc.end(), reinterpret_cast<char*>(&jump), reinterpret_cast<char*>(&jump) + sizeof jump);
  }
  return bc;
}

// One dump of the TCP sockets in `states`, IPv4 and IPv6, with tcp_info, through `filter` when
// it is not empty: every one into *out (fd -1), whose they are is keep_held's to say.
// TCPDIAG_GETSOCK rather than SOCK_DIAG_BY_FAMILY: the kernel answers it for both families in
// one walk of its socket table (AF_UNSPEC), where the newer request walks the whole (shared)
// table once per family. The walk is the cost on a host with many sockets.
int dump(int nl, uint32_t states, const std::vector<char>& filter, uint32_t seq, std::vector<tl_conn>* out) {
  struct Request {
    nlmsghdr nlh;
    inet_diag_req req;
  };
  std::vector<char> msg(NLMSG_ALIGN(sizeof(Request)) + (filter.empty() ? 0 : RTA_SPACE(filter.size())), 0);
  Request* r = reinterpret_cast<Request*>(msg.data());
  r->nlh.nlmsg_len = static_cast<uint32_t>(msg.size());
  r->nlh.nlmsg_type = TCPDIAG_GETSOCK;
  r->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  r->nlh.nlmsg_seq = seq;
  r->req.idiag_states = states;
  r->req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
  if (!filter.empty()) {
    rtattr* a = reinterpret_cast<rtattr*>(msg.data() + NLMSG_ALIGN(sizeof(Request)));
    a->rta_type = INET_DIAG_REQ_BYTECODE;
    a->rta_len = static_cast<uint16_t>(RTA_LENGTH(filter.size()));
    memcpy(RTA_DATA(a), filter.data(), filter.size());
  }
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do sent = sendto(nl, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return TL_FAIL(errno, TL_SITE_NETLINK);

  std::vector<char> buf(64 * 1024);
  for (;;) {
    struct iovec iov = {buf.data(), buf.size()};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n;
    do n = recvmsg(nl, &mh, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return TL_FAIL(errno, TL_SITE_NETLINK);
    // A message cut short would be a socket silently missing from the table.
    if (n == 0 || (mh.msg_flags & MSG_TRUNC)) return TL_FAIL(EMSGSIZE, TL_SITE_NETLINK);
    int len = static_cast<int>(n);
    for (nlmsghdr* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;
      // The table changed under the dump in a way the kernel could not hide: start again.
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) return TL_FAIL(EAGAIN, TL_SITE_NETLINK);
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const nlmsgerr* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) return TL_FAIL(EPROTO, TL_SITE_NETLINK);
        return TL_FAIL(e->error < 0 ? -e->error : EPROTO, TL_SITE_NETLINK);
      }
      if (h->nlmsg_type != TCPDIAG_GETSOCK || h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
      const inet_diag_msg* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      struct tcp_info info;
      memset(&info, 0, sizeof info);
      size_t info_bytes = 0;
      int alen = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
      for (rtattr* a = reinterpret_cast<rtattr*>(const_cast<inet_diag_msg*>(m) + 1); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
        if (a->rta_type != INET_DIAG_INFO) continue;
        info_bytes = std::min<size_t>(RTA_PAYLOAD(a), sizeof info);
        memcpy(&info, RTA_DATA(a), info_bytes);
      }
      out->emplace_back();
      from_diag(m, &info, info_bytes, &out->back());
    }
  }
}

// Keeps, from `from` on, the sockets the process holds (their fd and the walk's keepalive
// settings filled in, matched[i] set for held[i]) and those no fd holds (inode 0); drops other
// processes' sockets.
void keep_held(const std::vector<Held>& held, std::vector<bool>* matched, std::vector<tl_conn>* conns, size_t from) {
  auto kept = conns->begin() + static_cast<std::ptrdiff_t>(from);
  for (auto c = kept; c != conns->end(); ++c) {
    if (c->inode != 0) {
      const Held* mine = find(held, c->inode);
      if (mine == nullptr) continue;  // another process's socket
      c->fd = mine->fd;
      put_keepalive(&*c, mine->keepalive);  // -1s when the walk did not read them
      (*matched)[mine - held.data()] = true;
    }
    *kept++ = *c;
  }
  conns->erase(kept, conns->end());
}

// The first dump, made on a thread of its own while the fds are walked: the two are independent
// (which sockets are the process's is settled after both), and the dump, a walk of the host's
// whole socket table, is as long as a third of the walk at 15,000 sockets.
struct FirstDump {
  int nl;
  uint32_t states;
  std::vector<tl_conn> conns;
  int result = 0;
};

void* first_dump(void* arg) {
  FirstDump* d = static_cast<FirstDump*>(arg);
  d->result = dump(d->nl, d->states, {}, 1, &d->conns);
  return nullptr;
}

// This fd still holds the socket with this inode (it was not closed and its number reused).
bool still(int fd, uint32_t inode, uint32_t* uid = nullptr) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || static_cast<uint32_t>(st.st_ino) != inode) return false;
  if (uid != nullptr) *uid = st.st_uid;
  return true;
}

// Keepalive settings read on fd (the socket's own fd or a duplicate of it), as getKeepAlive does.
void read_keepalive(tl_conn* c, int fd) {
  tl_keepalive ka;
  if (tl_get_keepalive(fd, &ka) == 0 && still(fd, c->inode)) put_keepalive(c, ka);
}

// A socket address's port and address into inet_diag's fields (network byte order). An unset
// one (getpeername failed: no peer any more) leaves them zero.
void put_address(const sockaddr_storage& a, __be16* port, __be32* address) {
  if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    *port = in6->sin6_port;
    memcpy(address, &in6->sin6_addr, 16);
  } else if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    *port = in->sin_port;
    memcpy(address, &in->sin_addr, 4);
  }
}

// A socket fd of the process that the dump did not show: when it is TCP, what its fd alone tells
// (TCP_INFO, names), read on fd (its own or a duplicate). Returns false when it is not a TCP
// socket (unix, UDP, netlink...).
bool from_fd(const Held& h, int fd, tl_conn* c) {
  int protocol = 0, domain = 0;
  socklen_t len = sizeof protocol;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 || protocol != IPPROTO_TCP) return false;
  len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || (domain != AF_INET && domain != AF_INET6)) return false;
  struct tcp_info info;
  memset(&info, 0, sizeof info);
  len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  struct sockaddr_storage local, remote;
  memset(&local, 0, sizeof local);
  memset(&remote, 0, sizeof remote);
  socklen_t llen = sizeof local, rlen = sizeof remote;
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
  getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &rlen);  // fails once it is closed: stays zero
  uint32_t uid = 0;
  if (!still(fd, h.inode, &uid)) return false;
  inet_diag_msg m;
  memset(&m, 0, sizeof m);
  m.idiag_family = static_cast<uint8_t>(domain);
  m.idiag_state = info.tcpi_state;
  m.idiag_inode = h.inode;
  m.idiag_uid = uid;
  put_address(local, &m.id.idiag_sport, m.id.idiag_src);
  put_address(remote, &m.id.idiag_dport, m.id.idiag_dst);
  from_diag(&m, &info, len, c);
  c->fd = h.fd;
  c->source = 1;
  return true;
}

int snapshot_once(int pid, int self, int netns_fd, tl_snapshot* out) {
  std::vector<Held> held;
  out->conns.clear();
  Fd nl;
  int r = open_netlink(netns_fd, &nl);
  if (r != 0) return r;
  // Sockets no fd holds are everyone's (a busy host has tens of thousands in TIME_WAIT); those
  // on a port this process listens on are its own accepted connections, closed. So: first
  // every socket but TIME_WAIT and half-open requests, then those two states on the ports it
  // listens on, filtered in the kernel.
  const uint32_t unheld = (1u << TCP_TIME_WAIT) | (1u << kTcpNewSynRecv);
  FirstDump first = {nl.fd, ~unheld, {}, 0};
  pthread_t dumper;
  // No thread to be had: the dump runs after the walk, as it would on one CPU anyway.
  bool apart = pthread_create(&dumper, nullptr, first_dump, &first) == 0;
  Borrowed fds(pid, self);
  r = read_fds(pid, self, nl.fd, &fds, &held, &out->fds);
  if (apart) pthread_join(dumper, nullptr);  // before anything returns: it writes `first`
  else first_dump(&first);
  if (r != 0) return r;
  if (first.result != 0) return first.result;
  std::vector<bool> matched(held.size(), false);
  auto& conns = out->conns;
  conns.swap(first.conns);
  keep_held(held, &matched, &conns, 0);
  std::vector<bool> listening(65536, false);
  std::vector<uint16_t> ports;
  for (const tl_conn& c : conns) {
    if (c.fd < 0 || c.state != TCP_LISTEN || listening[c.local_port]) continue;
    listening[c.local_port] = true;
    ports.push_back(c.local_port);
  }
  conns.erase(std::remove_if(conns.begin(), conns.end(), [&](const tl_conn& c) { return c.fd < 0 && !listening[c.local_port]; }),
              conns.end());
  if (!ports.empty()) {
    // The filter's length must fit a netlink attribute; past that, fetch all and keep ours.
    std::vector<char> filter = ports.size() <= kMaxFilterPorts ? port_filter(ports) : std::vector<char>();
    size_t before = conns.size();
    r = dump(nl.fd, unheld, filter, 2, &conns);
    if (r != 0) return r;
    keep_held(held, &matched, &conns, before);
    conns.erase(std::remove_if(conns.begin() + before, conns.end(), [&](const tl_conn& c) { return !listening[c.local_port]; }),
                conns.end());
  }
  // Keepalive settings the walk did not read: all of this process's own, read only now and
  // only on the TCP sockets the dump showed, each checked to be still the same socket after (a
  // thread of ours may close an fd and reuse its number meanwhile). Another process's were read
  // on the walk's duplicates; where none was granted, take() refuses at once.
  for (tl_conn& c : out->conns) {
    if (c.fd < 0 || c.ka_enable >= 0) continue;
    int fd = fds.take(c.fd);
    if (fd >= 0) read_keepalive(&c, fd);
    fds.give_back(fd);
  }
  for (size_t i = 0; i < held.size(); i++) {
    if (matched[i] || (i > 0 && held[i].inode == held[i - 1].inode)) continue;
    int fd = fds.take(held[i].fd);
    if (fd < 0) continue;
    tl_conn c;
    bool tcp = from_fd(held[i], fd, &c);
    // from_fd checked that fd still holds held[i]'s socket: what the walk read is its settings.
    if (tcp && held[i].keepalive.enable >= 0) put_keepalive(&c, held[i].keepalive);
    else if (tcp) read_keepalive(&c, fd);
    fds.give_back(fd);
    if (tcp) out->conns.push_back(c);
  }
  return 0;
}

}  // namespace

int tl_diag_snapshot(int pid, int self, int netns_fd, tl_snapshot* out) {
  int r = 0;
  for (int attempt = 0; attempt < 3; attempt++) {
    r = snapshot_once(pid, self, netns_fd, out);
    if (r != TL_FAIL(EAGAIN, TL_SITE_NETLINK)) return r;
  }
  out->conns.clear();
  return r;
}
