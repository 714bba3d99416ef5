#!/usr/bin/env python3
"""scripts/exp: experiment files expand as documented, the runner runs a
matrix in parallel, records failures instead of stopping, resumes, the
report reads only the database (checked against SQL of our own), and
merging databases loses nothing and refuses duplicates."""

import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

from tap import Report, arguments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
EXP = os.path.join(ROOT, "scripts", "exp")
TURTLES = os.path.join(ROOT, os.environ.get("TURTLES", "build/turtles"))
T = Report("exp")


def exp(*args, cwd=ROOT):
    return subprocess.run([EXP, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


MATRIX = """
name = "t"
[workloads]
a = { guest = "cpuid", args = ["iters=5"] }
b = { guest = "hello", args = ["x=1", "y=2"] }
[[matrix]]
workloads = ["a", "b"]
modes = ["bare", "single", "nested"]
vmcs_shadowing = ["on", "off"]
[[matrix]]
label = "r-{merge}"
workloads = ["a"]
merge = ["full", "dirty"]
repetitions = 2
exclude = [{ merge = "full" }]
"""


LINUX = """
[workloads.boot]
kernel = "build/linux/vmlinuz"
initrd = "build/linux/initrd.gz"
args = ["console=ttyS0", "workload=boot"]
[[matrix]]
modes = ["single"]
"""


def test_format(d):
    p = exp("list", write(d, "m.toml", MATRIX))
    lines = p.stdout.splitlines()
    labels = [l.split()[0] for l in lines]
    # bare and single do not multiply by L0's nesting options: 2 x (1+1+2),
    # then 2 repetitions of the one merge left after the exclusion.
    T.check(p.returncode == 0 and labels == [
        "a-bare", "a-single", "a-nested-l1vmm-shadow-on-merge-dirty",
        "a-nested-l1vmm-shadow-off-merge-dirty", "b-bare", "b-single",
        "b-nested-l1vmm-shadow-on-merge-dirty",
        "b-nested-l1vmm-shadow-off-merge-dirty", "r-dirty#0", "r-dirty#1"],
        "a matrix expands to its documented configurations", labels,
        p.stderr)
    b = [l for l in lines if l.startswith("b-single ")]
    T.check(b and b[0].endswith("build/images/hello.elf -- x=1 y=2"),
            "a workload takes any number of arguments", b)
    p = exp("list", write(d, "linux.toml", LINUX))
    T.check(p.returncode == 0 and p.stdout.split("\n")[0].endswith(
        "--mode single --kernel build/linux/vmlinuz --initrd "
        "build/linux/initrd.gz --append console=ttyS0 workload=boot"),
        "a Linux workload runs with --kernel, --initrd and --append",
        p.stdout, p.stderr)
    p = exp("list", write(d, "linux-nested.toml", LINUX.replace(
        '["single"]', '["nested"]')))
    T.check(p.returncode == 0 and p.stdout.split("\n")[0].endswith(
        "--merge dirty --kernel build/linux/vmlinuz --initrd "
        "build/linux/initrd.gz --append console=ttyS0 workload=boot"),
        "a nested Linux workload gives turtles its kernel, initrd and "
        "command line to pass to L1", p.stdout, p.stderr)
    p = exp("list", write(d, "kvm.toml", '[workloads]\na={guest="cpuid"}\n'
                          '[l1]\nk={hypervisor="kvm", args=["kvm_intel.ept=1"]}'
                          '\n[[matrix]]\nl1=["k", "kvm"]\n'))
    lines = p.stdout.strip().split("\n")
    T.check(p.returncode == 0 and len(lines) == 2 and
            "--l1 kvm --l1-args kvm_intel.ept=1 " in lines[0] and
            "--l1 kvm --l1-args  " in lines[1],
            "hypervisor = \"kvm\" (or the L1 name kvm) runs Linux with KVM "
            "as L1, its args on L1's kernel command line", p.stdout, p.stderr)
    for name in sorted(n for n in os.listdir(os.path.join(ROOT, "experiments"))
                       if n.endswith(".toml")):
        p = exp("list", os.path.join("experiments", name))
        T.check(p.returncode == 0 and p.stdout.strip(),
                f"experiments/{name} is a valid experiment file", p.stderr)
    bad = {
        'name = "x"\nbogus = 1\n[workloads]\na={guest="cpuid"}\n'
        '[[matrix]]\n': "unknown keys ['bogus']",
        '[workloads]\na={guest="cpuid"}\n[[matrix]]\nmodes=["fast"]\n':
            "'fast' is not one of bare, single, nested",
        '[workloads]\na={guest="cpuid"}\n[[matrix]]\nlabel="same"\n'
        'modes=["bare","single"]\n': "share the label(s) same",
        '[workloads]\na={guest="cpuid"}\n[[matrix]]\nlabel="{nope}"\n':
            "'nope'",
        'not toml [': "not valid TOML",
    }
    for i, (text, message) in enumerate(bad.items()):
        p = exp("list", write(d, f"bad{i}.toml", text))
        T.check(p.returncode != 0 and message in p.stderr,
                f"a bad experiment file is refused: {message}", p.stderr)


RUN = """
name = "small"
[workloads]
cpuid = { guest = "cpuid", args = ["iters=10"] }
missing = { guest = "no-such-guest" }
hang = { guest = "fault", args = ["kind=hang"] }
[[matrix]]
label = "cpuid-{mode}"
workloads = ["cpuid"]
modes = ["bare", "single", "nested"]
[[matrix]]
label = "missing"
workloads = ["missing"]
modes = ["bare"]
[[matrix]]
label = "hang"
workloads = ["hang"]
modes = ["single"]
max_insns = 20000
trace = true
"""


def rows(db, sql, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_run_resume_report(d):
    f = write(d, "small.toml", RUN)
    db = os.path.join(d, "small.db")
    p = exp("run", f, "--db", db, "--jobs", "2")
    T.check(p.returncode == 1, "a run with failures ends with status 1",
            p.returncode, p.stderr[-800:])
    T.check("[5/5] 100% failed 2" in p.stderr,
            "the progress line counts done, total and failures",
            p.stderr[-800:])
    got = dict(rows(db, "SELECT json_extract(options, '$.label'), status "
                        "FROM runs"))
    T.check(got == {"cpuid-bare": "debug-exit", "cpuid-single": "debug-exit",
                    "cpuid-nested": "debug-exit", "hang": "insn-limit"},
            "every configuration that ran is in runs, a cut-off one with "
            "its status", got)
    fails = rows(db, "SELECT label, reason, exit_code, stderr_tail FROM "
                     "failed_runs")
    T.check(len(fails) == 1 and fails[0][:3] == ("missing", "exit-status",
                                                  65)
            and "no-such-guest" in fails[0][3],
            "a configuration that left no run is in failed_runs with its "
            "exit status and message", fails)
    level2 = rows(db, "SELECT g.key, g.value FROM guest_metrics AS g JOIN "
                      "runs USING (run_id) WHERE runs.mode = 'nested' AND "
                      "g.level = 2 AND g.kind = 'RESULT'")
    T.check(("iters", "10") in level2,
            "L2's RESULT lines land with level 2 (issue 13)", level2)
    log = os.path.join(d, "small.logs", "cpuid-nested.log")
    T.check(os.path.exists(log) and "[L2] RESULT cpuid iters=10" in
            open(log).read(), "the guests' output is kept in a log", log)
    rev = subprocess.run([TURTLES, "--version"], capture_output=True,
                         text=True)
    revs = rows(db, "SELECT DISTINCT git_revision FROM runs")
    T.check(rev.returncode == 0 and revs == [(rev.stdout.split()[1],)],
            "turtles --version names the revision runs record",
            rev.stdout, revs)

    # Resume: what is in the database is skipped; what left no run is
    # tried again.
    p = exp("run", f, "--db", db)
    T.check("4 already in" in p.stderr and "1 to run" in p.stderr,
            "a second run skips the configurations already in the database",
            p.stderr[-500:])
    T.check(rows(db, "SELECT count(*) FROM runs") == [(4,)] and
            rows(db, "SELECT count(*) FROM failed_runs") == [(2,)],
            "resuming adds no run twice and records the retried failure")

    # `turtles report` (C) lists the cut-off run apart, not as a row.
    c = subprocess.run([TURTLES, "report", "--db", db],
                       capture_output=True, text=True)
    table, _, apart = c.stdout.partition("did not end with status 0")
    T.check(c.returncode == 0 and "hang" not in table.split() and
            "hang" in apart and "insn-limit (exit 82)" in apart,
            "turtles report lists a cut-off run apart", c.stdout)

    # The report: tables from the database only.
    out = os.path.join(d, "out")
    p = exp("report", "--db", db, "--out", out, "--only",
            "slowdown,exits,multiplication,csv,json")
    T.check(p.returncode == 0, "exp report runs", p.stderr[-500:])
    fail_part = p.stdout.split("did not end well")[-1]
    T.check("hang: run" in fail_part and "insn-limit" in fail_part and
            "missing: not recorded, exit-status 65" in fail_part,
            "failed runs are listed apart, with their status", p.stdout)
    with open(os.path.join(out, "slowdown.csv")) as fh:
        slow = list(csv.DictReader(fh))
    T.check(all(r["workload"] != "fault kind=hang" for r in slow),
            "a cut-off run is not a row of the tables", slow)
    (bare,), (single,), (nested,) = (
        rows(db, "SELECT cycles FROM runs WHERE "
                 "json_extract(options, '$.label') = ?", f"cpuid-{m}")[0]
        for m in ("bare", "single", "nested"))
    by_mode = {r["mode"]: r for r in slow}
    T.check(abs(float(by_mode["nested"]["vs bare"]) - nested / bare) < 1e-9
            and abs(float(by_mode["nested"]["vs single"]) -
                    nested / single) < 1e-9,
            "slowdown is the ratio of the runs' modeled cycles",
            by_mode.get("nested"), nested / bare, nested / single)
    with open(os.path.join(out, "tables.json")) as fh:
        tables = json.load(fh)
    cpuid = [r for r in tables["exits"]["rows"] if r["configuration"] ==
             "cpuid-single" and r["reason"] == "CPUID"]
    n, c = rows(db, "SELECT e.count, e.cycles FROM exit_stats AS e JOIN "
                    "runs USING (run_id) WHERE json_extract(options, "
                    "'$.label') = 'cpuid-single' AND e.reason = 10")[0]
    T.check(len(cpuid) == 1 and cpuid[0]["samples"] == n and
            cpuid[0]["mean"] == c / n,
            "the exits table is exit_stats' count and cycles per exit",
            cpuid, n, c)
    mult = [r for r in tables["multiplication"]["rows"]
            if r["L2 reason"] == "CPUID"]
    l2, l1 = rows(db, "SELECT l2_exits, l1_exits_caused FROM nested_costs "
                      "WHERE reason = 10")[0]
    T.check(len(mult) == 1 and mult[0]["L1 exits / L2"] == l1 / l2,
            "L1 exits per L2 exit come from nested_costs", mult, l1, l2)
    return db


def test_figures(d, db):
    out = os.path.join(d, "fig")
    p = exp("report", "--db", db, "--out", out, "--only",
            "figure10,figure6,markdown")
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    T.check(p.returncode == 0 and files == [
        "REPORT.md", "figure10.png", "figure10.svg", "figure6.png",
        "figure6.svg"], "figures are written as PNG and SVG with a report",
        files, p.stderr[-500:])
    md = open(os.path.join(out, "REPORT.md")).read() if files else ""
    # Only the single-level column ran: it is the calibration input; the
    # nested ones say they were not run (nested-on-dirty needs a cpuid run
    # with shadowing on and the dirty merge: cpuid-nested is one).
    T.check("| single-level guest | 2,554 / 2,502 (+2%) ✓ (input) |" in md
            and "| nested guest | not run / 58,494 |" in md,
            "REPORT.md puts measured beside published and says which is "
            "a calibration input", md[:1200])


def test_merge(d):
    f = write(d, "m.toml", 'name = "m"\n[workloads]\n'
              'a = { guest = "cpuid", args = ["iters=3"] }\n[[matrix]]\n'
              'workloads = ["a"]\nmodes = ["single", "nested"]\n'
              'trace = true\n')
    parts = []
    for task in (0, 1):
        db = os.path.join(d, f"task-{task}.db")
        exp("run", f, "--db", db, "--task", str(task), "--tasks", "2")
        parts.append(db)
    tables = ("runs", "exit_stats", "nested_costs", "guest_metrics",
              "counters", "exit_trace", "trace_steps")
    before = {t: sum(rows(p, f"SELECT count(*) FROM {t}")[0][0]
                     for p in parts) for t in tables}
    out = os.path.join(d, "merged.db")
    p = exp("merge", out, *parts)
    after = {t: rows(out, f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    T.check(p.returncode == 0 and after == before and before["runs"] == 2
            and before["exit_trace"] > 0,
            "merging keeps every row of every table", before, after,
            p.stderr)
    nested = rows(out, "SELECT r.run_id, count(*) FROM exit_trace AS t JOIN "
                       "runs AS r USING (run_id) WHERE r.mode = 'nested' "
                       "AND t.parent_seq IS NOT NULL")
    src = rows(parts[1], "SELECT count(*) FROM exit_trace WHERE parent_seq "
                         "IS NOT NULL")
    T.check(nested[0][1] == src[0][0] and nested[0][0] == 2,
            "merged rows hang off their run's new run_id", nested, src)
    p = exp("merge", out, parts[1])
    T.check(p.returncode != 0 and "already in" in p.stderr and
            rows(out, "SELECT count(*) FROM runs") == [(2,)],
            "merging a run twice is refused and changes nothing", p.stderr)
    p = exp("merge", os.path.join(d, "m2.db"), parts[0], parts[0])
    T.check(p.returncode != 0 and "already in" in p.stderr and
            not rows(os.path.join(d, "m2.db"), "SELECT * FROM runs"),
            "the same run in two inputs is refused before anything is "
            "written", p.stderr)


def test_command_line(d):
    p = subprocess.run([TURTLES, "report", "--help"], capture_output=True,
                       text=True)
    T.check(p.returncode == 0 and "turtles report --db FILE" in p.stdout,
            "turtles report --help prints the usage and exits 0",
            p.returncode, p.stdout[:200])
    db = os.path.join(d, "cli.db")
    ids = []
    for _ in range(2):
        p = subprocess.run([TURTLES, "run", "--db", db, os.path.join(
            ROOT, "build", "images", "cpuid.elf"), "--", "iters=1"],
            capture_output=True, text=True)
        ids.append([l for l in p.stderr.splitlines() if "run_id=" in l])
    want = [r[0] for r in rows(db, "SELECT run_id FROM runs ORDER BY 1")]
    T.check([i[-1].rsplit("=", 1)[1] for i in ids if i] ==
            [str(w) for w in want] and len(want) == 2,
            "turtles run --db says which run id it wrote", ids, want)


def test_trace(d):
    db = os.path.join(d, "trace.db")
    subprocess.run([TURTLES, "run", "--mode", "nested", "--vmcs-shadowing",
                    "off", "--merge", "full", "--trace", "--db", db,
                    os.path.join(ROOT, "build", "images", "cpuid.elf"), "--",
                    "iters=3"], capture_output=True)
    svg = os.path.join(d, "t.svg")
    p = exp("trace", "--db", db, "--reason", "CPUID", "--svg", svg)
    seq, cost = rows(db, "SELECT seq, cycles FROM exit_trace WHERE "
                         "guest_level = 2 AND reason = 10 ORDER BY seq")[0]
    kids = rows(db, "SELECT reason, cycles FROM exit_trace WHERE "
                    "parent_seq = ? ORDER BY seq", seq)
    steps = [l for l in p.stdout.splitlines() if " -> L0 " in l]
    T.check(p.returncode == 0 and len(steps) == 1 + len(kids) and
            f"#{seq}, CPUID" in p.stdout and "VMRESUME" in steps[-1] and
            f"{cost + sum(k[1] for k in kids):,}  {1 + len(kids)} exits"
            in p.stdout,
            "exp trace shows one L2 CPUID and every L1 exit it caused",
            p.stdout, p.stderr, kids)
    # The fields by name: l1vmm's CPUID handler reads the exit reason (SDM
    # encoding 0x4402; 10 is CPUID) and writes RIP past the 2-byte CPUID.
    rip = rows(db, "SELECT guest_rip FROM exit_trace WHERE seq = ?", seq)[0][0]
    T.check("reads vmcs12 EXIT_REASON (0x4402) = 0xa" in p.stdout and
            f"writes vmcs12 GUEST_RIP (0x681e) = {rip + 2:#x}" in p.stdout,
            "trapped VMREADs and VMWRITEs name the field and its value",
            p.stdout)
    # L0's steps: the reflection and the full merge, whose field count
    # times the merges is the run's vmcs02_fields_copied counter.
    merges = rows(db, "SELECT count(*) FROM exit_trace WHERE reason IN "
                      "(20, 24)")[0][0]
    copied = rows(db, "SELECT value FROM counters WHERE name = "
                      "'vmcs02_fields_copied'")[0][0]
    merge = [l for l in p.stdout.splitlines() if "merge (full):" in l]
    T.check("reflect to L1" in p.stdout and len(merge) == 1 and
            int(merge[0].split("merge (full): ")[1].split()[0]) * merges ==
            copied, "L0's reflection and merge are steps of the timeline",
            merge, merges, copied)
    # One total: the timeline's, the view's, and nested_costs' sum.
    total = rows(db, "SELECT episode_cycles FROM trace_l2_exits WHERE "
                     "seq = ?", seq)[0][0]
    view, nested = rows(db, "SELECT (SELECT sum(episode_cycles) FROM "
                            "trace_l2_exits WHERE reason = 10), (SELECT "
                            "cycles_total FROM nested_costs WHERE reason = "
                            "10)")[0]
    T.check(f"Total of this L2 exit: {total:,} cycles" in p.stdout and
            view == nested, "one L2 CPUID has one total in the timeline, "
            "trace_l2_exits and nested_costs", total, view, nested)
    import xml.dom.minidom
    try:
        doc = xml.dom.minidom.parse(svg)
        arrows = len(doc.getElementsByTagName("line")) - 3  # 3 lifelines
    except Exception as e:  # noqa: BLE001 (any parse error fails)
        arrows = repr(e)
    T.check(arrows == 2 * (1 + len(kids)),
            "the SVG has an arrow for each exit and each return", arrows)


PAGING = """
name = "paging"
produces = ["paging", "json"]
[workloads]
pf = { guest = "exitstats", args = ["iters=32"] }
[l1]
ept = { hypervisor = "l1vmm", args = ["paging=ept"] }
shadow = { hypervisor = "l1vmm", args = ["paging=shadow"] }
[[matrix]]
label = "pf-{l1}"
l1 = ["ept", "shadow"]
"""


def test_paging_table(d):
    """The paging table puts each paging mode's L1 exits of L2 (#PF as
    exception exits, CR access, INVLPG) beside the seeds' numbers."""
    db = os.path.join(d, "paging.db")
    f = write(d, "paging.toml", PAGING)
    p = exp("run", f, "--db", db)
    out = os.path.join(d, "paging-out")
    q = exp("report", f, "--db", db, "--out", out)
    T.check(p.returncode == 0 and q.returncode == 0,
            "exp runs and reports the paging experiment", p.stderr[-400:],
            q.stderr[-400:])
    try:
        got = json.load(open(os.path.join(out, "tables.json")))["paging"]
    except (OSError, KeyError, ValueError) as e:
        got = {"rows": [], "error": repr(e)}
    counts = {}
    for l1, reason, n in rows(
            db, "SELECT json_extract(options, '$.label'), e.reason, e.count "
                "FROM exit_stats AS e JOIN runs USING (run_id) WHERE "
                "e.handler_level = 1 AND e.guest_level = 2"):
        counts[(l1, reason)] = n
    want = [(kind, counts.get(("pf-shadow", r), 0), counts.get(("pf-ept", r), 0))
            for kind, r in (("#PF", 0), ("CR access", 28), ("INVLPG", 14))]
    have = [(r["exit"], r["shadow"], r["ept"]) for r in got["rows"]]
    seeds = [(r["seeds shadow"], r["seeds ept"]) for r in got["rows"]]
    T.check(have == want and all(s > e for _, s, e in want) and
            seeds[:2] == [(1_926_000, 16_896), (10_268_766, 775_415)],
            "the paging table has exit_stats' L1 exits per paging mode "
            "beside the seeds'", have, want, seeds)


def main():
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return T.finish()
    with tempfile.TemporaryDirectory() as d:
        test_command_line(d)
        test_format(d)
        db = test_run_resume_report(d)
        test_figures(d, db)
        test_merge(d)
        test_trace(d)
        test_paging_table(d)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
