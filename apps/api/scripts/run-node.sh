#!/bin/sh
# Runs node with the memory settings every Switchboard process runs with (npm start,
# npm run start:prod, tests and benchmarks; the Dockerfile sets the same environment):
#
# - jemalloc when the system has it (Debian/Ubuntu package libjemalloc2): a background
#   thread hands freed memory back to the OS after ~10 s. glibc's malloc keeps what start-up
#   freed (WebAssembly compilation, the embedded database's first run) resident for good:
#   ~85 MB of an idle embedded instance, ~20 MB of a cluster one (docs/performance.md,
#   "Memory"). Two arenas, like glibc's below. (A 1 s decay returned memory sooner but cost
#   ~10% CPU per request.)
# - glibc's settings for when jemalloc is absent: two arenas, and freed memory at the top
#   of the heap handed back.
# - A young generation of 2 × 16 MB (--max-semi-space-size=16): Node 20's default; Node 24
#   lets it grow to 128 MB under load, all of it resident, and promotes more into the old
#   generation besides (docs/performance.md, "Under load"). V8 sizes the young generation
#   when it creates the heap, so this has to be on node's command line: set at run time
#   (infra/v8-flags.ts) it is ignored. A later --max-semi-space-size in the arguments wins.
#
# An LD_PRELOAD or MALLOC_* already in the environment is kept (LD_PRELOAD= opts out of
# jemalloc); NODE names the node binary (default: node on the PATH). exec: node keeps this
# process's id, so signals and /proc readings reach it.
if [ -z "${LD_PRELOAD+set}" ]; then
  for lib in /usr/local/lib/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
    if [ -r "$lib" ]; then
      export LD_PRELOAD="$lib"
      break
    fi
  done
fi
export MALLOC_CONF="${MALLOC_CONF:-background_thread:true,narenas:2}"
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-131072}"
exec "${NODE:-node}" --max-semi-space-size=16 "$@"
