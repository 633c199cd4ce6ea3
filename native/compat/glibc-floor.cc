// Keeps the addon's glibc requirement at 2.28, what official Node 22 needs.
//
// Built against a newer glibc, two kinds of call would raise it (scripts/check-symbols.js fails
// the build if anything does again):
// - fstat/fstatat became exported functions in glibc 2.33 (before, inline wrappers around
//   __fxstat): a plain build imports fstat64@GLIBC_2.33. These hidden definitions make the same
//   system calls. The kernel's struct stat is glibc's on x86-64 and arm64, which is why glibc
//   itself makes these calls without converting anything.
// - pthread_create/pthread_join moved from libpthread into libc in glibc 2.34, with a new version;
//   the old one is still exported (every glibc has it). These hidden definitions call the old one.
// Hidden, so they serve only this addon's own calls and never interpose on anyone else's.
// No <pthread.h> or <sys/stat.h>: their declarations carry default visibility, and the first
// declaration's visibility wins. pthread_t is an unsigned long in glibc on every architecture.
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define TL_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define TL_GLIBC_BASE "GLIBC_2.17"
#else
#error "glibc-floor.cc: set the glibc base version of this architecture"
#endif

extern "C" {
int tl_pthread_create_base(unsigned long*, const void*, void* (*)(void*), void*);
int tl_pthread_join_base(unsigned long, void**);
__asm__(".symver tl_pthread_create_base, pthread_create@" TL_GLIBC_BASE);
__asm__(".symver tl_pthread_join_base, pthread_join@" TL_GLIBC_BASE);

__attribute__((visibility("hidden"))) int pthread_create(unsigned long* thread, const void* attr, void* (*start)(void*), void* arg) {
  return tl_pthread_create_base(thread, attr, start, arg);
}
__attribute__((visibility("hidden"))) int pthread_join(unsigned long thread, void** result) {
  return tl_pthread_join_base(thread, result);
}

// The names the headers route fstat/fstatat to under _FILE_OFFSET_BITS=64 (which node-gyp sets).
__attribute__((visibility("hidden"))) int fstat64(int fd, void* st) { return static_cast<int>(syscall(SYS_fstat, fd, st)); }
__attribute__((visibility("hidden"))) int fstatat64(int dirfd, const char* path, void* st, int flags) {
  return static_cast<int>(syscall(SYS_newfstatat, dirfd, path, st, flags));
}
}
