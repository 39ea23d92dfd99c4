#!/usr/bin/env bash
# Runs the `calls` benchmark N times (default 5) and keeps each round's
# medians in target/rounds/, for `ROUNDS=target/rounds python3 report.py
# calls|goals` to take the median of the rounds (the machine is noisy).
#   bash rounds.sh [N] [criterion arguments...]
set -euo pipefail
cd "$(dirname "$0")"
n=${1:-5}
shift || true
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
out=$CARGO_TARGET_DIR/rounds
rm -rf "$out" && mkdir -p "$out"
for i in $(seq "$n"); do
  cargo bench -q --bench calls -- --warm-up-time 0.5 --measurement-time 1.5 --noplot "$@" >/dev/null
  python3 -c 'import json, report; print(json.dumps(report.recorded()))' > "$out/$i.json"
  echo "round $i of $n done"
done
