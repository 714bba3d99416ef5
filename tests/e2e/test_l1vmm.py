#!/usr/bin/env python3
"""End-to-end tests of l1vmm, the L1 hypervisor (docs/l1vmm.md).

On Bochs' VMX, every guest (each directory of guests/ and tests/guests/)
runs as L2 under l1vmm in both paging modes and must end with the status
and print the RESULT, EXCEPTION and PANIC lines it prints alone on QEMU
(and, where tests/e2e/expected.py has them, the expected RESULT lines);
the L1STATS block must parse and agree with what the guest did; the
exitstats guest must see shadow paging's exits (#PF, INVLPG, CR access,
INVPCID) through CPUID 0x4FFFFFFE and none of them under EPT. Under QEMU
TCG (no VMX) l1vmm must say so and fail; bad L2 input must fail clearly.

Runs go two at a time (each Bochs run is a GRUB boot of a few seconds)."""

import os
import re
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNNERS = {"bochs": "scripts/bochs-run.sh", "qemu": "scripts/qemu-run.sh"}
OK, FAIL, EXCEPTION = 0, 1, 2  # RT_EXIT_* in guests/rt/rt.h
L2_PREFIX = "[L2]"
EXITSTATS_ITERS = 64

# Basic exit reasons (SDM Vol. 3D Appendix C) the checks name.
EXCEPTION_NMI, CPUID, INVLPG, CR_ACCESS, INVPCID = 0, 10, 14, 28, 58
SHADOW_ONLY = (EXCEPTION_NMI, INVLPG, CR_ACCESS, INVPCID)


# Command lines of the guests that need one here; the rest run without.
GUEST_ARGS = {"cpuid": "iters=1000", "fault": "kind=pf",
              "exits": "kind=vmcall iters=20",
              "exitstats": f"iters={EXITSTATS_ITERS}",
              # Its default 64 MiB region needs more than l1vmm's L2 RAM.
              "memwalk": "size_mib=8 reads=20000"}
# Guests that cannot run under l1vmm, with the reason.
SKIP = {"linux": "Debian's kernel, a bzImage: l1vmm loads multiboot images "
                 "only so far (docs/linux.md)",
        "pcplatform": "a multiboot L2 gets l1vmm's emulated ports (the "
                      "platform's read all ones) and no ACPI tables: direct "
                      "access is for a Linux L2 only (docs/l1vmm.md)",
        "apicoff": "l1vmm gives L2 no IA32_APIC_BASE (RDMSR is #GP)",
        "kvm-l1": "the initramfs of KVM as L1 (docs/kvm-l1.md), not an "
                  "image"}


def discover_guests():
    dirs = [os.path.join(ROOT, "guests"), os.path.join(ROOT, "tests", "guests")]
    return sorted(name for d in dirs for name in os.listdir(d)
                  if os.path.isdir(os.path.join(d, name)) and name != "rt"
                  and name not in SKIP)


def comparable(lines):
    """The lines a guest must print alike on every backend."""
    return [l for l in lines if l.startswith(("RESULT ", "EXCEPTION ", "PANIC: "))]


@dataclass
class Case:
    name: str
    backend: str
    l1_args: str
    module: str  # path (relative to the build directory's images) or ""
    module_args: str
    status: int
    results: list = None  # the L2 RESULT lines, exactly; None: not checked
    patterns: list = field(default_factory=list)  # regexes some line matches
    checks: list = field(default_factory=list)  # functions(lines) -> problems
    stats: bool = True  # an L1STATS block is expected
    alone: str = ""  # a guest whose run alone on QEMU L2 must match


def l2_lines(lines):
    """L2's own output, without the prefix l1vmm adds."""
    return [l[len(L2_PREFIX):].lstrip(" ") for l in lines if l.startswith(L2_PREFIX)]


def parse_l1stats(lines):
    """Returns (header dict, {reason: (name, count, cycles)}, total) or raises."""
    block = [l for l in lines if l.startswith("L1STATS ")]
    if not block or not block[0].startswith("L1STATS begin ") or block[-1] != "L1STATS end":
        raise ValueError("no L1STATS begin ... end block")
    header = dict(kv.split("=", 1) for kv in block[0].split()[2:])
    reasons, total = {}, None
    for line in block[1:-1]:
        m = re.fullmatch(r"L1STATS reason=(\d+) name=(\w+) count=(\d+) cycles=(\d+)", line)
        t = re.fullmatch(r"L1STATS total count=(\d+) cycles=(\d+)", line)
        if m:
            reasons[int(m[1])] = (m[2], int(m[3]), int(m[4]))
        elif t:
            total = (int(t[1]), int(t[2]))
        else:
            raise ValueError(f"unparsable line: {line}")
    if total is None:
        raise ValueError("no L1STATS total line")
    return header, reasons, total


