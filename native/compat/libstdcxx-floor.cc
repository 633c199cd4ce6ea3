// Keeps the addon's libstdc++ requirement at GLIBCXX_3.4.21 (GCC 5), what official Node 22 needs.
//
// GCC 11+ headers make std::allocator<T>::allocate call std::__throw_bad_array_new_length(), which
// only libstdc++ >= GLIBCXX_3.4.29 (GCC 11) exports: a binary built here would fail to load on
// Debian 11, Ubuntu 20.04 or RHEL 8 ("version `GLIBCXX_3.4.29' not found"). This hidden definition
// satisfies that reference inside the addon, so the import never exists. Linking libstdc++
// statically instead is no cure: its archive, built against this machine's glibc, pulls in symbols
// from glibc 2.32-2.36. scripts/check-symbols.js fails the build if the floor rises again.
// No libstdc++ header here: its declaration would carry default visibility, and the first
// declaration's visibility wins.
namespace std {
[[noreturn]] void __throw_bad_alloc();

// bad_array_new_length is a bad_alloc: a handler for the one catches the other. The addon is built
// without exceptions, so either way this ends the process, as it would with the library's version.
__attribute__((visibility("hidden"), noreturn)) void __throw_bad_array_new_length() { __throw_bad_alloc(); }
}  // namespace std
