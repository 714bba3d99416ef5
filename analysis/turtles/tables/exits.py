"""Exits per reason for each configuration, in the shape of
`perf kvm stat report`: samples, their share, the share of time, and the
cost of one exit (min, max, mean modeled cycles; mean host ns).

exit_stats keeps sums only, so min and max come from exit_trace and need
a traced run (trace = true in the experiment file); otherwise "-"."""

from .. import results
from ..table import Table

LEVELS = {(0, 1): "L1 (L0 handles)", (0, 2): "L2 (L0 alone)",
          (1, 2): "L2 (reflected to L1)"}


def _extremes(con, run_id):
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in con.execute(
        "SELECT handler_level, guest_level, reason, min(cycles), max(cycles) "
        "FROM exit_trace WHERE run_id = ? "
        "GROUP BY handler_level, guest_level, reason", (run_id,))}


def table(con):
    t = Table("exits", "Exits per reason (the shape of perf kvm stat "
              "report; time is modeled cycles of the handler, exit and "
              "entry)",
              ["configuration", "exits of", "reason", "samples", "samples %",
               "time %", "min", "max", "mean", "mean host ns"])
    good, _ = results.configurations(con)
    traced = False
    for runs in good.values():
        for run in runs:
            rows = con.execute(
                "SELECT handler_level, guest_level, reason, reason_name, "
                "count, cycles, host_ns FROM exit_stats WHERE run_id = ? "
                "ORDER BY handler_level, guest_level, count DESC, reason",
                (run.run_id,)).fetchall()
            ext = _extremes(con, run.run_id)
            traced |= bool(ext)
            for h, g, reason, name, n, cycles, ns in rows:
                total_n = sum(r[4] for r in rows if r[:2] == (h, g))
                total_c = sum(r[5] for r in rows if r[:2] == (h, g))
                lo, hi = ext.get((h, g, reason), (None, None))
                t.rows.append([run.label, LEVELS[(h, g)], name, n,
                               100.0 * n / total_n,
                               100.0 * cycles / total_c if total_c else 0.0,
                               lo, hi, cycles / n, ns / n])
    if not traced:
        t.notes.append("min and max need a traced run (trace = true in the "
                       "experiment's [[matrix]]).")
    t.notes.append("Shares are within each configuration and level pair.")
    return t
