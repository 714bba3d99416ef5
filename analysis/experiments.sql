-- Written by scripts/exp (analysis/turtles/runner.py), never by the
-- emulator: the configurations of an experiment that left no run in the
-- runs table (turtles could not start them, or stopped before writing:
-- a bad option, an image that does not load, a timeout, a signal).
-- Configurations that ran and ended badly (a triple fault, HLT forever,
-- the instruction limit) are in runs with their status instead.
-- Adding this table does not change the schema version: the emulator
-- neither reads nor writes it, and a database without it has no
-- failures recorded. docs/results.md describes the columns.
CREATE TABLE IF NOT EXISTS failed_runs (
    failure_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    label        TEXT NOT NULL,
    experiment   TEXT NOT NULL,
    git_revision TEXT,
    started_at   TEXT NOT NULL,   -- host clock, ISO 8601 UTC: metadata only
    command      TEXT NOT NULL CHECK (json_valid(command)),  -- argv
    reason       TEXT NOT NULL CHECK (reason IN ('exit-status', 'timeout',
                     'signal', 'not-started')),
    exit_code    INTEGER,         -- NULL unless reason = 'exit-status'
    stderr_tail  TEXT NOT NULL
);
