// N-API glue: converts arguments and results for the syscall core in liveness.h. Every function
// returns a number (>= 0 a result, < 0 a TL_FAIL code that src/binding.ts turns into an Error)
// and checks its arguments only as a cheap backstop: validation proper is TypeScript's.
#include <napi.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "diag.h"
#include "liveness.h"
#include "tcp_info.h"

namespace {

struct Poller;

// Per-environment state (main thread, each worker): the pollers to close when it goes away. A
// vector: there are a few (one per monitor or waitFor group), and every add and delete looks its
// poller up here, which a scan of one cache line does faster than a hash.
struct EnvState {
  std::vector<Poller*> pollers;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool tearing_down = false;
};

// A private epoll set watched by one uv_poll_t on this environment's loop. Node's own poll
// handles on the sockets are untouched: libuv allows one poll handle per fd, and the epoll fd
// is ours.
struct Poller {
  uv_poll_t handle;
  int epfd = -1;
  napi_env env = nullptr;
  EnvState* state = nullptr;
  Napi::FunctionReference callback;
  Napi::Reference<Napi::Float64Array> out;
  napi_async_context context = nullptr;
  bool closing = false;
  bool handle_closed = false;
  bool external_gone = false;
};

// Throws a TypeError. While a worker is being terminated JS can no longer run and the throw
// fails: then there is nobody to tell, and node-addon-api's ThrowAsJavaScriptException would
// abort the whole process (main thread included) instead.
Napi::Value Fail(Napi::Env env, const char* message) {
  napi_value text, error;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) == napi_ok &&
      napi_create_type_error(env, nullptr, text, &error) == napi_ok) {
    napi_throw(env, error);
  }
  return env.Undefined();
}

// A whole number in [lo, hi]; anything else (NaN, fractions, 2^32 + 5) is refused rather than
// truncated into some other fd.
// One engine call per argument (napi_get_value_double refuses a non-number itself): each
// call costs, and setKeepAlive converts six of these.
bool ToInt(const Napi::Value& v, int64_t lo, int64_t hi, int64_t* out) {
  double d;
  if (napi_get_value_double(v.Env(), v, &d) != napi_ok) return false;
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::trunc(d) != d) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool ToFd(const Napi::Value& v, int* fd) {
  int64_t x;
  if (!ToInt(v, 0, INT32_MAX, &x)) return false;
  *fd = static_cast<int>(x);
  return true;
}

// -1 means "leave as it is".
bool ToSetting(const Napi::Value& v, int* out) {
  int64_t x;
  if (!ToInt(v, -1, INT32_MAX, &x)) return false;
  *out = static_cast<int>(x);
  return true;
}

// The view's own data pointer (byte offset included): going through its ArrayBuffer fails for a
// view on a SharedArrayBuffer, and a failure there left a pending exception and a pointer of
// just the byte offset. A detached view has no data and is refused.
template <typename T>
T* TypedData(const Napi::Value& v, napi_typedarray_type type, size_t min_length, size_t* length_out = nullptr) {
  napi_typedarray_type actual;  // napi_get_typedarray_info refuses anything but a typed array
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(v.Env(), v, &actual, &length, &data, nullptr, nullptr) != napi_ok) return nullptr;
  if (actual != type || length < min_length || data == nullptr) return nullptr;
  if (length_out != nullptr) *length_out = length;
  return static_cast<T*>(data);
}

Napi::Value SetKeepAlive(const Napi::CallbackInfo& info) {
  int fd;
  tl_keepalive ka;
  if (!ToFd(info[0], &fd) || !ToSetting(info[1], &ka.enable) || !ToSetting(info[2], &ka.idle) ||
      !ToSetting(info[3], &ka.interval) || !ToSetting(info[4], &ka.count) ||
      !ToSetting(info[5], &ka.user_timeout))
    return Fail(info.Env(), "setKeepAlive(fd, enable, idle, interval, count, userTimeout): integers expected");
  return Napi::Number::New(info.Env(), tl_set_keepalive(fd, &ka));
}

