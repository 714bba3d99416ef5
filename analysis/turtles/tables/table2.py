"""Turtles' Table 2 with the project's Linux workloads: run time of each
workload as Host (bare), Guest (single level), Nested (VMCS shadowing
off: trapping vmread/vmwrite) and NestedDRW (shadowing on), with the
overheads, beside the paper's kernbench and SPECjbb rows.

process stands for kernbench and compute for SPECjbb (published.ANALOGS).
Both nested columns use the full merge (the paper's Table 2 has no
transition optimization) and L1 with EPT (multi-dimensional paging, the
paper's default). Run time is the modeled time (cycles of the 1 GHz TSC,
l0/machine.h) of the region of interest, the workload itself, where the
run marked one (/init does), else of the whole run."""

from .. import published, results
from ..table import Table

TSC_HZ = 1e9  # MACHINE_TSC_HZ: one modeled cycle is one TSC tick


def column(run):
    """The Table 2 column a run stands for, or None."""
    if run.mode == "bare":
        return "Host"
    if run.mode == "single":
        return "Guest"
    if run.merge != "full" or "paging=shadow" in (run.l1_args or ""):
        return None
    return {"off": "Nested", "on": "NestedDRW"}.get(run.vmcs_shadowing)


def runs_by_workload(con):
    """{Linux workload: {column: [runs]}} of the runs that ended well."""
    good, _ = results.configurations(con)
    out = {}
    for runs in good.values():
        w, col = results.linux_workload(runs[0]), column(runs[0])
        if w and col:
            out.setdefault(w, {}).setdefault(col, []).extend(runs)
    return out


def seconds(con, runs, rois):
    ms = [results.measured(con, r.run_id, rois) for r in runs]
    return sum(m.cycles for m in ms) / len(ms) / TSC_HZ, all(m.roi for m in ms)


def table(con):
    cols = published.TABLE2_COLUMNS
    t = Table("table2", "Table 2 with Linux workloads (modeled seconds of "
              "the workload's region of interest)",
              ["workload", "row"] + list(cols))
    rois = results.roi(con)
    for w, by_col in runs_by_workload(con).items():
        analog = published.ANALOGS.get(w)
        secs = {c: seconds(con, by_col[c], rois) for c in cols if c in by_col}
        name = f"{w} ({analog})" if analog else w
        t.rows.append([name, "run time (s)"] +
                      [secs[c][0] if c in secs else None for c in cols])
        for ref in ("Host", "Guest"):
            base = secs.get(ref, (None,))[0]
            t.rows.append([name, f"% overhead vs {ref.lower()}"] + [
                100 * (secs[c][0] / base - 1) if base and c in secs and
                cols.index(c) > cols.index(ref) else None for c in cols])
        if not all(roi for _, roi in secs.values()):
            t.notes.append(f"{w}: some runs marked no region of interest: "
                           "their whole run (boot included) is measured.")
        if analog:
            p = published.TABLE2[analog]
            t.rows.append([f"{analog} (paper)", p["unit"]] +
                          list(p["values"]))
            word = "overhead" if analog == "kernbench" else "degradation"
            for ref, key in (("host", "vs_host"), ("guest", "vs_guest")):
                t.rows.append([f"{analog} (paper)", f"% {word} vs {ref}"] +
                              list(p[key]))
    t.notes.append("Host = bare, Guest = single level, Nested = VMCS "
                   "shadowing off, NestedDRW = shadowing on; both nested "
                   "with the full merge and l1vmm with EPT. process stands "
                   "for kernbench and compute for SPECjbb: the same kind of "
                   "work, not the same size. Every number is a prediction: "
                   "nothing was fitted to Table 2. Overheads are of run "
                   "time (t / t_ref - 1); SPECjbb's are of its score, which "
                   "for a fixed amount of work is 1 - t_ref / t.")
    return t