def check_l1stats(case, lines):
    problems = []
    try:
        header, reasons, total = parse_l1stats(lines)
    except ValueError as e:
        return [str(e)]
    paging = re.search(r"paging=(\w+)", case.l1_args)
    want_paging = paging[1] if paging else "ept"
    if header.get("paging") != want_paging:
        problems.append(f"L1STATS paging={header.get('paging')}, expected {want_paging}")
    if header.get("l2_status") != str(case.status):
        problems.append(f"L1STATS l2_status={header.get('l2_status')}, expected {case.status}")
    if total != (sum(r[1] for r in reasons.values()), sum(r[2] for r in reasons.values())):
        problems.append(f"L1STATS total {total} is not the sum of the reasons")
    if any(r[1] == 0 for r in reasons.values()):
        problems.append("L1STATS lists a reason with count 0")
    # Under EPT L2's paging never exits (CR accesses still may, for the
    # CR0/CR4 bits VMX fixes), so these shadow paging exits must be absent.
    if want_paging == "ept":
        for reason in (EXCEPTION_NMI, INVLPG, INVPCID):
            if reason in reasons:
                problems.append(f"ept run has exits of reason {reason}: {reasons[reason]}")
    else:
        for reason in (EXCEPTION_NMI, CR_ACCESS):
            if reason not in reasons:
                problems.append(f"shadow run has no exits of reason {reason}")
    return problems


def cpuid_exits_at_least(n):
    def check(lines):
        _, reasons, _ = parse_l1stats(lines)
        count = reasons.get(CPUID, ("", 0, 0))[1]
        return [] if count >= n else [f"{count} CPUID exits, expected at least {n}"]
    return check


def exitstats(paging):
    """The guest's own view through CPUID 0x4FFFFFFE (guests/exitstats)."""
    def check(lines):
        problems = []
        seen = {}
        info = {}
        for line in l2_lines(lines):
            m = re.fullmatch(r"EXITSTATS reason=(\d+) delta=(\d+)", line)
            if m:
                seen[int(m[1])] = int(m[2])
            elif line.startswith("EXITSTATS "):
                info = dict(kv.split("=", 1) for kv in line.split()[1:])
        n = EXITSTATS_ITERS
        if paging == "shadow":
            want_min = {EXCEPTION_NMI: n, INVLPG: n, CR_ACCESS: 2 * n,
                        INVPCID: int(info.get("invpcid", "0"))}
            for reason, low in want_min.items():
                if seen.get(reason, -1) < low:
                    problems.append(f"shadow: reason {reason} delta {seen.get(reason)}, expected >= {low}")
        else:
            for reason in SHADOW_ONLY:
                if seen.get(reason) != 0:
                    problems.append(f"ept: reason {reason} delta {seen.get(reason)}, expected 0")
        if info.get("cpuid_self") != "1":
            problems.append(f"two reason-10 queries differ by {info.get('cpuid_self')}, expected 1")
        if info.get("undefined_edx") != "0xffffffff":
            problems.append(f"undefined reason 35 gave edx={info.get('undefined_edx')}")
        # What the guest saw, l1vmm counted (the block has every exit).
        _, reasons, _ = parse_l1stats(lines)
        for reason, delta in seen.items():
            if reasons.get(reason, ("", 0, 0))[1] < delta:
                problems.append(f"L1STATS reason {reason} below the guest's delta {delta}")
        return problems
    return check


def elf_too_large(path):
    """A valid multiboot ELF32 whose one segment wants 128 MiB at 1 MiB."""
    ehdr_size, phdr_size = 52, 32
    mb_flags = 0x3
    multiboot = struct.pack("<III", 0x1BADB002, mb_flags, -(0x1BADB002 + mb_flags) & 0xFFFFFFFF)
    filesz = ehdr_size + phdr_size + len(multiboot)
    ehdr = struct.pack("<4sBBBB8xHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0,
                       2, 3, 1, 0x100000, ehdr_size, 0, 0, ehdr_size, phdr_size, 1, 0, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0, 0x100000, 0x100000, filesz, 128 << 20, 7, 0x1000)
    with open(path, "wb") as f:
        f.write(ehdr + phdr + multiboot)