// Fills out[0..4] with enable, idle (s), interval (s), count, userTimeout (ms).
Napi::Value GetKeepAlive(const Napi::CallbackInfo& info) {
  int fd;
  int32_t* out = TypedData<int32_t>(info[1], napi_int32_array, 5);
  if (!ToFd(info[0], &fd) || out == nullptr)
    return Fail(info.Env(), "getKeepAlive(fd, Int32Array(5)) expected");
  tl_keepalive ka;
  int r = tl_get_keepalive(fd, &ka);
  if (r == 0) {
    out[0] = ka.enable;
    out[1] = ka.idle;
    out[2] = ka.interval;
    out[3] = ka.count;
    out[4] = ka.user_timeout;
  }
  return Napi::Number::New(info.Env(), r);
}

Napi::Value TakeSocketError(const Napi::CallbackInfo& info) {
  int fd;
  if (!ToFd(info[0], &fd)) return Fail(info.Env(), "takeSocketError(fd) expected");
  return Napi::Number::New(info.Env(), tl_take_error(fd));
}

Napi::Value SetOption(const Napi::CallbackInfo& info) {
  int fd;
  int64_t level, name, value;
  if (!ToFd(info[0], &fd) || !ToInt(info[1], 0, INT32_MAX, &level) ||
      !ToInt(info[2], 0, INT32_MAX, &name) || !ToInt(info[3], INT32_MIN, INT32_MAX, &value))
    return Fail(info.Env(), "setOption(fd, level, name, value): integers expected");
  return Napi::Number::New(info.Env(), tl_set_int(fd, int(level), int(name), int(value)));
}

// Fills out[0] with the option's value.
Napi::Value GetOption(const Napi::CallbackInfo& info) {
  int fd;
  int64_t level, name;
  int32_t* out = TypedData<int32_t>(info[3], napi_int32_array, 1);
  if (!ToFd(info[0], &fd) || !ToInt(info[1], 0, INT32_MAX, &level) ||
      !ToInt(info[2], 0, INT32_MAX, &name) || out == nullptr)
    return Fail(info.Env(), "getOption(fd, level, name, Int32Array(1)) expected");
  int value = 0;
  int r = tl_get_int(fd, int(level), int(name), &value);
  if (r == 0) out[0] = value;
  return Napi::Number::New(info.Env(), r);
}

// poll(pollfds, count): pollfds is an Int32Array laid out as struct pollfd (fd, events|revents)
// that the kernel reads and writes in place: one crossing, one syscall, no copy.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  int64_t count;
  if (!ToInt(info[1], 0, INT32_MAX / 2, &count))
    return Fail(info.Env(), "poll(Int32Array, count) expected");
  int32_t* fds = TypedData<int32_t>(info[0], napi_int32_array, size_t(count) * 2);
  if (fds == nullptr) return Fail(info.Env(), "poll(Int32Array, count): the array is too short");
  return Napi::Number::New(info.Env(), tl_poll(fds, size_t(count)));
}

Napi::Value Peek(const Napi::CallbackInfo& info) {
  int fd;
  if (!ToFd(info[0], &fd)) return Fail(info.Env(), "peek(fd) expected");
  return Napi::Number::New(info.Env(), tl_peek(fd));
}

// Copies struct tcp_info into a Uint8Array; returns how many bytes the kernel filled.
Napi::Value TcpInfo(const Napi::CallbackInfo& info) {
  int fd;
  size_t length = 0;
  uint8_t* data = TypedData<uint8_t>(info[1], napi_uint8_array, 1, &length);
  if (!ToFd(info[0], &fd) || data == nullptr) return Fail(info.Env(), "tcpInfo(fd, Uint8Array) expected");
  return Napi::Number::New(info.Env(), tl_tcp_info(fd, data, length));
}

// port(fd, peer): the peer's port (getpeername) or the local one (getsockname), with no address
// string built: what a policy's match reads most.
Napi::Value Port(const Napi::CallbackInfo& info) {
  int fd;
  bool peer;  // napi_get_value_bool refuses a non-boolean itself: one engine call
  if (!ToFd(info[0], &fd) || napi_get_value_bool(info.Env(), info[1], &peer) != napi_ok)
    return Fail(info.Env(), "port(fd, boolean) expected");
  return Napi::Number::New(info.Env(), tl_port(fd, peer ? 1 : 0));
}

