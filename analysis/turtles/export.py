"""CSV and JSON export of report tables: the same values the text shows,
unformatted."""

import csv
import json
import os


def write_csv(tables, outdir):
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for t in tables:
        p = os.path.join(outdir, f"{t.name}.csv")
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(t.columns)
            w.writerows(t.rows)
        paths.append(p)
    return paths


def write_json(tables, outdir, extra=None):
    os.makedirs(outdir, exist_ok=True)
    p = os.path.join(outdir, "tables.json")
    doc = {t.name: {"title": t.title, "rows": t.records(), "notes": t.notes}
           for t in tables}
    if extra:
        doc.update(extra)
    with open(p, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return [p]
