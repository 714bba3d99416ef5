#!/usr/bin/env python3
"""The default experiment (`make run`) and `turtles report`: every
configuration of experiments/default.toml lands in the database, the
report's numbers are the database's (recomputed here with SQL of our
own), and the summary and Figure 10 are written."""

import json
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
        out = os.path.join(d, "out")
        p = subprocess.run(["scripts/experiment.sh",
                            "experiments/default.toml", db, out], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, "the default experiment runs", p.stderr[-500:])
        listed = subprocess.run(["scripts/exp", "list",
                                 "experiments/default.toml"], cwd=ROOT,
                                capture_output=True, text=True)
        labels = [l.split()[0] for l in listed.stdout.splitlines()]
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
        check(report["single"][3] == str(round(cycles / n)),
              "the single-level row is the database's cycles per exit",
              report["single"], cycles / n)

        # Nested: the L1, cycles and L1 exits per L2 CPUID, from
        # nested_costs, and L1's VMREAD/VMWRITE traps the CPUIDs caused,
        # from nested_l1_exits.
        for label in ("nested-off-full", "nested-on-dirty"):
            l2, l1, total = con.execute(
                "select l2_exits, l1_exits_caused, cycles_total from "
                "nested_costs where run_id = ? and reason = 10",
                (got[label],)).fetchone()
            traps, = con.execute(
                "select coalesce(sum(count), 0) from nested_l1_exits where "
                "run_id = ? and reason = 10 and l1_reason in (23, 25)",
                (got[label],)).fetchone()
            row = report[label]
            check(row[2] == "l1vmm" and
                  row[3] == str(round(total / l2)) and
                  row[4] == f"{l1 / l2:.1f}" and
                  row[5] == f"{traps / l2:.1f}",
                  f"the {label} row is the database's per-L2-exit figures",
                  row, total / l2, l1 / l2, traps / l2)
        check(float(report["nested-off-full"][5]) >
              float(report["nested-on-dirty"][5]) + 1,
              "VMCS shadowing removes VMREAD/VMWRITE traps of L1's CPUID "
              "path", report["nested-off-full"], report["nested-on-dirty"])
        on, off = (float(report[k][3]) for k in ("nested-on-dirty",
                                                 "nested-off-full"))
        check(on < off, "VMCS shadowing and the dirty merge make a nested "
              "CPUID cheaper", on, off)
        # A bare run has no CPUID exits: it is not a row of zeros.
        check("cpuid-bare" in got and "cpuid-bare" not in report,
              "the CPUID table leaves out runs without CPUID exits", report)
        # The summary: Figure 10's columns beside the paper's totals.
        summary = [l for l in p.stdout.splitlines()
                   if "nested guest " in l]
        l2, total = con.execute(
            "select l2_exits, cycles_total from nested_costs where run_id "
            "= ? and reason = 10", (got["nested-off-full"],)).fetchone()
        check(len(summary) == 1 and
              f"{round(total / l2):,} / 58,494" in summary[0],
              "the summary puts the nested CPUID cost beside Figure 10's",
              summary)
        # Figure 10's single-level split: the profile's exit/entry pair
        # against the rest of the database's cycles per exit.
        with open(os.path.join(ROOT, "experiments", "profiles",
                               "turtles-2010.json")) as f:
            costs = json.load(f)["costs"]
        pair = costs["vmexit"]["cycles"] + costs["vmentry"]["cycles"]
        single = [l for l in p.stdout.splitlines()
                  if "single-level guest" in l]
        check(len(single) == 1 and
              f"{round(cycles / n - pair):,} / 1,506" in single[0] and
              f"{pair:,} / 996" in single[0] and
              "calibration input" in single[0],
              "the summary splits the single-level CPUID into L0 and the "
              "switch pair, and says it was a calibration input", single)
        # Figure 6 from the exits runs: PIO single level is an input.
        n6, c6 = con.execute(
            "select count, cycles from exit_stats where run_id = ? and "
            "handler_level = 0 and guest_level = 1 and reason = 30",
            (got["fig6-exit-pio-single"],)).fetchone()
        pio = [l for l in p.stdout.splitlines() if l.strip().startswith(
            "PIO ")]
        check(len(pio) == 1 and f"{c6 / n6:,.0f} / 12,341" in pio[0] and
              "i" == pio[0].split()[-1][-1] and
              "Figure 6, cycles per exit" in p.stdout,
              "the summary prints Figure 6 beside the paper, the "
              "single-level PIO marked as an input", pio)
        check(all(os.path.getsize(os.path.join(out, f)) > 0 for f in
                  ("figure10.png", "figure10.svg", "REPORT.md")),
              "Figure 10 is drawn as PNG and SVG, with REPORT.md")
        con.close()

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
