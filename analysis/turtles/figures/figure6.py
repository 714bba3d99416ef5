"""Turtles' Figure 6: cycles to handle one exit, by reason, for a nested
guest, a nested guest without vmread/vmwrite traps, and a single-level
guest; measured beside published.

nested = nested runs without VMCS shadowing and with the full merge;
DRW = with VMCS shadowing and the full merge (the paper's Figure 6 has
no 3.5.1); single = single-level runs. Every ok run of the database that
fits counts, whatever its workload: the reasons fill in as workloads that
cause them (another issue's exit-type microbenchmarks) are run."""

from .. import published, results

SERIES = (("nested", "nested", "off"), ("DRW", "nested", "on"),
          ("single", "single", None))


def _ids(good, mode, shadowing):
    return [r.run_id for runs in good.values() for r in runs
            if r.mode == mode and (mode != "nested" or (
                r.vmcs_shadowing == shadowing and r.merge == "full"))]


def data(con):
    """{reason: [cycles per exit or None for nested, DRW, single]} for the
    reasons of the published figure."""
    good, _ = results.configurations(con)
    out = {reason: [None, None, None] for reason in published.FIGURE6}
    for k, (_, mode, sh) in enumerate(SERIES):
        ids = _ids(good, mode, sh)
        if not ids:
            continue
        q = results.placeholders(ids)
        if mode == "nested":
            sql = ("SELECT reason, sum(cycles_total), sum(l2_exits) FROM "
                   f"nested_costs WHERE run_id IN ({q}) GROUP BY reason")
        else:
            sql = ("SELECT reason, sum(cycles), sum(count) FROM exit_stats "
                   f"WHERE run_id IN ({q}) AND handler_level = 0 AND "
                   "guest_level = 1 GROUP BY reason")
        for reason, cycles, n in con.execute(sql, ids):
            if reason in out:
                out[reason][k] = cycles / n
    return out


def plot_figure(con, outdir):
    from . import plot  # matplotlib: only when a figure is drawn
    measured = data(con)
    reasons = list(published.FIGURE6)
    fig, ax = plot.figure(12, 5)
    width = 0.13
    colors = ("#c44e52", "#4c72b0", "#55a868")
    for k, (name, _, _) in enumerate(SERIES):
        labeled = False  # the legend names the first measured bar
        for i, reason in enumerate(reasons):
            paper = published.FIGURE6[reason][k + 1]
            m = measured[reason][k]
            x0 = i + (k - 1) * 2 * width
            ax.bar(x0 - width / 2, paper, width, color=colors[k], alpha=0.4,
                   label=f"{name} (published)" if i == 0 else None)
            if m is not None:
                ax.bar(x0 + width / 2, m, width, color=colors[k],
                       label=None if labeled else f"{name} (measured)")
                labeled = True
    ax.set_xticks(range(len(reasons)))
    ax.set_xticklabels([published.FIGURE6[r][0] for r in reasons],
                       rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("cycles per exit")
    ax.set_title("Figure 6: cycles to handle one exit (pale: published; "
                 "missing bars: no run caused that exit)")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return plot.save(fig, outdir, "figure6")