def cases(scratch):
    not_elf = os.path.join(scratch, "not-an-elf.txt")
    with open(not_elf, "w") as f:
        f.write("this is not a kernel\n")
    too_large = os.path.join(scratch, "too-large.elf")
    elf_too_large(too_large)

    special_results = {"hello": [expected.hello()], "cpuid": [expected.cpuid(1000)]}
    out = []
    for guest in discover_guests():
        gargs = GUEST_ARGS.get(guest, "")
        for paging in ("ept", "shadow"):
            args = f"paging={paging}"
            checks = []
            if guest == "cpuid":
                checks.append(cpuid_exits_at_least(1000))
            if guest == "exitstats":
                checks.append(exitstats(paging))
            out.append(Case(f"{guest} {gargs} {args}".replace("  ", " "), "bochs", args,
                            f"{guest}.elf", gargs, None,
                            results=special_results.get(guest), checks=checks,
                            alone=guest))
    out += [
        Case("qemu tcg: no VMX", "qemu", "", "hello.elf", "", FAIL, stats=False,
             patterns=[r"^PANIC: l1vmm: VMX not available on this CPU \(CPUID\.1:ECX\.VMX=0\)$"]),
        Case("bad input: no module", "bochs", "", "", "", FAIL, stats=False,
             patterns=[r"^PANIC: l1vmm: no L2 guest"]),
        Case("bad input: module is not an ELF file", "bochs", "", not_elf, "", FAIL,
             stats=False, patterns=[r"^l1vmm: bad L2 module: not an ELF file"]),
        Case("bad input: image larger than L2 RAM", "bochs", "", too_large, "", FAIL,
             stats=False, patterns=[r"^l1vmm: L2 image does not fit: .* outside L2 RAM"]),
    ]
    return out


def run_alone(guest, build):
    """The guest on QEMU without l1vmm: its status and comparable lines."""
    gargs = GUEST_ARGS.get(guest, "")
    cmd = [RUNNERS["qemu"], os.path.join(build, "images", guest + ".elf")] + gargs.split()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, comparable(proc.stdout.splitlines())


def run(case, build):
    cmd = [RUNNERS[case.backend], "--timeout", "90"]
    if case.module:
        path = case.module if os.path.isabs(case.module) else \
            os.path.join(build, "images", case.module)
        cmd += ["--module", path + (f"={case.module_args}" if case.module_args else "")]
    cmd += [os.path.join(build, "images", "l1vmm.elf")] + case.l1_args.split()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def check(case, status, lines, alone):
    problems = []
    if case.alone:
        want_status, want_lines = alone[case.alone]
        case.status = want_status
        got = comparable(l2_lines(lines))
        if got != want_lines:
            problems.append(f"L2 printed {got}, alone on QEMU {want_lines}")
    if status != case.status:
        problems.append(f"exit status {status}, expected {case.status}")
    if f"EXIT status={case.status}" not in lines:
        problems.append(f"missing line: EXIT status={case.status}")
    if case.results is not None:
        got = [l for l in l2_lines(lines) if l.startswith("RESULT ")]
        if got != case.results:
            problems.append(f"L2 RESULT lines {got}, expected {case.results}")
    for pattern in case.patterns:
        if not any(re.search(pattern, line) for line in lines):
            problems.append(f"no line matches: {pattern}")
    if case.stats:
        problems += check_l1stats(case, lines)
    for c in case.checks:
        try:
            problems += c(lines)
        except ValueError as e:
            problems.append(str(e))
    return problems


def main():
    args = arguments(__doc__, list(RUNNERS))
    args.jobs = args.jobs or min(4, os.cpu_count() or 1)

    report = Report("l1vmm")
    with tempfile.TemporaryDirectory() as scratch:
        todo = [c for c in cases(scratch) if args.wants(c.backend)]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            guests = sorted({c.alone for c in todo if c.alone})
            alone = dict(zip(guests, pool.map(lambda g: run_alone(g, args.build), guests)))
            outcomes = list(pool.map(lambda c: run(c, args.build), todo))
    for case, (status, lines, stderr) in zip(todo, outcomes):
        report.run_check(check(case, status, lines, alone),
                         f"{case.backend}: l1vmm {case.name}",
                         lines + stderr.splitlines(), 25)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
