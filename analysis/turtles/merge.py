"""Merging results databases (one per Slurm array task) into one with
SQLite ATTACH: every row of every run is copied under a new run_id, in
one transaction; a run that is already in the target (or twice in the
inputs) makes the whole merge fail, and nothing is written."""

import os
import sqlite3

from . import results, runner

# The tables whose rows belong to a run, parents first.
RUN_TABLES = ("runs", "exit_stats", "nested_costs", "guest_metrics",
              "counters", "exit_trace", "trace_steps", "roi",
              "roi_exit_stats", "roi_nested_costs", "nested_l1_exits")
# What makes two runs rows the same run (run_id aside): written once by
# one turtles process, with host clock and host time in it.
RUN_IDENTITY = ("started_at", "finished_at", "mode", "image", "cmdline",
                "options", "git_revision", "host_ns", "cycles")


class MergeError(Exception):
    pass


def _columns(con, schema, table):
    return [r[1] for r in con.execute(f"PRAGMA {schema}.table_info({table})")]


def _check_input(path):
    try:
        con = results.open_readonly(path)
    except results.NotResults as e:
        raise MergeError(f"{e}: nothing was merged") from None
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.close()
    if version != results.written_version():
        raise MergeError(f"{path} has schema version {version}, not "
                         f"{results.written_version()} as this turtles "
                         f"writes: nothing was merged")


def _identities(con, schema):
    cols = ", ".join(RUN_IDENTITY)
    return {tuple(r[1:]): r[0] for r in con.execute(
        f"SELECT run_id, {cols} FROM {schema}.runs")}


def _attached(con, path):
    con.execute("ATTACH DATABASE ? AS src", (f"file:{path}?mode=ro",))


def _check_duplicates(con, out, inputs):
    """Refuses, before anything is written, a run of an input that is in
    the target or in an earlier input. SQLite cannot ATTACH inside a
    transaction, so the inputs are checked first, then copied one by one."""
    seen = {k: f"{out} as run {v}" for k, v in
            _identities(con, "main").items()}
    for path in inputs:
        _attached(con, path)
        try:
            for key, run_id in _identities(con, "src").items():
                if key in seen:
                    raise MergeError(f"{path}: run {run_id} is already in "
                                     f"{seen[key]}: nothing was merged")
                seen[key] = f"{path} as run {run_id}"
        finally:
            con.execute("DETACH DATABASE src")


def _copy(con, path):
    """Copies every run of the attached input under new run_ids, in one
    transaction. Returns the number of runs."""
    con.execute("BEGIN IMMEDIATE")
    base = con.execute(
        "SELECT max(coalesce((SELECT max(run_id) FROM main.runs), 0), "
        "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'runs'), "
        "0))").fetchone()[0]
    for table in RUN_TABLES:
        cols = _columns(con, "main", table)
        if cols != _columns(con, "src", table):
            raise MergeError(f"{path}: table {table} has other columns")
        sel = ", ".join(f"run_id + {base}" if c == "run_id" else c
                        for c in cols)
        con.execute(f"INSERT INTO main.{table} ({', '.join(cols)}) "
                    f"SELECT {sel} FROM src.{table}")
    if con.execute("SELECT 1 FROM src.sqlite_master WHERE name = "
                   "'failed_runs'").fetchone():
        cols = ", ".join(c for c in _columns(con, "main", "failed_runs")
                         if c != "failure_id")
        con.execute(f"INSERT INTO main.failed_runs ({cols}) "
                    f"SELECT {cols} FROM src.failed_runs")
    n = con.execute("SELECT count(*) FROM src.runs").fetchone()[0]
    con.execute("COMMIT")
    return n


def merge(out, inputs):
    """Merges inputs into out (created if absent). Returns runs copied.
    Duplicates are refused before anything is written; each input is then
    copied in its own transaction, so an input lands whole or not at all
    (if copying fails midway, e.g. a full disk, the inputs before it are
    merged: merge the rest again)."""
    for p in inputs:
        _check_input(p)
        if os.path.abspath(p) == os.path.abspath(out):
            raise MergeError(f"{p} is the target itself")
    runner.prepare_db(out)
    con = sqlite3.connect(out, timeout=60, isolation_level=None)
    copied = 0
    try:
        con.execute("PRAGMA foreign_keys = ON")
        _check_duplicates(con, out, inputs)
        for path in inputs:
            _attached(con, path)
            try:
                copied += _copy(con, path)
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            finally:
                con.execute("DETACH DATABASE src")
    finally:
        con.close()
    return copied
