"""Turtles' Figure 9: how much faster multi-dimensional paging (EPT on
EPT) is than shadow paging on EPT, as the ratio of run times, measured
beside published.

Measured: for each workload with nested runs under both of l1vmm's paging
modes (--l1-args paging=ept and paging=shadow, L0 always gives L1 EPT),
cycles(shadow) / cycles(ept), of the region of interest where the runs
marked one. The Linux workloads stand for the paper's benchmarks
(published.ANALOGS); others are shown on their own."""

from .. import published, results


def _paging(run):
    args = run.l1_args or ""
    return "shadow" if "paging=shadow" in args else "ept"


def data(con):
    """[(workload, analog or None, ratio, roi used)] for the workloads
    with ok nested runs in both paging modes."""
    good, _ = results.configurations(con)
    rois = results.roi(con)
    cycles = {}
    for runs in good.values():
        r = runs[0]
        if r.mode != "nested":
            continue
        w = results.linux_workload(r) or r.workload
        key = (w, r.vmcs_shadowing, r.merge)
        for run in runs:
            m = results.measured(con, run.run_id, rois)
            cycles.setdefault(key, {}).setdefault(_paging(r), []).append(m)
    out = []
    for (w, sh, mg), by in cycles.items():
        if "ept" in by and "shadow" in by:
            mean = {p: sum(m.cycles for m in ms) / len(ms)
                    for p, ms in by.items()}
            roi = all(m.roi for ms in by.values() for m in ms)
            out.append((f"{w} (shadowing {sh}, merge {mg})",
                        published.ANALOGS.get(w), mean["shadow"] /
                        mean["ept"], roi))
    return out


def plot_figure(con, outdir):
    from . import plot  # matplotlib: only when a figure is drawn
    measured = data(con)
    fig, ax = plot.figure(9, 4.5)
    names, values, colors = [], [], []
    for bench, ratio in published.FIGURE9.items():
        names.append(f"{bench}\n(published)")
        values.append(ratio)
        colors.append("#c9a0a0")
    for w, analog, ratio, roi in measured:
        label = w.replace(" (", "\n(", 1)
        names.append(label + (f"\n~ {analog}" if analog else ""))
        values.append(ratio)
        colors.append("#c44e52")
    ax.bar(range(len(values)), values, color=colors)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(names, fontsize=7)
    ax.set_ylabel("shadow-on-EPT time / EPT-on-EPT time")
    ax.set_title("Figure 9: multi-dimensional paging over shadow paging "
                 "(1.0 = shadow-on-EPT)" + ("" if measured else
                                             "; no workload measured yet"),
                 fontsize=10)
    fig.tight_layout()
    return plot.save(fig, outdir, "figure9")