// diagSnapshot(pid, self, netnsFd, out: Float64Array(1)) -> ArrayBuffer of tl_conn records, or a
// failure code. out[0] gets how many fds the process has open.
Napi::Value DiagSnapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid, self, netns_fd;
  double* out = TypedData<double>(info[3], napi_float64_array, 1);
  if (!ToInt(info[0], 1, INT32_MAX, &pid) || !ToInt(info[1], 0, 1, &self) ||
      !ToInt(info[2], -1, INT32_MAX, &netns_fd) || out == nullptr)
    return Fail(env, "diagSnapshot(pid, self, netnsFd, Float64Array(1)) expected");
  tl_snapshot snap;
  int r = tl_diag_snapshot(int(pid), int(self), int(netns_fd), &snap);
  if (r != 0) return Napi::Number::New(env, r);
  out[0] = snap.fds;
  size_t bytes = snap.conns.size() * sizeof(tl_conn);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, bytes);
  if (env.IsExceptionPending()) return env.Undefined();
  if (bytes > 0) memcpy(buffer.Data(), snap.conns.data(), bytes);
  return buffer;
}

// ---- pollers ----

void CloseNow(Poller* p);

void OnHandleClosed(uv_handle_t* h) {
  Poller* p = static_cast<Poller*>(h->data);
  p->handle_closed = true;
  EnvState* state = p->state;
  if (p->epfd >= 0) tl_poller_close(p->epfd);  // ours: opened by tl_poller_create
  p->epfd = -1;
  auto it = std::find(state->pollers.begin(), state->pollers.end(), p);
  if (it != state->pollers.end()) state->pollers.erase(it);
  if (state->tearing_down && state->pollers.empty()) {
    napi_remove_async_cleanup_hook(state->hook);
    delete state;
  }
  if (p->external_gone) delete p;
}

// Runs on the loop with no JS below it, possibly while a worker is being terminated: only the
// C API, every status checked, and nothing that throws. The JS dispatcher never throws (it
// reports listener exceptions itself), so a failed call here means JS can't run: drop the batch.
void OnReadable(uv_poll_t* h, int status, int) {
  Poller* p = static_cast<Poller*>(h->data);
  if (p->closing || status < 0) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  // Where the events go is looked up at every wakeup, never kept from pollerOpen: the array's
  // buffer may since have been transferred (detached, its memory freed) or, if resizable, shrunk.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value out = nullptr, fn = nullptr, count = nullptr, global = nullptr, result = nullptr;
  if (napi_get_reference_value(env, napi_ref(p->out), &out) != napi_ok || out == nullptr ||
      napi_get_typedarray_info(env, out, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      data == nullptr || length < 2) {
    uv_poll_stop(&p->handle);  // nowhere to put events: stop, rather than wake for them forever
  } else {
    int n = tl_poller_drain(p->epfd, static_cast<double*>(data), static_cast<int>(std::min<size_t>(length / 2, TL_POLLER_BATCH)));
    if (n > 0 && napi_get_reference_value(env, napi_ref(p->callback), &fn) == napi_ok && fn != nullptr &&
        napi_create_double(env, n, &count) == napi_ok && napi_get_global(env, &global) == napi_ok &&
        napi_make_callback(env, p->context, global, fn, 1, &count, &result) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  napi_close_handle_scope(env, scope);
}

// Stops the watcher and releases JS references; the epoll fd closes with the handle.
void CloseNow(Poller* p) {
  if (p->closing) return;
  p->closing = true;
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnHandleClosed);
  p->callback.Reset();
  p->out.Reset();
  if (p->context != nullptr) napi_async_destroy(p->env, p->context);
  p->context = nullptr;
}

void FinalizePoller(napi_env, Poller* p) {
  p->external_gone = true;
  if (!p->closing) {
    // The JS side dropped it without closing: close it now; the close callback frees it.
    CloseNow(p);
  } else if (p->handle_closed) {
    delete p;
  }
}

EnvState* State(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<EnvState*>(data);
}

// A poller of this environment's, still open. Found among the environment's live pollers, so
// an External from anywhere else is refused without being dereferenced (and without a type
// tag: checking one is a lookup of a private property in the engine, on every add and delete).
Poller* ToPoller(napi_env env, napi_value v) {
  void* data = nullptr;
  EnvState* state = State(env);
  if (state == nullptr || napi_get_value_external(env, v, &data) != napi_ok) return nullptr;
  Poller* p = static_cast<Poller*>(data);
  const auto& live = state->pollers;
  return std::find(live.begin(), live.end(), p) != live.end() && !p->closing ? p : nullptr;
}

// pollerOpen(out: Float64Array, callback(count)) -> External | failure code.
// Ready registrations are written to out as (id, events) pairs, then callback(count) runs.
Napi::Value PollerOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double* out = TypedData<double>(info[0], napi_float64_array, 2);
  if (out == nullptr || !info[1].IsFunction())
    return Fail(env, "pollerOpen(Float64Array, callback) expected");
  EnvState* state = State(env);
  if (state == nullptr || state->tearing_down) return Fail(env, "the environment is shutting down");
  int epfd = tl_poller_create();
  if (epfd < 0) return Napi::Number::New(env, epfd);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    tl_poller_close(epfd);
    return Fail(env, "no event loop");
  }
  Poller* p = new Poller();
  p->epfd = epfd;
  p->env = env;
  p->state = state;
  if (uv_poll_init(loop, &p->handle, epfd) != 0) {
    tl_poller_close(epfd);
    delete p;
    return Fail(env, "uv_poll_init failed on the epoll fd");
  }
  p->handle.data = p;
  p->callback = Napi::Persistent(info[1].As<Napi::Function>());
  p->out = Napi::Persistent(info[0].As<Napi::Float64Array>());
  napi_async_init(env, nullptr, Napi::String::New(env, "TcpLivenessPoller"), &p->context);
  state->pollers.push_back(p);
  uv_poll_start(&p->handle, UV_READABLE, OnReadable);
  uv_unref(reinterpret_cast<uv_handle_t*>(&p->handle));
  return Napi::External<Poller>::New(env, p, FinalizePoller);
}

