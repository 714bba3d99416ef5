"""Reading a results database (analysis/schema.sql, docs/results.md): the
runs of an experiment grouped into configurations, with their status.
Every report module reads through here, never through the emulator."""

import json
import os
import re
import sqlite3
from dataclasses import dataclass

# The schema versions this analysis reads: 2 only added the runs.status
# value 'interrupted' (analysis/schema.sql), so version 1 reads the same;
# 3 added runs.cost_profile_json (absent before: cost_profile_json()
# says None); 4 the roi tables and trace_steps, which older files lack
# (roi() gives nothing); 5 nested_l1_exits and the options' l1 (older
# files: no split of L1's exits by L2 exit, l1 None).
READABLE_VERSIONS = (1, 2, 3, 4, 5)
# A database of these versions is upgraded in place by turtles' writer.
UPGRADABLE_VERSIONS = (2, 3, 4)
SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "schema.sql")


def written_version():
    """The version analysis/schema.sql creates: what turtles writes."""
    with open(SCHEMA) as f:
        m = re.search(r"PRAGMA user_version = (\d+)", f.read())
    return int(m.group(1))

# A run that ended the way a workload should: the guest reported status 0.
OK_EXIT_CODE = 0


class NotResults(Exception):
    """A path that is not a results database this analysis can read."""


def open_readonly(path):
    """The database at path, read-only, after checking its version."""
    if not os.path.isfile(path):
        raise NotResults(f"no results database at {path}")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        con.close()
        raise NotResults(f"{path} is not an SQLite database: {e}") from None
    if version not in READABLE_VERSIONS:
        con.close()
        raise NotResults(f"{path} has schema version {version}; this "
                         f"analysis reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    return con


def connect(path):
    """open_readonly for the reports: rows by column name, and a clear
    message and exit for a file that is not a results database."""
    try:
        con = open_readonly(path)
    except NotResults as e:
        raise SystemExit(str(e)) from None
    con.row_factory = sqlite3.Row
    return con


@dataclass(frozen=True)
class Run:
    run_id: int
    label: str | None
    config: str        # the label without its "#repetition" suffix
    workload: str      # guest image name and its command line
    mode: str
    l1_args: str | None
    vmcs_shadowing: str | None
    merge: str | None
    cost_profile: str
    status: str
    exit_code: int
    cycles: int
    instructions: int
    host_ns: int
    git_revision: str | None
    l1: str | None = None  # --l1 as recorded (schema 5): "kvm" or a path

    @property
    def l1_name(self):
        """The L1 hypervisor: "kvm", a multiboot L1's file name without
        ".elf" ("l1vmm"), or None for a run that is not nested or that
        predates the record (docs/results.md)."""
        if self.mode != "nested" or not self.l1:
            return None
        return re.sub(r"\.elf$", "", os.path.basename(self.l1))

    @property
    def ok(self):
        return self.exit_code == OK_EXIT_CODE

    @property
    def nesting(self):
        """L0's options and L1's, as a short name ('-' when not nested)."""
        if self.mode != "nested":
            return "-"
        l1 = " ".join(filter(None, (self.l1_name, self.l1_args))) or "l1vmm"
        return f"{l1} shadow={self.vmcs_shadowing} merge={self.merge}"


def workload_name(image, cmdline):
    name = os.path.basename(image)
    name = re.sub(r"\.elf$", "", name)
    return f"{name} {cmdline}".strip()


def runs(con):
    """Every run, oldest first."""
    out = []
    for r in con.execute("SELECT * FROM runs ORDER BY run_id"):
        o = json.loads(r["options"])
        label = o.get("label")
        out.append(Run(
            run_id=r["run_id"], label=label,
            config=re.sub(r"#\d+$", "", label) if label else
            f"run{r['run_id']}",
            workload=workload_name(r["image"], r["cmdline"]),
            mode=r["mode"], l1_args=o.get("l1_args"),
            vmcs_shadowing=o.get("vmcs_shadowing"), merge=o.get("merge"),
            cost_profile=r["cost_profile"], status=r["status"],
            exit_code=r["exit_code"], cycles=r["cycles"],
            instructions=r["instructions"], host_ns=r["host_ns"],
            git_revision=r["git_revision"], l1=o.get("l1")))
    return out


def newest_per_label(all_runs):
    """The newest run of each label, labels in the order they first ran:
    a resumed or repeated experiment reports each configuration once per
    repetition. all_runs is oldest first."""
    newest = {}
    for r in all_runs:
        key = r.label or r.config
        newest[key] = r
    first = {}
    for r in all_runs:
        first.setdefault(r.label or r.config, r.run_id)
    return sorted(newest.values(), key=lambda r: first[r.label or r.config])


def configurations(con):
    """{config: [runs of its repetitions]} for the runs that ended well,
    and the list of runs that did not."""
    good, bad = {}, []
    for r in newest_per_label(runs(con)):
        if r.ok:
            good.setdefault(r.config, []).append(r)
        else:
            bad.append(r)
    return good, bad


def failed_runs(con):
    """Rows of the runner's failed_runs table (none if it is absent)."""
    if not has_table(con, "failed_runs"):
        return []
    return [dict(r) for r in con.execute(
        "SELECT * FROM failed_runs ORDER BY failure_id")]


def has_table(con, name):
    return con.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                       (name,)).fetchone() is not None


def roi(con):
    """{run_id: its roi row} for the runs whose guest marked a region of
    interest (docs/exit-stats.md); empty for a database without them."""
    if not has_table(con, "roi"):
        return {}
    return {r["run_id"]: r for r in con.execute("SELECT * FROM roi")}


@dataclass(frozen=True)
class Measured:
    """What a figure measures of one run: the region of interest where
    the guest marked one, else the whole run."""
    cycles: int
    exits: str    # the table of its exits: roi_exit_stats or exit_stats
    nested: str   # and of its nested costs
    roi: bool


def measured(con, run_id, rois=None):
    rois = roi(con) if rois is None else rois
    if run_id in rois:
        return Measured(rois[run_id]["cycles"], "roi_exit_stats",
                        "roi_nested_costs", True)
    cycles = con.execute("SELECT cycles FROM runs WHERE run_id = ?",
                         (run_id,)).fetchone()[0]
    return Measured(cycles, "exit_stats", "nested_costs", False)


def linux_workload(run):
    """The Linux workload a run ran (its kernel command line's
    workload=), or None for a freestanding guest."""
    m = re.search(r"(?:^|\s)workload=(\S+)", run.workload)
    return m.group(1) if m else None


def run_ids(runs_):
    return [r.run_id for r in runs_]


def placeholders(xs):
    return ",".join("?" * len(xs))


def cost_profile_json(con, run_id):
    """The cost profile a run was made with, as a dict, or None for a
    run of a database older than version 3."""
    cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
    if "cost_profile_json" not in cols:
        return None
    row = con.execute("SELECT cost_profile_json FROM runs WHERE run_id = ?",
                      (run_id,)).fetchone()
    return json.loads(row[0]) if row and row[0] else None
