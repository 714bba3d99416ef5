#!/usr/bin/env python3
"""The REP MOVS/STOS/LODS fast path (l0/cpu/string_fast.c) against the element
path it shortcuts (docs/emulator.md, "REP strings"): each case runs once
with TURTLES_STRING_FAST=0 and the step engine (every iteration on the
element path, the reference) and once as a user runs it (the block
engine, fast path on), and the two must agree on everything
tests/e2e/test_engines.py compares: serial output, status, --stats
instructions and cycles, and in the database the exit counts and cycles
per level and reason, the nested costs, the guest's metrics and the
counters of the machine (modeled TLB hits, misses and walk references
among them).

Cases: tests/guests/repstr (page-crossing runs of every element size in
both directions for MOVS, STOS and LODS, overlapping MOVS, #PF on the second page, MMIO, a timer
interrupt mid-string) in bare, single and nested mode and its RESULT
line; guests/hello in nested mode (l1vmm's boot is mostly 32-bit REP
STOS/MOVS); and --max-insns limits that fall inside those REP strings."""

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402
from test_engines import ROOT, differences, observe  # noqa: E402

REPSTR_RESULT = (b"RESULT repstr stos=0 movs=0 lods=0 overlap=0 pf=0,0,0,0 "
                 b"mmio=same irq_bad=0")
# turtles' IOAPIC version, and both timer interrupts taken mid-string.
REPSTR_NOTE = b"NOTE repstr ioapic_version=0x170020 irq_mid=2"


def cases(build):
    images = os.path.join(build, "images")
    repstr = os.path.join(images, "repstr.elf")
    hello = os.path.join(images, "hello.elf")
    out = [(f"repstr {mode}", ["--mode", mode, repstr])
           for mode in ("bare", "single", "nested")]
    out.append(("hello nested", ["--mode", "nested", hello]))
    # Inside the runtime's clearing of memory (bare: 32-bit REP STOS of
    # its page tables and BSS) and inside l1vmm's boot (nested).
    for limit in (1500, 2001, 40003, 150007, 280001):
        out.append((f"hello bare --max-insns {limit}", [
            "--mode", "bare", "--max-insns", str(limit), hello]))
    for limit in (100003, 250001, 400007, 520001):
        out.append((f"hello nested --max-insns {limit}", [
            "--mode", "nested", "--max-insns", str(limit), hello]))
    return out


def compare(turtles, case):
    name, options = case
    off = dict(os.environ, TURTLES_STRING_FAST="0")
    on = {k: v for k, v in os.environ.items() if k != "TURTLES_STRING_FAST"}
    with tempfile.TemporaryDirectory(prefix="turtles-strfast-") as work:
        ref = observe(turtles, options, "step", work, off)
        fast = observe(turtles, options, "block", work, on)
    problems = differences(ref, fast, ("element path", "fast path"))
    if name.startswith("repstr") and REPSTR_RESULT not in fast["serial output"]:
        problems.append("repstr's RESULT line is not " + REPSTR_RESULT.decode())
    if name.startswith("repstr") and REPSTR_NOTE not in fast["serial output"]:
        problems.append("repstr's NOTE line is not " + REPSTR_NOTE.decode())
    return name, problems


def main():
    args = arguments(__doc__, ["turtles"])
    r = Report("string-fast")
    if not args.wants("turtles"):
        return r.finish()
    turtles = os.environ.get("TURTLES", os.path.join(ROOT, args.build,
                                                     "turtles"))
    with ThreadPoolExecutor(max_workers=args.jobs or 2) as pool:
        for name, problems in pool.map(lambda c: compare(turtles, c),
                                       cases(args.build)):
            r.check(not problems, f"element path = fast path: {name}",
                    *problems)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
