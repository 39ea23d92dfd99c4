#!/usr/bin/env bash
# Nanoseconds per failing call (src/bin/failures.rs) for this tree and, if
# given, another source tree of Springboard (a `git worktree` of an earlier
# commit), alternated: `bash failures.sh [OTHER_TREE] [ROUNDS]`. It copies
# src/bin/failures.rs into the other tree (the program uses only API older
# trees have).
set -euo pipefail
cd "$(dirname "$0")"
trees=("$PWD/..")
[ $# -gt 0 ] && trees+=("$(cd "$1" && pwd)")
rounds=${2:-11}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/../target/bench}
bins=()
for tree in "${trees[@]}"; do
  mkdir -p "$tree/bench/src/bin"
  cp src/bin/failures.rs "$tree/bench/src/bin/failures.rs" 2>/dev/null || true
  (cd "$tree/bench" && cargo build -q --release --bin failures)
  cp "$CARGO_TARGET_DIR/release/failures" "$CARGO_TARGET_DIR/release/failures-$(git -C "$tree" log -1 --format=%h)"
  bins+=("$CARGO_TARGET_DIR/release/failures-$(git -C "$tree" log -1 --format=%h)")
done
for i in 1 2 3; do
  for bin in "${bins[@]}"; do
    echo "${bin##*-} (pass $i): $("$bin" "$rounds" | tr '\n' ';')"
  done
done
