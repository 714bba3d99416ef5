"""The few lines `make run` prints: what was measured, Figure 10's five
columns, Figure 6's reasons and Figure 9's ratios beside the paper (every cell with its
deviation, those within issue 12's targets marked, calibration inputs
told from predictions), the exit multiplication, and where the files
are."""

from . import comparison, published, results
from .comparison import FIGURE10_PARTS
from .figures import figure9


def _kind(cells):
    inputs = [p for p, c in cells.items() if c.is_input]
    if not inputs:
        return "prediction"
    if len(inputs) == len(cells):
        return "calibration input"
    return "input: " + ", ".join(inputs)


def figure10_lines(con, inputs):
    rows = comparison.figure10_rows(con, inputs)
    if all(c.measured is None for _, cells in rows for c in cells.values()):
        return []
    out = ["Figure 10, cycles per L2 CPUID, measured / Turtles (deviation; "
           f"* within {published.FIGURE10_TARGET:.0%}):",
           f"  {'column':40} " + " ".join(f"{p:>22}" for p in
                                         FIGURE10_PARTS)]
    for name, cells in rows:
        out.append(f"  {name:40} " + " ".join(
            f"{cells[p].text():>22}" for p in FIGURE10_PARTS) +
            f"  {_kind(cells)}")
    return out


def figure6_lines(con, inputs):
    rows = comparison.figure6_rows(con, inputs)
    if all(c.measured is None for _, cells in rows for c in cells):
        return []
    out = ["Figure 6, cycles per exit, measured / Turtles (deviation; * "
           f"single level within {published.FIGURE6_SINGLE_TARGET:.0%}; "
           "i: calibration input):",
           f"  {'reason':20} {'nested':>24} {'nested, no traps (DRW)':>24} "
           f"{'single level':>24}"]
    for name, cells in rows:
        texts = [c.text() + ("i" if c.is_input and c.measured is not None
                             else "") for c in cells]
        out.append(f"  {name:20} " + " ".join(f"{t:>24}" for t in texts))
    out.append("  Nested and DRW are predictions: nothing nested in Figure 6 "
               "was fitted.")
    return out


def figure9_lines(con):
    """Shadow-on-EPT over EPT-on-EPT per workload run both ways, beside
    the benchmark it stands for (published.ANALOGS)."""
    rows = figure9.data(con)
    if not rows:
        return []
    out = ["Figure 9, run time under l1vmm paging=shadow / paging=ept "
           "(modeled cycles, the modeled TLB's walks included), measured / "
           "Turtles (predictions):"]
    for w, analog, ratio, roi in rows:
        paper = published.FIGURE9.get(analog)
        where = "region of interest" if roi else "whole run"
        beside = (f"{ratio:.2f} / {paper} {analog} "
                  f"({(ratio - paper) / paper:+.0%})" if paper
                  else f"{ratio:.2f} (no published counterpart)")
        out.append(f"  {w}, {where}: {beside}")
    return out


def multiplication_lines(con, good):
    mult = []
    for label, runs in good.items():
        r = runs[0]
        if r.mode != "nested" or r.workload.split()[0] != "cpuid":
            continue
        ids = results.run_ids(runs)
        n, l1 = con.execute(
            "SELECT sum(l2_exits), sum(l1_exits_caused) FROM nested_costs "
            f"WHERE run_id IN ({results.placeholders(ids)}) AND reason = 10",
            ids).fetchone()
        if n:
            off = r.vmcs_shadowing == "off"
            paper = published.L1_EXITS_PER_L2_EXIT[10][0 if off else 1]
            traps = published.L1_TRAPS_PER_L2_CPUID[0 if off else 1]
            mine = ""
            if results.has_table(con, "nested_l1_exits"):
                t = con.execute(
                    "SELECT coalesce(sum(count), 0) FROM nested_l1_exits "
                    f"WHERE run_id IN ({results.placeholders(ids)}) AND "
                    "reason = 10 AND l1_reason IN (23, 25)", ids).fetchone()[0]
                mine = f", {t / n:.1f} traps"
            l1_name = f" [{r.l1_name}]" if r.l1_name else ""
            mult.append(f"{label}{l1_name} {l1 / n:.1f}{mine} (Turtles "
                        f"{paper}, {traps} traps)")
    return ["L1 exits per L2 CPUID, of them VMREAD/VMWRITE traps: " +
            ", ".join(mult)] if mult else []


def lines(con, db, outdir):
    good, bad = results.configurations(con)
    failed = [f for f in results.failed_runs(con)
              if f["label"] not in {r.label for rs in good.values()
                                    for r in rs}]
    n_ok = sum(len(rs) for rs in good.values())
    out = [f"Measured: {n_ok} runs in {db} ended with status 0; "
           f"{len(bad)} ended otherwise, {len(failed)} left no run."]
    inputs, calibrated = comparison.calibration_inputs(con)
    out += figure10_lines(con, inputs)
    out += figure6_lines(con, inputs)
    out += figure9_lines(con)
    out += multiplication_lines(con, good)
    if not calibrated:
        out.append("The runs' cost profile has no calibration record: "
                   "every cell is a prediction.")
    out.append("Turtles' L1 is KVM 2.6.35; ours is l1vmm, or KVM 6.1 where "
               "a configuration says [kvm]. Its L1 share is the "
               "profile's cache-pollution model (docs/cost-model.md) on top "
               "of its own instructions.")
    out.append(f"Figures, tables (CSV, JSON) and REPORT.md: {outdir}/")
    return out
