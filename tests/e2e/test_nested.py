#!/usr/bin/env python3
"""turtles run --mode nested: l1vmm as L1 on L0's emulated VMX, the image
as L2. That every guest's RESULT lines match the other backends is
test_guests.py's job; here:

- L1 cannot tell the difference: l1vmm's own per-reason exit counts
  (its L1STATS block) equal those it prints on Bochs' VMX for the same
  guest and paging mode, and do not depend on L0's options;
- VMCS shadowing removes L1's VMREAD/VMWRITE exits that the merge needs
  none of, and the database attributes every exit to its levels;
- one L2 CPUID causes exactly the L1 exits l1vmm's exit path
  (`exit-path=lean|kvm`, docs/l1vmm.md "Exit path") accounts for,
  counted from the exit trace."""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REASON_CPUID, REASON_VMREAD, REASON_VMRESUME, REASON_VMWRITE = 10, 23, 24, 25

# The L1 exits of one L2 CPUID, from the field lists of docs/l1vmm.md
# ("Exit path") and L0's shadowed fields (vmcs-shadow/shadow_fields.c):
# lean reads EXIT_REASON, GUEST_RIP, the instruction length and the
# interruptibility state and writes GUEST_RIP; kvm adds the reads of
# IDT_VECTORING_INFO, VM_EXIT_INTR_INFO and GUEST_CR3 and the write of
# HOST_CR0 (TPR_THRESHOLD does not exist: L0's CPU has no TPR shadow).
# With shadowing on, only HOST_CR0 (host state is not shadowed) traps.
CPUID_L1_EXITS = {
    ("lean", "off"): {REASON_VMREAD: 4, REASON_VMWRITE: 1, REASON_VMRESUME: 1},
    ("kvm", "off"): {REASON_VMREAD: 7, REASON_VMWRITE: 2, REASON_VMRESUME: 1},
    ("lean", "on"): {REASON_VMRESUME: 1},
    ("kvm", "on"): {REASON_VMWRITE: 1, REASON_VMRESUME: 1},
}

# Guests whose serial output is the same on every backend (no TSC values,
# no image paths), so that L1's I/O exits can be compared too. exitstats
# under shadow paging is left out: it issues INVPCID only where CPUID
# reports it (Bochs' Haswell does, this CPU does not).
# The last: exceptions l1vmm intercepts and injects back whose delivery
# is interrupted by a shadow-paging #PF exit, which L0 must give L1 with
# the injected event as IDT-vectoring information (tests/guests/
# vectoring).
SAME_OUTPUT = [("paging", "ept"), ("usermode", "ept"), ("sensitive", "ept"),
               ("exitstats", "ept"), ("paging", "shadow"),
               ("usermode", "shadow"), ("sensitive", "shadow"),
               ("vectoring", "paging=shadow exception-bitmap=0x2049")]


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def turtles_nested(guest, paging, extra=(), args=""):
    """`paging` is the mode, or l1vmm's whole command line."""
    l1_args = paging if "=" in paging else f"paging={paging}"
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    cmd = [prog, "run", "--mode", "nested", "--l1-args", l1_args,
           *extra, image(guest)] + (["--", args] if args else [])
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout.replace("\r", ""), p.stderr


