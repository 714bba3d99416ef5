#!/usr/bin/env python3
"""L1 programs that use VMX themselves (tests/guests/vmxfuzz, vmxmsr),
run as L1 of `turtles run --mode nested` and on Bochs' VMX. Each prints
one RESULT line of architectural answers, stated here from the SDM, and
both backends must print it; vmxfuzz's random launches must also end the
same way on both (its METRIC line).

- vmxfuzz: VM-instruction errors (SDM Vol. 3C 31.4), #GP(0) for VMXON or
  MOV to CR0 with CR0.NE clear (24.8), random VMCS contents;
- vmxmsr: the MSR lists (27.4, 28.4, 28.6), VM-entry failures that load
  the VM-exit MSR-load list (27.8), TSC offsetting (26.3), and a VMX
  abort (28.7) that ends the run with a clear message."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXIT_SHUTDOWN = 80  # turtles run: the processor shut down (docs/emulator.md)

# VM-instruction errors (SDM Vol. 3C 31.4); -1 is VMfailInvalid (VMXON in
# VMX operation without a current VMCS), -2 success; *_gp counts #GP(0).
VMXFUZZ = ("RESULT vmxfuzz vmxon_ne0_gp=1 vmxon=-2 clear_ne_gp=1 twice=-1 "
           "clear=-2 ptrld=-2 ptrld_vmxon=10 clear_odd=2 clear_vmxon=3 "
           "ptrld_rev=11 read_bad=12 write_ro=-2 resume_clear=5 "
           "invept_bad=28 operand_faults=2")

# vmxmsr's inputs (tests/guests/vmxmsr/main.c) and what the architecture
# makes of them. A refused second entry of the VM-entry MSR-load list is
# a VM-entry failure with basic exit reason 34 and qualification 2
# (27.4); VMCALL exits with reason 18.
REASON_MSR_LOADING, REASON_VMCALL = 34, 18
REFUSED = ("fs_base", "gs_base", "reserved", "x2apic", "bad_pat",
           "efer_reserved")
VMXMSR = ("RESULT vmxmsr "
          + " ".join(f"{name}={REASON_MSR_LOADING}/2" for name in REFUSED)
          + f" after_failure=ok exit={REASON_VMCALL}/0"
          + " l2_kgs=0x111122220000"           # loaded by the entry list
          + " l2_sysenter_esp=0x333344440000"  # a VMCS-held MSR, likewise
          + " stored_kgs=0x555566660000"       # what L2 wrote, stored
          + " stored_sysenter_eip=0x777788880000"
          + " l1_kgs=0x6666bbbb0000"           # loaded by the exit list
          + " l1_sysenter_cs=0x10"             # after the host state
          + " tsc_offset=ok")


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def turtles_l1(program, args, extra=()):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run", "--mode", "nested", *extra, "--l1",
                        image(program), "--l1-args", args, image("hello")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout.replace("\r", ""), p.stderr


def bochs(program, args):
    p = subprocess.run(["scripts/bochs-run.sh", image(program), *args.split()],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def lines(out, prefix):
    return [x for x in out.splitlines() if x.startswith(prefix)]


L0_OPTIONS = [("on", "dirty"), ("off", "full")]


def main():
    r = Report("l1-vmx")
    wants = arguments(__doc__, ["bochs", "turtles"]).wants
    for program, args, expected in (("vmxfuzz", "rounds=300", VMXFUZZ),
                                     ("vmxmsr", "", VMXMSR)):
        reference = None  # Bochs' METRIC lines, when Bochs runs
        if wants("bochs"):
            status, out, err = bochs(program, args)
            reference = lines(out, "METRIC")
            r.check(status == 0 and lines(out, "RESULT") == [expected],
                    f"bochs: {program} gets the architectural answers",
                    f"status {status}", *lines(out, "RESULT"), err[-300:])
        for shadowing, merge in L0_OPTIONS if wants("turtles") else ():
            status, out, err = turtles_l1(
                program, args, ("--vmcs-shadowing", shadowing, "--merge", merge))
            r.check(status == 0 and lines(out, "RESULT") == [expected] and
                    reference in (None, lines(out, "METRIC")),
                    f"turtles (shadowing {shadowing}, merge {merge}): "
                    f"{program} prints what Bochs does",
                    f"status {status}", *lines(out, "RESULT"),
                    f"metric: {lines(out, 'METRIC')} vs {reference}",
                    err[-300:])

    if not wants("turtles"):
        return r.finish()
    # Many random launches: whatever L1 writes, L0 answers and survives
    # (CI runs 3000 more under ASan).
    status, out, err = turtles_l1("vmxfuzz", "rounds=1000")
    m = re.search(r"^METRIC vmxfuzz rounds=(\d+) fail_valid=(\d+) "
                  r"fail_invalid=(\d+) host=(\d+)", out, re.M)
    r.check(status == 0 and lines(out, "RESULT") == [VMXFUZZ] and m and
            int(m.group(1)) == 1000 and int(m.group(3)) == 0 and
            int(m.group(2)) + int(m.group(4)) == 1000,
            "a hostile L1 gets the architectural VMX answers and cannot "
            "hurt L0", out[-600:], err[-300:])

    # A bad entry in a VM-exit list: a VMX abort with its indicator (28.7:
    # 1 saving guest MSRs, 4 loading host MSRs); the processor shuts down.
    for which, indicator, what in (("store", 1, "MSR-store"),
                                   ("load", 4, "MSR-load")):
        status, out, err = turtles_l1("vmxmsr", f"abort={which}")
        r.check(status == EXIT_SHUTDOWN and
                f"VMX abort {indicator} in a VM exit to L1: entry 2 of the "
                f"VM-exit {what} list" in err and
                not any(" exit=" in x for x in lines(out, "RESULT")),
                f"a bad VM-exit {what} entry is VMX abort {indicator}",
                f"status {status}", err[-400:])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
