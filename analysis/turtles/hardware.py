"""A run of l1vmm on real hardware (`make kvm-run`: QEMU/KVM with nested
VMX on an Intel host) into the results database, so that it can be
reported beside emulated runs: l1vmm's L1STATS block (docs/l1vmm.md)
becomes exit_stats rows of level 1 (handler 1, guest 2), as turtles
records the same exits of an emulated nested run, and the RESULT/METRIC
lines become guest_metrics (L2's forwarded `[L2] ` lines at level 2).

What hardware does not tell us is not made up: the run's instructions
and modeled cycles are 0 (not measured), an exit's cycles are the TSC
cycles l1vmm measured in its handler, host_ns of each exit is 0."""

import datetime
import json
import re
import sqlite3

from . import runner

STATS = re.compile(r"^L1STATS reason=(\d+) name=(\S+) count=(\d+) "
                   r"cycles=(\d+)$")
BEGIN = re.compile(r"^L1STATS begin paging=(\S+) l2_status=(-?\d+)$")
METRIC = re.compile(r"^(RESULT|METRIC)[ \t]+([A-Za-z0-9_.-]{1,47})[ \t]+(.*)$")
PAIR = re.compile(r"^([A-Za-z0-9_.-]{1,47})=([!-~]{0,127})$")


class NoStats(Exception):
    """The output has no complete L1STATS block."""


def parse(text):
    """(paging, l2 status, [(reason, count, cycles)], [(level, kind,
    guest, key, value)]) from l1vmm's serial output."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    begin, stats, ended, metrics = None, [], False, []
    for line in lines:
        m = BEGIN.match(line)
        if m:
            begin, stats, ended = m, [], False
            continue
        m = STATS.match(line)
        if begin and m:
            reason = int(m.group(1))
            stats.append((reason, int(m.group(3)), int(m.group(4))))
            continue
        if begin and line == "L1STATS end":
            ended = True
        level = 2 if line.startswith("[L2] ") else 1
        m = METRIC.match(line[5:] if level == 2 else line)
        if m:
            for word in m.group(3).split():
                p = PAIR.match(word)
                if p:
                    metrics.append((level, m.group(1), m.group(2),
                                    p.group(1), p.group(2)))
    if not begin or not ended:
        raise NoStats("no complete L1STATS block in l1vmm's output (did "
                      "l1vmm reach the end of its run?)")
    return begin.group(1), int(begin.group(2)), stats, metrics


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def record(db, text, image, cmdline, l1_args, exit_code, host_ns,
           started_at=None, label=None, revision=None, shadowing="unknown"):
    """Writes one hardware run; returns its run_id. exit_code is the
    guest's status as kvm-run reports it (QEMU's translated)."""
    paging, _, stats, metrics = parse(text)
    runner.prepare_db(db)
    options = {"mode": "nested", "l0": "kvm", "l1_args": l1_args,
               "paging": paging, "vmcs_shadowing": shadowing}
    if label:
        options["label"] = label
    con = sqlite3.connect(db, timeout=30)
    try:
        with con:
            cur = con.execute(
                "INSERT INTO runs (started_at, finished_at, mode, image, "
                "cmdline, options, git_revision, cost_profile, status, "
                "exit_code, guest_status, instructions, cycles, host_ns) "
                "VALUES (?, ?, 'nested', ?, ?, ?, ?, 'hardware', "
                "'debug-exit', ?, ?, 0, 0, ?)",
                (started_at or _now(), _now(), image, cmdline,
                 json.dumps(options), revision, exit_code, exit_code,
                 host_ns))
            run_id = cur.lastrowid
            # Reasons past l1vmm's table are one line, reason 65535.
            con.executemany(
                "INSERT INTO exit_stats (run_id, handler_level, guest_level, "
                "reason, reason_name, count, cycles, host_ns) VALUES (?, 1, "
                "2, ?, coalesce((SELECT name FROM exit_reasons WHERE reason "
                "= ?), 'UNDEFINED'), ?, ?, 0)",
                [(run_id, r, r, n, c) for r, n, c in stats if n > 0])
            con.executemany(
                "INSERT INTO guest_metrics (run_id, seq, level, kind, guest, "
                "key, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, i) + m for i, m in enumerate(metrics)])
    finally:
        con.close()
    return run_id