def bochs_l1vmm(guest, paging):
    l1_args = paging.split() if "=" in paging else [f"paging={paging}"]
    p = subprocess.run(["scripts/bochs-run.sh", "--module", image(guest),
                        image("l1vmm"), *l1_args], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout


def l1stats(out):
    """L1's per-reason counts, without its cycles (those are the L0's)."""
    return [re.sub(r" cycles=\d+", "", line) for line in out.splitlines()
            if line.startswith("L1STATS reason=")]


def main():
    r = Report("nested")
    args = arguments(__doc__, ["turtles", "bochs"])
    if not args.wants("turtles"):
        return r.finish()  # Bochs is only the reference here
    for guest, paging in SAME_OUTPUT:
        s1, ours = turtles_nested(guest, paging)[:2]
        if not args.wants("bochs"):
            r.check(s1 == 0 and l1stats(ours),
                    f"L1 prints its exit counts: {guest}, paging={paging}",
                    f"status {s1}", f"turtles: {l1stats(ours)}")
            continue
        s2, theirs = bochs_l1vmm(guest, paging)
        r.check(s1 == s2 == 0 and l1stats(ours) and
                l1stats(ours) == l1stats(theirs),
                f"L1 counts the same exits on turtles and Bochs: {guest}, "
                f"paging={paging}",
                f"status {s1}/{s2}", f"turtles: {l1stats(ours)}",
                f"bochs:   {l1stats(theirs)}")

    # The same with the interrupt l1vmm takes and injects (interrupts=
    # exit): requested while IF = 0, it is an external-interrupt exit, then
    # an interrupt-window exit, then its injected delivery is interrupted.
    # Turtles only: when Bochs takes the exit is a matter of its timing.
    status, out, err = turtles_nested(
        "vectoring", "paging=shadow interrupts=exit exception-bitmap=0x2049")
    stats = l1stats(out)
    r.check(status == 0 and
            "[L2] RESULT vectoring int3=1 int=1 ud=1 gp=1 gp_error=0x1230 "
            "tf=1 timer=1 rsp=ok" in out.splitlines() and
            "L1STATS reason=1 name=EXTERNAL_INTERRUPT count=1" in stats and
            "L1STATS reason=7 name=INTERRUPT_WINDOW count=1" in stats,
            "an interrupt l1vmm injects arrives although a #PF exit "
            "interrupts its delivery", f"status {status}", *stats, err)

    # L0's options change L0's work, never what L1 or L2 see (hello: its
    # output does not depend on time).
    configs = [("off", "full"), ("off", "dirty"), ("on", "full"),
               ("on", "dirty")]
    seen = {}
    for shadowing, merge in configs:
        status, out, err = turtles_nested(
            "hello", "shadow", ["--vmcs-shadowing", shadowing, "--merge", merge])
        results = [l for l in out.splitlines() if "RESULT" in l]
        seen[(shadowing, merge)] = (status, results, l1stats(out))
    r.check(len({repr(v) for v in seen.values()}) == 1 and
            seen[("on", "dirty")][0] == 0,
            "shadowing and merge options are invisible to L1 and L2",
            *[f"{k}: {v}" for k, v in seen.items()])

    # The database: L2's CPUIDs are L1's to handle (handler 1, guest 2);
    # without shadowing L1's VMREADs/VMWRITEs all exit to L0.
    iters = 400
    exits = {}
    with tempfile.TemporaryDirectory() as d:
        for shadowing in ("off", "on"):
            db = os.path.join(d, f"{shadowing}.db")
            status, out, err = turtles_nested(
                "cpuid", "ept", ["--vmcs-shadowing", shadowing, "--db", db],
                f"iters={iters}")
            con = sqlite3.connect(db)
            rows = dict(((h, g, reason), n) for h, g, reason, n in
                        con.execute("select handler_level, guest_level, "
                                    "reason, count from exit_stats"))
            con.close()
            exits[shadowing] = rows
            l2_cpuid = rows.get((1, 2, REASON_CPUID), 0)
            r.check(status == 0 and l2_cpuid >= iters,
                    f"L2's CPUIDs are exits L1 handles (shadowing {shadowing})",
                    f"status {status}", f"(1, 2, CPUID) = {l2_cpuid}", err)
    vmx_off = sum(exits["off"].get((0, 1, x), 0)
                  for x in (REASON_VMREAD, REASON_VMWRITE))
    vmx_on = sum(exits["on"].get((0, 1, x), 0)
                 for x in (REASON_VMREAD, REASON_VMWRITE))
    r.check(vmx_off >= iters and vmx_on < vmx_off / 4,
            "VMCS shadowing removes most of L1's VMREAD/VMWRITE exits",
            f"off: {vmx_off}, on: {vmx_on}")

    # One L2 CPUID, counted: the L1 exits the trace files under each L2
    # CPUID exit, by reason, divided by the L2 CPUIDs.
    with tempfile.TemporaryDirectory() as d:
        for (path, shadowing), want in CPUID_L1_EXITS.items():
            db = os.path.join(d, f"{path}-{shadowing}.db")
            prog = os.environ.get("TURTLES",
                                  os.path.join(ROOT, "build", "turtles"))
            p = subprocess.run(
                [prog, "run", "--mode", "nested", "--l1-args",
                 f"paging=ept exit-path={path}", "--vmcs-shadowing",
                 shadowing, "--merge", "full", "--db", db, "--trace",
                 image("exits"), "kind=cpuid", "iters=50"],
                cwd=ROOT, capture_output=True, text=True, timeout=300)
            con = sqlite3.connect(db)
            l2 = con.execute("select count(*) from exit_trace where "
                             "guest_level = 2 and reason = ?",
                             (REASON_CPUID,)).fetchone()[0]
            caused = dict(con.execute(
                "select c.reason, count(*) from exit_trace p join exit_trace"
                " c on c.run_id = p.run_id and c.parent_seq = p.seq where "
                "p.guest_level = 2 and p.reason = ? group by c.reason",
                (REASON_CPUID,)).fetchall())
            con.close()
            got = {k: v / l2 for k, v in caused.items()} if l2 else {}
            r.check(p.returncode == 0 and l2 >= 50 and got == want,
                    f"one L2 CPUID causes the L1 exits of exit-path={path} "
                    f"(shadowing {shadowing})",
                    f"status {p.returncode}, L2 CPUIDs {l2}",
                    f"per L2 CPUID: {got}", f"expected: {want}", p.stderr)

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
