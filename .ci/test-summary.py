#!/usr/bin/env python3
"""Summarises a `cargo test` log: tests that ran, passed, failed and were
ignored, and the tests that reported `skipped: <test>: <reason>` (wholly or in
part; springboard-testing writes those lines to standard error, past libtest's
capture) or were ignored with a reason, with their reasons.

Fails if any test failed, if no test binary ran, or if fewer tests ran than
the floor `.ci/test-counts` records for LABEL: a count that drops means tests
stopped running. Usage: test-summary.py LABEL LOG"""
import os
import re
import sys

label, path = sys.argv[1], sys.argv[2]
ran = passed = failed = ignored = binaries = 0
skips = {}  # (binary, test) -> reasons
binary = None
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"\s+(Running|Doc-tests) (\S+)(?: \((.+)\))?", line)
    if m:
        if m.group(1) == "Doc-tests":
            binary = "doctests " + m.group(2)
        else:  # the test binary's name without its hash: crate or test file
            binary = (m.group(3) or m.group(2)).replace("\\", "/").split("/")[-1].rsplit("-", 1)[0]
        continue
    m = re.match(r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored", line)
    if m:
        binaries += 1
        p, f, i = int(m.group(2)), int(m.group(3)), int(m.group(4))
        passed, failed, ignored, ran = passed + p, failed + f, ignored + i, ran + p + f
        continue
    m = re.match(r"test (\S+) \.\.\. ignored, (.+)", line)
    if m and binary:
        skips.setdefault((binary, m.group(1)), []).append(m.group(2))
        continue
    m = re.search(r"skipped: (\S+): (.*)", line)
    if m and binary:
        skips.setdefault((binary, m.group(1)), []).append(m.group(2).strip())

print(f"{label}: {binaries} test binaries, {ran} tests ran, {passed} passed, {failed} failed, "
      f"{ignored} ignored, {len(skips)} skipped in whole or part")
for (b, t), reasons in sorted(skips.items()):
    for r in dict.fromkeys(reasons):
        print(f"  skipped {b}::{t}: {r}")

floors = {}
counts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-counts")
for entry in open(counts):
    entry = entry.split("#")[0].split()
    if len(entry) == 2:
        floors[entry[0]] = int(entry[1])
floor = floors.get(label, 0)
if ran < floor:
    print(f"{label}: {ran} tests ran, fewer than the {floor} .ci/test-counts records: "
          "tests stopped running (raise or lower the floor there on purpose)")
    sys.exit(1)
sys.exit(1 if failed or binaries == 0 else 0)