// pollerCtl(poller, op, fd, events, id): epoll_ctl on the poller's private set (a delete passes
// 0, 0: epoll ignores them). Every argument required: a type asked of the engine for an optional
// one would cost monitor.add and delete more than the conversion does.
Napi::Value PollerCtl(const Napi::CallbackInfo& info) {
  Poller* p = ToPoller(info.Env(), info[0]);
  int fd;
  int64_t op, events, id;
  if (p == nullptr || !ToInt(info[1], 1, 3, &op) || !ToFd(info[2], &fd) ||
      !ToInt(info[3], 0, UINT32_MAX, &events) || !ToInt(info[4], 0, (int64_t(1) << 53), &id))
    return Fail(info.Env(), "pollerCtl(poller, op, fd, events, id) expected an open poller and integers");
  int r = fd == p->epfd ? TL_FAIL(EINVAL, TL_SITE_EPOLL_CTL) : tl_poller_ctl(p->epfd, int(op), fd, uint32_t(events), uint64_t(id));
  // An int32 is a small integer to the engine: no heap number, and half the work of a double.
  napi_value result = nullptr;
  napi_create_int32(info.Env(), r, &result);
  return Napi::Value(info.Env(), result);
}

// pollerRef(poller, bool): whether pending registrations keep the loop alive.
Napi::Value PollerRef(const Napi::CallbackInfo& info) {
  Poller* p = ToPoller(info.Env(), info[0]);
  if (p == nullptr || !info[1].IsBoolean()) return Fail(info.Env(), "pollerRef(poller, boolean) expected");
  auto* h = reinterpret_cast<uv_handle_t*>(&p->handle);
  if (info[1].As<Napi::Boolean>().Value()) uv_ref(h); else uv_unref(h);
  return info.Env().Undefined();
}

Napi::Value PollerClose(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) return Fail(info.Env(), "pollerClose(poller) expected");
  Poller* p = ToPoller(info.Env(), info[0]);
  if (p != nullptr) CloseNow(p);  // closing twice is a no-op
  return info.Env().Undefined();
}

// At environment teardown (process exit, worker termination) close every poller; the hook
// finishes when the last uv_close callback has run.
void OnEnvTeardown(napi_async_cleanup_hook_handle, void* arg) {
  EnvState* state = static_cast<EnvState*>(arg);
  state->tearing_down = true;
  if (state->pollers.empty()) {
    napi_remove_async_cleanup_hook(state->hook);
    delete state;
    return;
  }
  std::vector<Poller*> open(state->pollers);
  for (Poller* p : open) CloseNow(p);
}

Napi::Object ConstantsOf(Napi::Env env, const tl_constant* table) {
  Napi::Object c = Napi::Object::New(env);
  for (const tl_constant* k = table; k->name != nullptr; k++) c[k->name] = static_cast<double>(k->value);
  return c;
}

