#!/usr/bin/env python3
"""Runs test suites one after the other, every one of them even when some
fail, then prints one summary: each suite's outcome and check counts, the
totals, and last a plain line `N passed, N failed` (counting suites). The
exit status is 1 if any suite failed. `make test` calls it (docs/testing.md).

A suite is a unit-test binary (named unit/test_NAME) or an end-to-end
script of tests/e2e/ (named as in E2E below). --only and --backend narrow
what runs."""

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The end-to-end suites: name, script and whether it takes --build. Every
# script takes --backend (tests/e2e/tap.py).
E2E = [
    ("guests", "tests/e2e/test_guests.py", True),
    ("cli", "tests/e2e/test_turtles_cli.py", False),
    ("reproducers", "tests/e2e/test_reproducers.py", False),
    ("fuzz-regress", "tests/e2e/test_fuzz_regress.py", False),
    ("single", "tests/e2e/test_single.py", False),
    ("nested", "tests/e2e/test_nested.py", False),
    ("exit-kinds", "tests/e2e/test_exit_kinds.py", False),
    ("l0-traps", "tests/e2e/test_l0_traps.py", False),
    ("l1-vmx", "tests/e2e/test_l1_vmx.py", False),
    ("report", "tests/e2e/test_report.py", False),
    ("roi", "tests/e2e/test_roi.py", False),
    ("kvm-run", "tests/e2e/test_kvm_run.py", False),
    ("l1vmm", "tests/e2e/test_l1vmm.py", True),
    ("linux", "tests/e2e/test_linux.py", False),
    ("kvm-l1", "tests/e2e/test_kvm_l1.py", False),
    ("exp", "tests/e2e/test_exp.py", False),
    ("profiles", "tests/e2e/test_profiles.py", False),
    ("slurm", "tests/e2e/test_slurm.py", False),
    ("tlb-model", "tests/e2e/test_tlb_model.py", False),
    ("engines", "tests/e2e/test_engines.py", True),
    ("string-fast", "tests/e2e/test_string_fast.py", True),
    ("gdb", "tests/e2e/test_gdb.py", False),
]

# How a suite reports its checks: the e2e scripts' last TAP line
# (tests/e2e/tap.py), cmocka's two summary lines.
TAP_SUMMARY = re.compile(r"^# .*: (\d+) passed, (\d+) failed, \d+ total$")
CMOCKA_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test")
CMOCKA_FAILED = re.compile(r"^\[  FAILED  \] (\d+) test")


def counts(output):
    """(passed, failed) checks as the suite printed them, or None."""
    passed = failed = None
    for line in output.splitlines():
        m = TAP_SUMMARY.match(line)
        if m:
            passed, failed = int(m[1]), int(m[2])
        m = CMOCKA_PASSED.match(line)
        if m:
            passed = int(m[1])
        m = CMOCKA_FAILED.match(line)
        if m:
            failed = int(m[1])
    if passed is None and failed is None:
        return None
    return passed or 0, failed or 0


def selected(name, patterns):
    """A suite is selected by its name or, for unit/test_X, by test_X."""
    if not patterns:
        return True
    short = name.split("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(short, p)
               for p in patterns)


def suites(args):
    out = []
    if args.group in ("all", "unit"):
        for binary in args.unit:
            out.append((f"unit/{os.path.basename(binary)}", [binary]))
    if args.group in ("all", "e2e"):
        for name, script, takes_build in E2E:
            cmd = ["python3", script]
            if takes_build:
                cmd += ["--build", args.build]
            for b in args.backend:
                cmd += ["--backend", b]
            out.append((name, cmd))
    return [s for s in out if selected(s[0], args.only)]


def run(name, cmd):
    """Runs one suite, its output passed through as it comes."""
    print(f"### {name}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    output = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        output.append(line)
    status = proc.wait()
    return status, counts("".join(output)), time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--group", choices=("all", "unit", "e2e"),
                        default="all")
    parser.add_argument("--only", default="",
                        help="space-separated suite names or shell patterns")
    parser.add_argument("--backend", default="",
                        help="space-separated backends (or patterns) the "
                             "e2e suites are limited to")
    parser.add_argument("--unit", nargs="*", default=[],
                        help="the unit-test binaries")
    args = parser.parse_args()
    args.only = args.only.split()
    args.backend = args.backend.split()

    todo = suites(args)
    if not todo:
        print(f"run_suites: no suite matches {' '.join(args.only)!r}",
              file=sys.stderr)
        return 2
    results = [(name, *run(name, cmd)) for name, cmd in todo]

    print("\n### summary")
    checks_passed = checks_failed = 0
    width = max(len(name) for name, *_ in results)
    for name, status, n, seconds in results:
        if n:
            checks_passed += n[0]
            checks_failed += n[1]
        detail = f"{n[0]} passed, {n[1]} failed" if n else "no check counts"
        outcome = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"{outcome:16} {name:{width}}  {detail:28} {seconds:7.1f}s")
    failed = [name for name, status, *_ in results if status != 0]
    print(f"checks: {checks_passed} passed, {checks_failed} failed")
    if failed:
        print(f"failed suites: {' '.join(failed)}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
