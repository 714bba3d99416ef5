"""`scripts/exp run FILE --slurm`: the same experiment as a Slurm job
array. Task i runs configurations i, i+N, i+2N ... into its own database
(no two tasks write one SQLite file over a network file system); a job
that depends on the array merges them into the experiment's database
(merge.py). Configurations already in that database are skipped, as in a
local run. docs/experiments.md says how to use it on a cluster."""

import os
import shlex
import subprocess
import sys
import time

from . import runner

ARRAY_SCRIPT = """#!/bin/sh
#SBATCH --job-name={job}
#SBATCH --array=0-{last}
#SBATCH --output={dir}/task-%a.out
# One share of the experiment into its own database.
cd {root}
export TURTLES={turtles}
exec {root}/scripts/exp run {file} --db {dir}/task-$SLURM_ARRAY_TASK_ID.db \\
    --task $SLURM_ARRAY_TASK_ID --tasks {tasks} \\
    --jobs "${{SLURM_CPUS_PER_TASK:-1}}" --skip-in {db}{rerun}
"""

MERGE_SCRIPT = """#!/bin/sh
#SBATCH --job-name={job}-merge
#SBATCH --output={dir}/merge.out
# Every task's database into the experiment's, after the whole array.
cd {root}
set -- {dir}/task-*.db
[ -e "$1" ] || {{ echo "exp: no task wrote a database" >&2; exit 1; }}
exec {root}/scripts/exp merge {db} "$@"
"""


def _sbatch(args, script):
    p = subprocess.run(["sbatch", "--parsable", *args, script],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"exp: sbatch failed ({p.returncode}): "
                         f"{p.stderr.strip()}")
    return p.stdout.strip().split(";")[0]


def submit(a, exp, db, turtles):
    """Submits the array and the merge; with --slurm-wait, waits for the
    merge and returns its status."""
    db = os.path.abspath(db)
    n = len(exp.configs)
    tasks = min(n, a.slurm_tasks) if a.slurm_tasks else n
    d = os.path.join(os.path.splitext(db)[0] + ".slurm",
                     time.strftime("%Y%m%dT%H%M%S"))
    os.makedirs(d)
    runner.prepare_db(db)
    q = shlex.quote
    values = dict(job=f"turtles-{exp.name}", last=tasks - 1, tasks=tasks,
                  dir=q(d), root=q(runner.ROOT), file=q(os.path.abspath(
                      a.file)), db=q(db), turtles=q(os.path.abspath(turtles)),
                  rerun=" --rerun" if a.rerun else "")
    array, merge = (os.path.join(d, f) for f in ("array.sh", "merge.sh"))
    for path, text in ((array, ARRAY_SCRIPT), (merge, MERGE_SCRIPT)):
        with open(path, "w") as f:
            f.write(text.format(**values))
        os.chmod(path, 0o755)
    job = _sbatch(a.slurm_arg, array)
    print(f"exp: {exp.name}: {n} configurations in {tasks} array tasks, "
          f"job {job}; task databases and logs in {d}", file=sys.stderr)
    merge_job = _sbatch([*a.slurm_arg, f"--dependency=afterany:{job}"],
                        merge)
    if not a.slurm_wait:
        print(f"exp: merge job {merge_job} writes {db} when the array is "
              "done", file=sys.stderr)
        return 0
    state = wait_for(merge_job)
    ok = state == "COMPLETED"
    print(f"exp: array {job} done; " + (
        f"merged into {db}" if ok else
        f"merge job {merge_job} ended {state}, see {d}/merge.out"),
        file=sys.stderr)
    return 0 if ok else 1


def job_state(job):
    """JobState from scontrol (no accounting database needed), or None
    once the controller has forgotten the job."""
    p = subprocess.run(["scontrol", "-o", "show", "job", job],
                       capture_output=True, text=True)
    for word in p.stdout.split():
        if word.startswith("JobState="):
            return word.split("=", 1)[1]
    return None


def wait_for(job, poll=0.5):
    """Waits for a job to end; its final state. (sbatch --wait backs off
    to half a minute between polls: too slow for a small experiment.)"""
    while True:
        state = job_state(job)
        if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                         "SUSPENDED", "REQUEUED", "RESIZING"):
            return state or "UNKNOWN"
        time.sleep(poll)
