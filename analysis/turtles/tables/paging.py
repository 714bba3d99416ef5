"""Shadow paging against EPT, per workload: the L2 exits that L1 handles
for page faults, control-register accesses and INVLPG under l1vmm's two
paging modes, beside the course seeds' numbers for a Linux inner VM.

Under shadow paging the only exception l1vmm intercepts is #PF, so the
exception-or-NMI exits are its page faults; with EPT it intercepts none."""

import re

from .. import results
from ..published import SEEDS_PAGING
from ..table import Table

# SDM Vol. 3D Appendix C: the basic exit reason of each kind.
KINDS = (("#PF", 0), ("CR access", 28), ("INVLPG", 14))


def paging_of(run):
    """l1vmm's paging mode of a nested run (ept is its default)."""
    m = re.search(r"paging=(\w+)", run.l1_args or "")
    return m.group(1) if m else "ept"


def l1_counts(con, run):
    return dict(con.execute(
        "SELECT reason, count FROM exit_stats WHERE run_id = ? AND "
        "handler_level = 1 AND guest_level = 2", (run.run_id,)).fetchall())


def table(con):
    t = Table("paging", "Shadow paging against EPT: L2 exits handled by L1 "
              "(measured beside the course seeds' Linux inner VM)",
              ["workload", "exit", "shadow", "ept", "shadow/ept",
               "seeds shadow", "seeds ept", "seeds shadow/ept"])
    good, _ = results.configurations(con)
    by_workload = {}
    for runs in good.values():
        run = runs[0]
        if run.mode == "nested":
            by_workload.setdefault(run.workload, {}).setdefault(
                paging_of(run), l1_counts(con, run))
    for workload, modes in by_workload.items():
        if "shadow" not in modes or "ept" not in modes:
            continue
        for kind, reason in KINDS:
            shadow = modes["shadow"].get(reason, 0)
            ept = modes["ept"].get(reason, 0)
            s_shadow, s_ept = SEEDS_PAGING[kind]
            t.rows.append([workload, kind, shadow, ept,
                           shadow / ept if ept else None, s_shadow, s_ept,
                           s_shadow / s_ept if s_ept else None])
    t.notes.append("Only workloads run nested under both paging modes are "
                   "shown; '-': no such number (a ratio over 0 exits, or "
                   "one the seeds do not give).")
    t.notes.append("The seeds' numbers are for a whole Linux inner VM, "
                   "ours for the workload named: compare the ratios, not "
                   "the counts.")
    return t
