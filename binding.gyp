{
  "targets": [
    {
      "target_name": "tcp_liveness",
      "sources": ["native/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", {"sources": ["native/linux.cc", "native/diag_linux.cc", "native/fds_linux.cc", "native/compat/libstdcxx-floor.cc", "native/compat/glibc-floor.cc"]}],
        ["OS!='linux'", {"sources": ["native/unsupported.cc", "native/diag_unsupported.cc"]}]
      ]
    }
  ]
}
