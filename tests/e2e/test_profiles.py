#!/usr/bin/env python3
"""Cost profiles as data (docs/cost-model.md): `turtles run
--cost-profile NAME|FILE` uses the profile's numbers, refuses a bad
profile with the key that is wrong and the bad-usage status, stores the
profile's name and whole JSON with the run, and every profile of
experiments/profiles/ gives the same cycles twice."""

import copy
import glob
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "analysis"))
from turtles import calibrate  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
EXIT_USAGE = 64
CPUID = os.path.join(ROOT, "build", "images", "cpuid.elf")
MEASUREMENTS = os.path.join(ROOT, "experiments", "measurements",
                            "turtles-2010.json")
# Cells the default profile does not bring within the target, with the
# bound they are held to and why (docs/cost-model.md, "Calibration"):
# none since l1_merge_field prices the merge's share of L1's misses.
KNOWN_MISSES = {}
PROFILES = sorted(glob.glob(os.path.join(ROOT, "experiments", "profiles",
                                         "*.json")))


def turtles(args):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run"] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def tsc_per_iter(out):
    for word in out.split():
        if word.startswith("tsc_per_iter="):
            return int(word.split("=")[1])
    return None


def write(d, name, doc):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=1))
    return path


def main():
    r = Report("profiles")
    check = r.check
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()
    with open(os.path.join(ROOT, "experiments", "profiles",
                           "turtles-2010.json")) as f:
        default = json.load(f)
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "r.db")

        # The profile's numbers are the ones charged: one more cycle per
        # exit and entry adds exactly that to a single-level CPUID
        # iteration (one exit each).
        base = ["--mode", "single", CPUID, "--", "iters=50"]
        rc, out0, err = turtles(["--db", db] + base)
        check(rc == 0, "a run with the default profile", err)
        slower = copy.deepcopy(default)
        slower["name"] = "slower"
        slower["costs"]["vmexit"]["cycles"] += 70
        slower["costs"]["handler.CPUID"]["cycles"] += 30
        path = write(d, "slower.json", slower)
        rc, out1, err = turtles(["--db", db, "--cost-profile", path] + base)
        check(rc == 0 and tsc_per_iter(out1) == tsc_per_iter(out0) + 100,
              "a profile file's numbers are charged (+70 vmexit, +30 "
              "CPUID handler: +100 cycles per CPUID)",
              tsc_per_iter(out0), tsc_per_iter(out1), err)

        # Stored with the run: name, argument and the whole JSON.
        con = sqlite3.connect(db)
        rows = con.execute("SELECT cost_profile, json_extract(options, "
                           "'$.cost_profile'), cost_profile_json FROM runs "
                           "ORDER BY run_id").fetchall()
        con.close()
        check(len(rows) == 2 and rows[0][:2] == ("turtles-2010",
                                                 "turtles-2010") and
              json.loads(rows[0][2]) == default,
              "the default profile's name and contents are in the run",
              rows[:1])
        check(len(rows) == 2 and rows[1][:2] == ("slower", path) and
              json.loads(rows[1][2]) == slower,
              "a file's profile name, path and contents are in the run",
              rows[1:])

        # Bad profiles: bad usage, a message naming the key.
        broken = copy.deepcopy(default)
        del broken["costs"]["vmentry"]
        typo = copy.deepcopy(default)
        typo["costs"]["handler.CPUID"]["cylces"] = 3
        for what, text, message in [
                ("a missing cost", broken, "costs.vmentry is missing"),
                ("a misspelt key", typo,
                 "costs.handler.CPUID.cylces: unknown key"),
                ("not JSON", "{\"name\": ", "line 1, column 10")]:
            path = write(d, "bad.json", text)
            rc, _, err = turtles(["--cost-profile", path, CPUID])
            check(rc == EXIT_USAGE and f"{path}: " in err and message in err,
                  f"{what} is refused with the key named", rc, err)
        rc, _, err = turtles(["--cost-profile", "nosuch", CPUID])
        check(rc == EXIT_USAGE and "unknown cost profile 'nosuch'" in err,
              "an unknown profile name is refused", rc, err)

        # Determinism with every profile: nested (shadowing off, every
        # kind of cost charged) twice, the same cycles.
        for profile in PROFILES:
            name = os.path.basename(profile)[:-5]
            runs = []
            for _ in range(2):
                rdb = os.path.join(d, f"det-{name}.db")
                rc, out, err = turtles(
                    ["--db", rdb, "--cost-profile", name, "--mode",
                     "nested", "--vmcs-shadowing", "off", "--merge", "full",
                     CPUID, "--", "iters=20"])
                runs.append((rc, out))
            con = sqlite3.connect(rdb)
            cycles = [c for (c,) in con.execute(
                "SELECT cycles FROM runs ORDER BY run_id")]
            con.close()
            check(runs[0][0] == 0 and runs[0] == runs[1] and
                  len(cycles) == 2 and cycles[0] == cycles[1],
                  f"profile {name}: the same run twice, the same cycles",
                  cycles, runs[0][0], err)

        # The model against the paper: runs with the default profile
        # reproduce Figure 10 and Figure 6's single column within the
        # stated bounds (docs/cost-model.md). Expected values are the
        # paper's (experiments/measurements/turtles-2010.json).
        m = calibrate.load_json(MEASUREMENTS, "measurements")
        default_path = os.path.join(ROOT, "experiments", "profiles",
                                    "turtles-2010.json")
        l1_args = default["calibration"]["l1_args"].split()
        got = calibrate.measure(
            os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles")),
            default, calibrate.runs_needed(m, l1_args, 100), d, "model", 2)
        for target_id, target, tol in calibrate.targets(m):
            bound = KNOWN_MISSES.get(target_id, tol)
            dev = calibrate.deviation(got.get(target_id), target)
            check(dev is not None and abs(dev) <= bound,
                  f"{target_id}: within {bound:.0%} of {target:,}",
                  f"measured {got.get(target_id)}, deviation {dev}",
                  default_path)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
