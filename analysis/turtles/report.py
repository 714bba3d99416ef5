"""A report of any experiment from its database: the tables it asks for
as text, CSV and JSON, its figures as PNG and SVG, and REPORT.md."""

import importlib

from . import export, report_md, results
from .tables import exits, multiplication, paging, slowdown, table2

TABLES = {"exits": exits, "slowdown": slowdown,
          "multiplication": multiplication, "paging": paging,
          "table2": table2}
FIGURES = ("figure10", "figure6", "figure9", "figure5")
ALL = ("slowdown", "multiplication", "exits", "paging", "table2") + \
    FIGURES + ("csv", "json", "markdown")


def failures_text(con):
    _, bad = results.configurations(con)
    failed = [f for f in results.failed_runs(con)]
    good_labels = {r.label for rs in results.configurations(con)[0].values()
                   for r in rs}
    lines = []
    for r in bad:
        lines.append(f"  {r.label}: run {r.run_id} ended {r.status} "
                     f"(exit {r.exit_code})")
    for f in failed:
        if f["label"] in good_labels:
            continue
        tail = f["stderr_tail"].strip().splitlines()[-1:] or [""]
        code = f" {f['exit_code']}" if f["exit_code"] is not None else ""
        lines.append(f"  {f['label']}: not recorded, {f['reason']}{code}: "
                     f"{tail[0][:120]}")
    if not lines:
        return ""
    return ("Runs that did not end well (not in the tables above):\n" +
            "\n".join(lines))


def make(con, products, outdir, experiment, out):
    """Writes what `products` asks for; prints the tables to out."""
    products = list(products) or list(ALL)
    tables = [TABLES[p].table(con) for p in products if p in TABLES]
    for t in tables:
        out.write(t.text() + "\n\n")
    fail = failures_text(con)
    if fail:
        out.write(fail + "\n\n")
    table_paths, figure_paths = [], []
    if "csv" in products:
        table_paths += export.write_csv(tables, outdir)
    if "json" in products:
        table_paths += export.write_json(tables, outdir)
    for name in FIGURES:
        if name in products:  # matplotlib: only if asked
            module = importlib.import_module(f".figures.{name}", __package__)
            figure_paths += module.plot_figure(con, outdir)
    written = table_paths + figure_paths
    if "markdown" in products:
        written.append(report_md.write(con, outdir, experiment, products,
                                       figure_paths, table_paths))
    return written
