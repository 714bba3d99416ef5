#!/usr/bin/env python3
"""The modeled TLB end to end (docs/cost-model.md): the tlbloop guest reads
one word of each of N 4 KiB pages, P times, and prints the TSC cycles
that took, bare, single, nested with EPT (EPT02) and nested with l1vmm's
shadow paging. What each configuration must cost follows from Haswell's
TLB sizes and the depth of each mode's page walk, worked out below, not
from what the emulator printed."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = {
    "bare": ["--mode", "bare"],
    "single": ["--mode", "single"],
    "nested-ept": ["--mode", "nested", "--l1-args", "paging=ept"],
    "nested-shadow": ["--mode", "nested", "--l1-args", "paging=shadow"],
}
# The default profile's price of one paging-structure reference and of a
# DTLB miss that hits the STLB (walk_ref, stlb_hit in
# experiments/profiles/turtles-2010.json).
WALK_REF = 10
STLB_HIT = 7
# References of one walk of a 4 KiB page: 4 guest levels bare; under EPT
# each of those 4 entries and the page itself are guest-physical
# addresses walked through an EPT that maps this RAM with 2 MiB pages (3
# levels: EPT01 always, EPT02 because EPT12 uses 2 MiB pages too), plus
# the 4 guest entries: 5 x 3 + 4. Shadow paging walks l1vmm's 4-level
# shadow tables through EPT01: the same 19.
REFS_1D, REFS_2D = 4, 19


def run(mode, args, timeout=600):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    image = os.path.join(ROOT, "build", "images", "tlbloop.elf")
    p = subprocess.run([prog, "run", "--stats"] + MODES[mode] + [image] +
                       args, cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    out = p.stdout.replace("\r", "")
    m = re.search(r"METRIC tlbloop tsc_cycles=(\d+)", out)
    return (int(m.group(1)) if m and p.returncode == 0 else None,
            out, p.stderr)


def main():
    r = Report("tlb-model")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()

    # 32 pages fit Haswell's 64-entry DTLB: after the untimed passes every
    # access hits, in every mode, so the loop costs the same everywhere.
    fits = {m: run(m, ["pages=32", "passes=4"]) for m in MODES}
    cycles = {m: v[0] for m, v in fits.items()}
    r.check(None not in cycles.values() and len(set(cycles.values())) == 1,
            "a working set that fits the TLB costs the same in all modes",
            f"{cycles}", *[v[2][-300:] for v in fits.values()
                           if v[0] is None])

    # 200 pages overflow the DTLB (64) but fit the STLB (1,024): read in
    # order with LRU, every timed access misses the DTLB and hits the
    # STLB, whatever the emulator's own (host-side) TLB holds.
    # The loop's own cost per access comes from two sizes that fit the
    # DTLB (16 and 32 pages), so the rest is the TLB's.
    small = {m: run(m, ["pages=16", "passes=4"])[0] for m in MODES}
    mid = {m: run(m, ["pages=200", "passes=4"]) for m in MODES}
    mc = {m: v[0] for m, v in mid.items()}
    want = {m: None if small[m] is None or cycles[m] is None else
            cycles[m] + (cycles[m] - small[m]) * (200 - 32) // 16 +
            200 * 4 * STLB_HIT for m in MODES}
    r.check(mc == want, "a working set between the DTLB and the STLB pays "
            "an STLB hit per access, in every mode", f"{mc}, want {want}")

    # 2,048 pages exceed the 1,024-entry STLB: read in order with LRU,
    # every access misses both levels and pays a whole walk.
    pages, passes = 2048, 2
    accesses = pages * passes
    big = {m: run(m, [f"pages={pages}", f"passes={passes}"]) for m in MODES}
    c = {m: v[0] for m, v in big.items()}
    ok = None not in c.values()
    r.check(ok and c["bare"] > cycles["bare"] * accesses // (32 * 4),
            "bare: a working set beyond the TLB costs more per access",
            f"{c['bare']} for {accesses} accesses against "
            f"{cycles['bare']} for 128")
    r.check(ok and c["single"] - c["bare"] ==
            accesses * (REFS_2D - REFS_1D) * WALK_REF,
            "single costs each access's 2-D walk: "
            f"{REFS_2D} references against {REFS_1D} bare",
            f"single {c['single']}, bare {c['bare']}, want a difference of "
            f"{accesses * (REFS_2D - REFS_1D) * WALK_REF}")
    r.check(ok and c["nested-ept"] == c["single"] == c["nested-shadow"],
            "nested (EPT02 or shadow-on-EPT01) walks as deep as single: "
            "the same cycles when the loop makes no exit", f"{c}")

    # A context switch each pass: MOV to CR3 without PCIDs drops every
    # non-global translation, so even 32 pages miss once per pass. Only
    # shadow paging makes that an exit (to L1, which rebuilds its shadow
    # tables); with EPT it stays in the guest, and nested EPT walks as
    # deep as single.
    sw = {m: run(m, ["pages=32", "passes=4", "reload=1"]) for m in MODES}
    s = {m: v[0] for m, v in sw.items()}
    ok = None not in s.values()
    r.check(ok and s["bare"] - cycles["bare"] >= 4 * 32 * REFS_1D * WALK_REF,
            "bare: MOV to CR3 empties the TLB: each pass walks again",
            f"{s['bare']} against {cycles['bare']} without")
    # Each pass walks again for its 32 pages and for the 2 MiB page that
    # holds the loop's code (3 guest levels: 3 + 4 x 3 = 15 references
    # under EPT); its data on that page then hits the STLB, in both modes.
    want = 4 * (32 * (REFS_2D - REFS_1D) + (15 - 3)) * WALK_REF
    r.check(ok and s["single"] - s["bare"] == want,
            "single: each walk after a reload is 2-D",
            f"{s}, want single - bare = {want}")
    r.check(ok and s["nested-shadow"] > s["nested-ept"] >= s["single"] >
            s["bare"], "with context switches: nested-shadow > nested-EPT "
            ">= single > bare", f"{s}")

    # Determinism: the same run twice gives the same output and counts,
    # modeled-TLB statistics included.
    a = run("nested-shadow", ["pages=32", "passes=2", "reload=1"])
    b = run("nested-shadow", ["pages=32", "passes=2", "reload=1"])
    stats = [line for line in a[2].splitlines() if "modeled_walk_refs=" in line]
    r.check(a[0] is not None and a[1] == b[1] and a[2] == b[2] and stats,
            "two identical nested runs give identical cycles and TLB "
            "statistics", a[2][-300:], b[2][-300:])
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
