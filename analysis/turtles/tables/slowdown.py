"""Slowdown of each workload against its bare and single-level runs:
modeled cycles of the whole run (boot and printing included), and of the
region of interest where the guest marked one (docs/exit-stats.md),
nested configurations side by side."""

from .. import results
from ..table import Table


def _mean(values):
    return sum(values) / len(values)


def table(con):
    t = Table("slowdown", "Slowdown per workload (modeled cycles of the "
              "whole run, and of the region of interest)",
              ["workload", "mode", "L1 and L0 options", "cycles",
               "vs bare", "vs single", "ROI cycles", "ROI vs bare",
               "ROI vs single", "host ms"])
    good, _ = results.configurations(con)
    rois = results.roi(con)

    def roi_cycles(runs):
        if all(r.run_id in rois for r in runs):
            return _mean([rois[r.run_id]["cycles"] for r in runs])
        return None

    def ratio(a, b):
        return a / b if a is not None and b else None

    by_workload = {}
    for runs in good.values():
        by_workload.setdefault(runs[0].workload, []).append(runs)
    order = {"bare": 0, "single": 1, "nested": 2}
    for workload, configs in by_workload.items():
        base, roi_base = {}, {}
        for runs in configs:
            if runs[0].mode in ("bare", "single"):
                base.setdefault(runs[0].mode,
                                _mean([r.cycles for r in runs]))
                roi_base.setdefault(runs[0].mode, roi_cycles(runs))
        for runs in sorted(configs, key=lambda rs: (order[rs[0].mode],
                                                    rs[0].nesting)):
            c, rc = _mean([r.cycles for r in runs]), roi_cycles(runs)
            t.rows.append([
                workload, runs[0].mode, runs[0].nesting, round(c),
                ratio(c, base.get("bare")), ratio(c, base.get("single")),
                round(rc) if rc is not None else None,
                ratio(rc, roi_base.get("bare")),
                ratio(rc, roi_base.get("single")),
                _mean([r.host_ns for r in runs]) / 1e6])
    t.notes.append("'-': the experiment has no bare or single-level run of "
                   "that workload (same guest and arguments), or the guest "
                   "marked no region of interest (CPUID 0x4FFFFFFB, "
                   "docs/exit-stats.md).")
    return t
