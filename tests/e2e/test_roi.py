#!/usr/bin/env python3
"""The region of interest (CPUID 0x4FFFFFFB, docs/exit-stats.md): the roi
guest prints `noise` lines before and after its region; the region's
instructions, cycles, exits and nested costs in the database must be the
same with and without that printing, in bare, single and nested mode,
while the whole run's are not. The region holds `iters` CPUIDs: the test
knows how many exits that makes. The slowdown report shows the region."""

import csv
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
TURTLES = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
ITERS = 7
CPUID = 10


def run(db, mode, noise):
    p = subprocess.run(
        [TURTLES, "run", "--mode", mode, "--db", db, "--label",
         f"{mode}-{noise}", "build/images/roi.elf", "--", f"iters={ITERS}",
         "work=200", f"noise={noise}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    return p.returncode, p.stderr


def region(con, label):
    """The roi row, its exits and its nested costs, run_id left out."""
    run_id, cycles = con.execute(
        "SELECT run_id, cycles FROM runs WHERE json_extract(options, "
        "'$.label') = ?", (label,)).fetchone()
    roi = con.execute("SELECT regions, ended_by_run, marks_refused, "
                      "instructions, cycles FROM roi WHERE run_id = ?",
                      (run_id,)).fetchone()
    exits = con.execute("SELECT handler_level, guest_level, reason, count, "
                        "cycles FROM roi_exit_stats WHERE run_id = ? ORDER "
                        "BY 1, 2, 3", (run_id,)).fetchall()
    nested = con.execute("SELECT reason, l2_exits, l1_exits_caused, "
                         "cycles_total FROM roi_nested_costs WHERE run_id = "
                         "? ORDER BY 1", (run_id,)).fetchall()
    return cycles, roi, exits, nested


def main():
    r = Report("roi")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "roi.db")
        for mode in ("bare", "single", "nested"):
            for noise in (0, 40):
                status, err = run(db, mode, noise)
                r.check(status == 0, f"roi runs in {mode} mode with "
                        f"noise={noise}", err[-400:])
        con = sqlite3.connect(db)
        got = {}
        for mode in ("bare", "single", "nested"):
            quiet, noisy = region(con, f"{mode}-0"), region(con, f"{mode}-40")
            got[mode] = quiet
            r.check(noisy[0] > quiet[0], f"{mode}: printing makes the whole "
                    "run longer", quiet[0], noisy[0])
            r.check(quiet[1] is not None and quiet[1][:3] == (1, 0, 0),
                    f"{mode}: one region, ended by the guest, no stray mark",
                    quiet[1])
            r.check(quiet[1:] == noisy[1:], f"{mode}: the region's counts, "
                    "cycles, exits and nested costs do not depend on the "
                    "printing around it", quiet[1:], noisy[1:])
        # The start mark's CPUID is in the region, the end mark's is not.
        r.check(got["bare"][2] == [] and got["bare"][3] == [],
                "bare: the region has no exits", got["bare"])
        r.check([e[:4] for e in got["single"][2]] ==
                [(0, 1, CPUID, ITERS + 1)],
                "single: the region's exits are its CPUIDs and the start "
                "mark", got["single"][2])
        l2 = [e[:4] for e in got["nested"][2] if e[1] == 2]
        r.check(l2 == [(1, 2, CPUID, ITERS + 1)] and
                [n[:2] for n in got["nested"][3]] == [(CPUID, ITERS + 1)],
                "nested: L2's exits in the region are its CPUIDs and the "
                "start mark, each one nested episode", got["nested"])
        # A CPUID that exits does not retire in the guest: the region of
        # the single-level run has those fewer instructions than bare.
        r.check(got["bare"][1][3] - got["single"][1][3] == ITERS + 1,
                "the region's instructions are the same work at both levels",
                got["bare"][1], got["single"][1])
        con.close()

        out = os.path.join(d, "out")
        p = subprocess.run([os.path.join(ROOT, "scripts", "exp"), "report",
                            "--db", db, "--out", out, "--only",
                            "slowdown,csv"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
        with open(os.path.join(out, "slowdown.csv")) as fh:
            rows = {(row["mode"], row["L1 and L0 options"]): row
                    for row in csv.DictReader(fh)}
        nested = [v for k, v in rows.items() if k[0] == "nested"]
        want = got["nested"][1][4] / got["single"][1][4]
        r.check(p.returncode == 0 and len(nested) == 1 and
                abs(float(nested[0]["ROI vs single"]) - want) < 1e-9,
                "the slowdown table's ROI column is the ratio of the "
                "regions' cycles", p.stderr[-300:], nested, want)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
