#!/usr/bin/env python3
"""Summarises a `cargo test ... -- --show-output` log: tests that ran, passed,
failed and were ignored, and the tests that printed `skipped: <reason>`
(wholly or in part), with their reasons. Usage: test-summary.py LABEL LOG"""
import re
import sys

label, path = sys.argv[1], sys.argv[2]
ran = passed = failed = ignored = binaries = 0
skips = {}  # (binary, test) -> reasons
binary = test = None
for line in open(path, errors="replace"):
    line = line.rstrip("\n")
    m = re.match(r"\s+(Running|Doc-tests) (\S+)(?: \((.+)\))?", line)
    if m:
        if m.group(1) == "Doc-tests":
            binary = "doctests " + m.group(2)
        else:  # the test binary's name without its hash: crate or test file
            binary = (m.group(3) or m.group(2)).replace("\\", "/").split("/")[-1].rsplit("-", 1)[0]
        test = None
        continue
    m = re.match(r"---- (.+?) stdout ----", line)
    if m:
        test = m.group(1)
        continue
    m = re.match(r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored", line)
    if m:
        binaries += 1
        p, f, i = int(m.group(2)), int(m.group(3)), int(m.group(4))
        passed, failed, ignored, ran = passed + p, failed + f, ignored + i, ran + p + f
        test = None
        continue
    if line.startswith("skipped:") and binary:
        skips.setdefault((binary, test or "?"), []).append(line[len("skipped:"):].strip())

print(f"{label}: {binaries} test binaries, {ran} tests ran, {passed} passed, {failed} failed, "
      f"{ignored} ignored, {len(skips)} skipped in whole or part")
for (b, t), reasons in sorted(skips.items()):
    for r in dict.fromkeys(reasons):
        print(f"  skipped {b}::{t}: {r}")
sys.exit(1 if failed or binaries == 0 else 0)
