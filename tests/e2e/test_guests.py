#!/usr/bin/env python3
"""End-to-end tests: every guest boots on every backend; its result lines
and exit status must match what this file expects, and the RESULT lines of
all backends must be identical.

Expected RESULT lines come from expected.py (computed independently).
Exception reports are architectural facts (vector, error code, CR2)."""

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402
import expected_system  # noqa: E402
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Each backend: the runner (IMAGE CMDLINE..., exits with the guest's
# status) and the environment it needs.
BACKENDS = {
    "qemu": (["scripts/qemu-run.sh"], {}),
    "bochs": (["scripts/bochs-run.sh"], {}),
    "turtles": (["scripts/turtles-run.sh"], {"TURTLES_MODE": "bare"}),
    "turtles-single": (["scripts/turtles-run.sh"], {"TURTLES_MODE": "single"}),
}


def nested_backends():
    """The image as L2 under l1vmm: both paging modes, every combination
    of L0's nested options."""
    for paging in ("ept", "shadow"):
        for shadowing in ("on", "off"):
            for merge in ("dirty", "full"):
                name = f"nested-{paging}-{shadowing}-{merge}"
                BACKENDS[name] = (["scripts/turtles-run.sh"], {
                    "TURTLES_MODE": "nested",
                    "TURTLES_L1_ARGS": f"paging={paging}",
                    "TURTLES_EXTRA": f"--vmcs-shadowing {shadowing} "
                                     f"--merge {merge}"})


nested_backends()

OK, FAIL, EXCEPTION, BAD_ARGS = 0, 1, 2, 4  # RT_EXIT_* in guests/rt/rt.h


@dataclass
class Case:
    guest: str
    cmdline: str
    status: int
    lines: list = field(default_factory=list)  # exact lines that must appear
    patterns: list = field(default_factory=list)  # regexes that must match a line
    # Exact DETAIL lines: architectural values checked on every backend
    # except those in DEVIATIONS, which are known to depart from the SDM.
    details: list = field(default_factory=list)
    # The backends the case runs on (None: all of them).
    # Backends that depart from the SDM in this case's DETAIL lines only,
    # with the reason (as DEVIATIONS, but for one case).
    deviations: dict = field(default_factory=dict)
    # The backends that can run the guest at all (None: every one), when
    # a level below it does not offer what it needs.
    backends: list = None

    @property
    def name(self):
        return f"{self.guest} {self.cmdline}".strip()


def exception_line(vector, error, cr2=None):
    cr2_part = f"{cr2:#x}" if cr2 is not None else r"0x[0-9a-f]+|0"
    return (rf"^EXCEPTION vector={vector} error={error} rip=0x[0-9a-f]+ "
            rf"cr2=(?:{cr2_part}) \(")


# Where a backend departs from the SDM on a value a guest prints in a
# DETAIL line, that backend is not held to the line (the reason is kept
# here and beside the printf in the guest).
DEVIATIONS = {
    "qemu": "QEMU 7.2 TCG: IDT error codes carry vector * 16 in IA-32e mode;"
            " reserved-bit #PF leaves P clear; MOV SS of a null selector with"
            " RPL != CPL and non-canonical stack references give no #GP(0)/"
            "#SS(0); IA32_FS_BASE takes non-canonical values; an unmasked"
            " SIMD floating-point exception raises no #XM; MOV to CR0 takes"
            " bits 63:32 (strict skips its later probes then)",
}


def system_case(guest, expect, **options):
    """A case for a system-level guest: `expect` gives its RESULT lines,
    or (RESULT lines, DETAIL lines)."""
    lines, details = expect if isinstance(expect, tuple) else (expect, [])
    return Case(guest, "", OK, lines=lines, details=details, **options)


DEBUG_DELIVERY = expected_system.debug_delivery()

CASES = [
    Case("hello", "", OK, lines=[expected.hello()]),
    Case("cpuid", "iters=1000", OK, lines=[expected.cpuid(1000)]),
    Case("cpuid", "", OK, lines=[expected.cpuid(10000)]),  # the default
    # The memory-bound benchmark, small enough for l1vmm's default L2 RAM.
    Case("memwalk", "size_mib=8 reads=20000 seed=7", OK,
         lines=[expected.memwalk(8, 20000, 7)]),
    # Exit-type microbenchmarks (Figure 6): the kinds whose operation
    # takes a handler or a device on some backend.
    *[Case("exits", f"kind={k} iters=20", OK, lines=[expected.exits(k, 20)])
      for k in ("vmcall", "pio-in", "cr", "interrupt", "pending", "ept")],
    # A write to an unmapped page: #PF, error code W=1 (SDM Vol. 3A 4.7).
    Case("fault", "kind=pf", EXCEPTION,
         patterns=[exception_line(14, "0x2", 0x123456789000)]),
    # A non-canonical address: #GP(0) (SDM Vol. 3A 3.3.7.1).
    Case("fault", "kind=gp", EXCEPTION, patterns=[exception_line(13, "0")]),
    Case("fault", "kind=ud", EXCEPTION, patterns=[exception_line(6, "0")]),
    Case("fault", "kind=de", EXCEPTION, patterns=[exception_line(0, "0")]),
    # A handled breakpoint returns through IRETQ and the guest goes on.
    Case("fault", "kind=bp", OK, lines=["RESULT fault kind=bp handled=2"]),
    # A bad command line is the guest's own failure, reported as such
    # (guests/rt/cmdline.c checks every program's keys and values).
    Case("fault", "kind=zz", BAD_ARGS,
         patterns=[r"^PANIC: fault: 'kind=zz': the value must be one of: "
                   r"pf gp ud de bp tf hang$"]),
    Case("cpuid", "iter=5", BAD_ARGS,
         patterns=[r"^PANIC: cpuid: unknown argument 'iter=5' \(keys: "
                   r"iters\)$"]),
    # System-level guests (issue 3): expectations from the SDM, see
    # expected_system.py.
    system_case("paging", expected_system.paging()),
    system_case("usermode", expected_system.usermode()),
    system_case("timer", expected_system.timer(),
                deviations={
                    "qemu": "QEMU 7.2 TCG pushes RF = 0 for an interrupt "
                            "between two iterations of a REP string",
                    "bochs": "Bochs 2.7 pushes RF = 0 for an interrupt "
                             "between two iterations of a REP string"}),
    system_case("exceptions", expected_system.exceptions()),
    system_case("smc", expected_system.smc()),
    system_case("sensitive", expected_system.sensitive()),
    # SSE/SSE2 from compiled C, bit for bit (expected.float_guest).
    system_case("float", expected.float_guest()),
    system_case("strict", expected_system.strict()),
    system_case("strio", expected_system.strio()),
    # The modeled TLB's memory loop: its own 4 KiB page tables, a CR3
    # reload per pass; each page holds its number, read 1 + passes times.
    Case("tlbloop", "pages=64 passes=2 reload=1", OK,
         lines=[f"RESULT tlbloop pages=64 passes=2 reload=1 "
                f"sum={3 * 64 * 63 // 2}"]),
    # Events whose delivery a VM exit interrupts (l1vmm paging=shadow).
    system_case("vectoring", expected_system.vectoring()),
    # The PC platform (docs/platform.md); it ends with an ACPI power-off.
    # Bochs has no fw_cfg and its BIOS puts the PM ports elsewhere; under
    # l1vmm a multiboot L2 gets neither the platform's ports nor its tables
    # (l1vmm's direct access is for a Linux L2 only).
    Case("pcplatform", "", OK, lines=expected_system.pcplatform(),
         backends=["qemu", "turtles", "turtles-single"]),
    system_case("nmi", expected_system.nmi(),
                deviations={"qemu": "QEMU 7.2 TCG takes the NMI of an ICR "
                                    "write at the end of its translation "
                                    "block, not at the next instruction"}),
    system_case("debug", expected_system.debug(),
                deviations={
                    "qemu": "QEMU 7.2 TCG raises #UD for INT1 (built "
                            "without ICEBP), ignores DR7.GD, and pushes RF "
                            "= 0 for a REP iteration's data-breakpoint and "
                            "single-step traps",
                    "bochs": "Bochs 2.7 pushes RF = 0 for the general-"
                             "detect #DB fault and for a REP iteration's "
                             "data-breakpoint and single-step traps"}),
    # QEMU 7.2 TCG aborts (an assertion on its I/O thread lock) when an
    # exception's delivery hits a watchpoint: Bochs is the reference.
    Case("debug", "deliv=1", OK, lines=DEBUG_DELIVERY[0],
         details=DEBUG_DELIVERY[1], backends=[b for b in BACKENDS if b != "qemu"],
         deviations={"bochs": "Bochs 2.7 takes the #DB of an NMI's delivery "
                              "after the handler's first instruction"}),
    # l1vmm gives L2 no IA32_APIC_BASE (RDMSR is #GP): not nested.
    system_case("apicoff", expected_system.apicoff(),
                backends=["qemu", "bochs", "turtles", "turtles-single"],
                deviations={
                    "qemu": "QEMU 7.2 TCG never re-enables a disabled "
                            "APIC, keeps its page answering and checks no "
                            "reserved bit of IA32_APIC_BASE",
                    "bochs": "Bochs 2.7 never re-enables a disabled APIC "
                             "and takes EN = 0 with EXTD = 1 from the "
                             "disabled state"}),
]


def run(backend, case, build):
    image = os.path.join(build, "images", case.guest + ".elf")
    runner, env = BACKENDS[backend]
    cmd = runner + [image] + case.cmdline.split()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


def check(backend, case, status, lines):
    """Returns the list of problems with one run."""
    problems = []
    if backend not in DEVIATIONS and backend not in case.deviations:
        for want in case.details:
            if want not in lines:
                problems.append(f"missing line: {want}")
    if status != case.status:
        problems.append(f"exit status {status}, expected {case.status}")
    for want in case.lines:
        if want not in lines:
            problems.append(f"missing line: {want}")
    for pattern in case.patterns:
        if not any(re.search(pattern, line) for line in lines):
            problems.append(f"no line matches: {pattern}")
    if f"EXIT status={case.status}" not in lines:
        problems.append(f"missing line: EXIT status={case.status}")
    return problems


def main():
    args = arguments(__doc__, list(BACKENDS))
    backends = [b for b in BACKENDS if args.wants(b)]

    report = Report("e2e")
    for case in CASES:
        results = {}
        for backend in backends:
            if case.backends is not None and backend not in case.backends:
                continue
            status, lines, stderr = run(backend, case, args.build)
            results[backend] = [line for line in lines if line.startswith("RESULT ")]
            report.run_check(check(backend, case, status, lines),
                             f"{backend}: {case.name}",
                             lines + stderr.splitlines(), 20)
        if len(backends) < 2:
            continue
        report.check(len({tuple(r) for r in results.values()}) <= 1,
                     f"backends agree: {case.name}",
                     *(f"{backend}: {r}" for backend, r in results.items()))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
