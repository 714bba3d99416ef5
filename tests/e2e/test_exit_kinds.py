#!/usr/bin/env python3
"""The exit-type microbenchmarks (guests/exits, Turtles' Figure 6): each
`kind=` makes the exit it is named after, single-level (L0 handles its
guest's exits) and nested (L2's exits, handled by l1vmm or L0), counted
from the results database (exit_stats by reason).

Whether an operation exits is its hypervisor's choice. Where a level does
not intercept an operation the table below says why, and the check is
that the reason then has no exits at all: a hypervisor change that starts
or stops intercepting one fails here until the table says so.

Nested runs use l1vmm as Figure 6 does (experiments/figure6.toml): EPT,
the KVM-like exit path, interrupts through l1vmm (`interrupts=exit`) and
INT3 intercepted (`exception-bitmap=0x8`). A third column runs single
level with L0's intercepts as KVM 2.6.35's (`--l0-traps kvm`, INT3 added
with `--l0-exception-bitmap 0x8`, as Figure 6's single-level runs in
experiments/default.toml and the calibration)."""

import os
import sqlite3
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ITERS = 20
L1_ARGS = "paging=ept exit-path=kvm interrupts=exit exception-bitmap=0x8"
L0_KVM_ARGS = ["--l0-traps", "kvm", "--l0-exception-bitmap", "0x8"]
MODES = ("single", "nested", "single-kvm")

# Basic exit reasons (SDM Vol. 3D Appendix C).
EXCEPTION, EXTERNAL_INTERRUPT, INTERRUPT_WINDOW, CPUID, HLT = 0, 1, 7, 10, 12
VMCALL, CR_ACCESS, IO, RDMSR, WRMSR = 18, 28, 30, 31, 32
APIC_ACCESS, EPT_VIOLATION = 44, 48

# L0's vmcs01 (l0/hv/vmcs01.c) passes the local APIC through, owns only
# CR0.NE, intercepts no exception, builds EPT01 before the guest runs and
# lets the MSR bitmap pass IA32_SYSENTER_CS.
L0_APIC = "L0 passes the local APIC through (vmcs01.c): no APIC-access page"
L0_IRQ = "L0 takes no external interrupts: the APIC's go to its guest"
# l1vmm: the APIC page is mapped into EPT12 (docs/l1vmm.md "Interrupts"),
# its CR0 mask holds the bits VMX fixes and, on the kvm exit path, CR0.TS
# as KVM 2.6.35's lazy FPU switching did; EPT12 maps all of L2's RAM at
# start.
L1_APIC = "l1vmm maps the local APIC's page into L2's memory"
# Fewer exits than iterations: EPT12 maps all of L2's RAM at start, and
# the only EPT violations are L0's as it fills EPT02, one per 2 MiB.
L1_EPT = ("fewer", "l1vmm's EPT12 maps all of L2's RAM before L2 runs; L0 "
          "fills EPT02 by 2 MiB")

# --l0-traps kvm (l0/hv/vmcs01.c): KVM 2.6.35 passed the SYSENTER MSRs
# through too; the xAPIC page is its APIC-access page, so every access
# exits.
KVM_MSR = "KVM 2.6.35's MSR bitmap passes IA32_SYSENTER_CS too"

# kind: (reason, single, nested, single with --l0-traps kvm), each True
# (at least one exit per iteration), the reason why there is none, or
# ("fewer", why).
KINDS = {
    "cpuid": (CPUID, True, True, True),
    "vmcall": (VMCALL, True, True, True),
    "pio-out": (IO, True, True, True),
    "pio-in": (IO, True, True, True),
    "rdmsr": (RDMSR, True, True, True),
    "wrmsr": (WRMSR, "L0's MSR bitmap passes IA32_SYSENTER_CS", True,
              KVM_MSR),
    "cr": (CR_ACCESS, "L0 leaves CR0.TS to its guest", True, True),
    "apic": (APIC_ACCESS, L0_APIC, L1_APIC, True),
    "exception": (EXCEPTION, "L0's exception bitmap is empty", True, True),
    "interrupt": (EXTERNAL_INTERRUPT, L0_IRQ, True, True),
    "pending": (INTERRUPT_WINDOW, L0_IRQ, True, True),
    "ept": (EPT_VIOLATION, "L0 builds EPT01 before its guest runs", L1_EPT,
            True),
}


def run(kind, mode, scratch):
    db = os.path.join(scratch, f"{kind}-{mode}.db")
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    cmd = [prog, "run", "--mode", mode.split("-")[0], "--db", db]
    if mode == "nested":
        cmd += ["--l1-args", L1_ARGS]
    if mode == "single-kvm":
        cmd += L0_KVM_ARGS
    cmd += [os.path.join(ROOT, "build", "images", "exits.elf"),
            f"kind={kind}", f"iters={ITERS}"]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    level = 2 if mode == "nested" else 1
    counts = {}
    if os.path.exists(db):
        con = sqlite3.connect(db)
        counts = dict(con.execute(
            "select reason, sum(count) from exit_stats where guest_level = ?"
            " group by reason", (level,)).fetchall())
        con.close()
    return p.returncode, counts, p.stdout + p.stderr


def main():
    r = Report("exit-kinds")
    args = arguments(__doc__, ["turtles"])
    if not args.wants("turtles"):
        return r.finish()
    todo = [(k, m) for k in KINDS for m in MODES]
    with tempfile.TemporaryDirectory() as scratch:
        with ThreadPoolExecutor(max_workers=args.jobs or 2) as pool:
            results = list(pool.map(lambda km: run(*km, scratch), todo))
    for (kind, mode), (status, counts, out) in zip(todo, results):
        reason, *by_mode = KINDS[kind]
        expect = by_mode[MODES.index(mode)]
        got = counts.get(reason, 0)
        if expect is True:
            ok = status == 0 and got >= ITERS
            title = f"{mode}: kind={kind} makes exits of reason {reason}"
        elif isinstance(expect, tuple):
            ok = status == 0 and got < ITERS
            title = (f"{mode}: kind={kind} makes fewer exits of reason "
                     f"{reason} than iterations ({expect[1]})")
        else:
            ok = status == 0 and got == 0
            title = f"{mode}: kind={kind} makes no exit of reason {reason} ({expect})"
        r.check(ok, title, f"status {status}, {got} exits of reason {reason} "
                f"for {ITERS} iterations", f"all: {counts}",
                *out.splitlines()[-8:])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
