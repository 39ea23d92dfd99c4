#!/usr/bin/env bash
# The ABI conformance fuzzer over many seeds: random signatures (up to 1,000
# parameters, several results) from C on the host and, where their gcc and
# qemu-user are installed, on aarch64, riscv64 and s390x; and against libffi
# on the host. Usage: tests/abi-fuzz.sh [FIRST..END]  (default 0..100)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="${1:-0..100}"
SPRINGBOARD_ABI_FUZZ_SEEDS="$seeds" cargo test --release -p springboard-tests \
    --test abi_conformance --test libffi_differential -- --nocapture 2>&1 |
    grep -E 'seed|skipped|test result|panicked|FAILED'
