#!/usr/bin/env bash
# The strict price of trap handling on the direct typed calls into wasm
# (x86-64 System V, `crates/springboard/src/tail_call.rs`): the `calls`
# benchmark's host-from-wasm rows, built from HEAD and from a copy of HEAD
# with everything that exists only to catch a failure taken out — the armed
# context the entries write, the registers they declare clobbered, the
# facade's record and landing (the failure check after the call stays: a
# call without a catch point still reports a failure) — measured in
# interleaved rounds; prints the median of each and their difference.
#   bash trap-price.sh [ROUNDS]        (default 8; about 30 s a round)
# STRIP (default `arm,clobbers,landing`) names the parts taken out, to
# price each: `arm` the calls' writes, `clobbers` the registers declared
# clobbered, `landing` the facade's record and landing (only with `arm`).
# The stripped build is not a working runtime (a failure beneath it would
# not be caught); it exists only to be measured.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-8}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/bench/target}
work=$(mktemp -d)
trap 'for t in with stripped; do git worktree remove --force "$work/$t" 2>/dev/null; done; rm -rf "$work"' EXIT

# Builds the `calls` benchmark of the tree at $1 and copies it to $2.
build() {
  (cd "$1/bench" && cargo bench --no-run --bench calls 2> "$work/build.log") ||
    { cat "$work/build.log"; exit 1; }
  local bin
  bin=$(sed -n 's/.*Executable benches\/calls.rs (\(.*\))/\1/p' "$work/build.log" | tail -1)
  cp "$1/bench/$bin" "$2" 2>/dev/null || cp "$bin" "$2"
}

# Both from worktrees of HEAD: uncommitted changes are in neither.
git worktree add -q --detach "$work/with" HEAD
git worktree add -q --detach "$work/stripped" HEAD
python3 - "$work/stripped/crates/springboard/src" "${STRIP:-arm,clobbers,landing}" <<'EOF'
import re, sys
src, strip = sys.argv[1], sys.argv[2].split(",")
# Without its arming, an entry given the engine's context would write to it.
assert "landing" not in strip or "arm" in strip, "STRIP: landing needs arm"
def patch(name, edits):
    path = f"{src}/{name}"
    text = open(path).read()
    for old, new in edits:
        assert text.count(old) >= 1, f"{name}: {old!r} not found: update trap-price.sh"
        text = text.replace(old, new)
    open(path, "w").write(text)
if "arm" in strip:
    # Every line of the calls' shared template that arms the catch point:
    # writes to the record (`rax`), and the resume address.
    path = f"{src}/tail_call.rs"
    text, n = re.subn(
        r'^(\s*)"((?:[^"]*)(?:\[rax \+ \{|rip \+ 2f)(?:[^"]*))",$',
        r'\1"# \2",', open(path).read(), flags=re.M)
    assert n == 5, "tail_call.rs: arming lines not found: update trap-price.sh"
    open(path, "w").write(text)
if "clobbers" in strip:
    patch("tail_call.rs", [
        (f'            out("{r}") _,\n', "") for r in ("r12", "r13", "r14", "r15")
    ])
if "landing" in strip:
    patch("typed.rs", [
        ("TrapMode::caught_by_call(|record| unsafe {",
         "TrapMode::DirectUnhooked.call(caller, |_| unsafe { let record = core::ptr::null_mut();"),
        ("&& crate::trap::in_host_code()", ""),
    ])
EOF
echo "building HEAD and the stripped copy..." >&2
build "$work/with" "$work/with.bin"
build "$work/stripped" "$work/without.bin"

for _ in $(seq "$rounds"); do
  for v in with without; do
    "$work/$v.bin" --bench --warm-up-time 1 --measurement-time 2 --noplot \
      'springboard/host-from-wasm$' 2>/dev/null |
      awk -v v="$v" '/^[a-z(]/{n=$1} /time:/{for(i=1;i<=NF;i++) if($i=="time:") print v, n, $(i+3)}'
  done
done | python3 -c '
import sys, statistics, collections
t = collections.defaultdict(list)
for line in sys.stdin:
    v, name, ns = line.split()
    t[name.split("/")[1], v].append(float(ns))
print("| signature | with (ns) | without (ns) | trap handling (ns) |")
print("|---|---|---|---|")
for sig in dict.fromkeys(s for s, _ in t):
    w, wo = statistics.median(t[sig, "with"]), statistics.median(t[sig, "without"])
    print(f"| `{sig}` | {w:.2f} | {wo:.2f} | {w - wo:+.2f} |")
'
