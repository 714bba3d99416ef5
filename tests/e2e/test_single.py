#!/usr/bin/env python3
"""turtles run --mode single: what L0 counts, what its guest sees of it
through the exit-statistics CPUID leaves, and what lands in the results
database (--db). The guest-visible semantics are in docs/exit-stats.md;
that the guests' RESULT lines match bare mode, QEMU and Bochs is
test_guests.py's job."""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXIT_NO_DB = 73
REASON_CPUID, REASON_IO = 10, 30


def turtles(args, timeout=120):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run"] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout.replace("\r", ""), p.stderr


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def metric(out, guest, key):
    m = re.search(rf"^METRIC {guest} .*\b{key}=(\S+)", out, re.M)
    return m.group(1) if m else None


def exitstat(out, key):
    m = re.search(rf"^EXITSTATS .*\b{key}=(\S+)", out, re.M)
    return m.group(1) if m else None


def main():
    r = Report("single")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "results.db")

        # The CPUID loop: every CPUID exits to L0; the guest's own count of
        # them (two queries around the loop) is the loop plus one query.
        iters = 777
        status, out, err = turtles(["--mode", "single", "--db", db,
                                    image("cpuid"), "--", f"iters={iters}"])
        seen = metric(out, "cpuid", "cpuid_exits")
        r.check(status == 0 and seen == str(iters + 1),
                "the guest counts its CPUID exits through CPUID 0x4FFFFFFE",
                f"status {status}, cpuid_exits={seen}, want {iters + 1}", err)

        con = sqlite3.connect(db)
        rows = con.execute("select mode, status, exit_code, instructions "
                           "from runs").fetchall()
        r.check(rows[:1] == [("single", "debug-exit", 0, rows[0][3])]
                and rows[0][3] > iters,
                "the run is in the database", f"runs: {rows}")
        cpuid_exits = con.execute(
            "select count from exit_stats where handler_level = 0 and "
            "guest_level = 1 and reason = ?", (REASON_CPUID,)).fetchone()
        # The guest's CPUIDs: the runtime's, its max-leaf query, the two
        # counting queries and the loop; the database must hold at least
        # what the guest counted, and every one is an exit.
        r.check(cpuid_exits is not None and cpuid_exits[0] >= iters + 1,
                "exit_stats has the CPUID exits", f"{cpuid_exits}")
        tsc = metric(out, "cpuid", "tsc_per_iter")
        cost = con.execute(
            "select cycles / count from exit_stats where reason = ?",
            (REASON_CPUID,)).fetchone()
        # TSC per iteration = the exit's modeled cost + the loop's own
        # instructions (a handful of cycles).
        r.check(tsc is not None and cost is not None and
                0 <= int(tsc) - cost[0] < 16,
                "the guest's TSC sees the modeled cost of a CPUID exit",
                f"tsc_per_iter={tsc}, cycles per exit={cost}")
        metrics = dict(con.execute(
            "select key, value from guest_metrics where kind = 'RESULT'"
        ).fetchall())
        r.check(metrics.get("iters") == str(iters),
                "the guest's RESULT line is in guest_metrics", f"{metrics}")
        io = con.execute("select count from exit_stats where reason = ?",
                         (REASON_IO,)).fetchone()
        r.check(io is not None and io[0] > 0,
                "UART and exit-port I/O exits are counted", f"{io}")
        con.close()

        # exitstats: a query counts itself, an undefined reason answers
        # EDX = 0xFFFFFFFF.
        status, out, err = turtles(["--mode", "single", image("exitstats")])
        r.check(status == 0 and exitstat(out, "cpuid_self") == "1"
                and exitstat(out, "undefined_edx") == "0xffffffff",
                "two queries in a row differ by one; undefined reasons give "
                "EDX = 0xFFFFFFFF", out[-300:], err)

        # Determinism: counts and cycles do not depend on the host.
        a = turtles(["--mode", "single", "--stats", image("cpuid"), "--",
                     "iters=300"])
        b = turtles(["--mode", "single", "--stats", image("cpuid"), "--",
                     "iters=300"])
        r.check(a[1] == b[1] and a[2] == b[2],
                "two single-mode runs print the same output and counts",
                a[2], b[2])

        # A guest that touches every page of 1 GiB above its RAM: each
        # reads back all ones (writes to nothing are dropped), in bare
        # mode and under L0, whose EPT01 must not grow with the pages.
        pages = 1024 * 256
        for mode in ("bare", "single"):
            status, out, err = turtles(["--mode", mode, image("strict"), "--",
                                        "sweep=1024"])
            want = f"RESULT strict sweep={pages} ones={pages}"
            r.check(status == 0 and want in out.splitlines(),
                    f"{mode}: unbacked memory above RAM reads as all ones "
                    "and costs L0 no memory per page", f"status {status}",
                    out[-300:], err[-300:])

        # Two runs writing the same database at once both land.
        shared = os.path.join(d, "shared.db")
        procs = [subprocess.Popen(
            [os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles")),
             "run", "--mode", "single", "--db", shared, image("cpuid"), "--",
             "iters=2000"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE) for _ in range(2)]
        codes = [p.wait(timeout=120) for p in procs]
        con = sqlite3.connect(shared)
        n = con.execute("select count(*) from runs").fetchone()[0]
        con.close()
        r.check(codes == [0, 0] and n == 2,
                "two runs writing one database at once both land",
                f"exit codes {codes}, runs {n}")

        # Bad --db: a clear error, a distinct status, nothing run or written.
        status, out, err = turtles(["--db", "/proc/results.db",
                                    image("hello")])
        r.check(status == EXIT_NO_DB and "--db" in err and out == "",
                "an unwritable --db stops before the run", status, err)
        corrupt = os.path.join(d, "corrupt.db")
        junk = bytes(range(256)) * 64
        with open(corrupt, "wb") as f:
            f.write(junk)
        status, out, err = turtles(["--db", corrupt, image("hello")])
        with open(corrupt, "rb") as f:
            intact = f.read() == junk
        r.check(status == EXIT_NO_DB and intact and out == "",
                "a corrupt --db is refused and left untouched", status, err)

        # A locked database: the run waits for the lock, then fails the
        # write without leaving part of the run behind, and says so with
        # its status even when the guest's own status was not 0 (here the
        # instruction limit, 82). Both runs wait out the busy timeout at
        # once.
        locked = os.path.join(d, "locked.db")
        turtles(["--db", locked, image("cpuid"), "--", "iters=1"])
        holder = sqlite3.connect(locked, timeout=0)
        holder.execute("begin exclusive")
        prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
        runs = {name: subprocess.Popen(
            [prog, "run", "--db", locked, *extra, image("cpuid"), "--",
             "iters=1"], cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
            for name, extra in (("ok", []), ("limit", ["--max-insns", "10"]))}
        done = {name: (p.wait(timeout=60), p.stderr.read())
                for name, p in runs.items()}
        for p in runs.values():
            p.stdout.close()
            p.stderr.close()
        holder.rollback()
        holder.close()
        con = sqlite3.connect(locked)
        n = con.execute("select count(*) from runs").fetchone()[0]
        con.close()
        status, err = done["ok"]
        r.check(status == EXIT_NO_DB and n == 1 and "locked" in err,
                "a locked --db fails cleanly with no partial run", status,
                n, err)
        status, err = done["limit"]
        r.check(status == EXIT_NO_DB and "locked" in err,
                "a failed --db write gives its status even when the guest's "
                "own status is not 0", status, err)

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
