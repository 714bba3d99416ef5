#!/usr/bin/env python3
"""The block and jit engines against the step engine (docs/emulator.md,
"Engines"): every guest image and test image under build/images runs in
bare, single and nested mode with --engine step, --engine block and, on
x86-64 hosts, --engine jit, and each run must agree with the step run on everything the machine models: the serial output, the
exit status, the messages on stderr, the instruction and cycle counts of
--stats, and in the results database the run's record, its exit counts
and cycles per (level, reason), the nested costs, the guest's metrics and
the emulator's counters. Only the counters of host-side work may differ:
`decoded` (the block engine decodes a straight line ahead) and the
software TLB's fills and walk references (HOST_COUNTERS below).

The L1 test programs (tests/guests/vmx*, l1fuzz) run in nested mode as
L1 under L0 with guests/hello as their L2, as tests/e2e/test_l1_vmx.py
runs them; guests/cpuid also runs with --max-insns at three consecutive
counts in the middle of its work in every mode, and Debian's kernel (when build/linux has it)
boots for a bounded number of instructions in every mode."""

import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ("bare", "single", "nested")
# Programs that are L1 hypervisors themselves, with the arguments their
# own test gives them (tests/e2e/test_l1_vmx.py).
L1_PROGRAMS = {"vmxfuzz": "rounds=60", "vmxmsr": "", "vmxguests": "",
               "l1fuzz": ""}
# Counters of the emulator's own work, not the machine's: instructions
# decoded, and the fills and page-walk references of its software TLB
# (host-side, docs/emulator.md), which the step engine's fetch cache and
# the block engine's lookup skip at different times. Modeled cycles do
# not depend on them; the comparison of cycles above is what counts.
HOST_COUNTERS = {"decoded", "tlb_fills", "walk_refs", "ept_walk_refs"}
STATS = re.compile(r"^turtles: stats: instructions=(\d+) cycles=(\d+) ")


def cases(build):
    """(name, turtles run options) for every comparison."""
    images = os.path.join(build, "images")
    hello = os.path.join(images, "hello.elf")
    out = []
    for name in sorted(os.listdir(images)):
        if not name.endswith(".elf") or name == "l1vmm.elf":
            continue
        image = os.path.join(images, name)
        program = name[:-4]
        for mode in MODES:
            if mode == "nested" and program in L1_PROGRAMS:
                out.append((f"{program} as L1", [
                    "--mode", "nested", "--l1", image, "--l1-args",
                    L1_PROGRAMS[program], hello]))
            else:
                out.append((f"{program} {mode}", ["--mode", mode, image]))
    # The limit at three consecutive steps, so that it falls inside a
    # block (guests/cpuid's loop has a few instructions between exits).
    cpuid = os.path.join(images, "cpuid.elf")
    for mode in MODES:
        first = 700001 if mode == "nested" else 50001
        for limit in range(first, first + 3):
            out.append((f"cpuid {mode} --max-insns {limit}", [
                "--mode", mode, "--max-insns", str(limit), cpuid]))
    kernel = os.path.join(build, "linux", "vmlinuz")
    initrd = os.path.join(build, "linux", "initrd.gz")
    if os.path.exists(kernel) and os.path.exists(initrd):
        for mode in MODES:
            out.append((f"linux {mode} --max-insns 20000000", [
                "--mode", mode, "--max-insns", "20000000", "--kernel",
                kernel, "--initrd", initrd, "--append",
                "console=ttyS0 quiet panic=-1"]))
    return out


def query(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def observe(turtles, options, engine, work, env=None):
    """Everything one run shows that the engines must agree on (`env`:
    the environment to run in, the inherited one if None)."""
    db = os.path.join(work, f"{engine}.db")
    serial = os.path.join(work, f"{engine}.txt")
    # Options go before IMAGE: the image is the last word of `options`.
    cmd = [turtles, "run", "--engine", engine, "--stats", "--db", db,
           "--serial", serial, *options]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       timeout=600, env=env)
    stats = None
    messages = []
    for line in p.stderr.splitlines():
        m = STATS.match(line)
        if m:
            stats = (int(m[1]), int(m[2]))
        else:
            messages.append(line)
    with open(serial, "rb") as f:
        output = f.read()
    seen = {"status": p.returncode, "serial output": output,
            "stderr": messages, "--stats instructions, cycles": stats}
    if os.path.exists(db):
        seen["run"] = query(db, "SELECT mode, status, exit_code, "
                                "guest_status, instructions, cycles FROM runs")
        seen["exit counts and cycles"] = query(
            db, "SELECT handler_level, guest_level, reason, count, cycles "
                "FROM exit_stats ORDER BY 1, 2, 3")
        seen["nested costs"] = query(
            db, "SELECT * FROM nested_costs ORDER BY reason")
        seen["guest metrics"] = query(
            db, "SELECT seq, level, kind, guest, key, value "
                "FROM guest_metrics ORDER BY seq")
        seen["counters"] = [row for row in query(
            db, "SELECT name, value FROM counters ORDER BY name")
            if row[0] not in HOST_COUNTERS]
    return seen


# --engine jit writes x86-64 code: elsewhere turtles refuses it.
ENGINES = ("block", "jit") if platform.machine() in ("x86_64", "AMD64") \
    else ("block",)


def differences(first, second, names):
    """What two observe() results disagree on (`names`: what to call
    them), and the first one's missing --stats line."""
    problems = []
    for key in first:
        if first[key] != second.get(key):
            a, b = str(first[key]), str(second.get(key))
            problems.append(f"{key}: {names[0]} {a[:300]} / "
                            f"{names[1]} {b[:300]}")
    if first["--stats instructions, cycles"] is None:
        problems.append("no --stats line: " +
                        " | ".join(first["stderr"][-3:]))
    return problems


def compare(turtles, case):
    """(name, {engine: problems against step}, step's --stats)."""
    name, options = case
    with tempfile.TemporaryDirectory(prefix="turtles-engines-") as work:
        step = observe(turtles, options, "step", work)
        others = {e: observe(turtles, options, e, work) for e in ENGINES}
    problems = {engine: differences(step, seen, ("step", engine))
                for engine, seen in others.items()}
    return name, problems, step["--stats instructions, cycles"]


def main():
    args = arguments(__doc__, ["turtles"])
    r = Report("engines")
    if not args.wants("turtles"):
        return r.finish()
    turtles = os.environ.get("TURTLES", os.path.join(ROOT, args.build,
                                                     "turtles"))
    todo = cases(args.build)
    with ThreadPoolExecutor(max_workers=args.jobs or 2) as pool:
        for name, problems, stats in pool.map(lambda c: compare(turtles, c),
                                              todo):
            for engine, found in problems.items():
                r.check(not found, f"step = {engine}: {name} "
                        f"({stats[0] if stats else '?'} instructions)",
                        *found)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
