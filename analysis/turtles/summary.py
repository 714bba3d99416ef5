"""The few lines `make run` prints: what was measured, Figure 10 against
the paper with the part that differs most, and where the files are."""

from . import published, results
from .figures import figure10

PARTS = ("L1", "L0", "CPU mode switch")


def _pct(m, p):
    return f"{100.0 * (m - p) / p:+.0f}%"


def lines(con, db, outdir):
    good, bad = results.configurations(con)
    failed = [f for f in results.failed_runs(con)
              if f["label"] not in {r.label for rs in good.values()
                                    for r in rs}]
    n_ok = sum(len(rs) for rs in good.values())
    out = [f"Measured: {n_ok} runs in {db} ended with status 0; "
           f"{len(bad)} ended otherwise, {len(failed)} left no run."]
    m = figure10.data(con)
    if any(m):
        out.append("Figure 10, cycles per L2 CPUID, measured / Turtles "
                   "(largest gap):")
    for i, row in enumerate(m):
        name, *paper = published.FIGURE10[i]
        total = published.FIGURE10_TOTALS[i]
        if row is None:
            out.append(f"  {name:42} not run")
            continue
        kind = "calibration input" if i == 0 else "prediction"
        gap = ""
        if row[1] is not None:
            k = max(range(3), key=lambda k: abs(row[k + 1] - paper[k]))
            gap = (f"  ({PARTS[k]} {row[k + 1]:,.0f} / {paper[k]:,})")
        out.append(f"  {name:42} {row[0]:>7,.0f} / {total:>6,} "
                   f"{_pct(row[0], total):>5}  {kind}{gap}")
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
            paper = published.L1_EXITS_PER_L2_EXIT[10][
                0 if r.vmcs_shadowing == "off" else 1]
            mult.append(f"{label} {l1 / n:.1f} (Turtles {paper})")
    if mult:
        out.append("L1 exits per L2 CPUID: " + ", ".join(mult))
    out.append("Turtles' L1 is KVM; ours is l1vmm, whose CPUID path is a "
               "few hundred instructions: the L1 part is expected to be "
               "far below the paper's.")
    out.append(f"Figures, tables (CSV, JSON) and REPORT.md: {outdir}/")
    return out
