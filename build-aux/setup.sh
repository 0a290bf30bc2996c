#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Set-up helper behind the README commands and CI.
#
#   build-aux/setup.sh demo   install what is missing, build, run the demos
#   build-aux/setup.sh test   install what is missing, build, run every test
#                             (plain, valgrind, ASan/UBSan) and print one
#                             last line "N passed, N failed, N skipped"
#   build-aux/setup.sh bench  install what is missing, build optimised
#                             (build-release/) and run tests/bench/sw-bench;
#                             extra arguments go to sw-bench (--quick, ...)
#   build-aux/setup.sh deps   only install what is missing
#
# Debian 12 (or later) with apt; packages come from the distribution, so
# meson runs with --wrap-mode=nodownload. The build directories are build/
# and build-asan/ unless SW_BUILD_DIR / SW_ASAN_BUILD_DIR say otherwise.

set -euo pipefail

cd "$(dirname "$0")/.."

BUILD_DIR=${SW_BUILD_DIR:-build}
ASAN_BUILD_DIR=${SW_ASAN_BUILD_DIR:-build-asan}

PACKAGES=(
  meson gcc libc6-dev pkg-config libglib2.0-dev libjson-glib-dev
  gobject-introspection libgirepository1.0-dev gir1.2-json-1.0
  python3-gi python3-msgpack gjs gi-docgen gettext valgrind glib-networking
  dbus-daemon
)

log () {
  printf '==> %s\n' "$*" >&2
}

install_deps () {
  local missing=() pkg

  for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
        grep -q '^install ok installed$'; then
      missing+=("$pkg")
    fi
  done

  if [ ${#missing[@]} -eq 0 ]; then
    log "all required packages are installed"
    return
  fi

  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    sudo=(sudo)
  fi
  log "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

# meson setup, or reconfigure an existing build dir with the same options.
setup_build () {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
}

demo () {
  install_deps
  setup_build "$BUILD_DIR" --wrap-mode=nodownload
  meson compile -C "$BUILD_DIR"
  log "pipe: a forked child sends one message to its parent"
  "./$BUILD_DIR/docs/examples/sw-example-pipe-ipc"
  log "socketpair: parent and child talk both ways"
  "./$BUILD_DIR/docs/examples/sw-example-socketpair-ipc"
}

bench () {
  install_deps
  setup_build "${SW_RELEASE_BUILD_DIR:-build-release}" --wrap-mode=nodownload \
    -Dbuildtype=release -Ddocumentation=false
  meson compile -C "${SW_RELEASE_BUILD_DIR:-build-release}" tests/bench/sw-bench
  "./${SW_RELEASE_BUILD_DIR:-build-release}/tests/bench/sw-bench" "$@"
}

TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0

# Runs "meson test ARGS..." and adds its summary to the totals. meson's exit
# status is the failure count modulo 256, so the counts come from the
# summary lines; a run that prints no summary counts as one failure.
run_tests () {
  local out counts passed failed skipped
  out=$(mktemp)
  log "meson test $*"
  meson test --print-errorlogs "$@" 2>&1 | tee "$out" || true
  counts=$(awk -F: '
    /^(Ok|Expected Fail): /         { p += $2; seen = 1 }
    /^(Fail|Unexpected Pass|Timeout): / { f += $2; seen = 1 }
    /^Skipped: /                    { s += $2; seen = 1 }
    END { if (!seen) f = 1; printf "%d %d %d\n", p, f, s }' "$out")
  rm -f "$out"
  read -r passed failed skipped <<<"$counts"
  TOTAL_PASSED=$((TOTAL_PASSED + passed))
  TOTAL_FAILED=$((TOTAL_FAILED + failed))
  TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
}

# A build step that fails counts as a failure and skips that build's tests.
build_or_count () {
  if ! "$@"; then
    log "FAILED: $*"
    TOTAL_FAILED=$((TOTAL_FAILED + 1))
    return 1
  fi
}

run_all_tests () {
  install_deps

  local strict=(-Dwarning_level=3 -Dwerror=true --fatal-meson-warnings
                --wrap-mode=nodownload)

  if build_or_count setup_build "$BUILD_DIR" "${strict[@]}" &&
      build_or_count meson compile -C "$BUILD_DIR"; then
    run_tests -C "$BUILD_DIR"
    run_tests -C "$BUILD_DIR" --setup valgrind --suite c
  fi

  # gcc: its ASan runtime can be preloaded into python3 and gjs.
  if CC=gcc build_or_count setup_build "$ASAN_BUILD_DIR" "${strict[@]}" \
        -Db_sanitize=address,undefined -Dbuildtype=debug \
        -Dintrospection=enabled &&
      build_or_count meson compile -C "$ASAN_BUILD_DIR"; then
    run_tests -C "$ASAN_BUILD_DIR"
  fi

  local total=$((TOTAL_PASSED + TOTAL_FAILED + TOTAL_SKIPPED))
  echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
  [ "$TOTAL_FAILED" -eq 0 ] && [ "$total" -gt 0 ]
}

case "${1:-}" in
  demo) demo ;;
  test) run_all_tests ;;
  bench) shift; bench "$@" ;;
  deps) install_deps ;;
  *)
    echo "usage: $0 demo|test|bench|deps" >&2
    exit 2
    ;;
esac
