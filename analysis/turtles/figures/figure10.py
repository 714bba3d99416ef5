"""Turtles' Figure 10: cycles per L2 CPUID, stacked L1 / L0 / CPU mode
switch, in five columns, measured beside published.

Columns and the configurations that stand for them (what l1vmm and L0
offer): 1 single level; 2 nested without VMCS shadowing, full merge;
3 nested, merge of dirty fields only (the 3.5.1 transition optimization);
4 nested with VMCS shadowing, full merge (3.5.2: no vmread/vmwrite
traps); 5 both. A column with no such configuration in the database is
left empty. Only runs of the `cpuid` guest count. The single-level
column's split comes from the run's stored cost profile (data())."""

from .. import published, results

CPUID = 10
COLUMNS = [("single", None, None), ("nested", "off", "full"),
           ("nested", "off", "dirty"), ("nested", "on", "full"),
           ("nested", "on", "dirty")]
# The columns' names in measurements files and calibration blocks
# (analysis/turtles/calibrate.py).
COLUMN_IDS = ["single", "nested", "nested-3.5.1", "nested-3.5.2",
              "nested-both"]


def _runs_of(good, mode, shadowing, merge):
    """Runs of the CPUID microbenchmark (guest `cpuid`, any arguments).
    A column is one L1 configuration's (L1 and its arguments), never an
    average over two: the first in run order, l1vmm's before KVM's (the
    cost profile was calibrated on l1vmm; experiments/kvm-l1.toml puts
    KVM beside it, and the multiplication table and `turtles report`
    show every configuration apart)."""
    runs = [r for runs in good.values() for r in runs
            if r.workload.split()[0] == "cpuid" and r.mode == mode and
            (mode != "nested" or (
                r.vmcs_shadowing == shadowing and r.merge == merge))]
    runs = [r for r in runs if r.l1_name != "kvm"] or runs
    return [r for r in runs if runs and (r.l1_name, r.l1_args) ==
            (runs[0].l1_name, runs[0].l1_args)]


def _pair(con, ids):
    """The exit/entry pair of the runs' cost profile (vmexit + vmentry),
    or None if a run has no stored profile or they differ."""
    pairs = set()
    for i in ids:
        p = results.cost_profile_json(con, i)
        if not p:
            return None
        c = p["costs"]
        pairs.add(c["vmexit"]["cycles"] + c["vmentry"]["cycles"])
    return pairs.pop() if len(pairs) == 1 else None


def data(con):
    """[(total, L1, L0, switches) or None per column]. exit_stats keeps a
    single-level exit as one sum: its switch part is the run's profile's
    vmexit + vmentry (constant per exit), L0's the rest, L1's 0; without a
    stored profile (schema before 3) the parts are None."""
    good, _ = results.configurations(con)
    out = []
    for mode, sh, mg in COLUMNS:
        ids = results.run_ids(_runs_of(good, mode, sh, mg))
        if not ids:
            out.append(None)
            continue
        q = results.placeholders(ids)
        if mode == "single":
            n, c = con.execute(
                "SELECT sum(count), sum(cycles) FROM exit_stats WHERE "
                f"run_id IN ({q}) AND handler_level = 0 AND guest_level = 1 "
                "AND reason = ?", ids + [CPUID]).fetchone()
            pair = _pair(con, ids)
            out.append(None if not n else (c / n, None, None, None)
                       if pair is None else (c / n, 0.0, c / n - pair,
                                             float(pair)))
            continue
        n, total, l0, l1, tr = con.execute(
            "SELECT sum(l2_exits), sum(cycles_total), sum(cycles_l0), "
            "sum(cycles_l1), sum(cycles_transitions) FROM nested_costs "
            f"WHERE run_id IN ({q}) AND reason = ?", ids + [CPUID]).fetchone()
        out.append((total / n, l1 / n, l0 / n, tr / n) if n else None)
    return out


def plot_figure(con, outdir):
    from . import plot  # matplotlib: only when a figure is drawn
    measured = data(con)
    fig, ax = plot.figure(10, 5)
    width = 0.38
    colors = {"L1": "#4c72b0", "L0": "#dd8452", "switch": "#55a868"}
    xs = range(len(COLUMNS))
    for i in xs:
        _, l1, l0, sw = published.FIGURE10[i]
        x = i - width / 2
        ax.bar(x, l1, width, color=colors["L1"], alpha=0.45)
        ax.bar(x, l0, width, bottom=l1, color=colors["L0"], alpha=0.45)
        ax.bar(x, sw, width, bottom=l1 + l0, color=colors["switch"],
               alpha=0.45)
        m = measured[i]
        x = i + width / 2
        if m is None:
            ax.text(x, 500, "not run", rotation=90, ha="center",
                    va="bottom", fontsize=8)
        elif m[1] is None:
            ax.bar(x, m[0], width, color="#8c8c8c", hatch="//")
        else:
            ax.bar(x, m[1], width, color=colors["L1"])
            ax.bar(x, m[2], width, bottom=m[1], color=colors["L0"])
            ax.bar(x, m[3], width, bottom=m[1] + m[2],
                   color=colors["switch"])
    handles = [plot.plt.Rectangle((0, 0), 1, 1, color=c) for c in
               colors.values()] + [
        plot.plt.Rectangle((0, 0), 1, 1, color="#8c8c8c", hatch="//"),
        plot.plt.Rectangle((0, 0), 1, 1, color="#999999", alpha=0.45)]
    ax.legend(handles, ["L1", "L0", "CPU mode switch",
                        "total (single level: not split)",
                        "left bar of a pair: published (Turtles)"],
              fontsize=8)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([c[0].replace(" (", "\n(") for c in
                        published.FIGURE10], fontsize=8)
    ax.set_ylabel("cycles per L2 CPUID")
    ax.set_title("Figure 10: CPUID cost, published (left, pale) and "
                 "measured (right)")
    fig.tight_layout()
    return plot.save(fig, outdir, "figure10")
