#!/usr/bin/env bash
# Instructions per call of each `call_cost` path, for this tree and, if
# given, another source tree of Springboard (say, a `git worktree` of an
# earlier commit): `bash call-cost.sh [OTHER_TREE]`. callgrind counts
# instructions, so the figures repeat exactly whatever the machine does.
set -euo pipefail
cd "$(dirname "$0")"
trees=("$PWD/..")
[ $# -gt 0 ] && trees+=("$(cd "$1" && pwd)")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/../target/bench}
for tree in "${trees[@]}"; do
  # Each tree measures with its own program (an older one cannot build this
  # tree's: it lacks the API it uses).
  (cd "$tree/bench" && cargo build -q --release --bin call_cost)
  bin=$CARGO_TARGET_DIR/release/call_cost
  paths="typed untyped host-from-wasm"
  grep -q generic-from-wasm "$tree/bench/src/bin/call_cost.rs" && paths="$paths generic-from-wasm"
  for path in $paths; do
    ir() {
      valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$path" "$1" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    a=$(ir 100000) b=$(ir 200000)
    echo "$(git -C "$tree" log -1 --format=%h) $path: $(( (b - a) / 100000 )) instructions per call"
  done
done
