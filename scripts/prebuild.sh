#!/usr/bin/env bash
# `npm run prebuild`: the binaries the package ships, prebuilds/linux-x64/ and prebuilds/linux-arm64/,
# both within the symbol floor official Node 22 needs (scripts/check-symbols.js; exit 1 above it).
#
# Both are built against official Node 22's own headers (include/node in the package fetched by
# scripts/node-dist.js), so nothing is downloaded from nodejs.org. N-API binaries load on every
# later Node, so one build per architecture serves 22, 24 and 26.
#
# The arm64 binary is cross-compiled (Debian's g++-aarch64-linux-gnu) in a scratch copy of the
# sources: node-gyp-build loads build/ before prebuilds/ whatever its architecture, so a cross build
# left in build/ would be what this checkout loads. build/ only ever holds a host build; the x64
# prebuild is one (prebuildify builds it in build/ and copies it out).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

x64_headers="$(node scripts/node-dist.js 22)"
rm -rf prebuilds
npm_config_nodedir="$x64_headers" prebuildify --napi --strip --tag-libc

if [ "${PREBUILD_ARM64:-1}" != 0 ]; then
  command -v aarch64-linux-gnu-g++ >/dev/null || {
    echo "prebuild: aarch64-linux-gnu-g++ is missing (apt-get install g++-aarch64-linux-gnu), or set PREBUILD_ARM64=0" >&2
    exit 1
  }
  arm64_headers="$(node scripts/node-dist.js 22 --arch arm64)"
  scratch="$(mktemp -d "${TMPDIR:-/tmp}/tl-prebuild-arm64-XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  cp -r package.json binding.gyp native "$scratch/"
  ln -s "$root/node_modules" "$scratch/node_modules"
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
    npm_config_nodedir="$arm64_headers" \
    prebuildify --napi --strip --tag-libc --arch arm64 --strip-bin aarch64-linux-gnu-strip --cwd "$scratch" --out "$root"
fi

node scripts/check-symbols.js