// The site table, indexed by site code (TL_SITE_READ set: the getsockopt of a setsockopt
// site): [syscall, option or undefined]. Its length is the modulus of failure codes.
Napi::Array Sites(Napi::Env env) {
  static_assert(TL_SITE_COUNT <= TL_SITE_READ && 2 * TL_SITE_READ == TL_SITES, "site codes fit the modulus");
  struct Site {
    const char* syscall;
    const char* option;
  };
#define TL_SITE_ROW(name, syscall, option) {syscall, option},
  static const Site table[] = {TL_SITE_TABLE(TL_SITE_ROW)};
#undef TL_SITE_ROW
  auto pair = [&](const char* syscall, Napi::Value option) {
    Napi::Array row = Napi::Array::New(env, 2);
    row[0u] = syscall;
    row[1u] = option;
    return row;
  };
  Napi::Array sites = Napi::Array::New(env, TL_SITES);
  for (uint32_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    Napi::Value option = table[i].option ? Napi::Value(Napi::String::New(env, table[i].option)) : env.Undefined();
    sites[i] = pair(table[i].syscall, option);
    if (std::strstr(table[i].syscall, "sockopt") != nullptr) sites[i + TL_SITE_READ] = pair("getsockopt", option);
  }
  return sites;
}

// { field: [offset, size] } for every struct tcp_info field TypeScript reads (native/tcp_info.h).
Napi::Object TcpInfoLayout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  auto add = [&](const char* name, size_t offset, size_t size) {
    Napi::Array at = Napi::Array::New(env, 2);
    at[0u] = static_cast<double>(offset);
    at[1u] = static_cast<double>(size);
    layout[name] = at;
  };
#define TL_LAYOUT_ROW(field) add(#field, offsetof(tl_kernel_tcp_info, field), sizeof(tl_kernel_tcp_info::field));
  TL_TCP_INFO_FIELDS(TL_LAYOUT_ROW)
#undef TL_LAYOUT_ROW
  add("tcpi_wscale", TL_TCP_INFO_WSCALE_OFFSET, 1);
  add("size", 0, sizeof(tl_kernel_tcp_info));
  return layout;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  EnvState* state = new EnvState();
  if (napi_add_async_cleanup_hook(env, OnEnvTeardown, state, &state->hook) != napi_ok ||
      napi_set_instance_data(env, state, nullptr, nullptr) != napi_ok) {
    delete state;
    Napi::Error::New(env, "tcp-liveness: could not register per-environment state").ThrowAsJavaScriptException();
    return exports;
  }
  exports["supported"] = Napi::Boolean::New(env, tl_supported != 0);
  exports["constants"] = ConstantsOf(env, tl_socket_constants);
  exports["eventConstants"] = ConstantsOf(env, tl_event_constants);
  exports["sites"] = Sites(env);
  exports["tcpInfoLayout"] = TcpInfoLayout(env);
  exports["pollerBatch"] = Napi::Number::New(env, TL_POLLER_BATCH);
  exports["setKeepAlive"] = Napi::Function::New<SetKeepAlive>(env, "setKeepAlive");
  exports["getKeepAlive"] = Napi::Function::New<GetKeepAlive>(env, "getKeepAlive");
  exports["takeSocketError"] = Napi::Function::New<TakeSocketError>(env, "takeSocketError");
  exports["setOption"] = Napi::Function::New<SetOption>(env, "setOption");
  exports["getOption"] = Napi::Function::New<GetOption>(env, "getOption");
  exports["poll"] = Napi::Function::New<Poll>(env, "poll");
  exports["peek"] = Napi::Function::New<Peek>(env, "peek");
  exports["tcpInfo"] = Napi::Function::New<TcpInfo>(env, "tcpInfo");
  exports["port"] = Napi::Function::New<Port>(env, "port");
  exports["diagSnapshot"] = Napi::Function::New<DiagSnapshot>(env, "diagSnapshot");
  exports["pollerOpen"] = Napi::Function::New<PollerOpen>(env, "pollerOpen");
  exports["pollerCtl"] = Napi::Function::New<PollerCtl>(env, "pollerCtl");
  exports["pollerRef"] = Napi::Function::New<PollerRef>(env, "pollerRef");
  exports["pollerClose"] = Napi::Function::New<PollerClose>(env, "pollerClose");
  return exports;
}

}  // namespace

NODE_API_MODULE(tcp_liveness, Init)
