#!/usr/bin/env bash
# A minimal Debian 11 (bullseye) root for the prebuild floor test, made once and cached.
#
#   bash scripts/debian-root.sh     → prints the root's path; exit 3 if bullseye cannot be fetched
#
# Debian 11 is the oldest distribution official Node 22 runs on that still has a glibc (2.31) and a
# libstdc++ (GCC 10's, up to GLIBCXX_3.4.28) older than the build machine's: a prebuild that loads
# there has no symbol newer than those. `--variant=minbase` keeps it to what `apt` itself needs
# (libc6, libstdc++6), which is exactly the runtime a service's base image has.
# The root lives outside the repository ($TCP_LIVENESS_CACHE, as root /var/cache/tcp-liveness) and is
# built in a temporary directory renamed into place, so an interrupted run never looks finished.
set -euo pipefail
# The same cache as scripts/node-dist.js.
if [ -n "${TCP_LIVENESS_CACHE:-}" ]; then cache="$TCP_LIVENESS_CACHE"
elif [ "$(id -u)" = 0 ]; then cache=/var/cache/tcp-liveness
else cache="$HOME/.cache/tcp-liveness"; fi
root="$cache/debian-bullseye-minbase"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -x "$root/bin/sh" ] && [ -f "$root/etc/debian_version" ]; then
  echo "$root"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "debian-root: debootstrap needs root" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "debian-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

mkdir -p "$cache"
tmp="$(mktemp -d "$root.partial-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "debian-root: debootstrap --variant=minbase bullseye from $mirror (about 2 minutes, once)" >&2
if ! debootstrap --variant=minbase bullseye "$tmp" "$mirror" >"$tmp.log" 2>&1; then
  tail -5 "$tmp.log" >&2
  if grep -qiE "Failed getting release file|Release.*(404|Not Found)|Invalid Release file|no such script" "$tmp.log"; then
    echo "debian-root: Debian 11 (bullseye) is no longer on $mirror; the Debian 11 smoke test cannot run (the symbol-floor check still does)" >&2
    rm -f "$tmp.log"
    exit 3
  fi
  rm -f "$tmp.log"
  echo "debian-root: debootstrap failed (log above)" >&2
  exit 1
fi
rm -f "$tmp.log"
# The smoke test needs no package cache: drop it to keep the cached root small.
rm -rf "$tmp/var/cache/apt/archives/"*.deb
mv "$tmp" "$root"
trap - EXIT
echo "$root"
