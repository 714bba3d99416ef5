"""Runs an experiment's configurations into one results database, in
parallel on the local cores, with a progress line; resumable; failures are
recorded, never fatal (docs/experiments.md)."""

import concurrent.futures
import datetime
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

from . import results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXPERIMENT_SCHEMA = os.path.join(ROOT, "analysis", "experiments.sql")
STDERR_TAIL = 2000


def revision(turtles):
    """The git revision the turtles binary was built from (what it writes
    into runs.git_revision), or None if it does not say."""
    try:
        p = subprocess.run([turtles, "--version"], capture_output=True,
                           text=True, timeout=10)
    except OSError:
        return None
    m = re.match(r"turtles (\S+)", p.stdout)
    if p.returncode != 0 or not m or m.group(1) == "unknown":
        return None
    return m.group(1)


def prepare_db(path):
    """Creates the results schema in a new database (what `turtles run
    --db` would do) and the runner's own table in any database."""
    con = sqlite3.connect(path, timeout=30)
    try:
        new = con.execute("PRAGMA user_version").fetchone()[0] == 0 and \
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        if new:
            with open(results.SCHEMA) as f:
                con.executescript(f.read())
        version = con.execute("PRAGMA user_version").fetchone()[0]
        # turtles upgrades versions 2 to 4 when it writes (db.c).
        if version not in (results.written_version(),
                           *results.UPGRADABLE_VERSIONS):
            raise SystemExit(f"exp: {path} has schema version {version}, "
                             f"this turtles writes version "
                             f"{results.written_version()}: use another "
                             "--db")
        with open(EXPERIMENT_SCHEMA) as f:
            con.executescript(f.read())
        con.execute("PRAGMA journal_mode = WAL")
        con.commit()
    finally:
        con.close()


def already_done(con, cfg, rev, after=0):
    """The run_id of a run of cfg at this revision (newer than run `after`),
    if there is one."""
    # An interrupted run (Ctrl-C, a killed runner) is not a result.
    where = ["json_extract(options, '$.label') = ?", "git_revision IS ?",
             "image = ?", "cmdline = ?", "run_id > ?",
             "status != 'interrupted'"]
    args = [cfg.label, rev, cfg.guest_image, " ".join(cfg.guest_args), after]
    for k, v in cfg.recorded_options().items():
        if k == "label":
            continue
        where.append(f"json_extract(options, '$.{k}') = ?")
        args.append(v)
    if cfg.trace:
        where.append("trace_truncated IS NOT NULL")
    row = con.execute("SELECT max(run_id) FROM runs WHERE " +
                      " AND ".join(where), args).fetchone()
    return row[0]


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _log_path(db, label):
    d = os.path.splitext(db)[0] + ".logs"
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, re.sub(r"[^A-Za-z0-9_.#=-]", "_", label) + ".log")


def run_one(cfg, turtles, db, experiment, rev, after):
    """Runs one configuration; its serial output and messages go to a log
    file beside the database. Returns (ok, what) for the progress line."""
    argv = cfg.argv(turtles, db)
    log = _log_path(db, cfg.label)
    started = _now()
    reason, code = None, None
    try:
        with open(log, "w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            p = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE,
                               text=True, timeout=cfg.timeout, cwd=ROOT)
            out.write(p.stderr)
        code, err = p.returncode, p.stderr
        if code < 0:
            reason = "signal"
    except subprocess.TimeoutExpired as e:
        reason = "timeout"
        err = (e.stderr.decode() if isinstance(e.stderr, bytes)
               else e.stderr or "") + f"\nexp: killed after {cfg.timeout} s"
    except OSError as e:
        reason, err = "not-started", str(e)
    con = sqlite3.connect(db, timeout=60)
    try:
        row = already_done(con, cfg, rev, after) if reason is None else None
        if row is not None:
            status, exit_code = con.execute(
                "SELECT status, exit_code FROM runs WHERE run_id = ?",
                (row,)).fetchone()
            return exit_code == 0, f"{status} exit {exit_code}"
        # No run in the database: say why in failed_runs.
        reason = reason or "exit-status"
        con.execute(
            "INSERT INTO failed_runs (label, experiment, git_revision, "
            "started_at, command, reason, exit_code, stderr_tail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (cfg.label, experiment, rev, started, json.dumps(argv), reason,
             code if reason == "exit-status" else None,
             err[-STDERR_TAIL:]))
        con.commit()
        last = err.strip().splitlines()[-1:] or [""]
        return False, f"{reason} {code if code is not None else ''}: " \
                      f"{last[0][:100]}"
    finally:
        con.close()


class Progress:
    """done/total, failures and ETA on one line of stderr (redrawn on a
    terminal, one line per finished run otherwise)."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.failed = total, 0, 0
        self.start = time.monotonic()
        self.stream = stream
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def line(self):
        elapsed = time.monotonic() - self.start
        eta = (elapsed / self.done * (self.total - self.done)
               if self.done else 0)
        pct = 100 * self.done // self.total if self.total else 100
        return (f"[{self.done}/{self.total}] {pct:3d}% "
                f"failed {self.failed}  elapsed {elapsed:.0f} s  "
                f"ETA {eta:.0f} s")

    def finished(self, label, ok, what):
        with self.lock:
            self.done += 1
            self.failed += not ok
            if self.tty:
                if not ok:
                    self.stream.write(f"\r\033[K{label}: FAILED {what}\n")
                self.stream.write("\r\033[K" + self.line())
            else:
                mark = "ok" if ok else "FAILED"
                self.stream.write(f"{self.line()}  {label}: {mark} {what}\n")
            self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")


def _in_other(path, rev):
    """already_done against another database (a Slurm task skips what the
    experiment's database has), or nothing if there is none yet."""
    if not path or not os.path.isfile(path):
        return lambda cfg: False
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'"
                       ).fetchone():
        return lambda cfg: False
    return lambda cfg: already_done(con, cfg, rev) is not None


def run(exp, db, turtles, jobs=None, task=None, tasks=None, rerun=False,
        skip_in=None, stream=sys.stderr):
    """Runs exp into db. task/tasks select one share of the matrix (a Slurm
    array task); skip_in is another database whose configurations count as
    done. Returns (ran, skipped, failed)."""
    db, turtles = os.path.abspath(db), os.path.abspath(turtles)
    prepare_db(db)
    rev = revision(turtles)
    configs = exp.configs
    if tasks:
        configs = configs[task::tasks]
    con = sqlite3.connect(db, timeout=60)
    elsewhere = _in_other(skip_in, rev)
    todo = [c for c in configs if rerun or
            (already_done(con, c, rev) is None and not elsewhere(c))]
    after = con.execute("SELECT coalesce(max(run_id), 0) FROM runs"
                        ).fetchone()[0]
    con.close()
    skipped = len(configs) - len(todo)
    stream.write(f"exp: {exp.name}: {len(configs)} configurations, "
                 f"{skipped} already in {db} at revision {rev}, "
                 f"{len(todo)} to run on {jobs or os.cpu_count()} "
                 f"worker(s)\n")
    progress = Progress(len(todo), stream)
    with concurrent.futures.ThreadPoolExecutor(jobs or os.cpu_count()) as ex:
        futures = {ex.submit(run_one, c, turtles, db, exp.name, rev, after): c
                   for c in todo}
        for f in concurrent.futures.as_completed(futures):
            ok, what = f.result()
            progress.finished(futures[f].label, ok, what)
    progress.close()
    return len(todo), skipped, progress.failed
