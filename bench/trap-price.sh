#!/usr/bin/env bash
# The strict price of trap handling on the direct typed calls into wasm
# (x86-64 System V, `crates/springboard/src/tail_call.rs`): the `calls`
# benchmark's host-from-wasm rows, built from HEAD and from a copy of HEAD
# with everything that exists only to catch a failure taken out — the armed
# context the entries write, the registers they declare clobbered, the
# facade's record and landing (the failure check after the call stays: a
# call without a catch point still reports a failure) — measured in
# interleaved rounds.
#
# A few writes cost less than where the linker happens to put the code: one
# source measured from +0.1 to +2.7 ns between two builds. So each side is
# linked in LAYOUTS code layouts (the linker's own order, then lld's
# `--shuffle-sections` with seeds 1, 2, ...), both sides with the same
# seeds, and the price is the median over layouts of each layout's
# difference of medians; the table also gives the least and greatest.
#   bash trap-price.sh [ROUNDS]   (default 3 rounds of every layout and side;
#                                  about 17 s a run, 2 x LAYOUTS runs a round)
# LAYOUTS (default 8) sets the number of layouts. STRIP (default
# `arm,clobbers,landing`) names the parts taken out, to price each: `arm`
# the calls' writes, `clobbers` the registers declared clobbered, `landing`
# the facade's record and landing (only with `arm`). The stripped build is
# not a working runtime (a failure beneath it would not be caught); it
# exists only to be measured.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
layouts=${LAYOUTS:-8}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/bench/target}
work=$(mktemp -d)
trap 'for t in with stripped; do git worktree remove --force "$work/$t" 2>/dev/null; done; rm -rf "$work"' EXIT

# Links as rustc asks, then once per layout into $LAYOUT_DIR/<layout>: the
# linker's own order (0), and shuffled input sections (lld; seed = layout).
cat > "$work/shuffle-cc" <<'LINK'
#!/usr/bin/env bash
set -euo pipefail
cc "$@"
prev=
for a in "$@"; do [ "$prev" = -o ] && cp "$a" "$LAYOUT_DIR/0"; prev=$a; done
for ((seed = 1; seed < LAYOUTS; seed++)); do
  args=() prev=
  for a in "$@"; do
    if [ "$prev" = -o ]; then args+=("$LAYOUT_DIR/$seed"); else args+=("$a"); fi
    prev=$a
  done
  cc "${args[@]}" "-Wl,--shuffle-sections=*=$seed"
done
LINK
chmod +x "$work/shuffle-cc"

# Builds the `calls` benchmark of the tree at $1 in every layout, into $2/.
build() {
  mkdir -p "$2"
  (cd "$1/bench" && LAYOUT_DIR=$2 LAYOUTS=$layouts cargo rustc --profile bench \
    --bench calls -- -C linker="$work/shuffle-cc" 2> "$work/build.log") ||
    { cat "$work/build.log"; exit 1; }
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
    ])
EOF
echo "building HEAD and the stripped copy..." >&2
build "$work/with" "$work/bin-with"
build "$work/stripped" "$work/bin-without"

for _ in $(seq "$rounds"); do
  for ((layout = 0; layout < layouts; layout++)); do
    for v in with without; do
      "$work/bin-$v/$layout" --bench --warm-up-time 1 --measurement-time 2 --noplot \
        'springboard/host-from-wasm$' 2>/dev/null |
        awk -v v="$v" -v l="$layout" \
          '/^[a-z(]/{n=$1} /time:/{for(i=1;i<=NF;i++) if($i=="time:") print v, l, n, $(i+3)}'
    done
  done
done | python3 -c '
import sys, collections
from statistics import median
t = collections.defaultdict(list)
for line in sys.stdin:
    v, layout, name, ns = line.split()
    t[name.split("/")[1], layout, v].append(float(ns))
sigs = dict.fromkeys(s for s, _, _ in t)
layouts = sorted(dict.fromkeys(l for _, l, _ in t), key=int)
print(f"{len(layouts)} layouts; ns per call, medians over each layout`s rounds")
print()
print("| signature | with | without | trap handling: median over layouts | least | greatest |")
print("|---|---|---|---|---|---|")
for sig in sigs:
    w = [median(t[sig, l, "with"]) for l in layouts]
    wo = [median(t[sig, l, "without"]) for l in layouts]
    d = [a - b for a, b in zip(w, wo)]
    print(f"| `{sig}` | {median(w):.2f} | {median(wo):.2f} | {median(d):+.2f}"
          f" | {min(d):+.2f} | {max(d):+.2f} |")
'
