"""Measured beside published, cell by cell: Figure 10's five columns (total
and the L1 / L0 / mode-switch split) and Figure 6's reasons, each with its
deviation from the paper, whether it is within issue 12's target, and
whether it was an input of the cost profile's calibration (the profile
each run used is in the database, with its calibration block) or a
prediction. summary.py and report_md.py print these rows."""

from dataclasses import dataclass

from . import published, results
from .figures import figure6, figure10

FIGURE10_PARTS = ("total", "L1", "L0", "switch")
# The `exits` guest's kinds by the basic exit reason each one measures
# (analysis/turtles/calibrate.py names the inputs by kind).
_KIND_REASON = {"cpuid": 10, "vmcall": 18, "pio-out": 30, "pio-in": 30,
                "rdmsr": 31, "wrmsr": 32, "cr": 28, "apic": 44,
                "exception": 0, "interrupt": 1, "pending": 7, "ept": 48}


@dataclass
class Cell:
    measured: float | None
    paper: float
    target: float | None  # the tolerance, as a fraction, or None
    is_input: bool

    @property
    def deviation(self):
        if self.measured is None or not self.paper:
            return None
        return (self.measured - self.paper) / self.paper

    @property
    def within(self):
        d = self.deviation
        return d is not None and self.target is not None and \
            abs(d) <= self.target

    def text(self):
        """'measured / paper (+d%)*': * marks a cell within its target."""
        if self.measured is None:
            return f"not run / {self.paper:,.0f}"
        d = self.deviation
        dev = "" if d is None else f" ({d:+.0%})"
        mark = "*" if self.within else ""
        return f"{self.measured:,.0f} / {self.paper:,.0f}{dev}{mark}"


def calibration_inputs(con):
    """The ids the profiles of the database's runs were fitted to
    (figure10.COLUMN.PART, figure6.single.KIND), and whether any run had
    a profile with a calibration block."""
    ids, seen = set(), False
    good, _ = results.configurations(con)
    for runs in good.values():
        for r in runs:
            p = results.cost_profile_json(con, r.run_id)
            cal = (p or {}).get("calibration")
            if cal:
                seen = True
                ids.update(cal.get("inputs", []))
    return ids, seen


def figure10_rows(con, inputs):
    """[(column name, {part: Cell})] for the five columns."""
    measured = figure10.data(con)
    out = []
    for i, (name, l1, l0, sw) in enumerate(published.FIGURE10):
        col = figure10.COLUMN_IDS[i]
        paper = dict(zip(FIGURE10_PARTS, (published.FIGURE10_TOTALS[i], l1,
                                          l0, sw)))
        m = measured[i] or (None,) * 4
        cells = {part: Cell(m[k], paper[part], published.FIGURE10_TARGET,
                            f"figure10.{col}.{part}" in inputs)
                 for k, part in enumerate(FIGURE10_PARTS)}
        out.append((name, cells))
    return out


def figure6_rows(con, inputs):
    """[(reason name, [Cell nested, Cell DRW, Cell single])]."""
    measured = figure6.data(con)
    single_inputs = {_KIND_REASON[i.rsplit(".", 1)[1]] for i in inputs
                     if i.startswith("figure6.single.") and
                     i.rsplit(".", 1)[1] in _KIND_REASON}
    out = []
    for reason, (name, *paper) in published.FIGURE6.items():
        cells = [Cell(measured[reason][k], paper[k],
                      published.FIGURE6_SINGLE_TARGET if k == 2 else None,
                      k == 2 and reason in single_inputs)
                 for k in range(3)]
        out.append((name, cells))
    return out
