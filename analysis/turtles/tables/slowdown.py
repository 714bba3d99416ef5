"""Slowdown of each workload against its bare and single-level runs:
modeled cycles of the whole run (boot and printing included: there is no
region of interest yet), nested configurations side by side."""

from .. import results
from ..table import Table


def _mean(runs, attr="cycles"):
    return sum(getattr(r, attr) for r in runs) / len(runs)


def table(con):
    t = Table("slowdown", "Slowdown per workload (modeled cycles of the "
              "whole run)",
              ["workload", "mode", "L1 and L0 options", "cycles",
               "vs bare", "vs single", "host ms"])
    good, _ = results.configurations(con)
    by_workload = {}
    for runs in good.values():
        by_workload.setdefault(runs[0].workload, []).append(runs)
    order = {"bare": 0, "single": 1, "nested": 2}
    for workload, configs in by_workload.items():
        base = {}
        for runs in configs:
            if runs[0].mode in ("bare", "single"):
                base.setdefault(runs[0].mode, _mean(runs))
        for runs in sorted(configs, key=lambda rs: (order[rs[0].mode],
                                                    rs[0].nesting)):
            c = _mean(runs)
            t.rows.append([
                workload, runs[0].mode, runs[0].nesting, round(c),
                c / base["bare"] if "bare" in base else None,
                c / base["single"] if "single" in base else None,
                _mean(runs, "host_ns") / 1e6])
    t.notes.append("'-': the experiment has no bare or single-level run of "
                   "that workload (same guest and arguments).")
    return t
