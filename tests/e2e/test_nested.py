#!/usr/bin/env python3
"""turtles run --mode nested: l1vmm as L1 on L0's emulated VMX, the image
as L2. That every guest's RESULT lines match the other backends is
test_guests.py's job; here:

- L1 cannot tell the difference: l1vmm's own per-reason exit counts
  (its L1STATS block) equal those it prints on Bochs' VMX for the same
  guest and paging mode, and do not depend on L0's options;
- VMCS shadowing removes L1's VMREAD/VMWRITE exits that the merge needs
  none of, and the database attributes every exit to its levels."""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REASON_CPUID, REASON_VMREAD, REASON_VMWRITE = 10, 23, 25

# Guests whose serial output is the same on every backend (no TSC values,
# no image paths), so that L1's I/O exits can be compared too. exitstats
# under shadow paging is left out: it issues INVPCID only where CPUID
# reports it (Bochs' Haswell does, this CPU does not).
SAME_OUTPUT = [("paging", "ept"), ("usermode", "ept"), ("sensitive", "ept"),
               ("exitstats", "ept"), ("paging", "shadow"),
               ("usermode", "shadow"), ("sensitive", "shadow")]


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def turtles_nested(guest, paging, extra=(), args=""):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    cmd = [prog, "run", "--mode", "nested", "--l1-args", f"paging={paging}",
           *extra, image(guest)] + (["--", args] if args else [])
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout.replace("\r", ""), p.stderr


def bochs_l1vmm(guest, paging):
    p = subprocess.run(["scripts/bochs-run.sh", "--module", image(guest),
                        image("l1vmm"), f"paging={paging}"], cwd=ROOT,
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

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
