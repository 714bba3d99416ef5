#!/usr/bin/env python3
"""`scripts/exp run --slurm` on a one-node Slurm cluster that the test
starts on localhost and stops: the array's tasks write their own
databases, the merge job puts them together, and the merged database has
the same runs as a local run of the same file. Where no cluster can start
(not root, Slurm or munge not installed) the test says why and skips."""

import os
import sqlite3
import subprocess
import sys
import tempfile

import slurm_local
from tap import Report, arguments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
T = Report("slurm")

EXPERIMENT = """name = "slurmtest"
[workloads]
cpuid = { guest = "cpuid", args = ["iters=10"] }
[[matrix]]
modes = ["bare", "single", "nested"]
"""


def runs(db):
    con = sqlite3.connect(db)
    try:
        return sorted(con.execute(
            "SELECT json_extract(options, '$.label'), status, cycles, "
            "instructions FROM runs"))
    finally:
        con.close()


def main():
    if not arguments(__doc__, ["slurm"]).wants("slurm"):
        return T.finish()
    why = slurm_local.missing()
    if why:
        print(f"# skip: no local Slurm cluster here: {why}")
        return T.finish()
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "e.toml")
        with open(f, "w") as fh:
            fh.write(EXPERIMENT)
        cluster = slurm_local.Cluster(d)
        try:
            cluster.start()
            T.check(True, "a one-node Slurm cluster starts on localhost")
            db = os.path.join(d, "slurm.db")
            p = subprocess.run([os.path.join(ROOT, "scripts", "exp"), "run",
                                f, "--db", db, "--slurm", "--slurm-wait"],
                               cwd=ROOT, env=cluster.env, capture_output=True,
                               text=True, timeout=300)
            T.check(p.returncode == 0 and "merged into" in p.stderr,
                    "exp run --slurm submits, waits and merges", p.stderr,
                    cluster.log_tail())
            tasks = [x for x in os.listdir(os.path.join(d, "slurm.slurm"))]
            task_dbs = [n for t in tasks for n in os.listdir(
                os.path.join(d, "slurm.slurm", t)) if n.endswith(".db")]
            T.check(len(task_dbs) == 3, "one database per array task",
                    task_dbs)
            local = os.path.join(d, "local.db")
            subprocess.run([os.path.join(ROOT, "scripts", "exp"), "run", f,
                            "--db", local], cwd=ROOT, capture_output=True)
            got, want = runs(db), runs(local)
            T.check(len(got) == 3 and got == want,
                    "the merged database has the runs of a local run",
                    got, want)
            p = subprocess.run([os.path.join(ROOT, "scripts", "exp"), "run",
                                f, "--db", db, "--slurm", "--slurm-wait"],
                               cwd=ROOT, env=cluster.env, capture_output=True,
                               text=True, timeout=300)
            T.check(p.returncode == 0 and runs(db) == want,
                    "submitting again skips what the database has",
                    p.stderr, runs(db))
        except Exception as e:  # the cluster did not start or broke
            T.check(False, "the local Slurm cluster works", repr(e),
                    cluster.log_tail())
        finally:
            cluster.stop()
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
