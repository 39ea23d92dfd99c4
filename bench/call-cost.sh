#!/usr/bin/env bash
# Exact per-call costs of the `call_cost` paths under callgrind, which counts
# instructions and memory writes, so the figures repeat exactly whatever the
# machine does:
#   bash call-cost.sh [OTHER_TREE]  instructions per call of the `(i32,i32)->i32`
#                                   paths, this tree and, if given, another
#                                   source tree of Springboard (say, a
#                                   `git worktree` of an earlier commit)
#   bash call-cost.sh --table       instructions and memory writes per call of
#                                   every signature and path, this tree (markdown)
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/../target/bench}
bin=$CARGO_TARGET_DIR/release/call_cost

# Prints "instructions writes" per call of `call_cost ARGS...`: the
# difference between 100,000 and 200,000 calls, free of set-up.
per_call() {
  local path=$1 a b
  shift
  collected() {
    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file=/dev/null "$bin" "$path" "$@" 2>&1 |
      sed -n 's/.*Collected : \([0-9]*\) [0-9]* \([0-9]*\).*/\1 \2/p'
  }
  read -r -a a <<< "$(collected 100000 "$@")"
  read -r -a b <<< "$(collected 200000 "$@")"
  echo "$(( (b[0] - a[0]) / 100000 )) $(( (b[1] - a[1]) / 100000 ))"
}

if [ "${1:-}" = --table ]; then
  cargo build -q --release --bin call_cost
  paths="direct typed no-catch call-indirect untyped host-from-wasm no-catch-host-from-wasm"
  signatures="none add mixed6 sum16 multi"
  echo "| path | $(sed 's/ / | /g' <<< "$signatures") |"
  echo "|---$(sed 's/[^ ]*/|---/g; s/ //g' <<< "$signatures")|"
  for path in $paths; do
    row="| $path |"
    for signature in $signatures; do
      read -r ir writes <<< "$(per_call "$path" "$signature")"
      row="$row $ir / $writes |"
    done
    echo "$row"
  done
  exit
fi

trees=("$PWD/..")
[ $# -gt 0 ] && trees+=("$(cd "$1" && pwd)")
for tree in "${trees[@]}"; do
  # Each tree measures with its own program (an older one cannot build this
  # tree's: it lacks the API it uses).
  (cd "$tree/bench" && cargo build -q --release --bin call_cost)
  paths="typed untyped host-from-wasm"
  grep -q generic-from-wasm "$tree/bench/src/bin/call_cost.rs" && paths="$paths generic-from-wasm"
  for path in $paths; do
    read -r ir _ <<< "$(per_call "$path")"
    echo "$(git -C "$tree" log -1 --format=%h) $path: $ir instructions per call"
  done
done
