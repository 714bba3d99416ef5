#!/usr/bin/env python3
"""The default experiment and `turtles report`: every configuration of
experiments/default.exp lands in the database, and the report's numbers
are the database's (recomputed here with SQL of our own)."""

import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    r = Report("report")
    check = r.check
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "results.db")
        p = subprocess.run(["scripts/experiment.sh", "experiments/default.exp",
                            db], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
        check(p.returncode == 0, "the default experiment runs", p.stderr[-500:])
        labels = [l.split()[0] for l in open(os.path.join(
            ROOT, "experiments/default.exp")) if l.strip() and l[0] != "#"]
        con = sqlite3.connect(db)
        got = {row[0]: row[1] for row in con.execute(
            "select json_extract(options, '$.label'), run_id from runs")}
        check(sorted(got) == sorted(labels),
              "every configuration is in the database", got, labels)
        report = {line.split()[0]: line.split() for line in
                  p.stdout.splitlines() if line.split() and
                  line.split()[0] in got}

        # Single level: cycles per CPUID exit, straight from exit_stats.
        n, cycles = con.execute(
            "select count, cycles from exit_stats where run_id = ? and "
            "handler_level = 0 and guest_level = 1 and reason = 10",
            (got["single"],)).fetchone()
        check(report["single"][2] == str(round(cycles / n)),
              "the single-level row is the database's cycles per exit",
              report["single"], cycles / n)

        # Nested: cycles and L1 exits per L2 CPUID, from nested_costs.
        for label in ("nested-off-full", "nested-on-dirty"):
            l2, l1, total = con.execute(
                "select l2_exits, l1_exits_caused, cycles_total from "
                "nested_costs where run_id = ? and reason = 10",
                (got[label],)).fetchone()
            row = report[label]
            check(row[2] == str(round(total / l2)) and
                  row[3] == f"{l1 / l2:.1f}",
                  f"the {label} row is the database's per-L2-exit figures",
                  row, total / l2, l1 / l2)
        on, off = (float(report[k][2]) for k in ("nested-on-dirty",
                                                 "nested-off-full"))
        check(on < off, "VMCS shadowing and the dirty merge make a nested "
              "CPUID cheaper", on, off)
        con.close()

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
