"""Turtles' Figure 5: where the cycles of a workload go (guest, L1, L0,
CPU mode switches) for a single-level guest, a nested guest and a nested
guest without vmread/vmwrite traps, normalized to the tallest bar of the
workload, measured beside published.

The columns are Table 2's (tables/table2.py): Guest = single level,
Nested = VMCS shadowing off, NestedDRW = shadowing on. The cycles are
those of the region of interest where the run marked one. Nested: L0,
L1 and the switches are the sums of nested_costs (the L2 exits' episodes),
the guest is the rest. Single level: the database keeps an exit's
handler and its exit/entry as one sum, so L0 and the switches are one
segment."""

from .. import published, results
from ..tables import table2

BARS = ("Guest", "Nested", "NestedDRW")
SEGMENTS = ("guest", "L1", "L0", "switch")


def _split(con, runs, rois):
    """Mean (total, guest, L1, L0, switch) cycles of runs; switch is None
    for single-level runs (then L0 holds the switches too)."""
    rows = []
    for r in runs:
        m = results.measured(con, r.run_id, rois)
        if r.mode == "nested":
            l0, l1, sw = con.execute(
                f"SELECT coalesce(sum(cycles_l0), 0), coalesce(sum("
                f"cycles_l1), 0), coalesce(sum(cycles_transitions), 0) FROM "
                f"{m.nested} WHERE run_id = ?", (r.run_id,)).fetchone()
        else:
            l1, sw = 0, None
            l0 = con.execute(f"SELECT coalesce(sum(cycles), 0) FROM "
                             f"{m.exits} WHERE run_id = ?",
                             (r.run_id,)).fetchone()[0]
        rows.append((m.cycles, m.cycles - l0 - l1 - (sw or 0), l1, l0, sw))
    n = len(rows)
    return tuple(None if rows[0][k] is None else sum(x[k] for x in rows) / n
                 for k in range(5))


def data(con):
    """{Linux workload: {bar: (total, guest, L1, L0, switch) in % of the
    workload's tallest bar}}."""
    rois = results.roi(con)
    out = {}
    for w, by_col in table2.runs_by_workload(con).items():
        raw = {b: _split(con, by_col[b], rois) for b in BARS if b in by_col}
        if not raw:
            continue
        top = max(v[0] for v in raw.values())
        out[w] = {b: tuple(None if x is None else 100 * x / top for x in v)
                  for b, v in raw.items()}
    return out


def plot_figure(con, outdir):
    from . import plot  # matplotlib: only when a figure is drawn
    measured = data(con)
    groups = [(w, published.ANALOGS.get(w)) for w in measured] or \
             [(None, a) for a in published.FIGURE5]
    fig, axes = plot.plt.subplots(1, len(groups), figsize=(
        max(8, 5 * len(groups)), 5), squeeze=False)
    colors = {"guest": "#8c8c8c", "L1": "#4c72b0", "L0": "#dd8452",
              "switch": "#55a868"}
    width = 0.38
    for ax, (w, analog) in zip(axes[0], groups):
        for i, bar in enumerate(BARS):
            for x, vals, alpha in (
                    (i - width / 2, published.FIGURE5.get(analog, {}).get(bar),
                     0.45),
                    (i + width / 2, measured.get(w, {}).get(bar), 1.0)):
                if vals is None:
                    ax.text(x, 2, "not run", rotation=90, ha="center",
                            va="bottom", fontsize=8)
                    continue
                bottom = 0
                for seg, v in zip(SEGMENTS, vals[1:]):
                    if v is None:
                        continue
                    ax.bar(x, v, width, bottom=bottom, color=colors[seg],
                           alpha=alpha)
                    bottom += v
        ax.set_xticks(range(len(BARS)))
        ax.set_xticklabels(BARS, fontsize=8)
        title = f"{w} ({analog})" if w and analog else (w or analog)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("% of the tallest bar")
    handles = [plot.plt.Rectangle((0, 0), 1, 1, color=c) for c in
               colors.values()]
    fig.legend(handles, ["guest", "L1", "L0 (single level: with "
                         "switches)", "CPU mode switch"], fontsize=8,
               loc="lower center", ncol=4)
    fig.suptitle("Figure 5: cycle distribution, published (left, pale) "
                 "and measured (right)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    return plot.save(fig, outdir, "figure5")
