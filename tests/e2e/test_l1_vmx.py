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
  abort (28.7) that ends the run with a clear message;
- vmxguests: an L1 written differently from l1vmm, 15 L2 guests each in
  a fresh VMCS region full of garbage, reached with RIP-relative and
  absolute memory operands; every guest prints its exits (28.2)."""

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


# vmxguests: the first exit of each guest and, where L1 lets it go on,
# the VMCALL (reason 18) that ends it. Basic exit reasons and
# qualifications of SDM Vol. 3C 28.2.1 and Appendix C.
VMCALL = 18
EXC_INFO_VALID, HW_EXCEPTION, SW_EXCEPTION = 1 << 31, 3 << 8, 6 << 8
EXC_HAS_ERROR = 1 << 11
IO_QUAL_IMMEDIATE = 1 << 6           # Table 28-5: OUT imm8, 1 byte
EPT_QUAL = 1 | 1 << 7 | 1 << 8       # Table 28-7: a read, EPT12 entry not
                                     # present, linear address, its final
                                     # translation
VMXGUESTS = [f"RESULT vmxguests {line}" for line in (
    f"cpuid exit=10 qual=0 then={VMCALL}",         # CPUID always exits
    f"intr_window exit=7 qual=0 then={VMCALL}",    # IF = 1: at once (26.7.5)
    f"preemption_timer exit=52 qual=0 then={VMCALL}",  # value 0 (26.5.1.3)
    f"io_trap exit=30 qual={0x80 << 16 | IO_QUAL_IMMEDIATE:#x} then={VMCALL}",
    f"io_pass exit={VMCALL} qual=0",                # bitmaps of zeros
    f"msr_trap exit=31 qual=0 then={VMCALL}",
    f"msr_pass exit={VMCALL} qual=0 seen=0x42",     # the guest MSR loaded
    f"ept exit=10 qual=0 then={VMCALL}",
    f"ept_other exit=48 qual={EPT_QUAL:#x} gpa=0x40000000",
    f"vpid exit=10 qual=0 then={VMCALL}",
    f"exception_ud exit=0 qual=0 "
    f"info={EXC_INFO_VALID | HW_EXCEPTION | 6:#x} then={VMCALL}",
    f"exception_bp exit=0 qual=0 "
    f"info={EXC_INFO_VALID | SW_EXCEPTION | 3:#x} then={VMCALL}",
    f"cr0_shadow exit={VMCALL} qual=0 seen=1,1",    # TS from the shadow
    f"ept_vpid exit=10 qual=0 then={VMCALL}",
    # MOV to CR4 clearing VMXE: #GP(0) in VMX operation (24.8)
    f"cr4_vmxe exit=0 qual=0 "
    f"info={EXC_INFO_VALID | EXC_HAS_ERROR | HW_EXCEPTION | 13:#x} "
    f"then={VMCALL}",
)]


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def turtles_l1(program, args, extra=(), env=None):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run", "--mode", "nested", *extra, "--l1",
                        image(program), "--l1-args", args, image("hello")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, **(env or {})})
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

    # A foreign L1: Bochs and every combination of L0's options.
    if wants("bochs"):
        status, out, err = bochs("vmxguests", "")
        r.check(status == 0 and lines(out, "RESULT") == VMXGUESTS,
                "bochs: vmxguests gets the architectural exits",
                f"status {status}", *lines(out, "RESULT"), err[-300:])
    if not wants("turtles"):
        return r.finish()
    for shadowing in ("on", "off"):
        for merge in ("dirty", "full"):
            status, out, err = turtles_l1(
                "vmxguests", "", ("--vmcs-shadowing", shadowing,
                                  "--merge", merge))
            r.check(status == 0 and lines(out, "RESULT") == VMXGUESTS,
                    f"turtles (shadowing {shadowing}, merge {merge}): "
                    "vmxguests prints what Bochs does",
                    f"status {status}", *lines(out, "RESULT"), err[-300:])

    # TURTLES_DEBUG=1 names the rule of every refused VMLAUNCH/VMRESUME,
    # VMfail included (random VMCS contents give both kinds).
    status, out, err = turtles_l1("vmxfuzz", "rounds=60",
                                  env={"TURTLES_DEBUG": "1"})
    r.check(status == 0 and re.search(
                r"L1's VMLAUNCH fails \(VM-instruction error [78]\): .+ "
                r"\(SDM [0-9.]+", err),
            "the debug option prints the rule of a VMfail",
            f"status {status}", err[-600:])

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
