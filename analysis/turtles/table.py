"""A table of a report: a title, columns, rows, and notes; printed as text
and exported as CSV or JSON with the same values."""

from dataclasses import dataclass, field


@dataclass
class Table:
    name: str            # file name of its exports: exits, slowdown, ...
    title: str
    columns: list
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def text(self):
        cells = [[fmt(v) for v in row] for row in self.rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells])
                  for i, c in enumerate(self.columns)]
        lines = [self.title,
                 "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(self.columns,
                                                          widths)))]
        for r in cells:
            lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                                   for i, (v, w) in enumerate(zip(r, widths))))
        if not self.rows:
            lines.append("(no runs of this kind in the database)")
        lines += [f"  {n}" for n in self.notes]
        return "\n".join(lines)

    def records(self):
        return [dict(zip(self.columns, r)) for r in self.rows]


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if 0 < abs(v) < 1:
            return f"{v:.3g}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
