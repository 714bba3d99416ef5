"""Calibration of a cost profile to measurements (scripts/calibrate,
docs/cost-model.md): runs Turtles' CPUID microbenchmark single-level and
nested under L0's four nesting configurations (Figure 10's columns) and
the `exits` microbenchmark single-level (Figure 6's single column), fits
the profile's free parameters (its costs marked "fit") to the
measurements file, writes the fitted profile and prints the residuals of
runs made with it.

Every cost enters the modeled cycles linearly (a charge per exit, per
field, per reflected exit), so one run per free parameter with that cost
raised gives each observable's slope; a weighted least-squares fit of the
relative deviations, with no cost below 0, gives the parameters. The
residuals printed are those of real runs with the rounded fitted profile,
not of the linear model."""

import copy
import json
import os
import sqlite3
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

CPUID = 10
# Figure 10's columns: (mode, VMCS shadowing, merge), as figure10.py.
FIGURE10_COLUMNS = {
    "single": ("single", None, None),
    "nested": ("nested", "off", "full"),
    "nested-3.5.1": ("nested", "off", "dirty"),
    "nested-3.5.2": ("nested", "on", "full"),
    "nested-both": ("nested", "on", "dirty"),
}
PARTS = ("L1", "L0", "switch")
# The `exits` guest's kinds and the basic exit reason each one measures.
EXIT_KINDS = {"cpuid": 10, "vmcall": 18, "pio-out": 30, "pio-in": 30,
              "rdmsr": 31, "wrmsr": 32, "cr": 28, "apic": 44,
              "exception": 0, "interrupt": 1, "pending": 7, "ept": 48}
SLOPE_STEP = 1000  # cycles added to one free cost to measure its slope


class CalibrationError(Exception):
    pass


def load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise CalibrationError(f"{what} {path}: {e}") from None


def check_measurements(m):
    """The measurements file's shape (docs/cost-model.md)."""
    for key in ("name", "source", "figure10"):
        if key not in m:
            raise CalibrationError(f"measurements: '{key}' is missing")
    unknown = set(m) - {"name", "source", "cpu", "l1_args", "l0_args_single",
                        "figure10", "figure6_single", "tolerance"}
    if unknown:
        raise CalibrationError(f"measurements: unknown keys {sorted(unknown)}")
    for col, parts in m["figure10"].items():
        if col not in FIGURE10_COLUMNS:
            raise CalibrationError(f"measurements: figure10 column {col!r} "
                                   f"is not one of {', '.join(FIGURE10_COLUMNS)}")
        if set(parts) != set(PARTS):
            raise CalibrationError(f"measurements: figure10.{col} wants "
                                   f"{', '.join(PARTS)}")
    for kind in m.get("figure6_single", {}):
        if kind not in EXIT_KINDS:
            raise CalibrationError(f"measurements: figure6_single kind "
                                   f"{kind!r} is not one of the exits "
                                   f"guest's ({', '.join(EXIT_KINDS)})")


def targets(m):
    """[(observable id, target cycles, tolerance)]."""
    tol = m.get("tolerance", {})
    out = []
    for col, parts in m["figure10"].items():
        for part in PARTS:
            out.append((f"figure10.{col}.{part}", parts[part],
                        tol.get("figure10")))
        out.append((f"figure10.{col}.total", sum(parts.values()),
                    tol.get("figure10")))
    for kind, cycles in m.get("figure6_single", {}).items():
        out.append((f"figure6.single.{kind}", cycles,
                    tol.get("figure6_single")))
    return out


def runs_needed(m, l1_args, iters):
    """{config name: turtles run arguments (after --db/--cost-profile)}."""
    root = os.path.join("build", "images")
    cpuid = [os.path.join(root, "cpuid.elf"), "--", f"iters={iters}"]
    out = {}
    for col in m["figure10"]:
        mode, sh, mg = FIGURE10_COLUMNS[col]
        a = ["--mode", mode]
        if mode == "nested":
            a += ["--l1-args", " ".join(l1_args), "--vmcs-shadowing", sh,
                  "--merge", mg]
        out[f"figure10.{col}"] = a + cpuid
    # Figure 6's single-level kinds with L0's intercepts as the paper's
    # L0 had them (l0_args_single, e.g. --l0-traps kvm): KVM's vmcs01.
    l0_args = list(m.get("l0_args_single", []))
    for kind in m.get("figure6_single", {}):
        out[f"figure6.single.{kind}"] = [
            "--mode", "single", *l0_args, os.path.join(root, "exits.elf"), "--",
            f"kind={kind}", f"iters={iters}"]
    return out


def _with_total(obs, name):
    obs[f"{name}.total"] = sum(obs[f"{name}.{p}"] for p in PARTS)
    return obs


def _observe(con, run_id, name, profile):
    """{observable id: cycles} of one run."""
    if name.startswith("figure10."):
        col = name.split(".", 1)[1]
        if FIGURE10_COLUMNS[col][0] == "single":
            n, c = con.execute(
                "SELECT count, cycles FROM exit_stats WHERE run_id = ? AND "
                "handler_level = 0 AND guest_level = 1 AND reason = ?",
                (run_id, CPUID)).fetchone() or (0, 0)
            if not n:
                return {}
            # exit_stats holds exit + handler + entry as one sum: the
            # switch is the profile's pair, constant per exit.
            sw = (profile["costs"]["vmexit"]["cycles"] +
                  profile["costs"]["vmentry"]["cycles"])
            return _with_total({f"{name}.L1": 0.0, f"{name}.L0": c / n - sw,
                                f"{name}.switch": float(sw)}, name)
        row = con.execute(
            "SELECT l2_exits, cycles_l1 + cycles_l2, cycles_l0, "
            "cycles_transitions FROM nested_costs WHERE run_id = ? AND "
            "reason = ?", (run_id, CPUID)).fetchone()
        if not row or not row[0]:
            return {}
        n = row[0]
        return _with_total({f"{name}.{p}": row[k + 1] / n
                            for k, p in enumerate(PARTS)}, name)
    kind = name.rsplit(".", 1)[1]
    n, c = con.execute(
        "SELECT count, cycles FROM exit_stats WHERE run_id = ? AND "
        "handler_level = 0 AND guest_level = 1 AND reason = ?",
        (run_id, EXIT_KINDS[kind])).fetchone() or (0, 0)
    return {name: c / n} if n else {}


def measure(turtles, profile, configs, workdir, tag, jobs):
    """Runs every configuration with the profile; {observable: cycles}."""
    path = os.path.join(workdir, f"{tag}.json")
    with open(path, "w") as f:
        json.dump(profile, f, indent=2)
    db = os.path.join(workdir, f"{tag}.db")

    def one(item):
        name, args = item
        p = subprocess.run([turtles, "run", "--db", db, "--label", name,
                            "--cost-profile", path] + args,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise CalibrationError(f"{name}: turtles run exited "
                                   f"{p.returncode}: {p.stderr.strip()[-400:]}")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, configs.items()))
    con = sqlite3.connect(db)
    out = {}
    for run_id, label in con.execute(
            "SELECT run_id, json_extract(options, '$.label') FROM runs"):
        out.update(_observe(con, run_id, label, profile))
    con.close()
    return out


def free_parameters(profile):
    return [k for k, v in profile["costs"].items() if v.get("fit")]


def with_costs(profile, values):
    p = copy.deepcopy(profile)
    for k, v in values.items():
        p["costs"][k]["cycles"] = int(round(v))
    return p


def _solve(a, b):
    """Solves the square system a x = b (Gaussian elimination with
    partial pivoting); None if singular."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        if abs(m[piv][c]) < 1e-12:
            return None
        m[c], m[piv] = m[piv], m[c]
        for r in range(n):
            if r != c and m[r][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(rows, names, start):
    """Least squares with every parameter >= 0. rows: [(slopes by name,
    constant, target, weight)]; start: {name: the profile's value}.
    A faint pull towards start keeps what the targets cannot tell apart
    (two costs that always occur together) at its ratio in the profile;
    a parameter that would go negative is pinned at 0 and the rest are
    fitted again (an active set). Returns {name: value}."""
    free = list(names)
    pinned = set()
    while True:
        a = [[sum(w * s[i] * s[j] for s, _, _, w in rows) for j in free]
             for i in free]
        b = [sum(w * s[i] * (t - c) for s, c, t, w in rows) for i in free]
        scale = max([a[k][k] for k in range(len(free))] + [1e-30])
        pull = 1e-6 * scale
        for k, n in enumerate(free):
            a[k][k] += pull
            b[k] += pull * start[n]
        x = _solve(a, b) if free else []
        neg = [k for k, v in enumerate(x) if v < 0]
        if not neg:
            break
        worst = min(neg, key=lambda k: x[k])
        pinned.add(free.pop(worst))
    out = {n: 0.0 for n in pinned}
    out.update(zip(free, x))
    return out


def _step(turtles, current, names, wanted, configs, d, jobs, k):
    """One Gauss-Newton step: slopes at the current profile, then the
    fit. Costs enter linearly, but l1_pollution multiplies L0's cycles:
    the slopes are measured again where the last step ended."""
    at = measure(turtles, current, configs, d, f"at-{k}", jobs)
    missing = [t for t, _, _ in wanted if t not in at]
    if missing:
        raise CalibrationError(f"no measurement of {', '.join(missing)} "
                               "(the runs caused no such exit)")
    slopes = {}
    for i, n in enumerate(names):
        raised = with_costs(current, {n: current["costs"][n]["cycles"] +
                                      SLOPE_STEP})
        got = measure(turtles, raised, configs, d, f"slope-{k}-{i}", jobs)
        slopes[n] = {t: (got[t] - at[t]) / SLOPE_STEP for t, _, _ in wanted}
    rows = []
    for t, target, _ in wanted:
        s = {n: slopes[n][t] for n in names}
        const = at[t] - sum(s[n] * current["costs"][n]["cycles"]
                            for n in names)
        # Relative deviations count; a target of 0 (single-level L1) is
        # weighed as if it were 100 cycles.
        rows.append((s, const, target, 1.0 / max(target, 100) ** 2))
    return fit(rows, names, {n: current["costs"][n]["cycles"]
                             for n in names})


def calibrate(turtles, base, measurements, l1_args, iters=200, jobs=2,
              log=print, steps=4):
    """Fits the base profile's free costs to the measurements. Returns
    (fitted profile, [(id, target, measured, tolerance)], values)."""
    check_measurements(measurements)
    names = free_parameters(base)
    if not names:
        raise CalibrationError("the profile marks no cost \"fit\": true")
    wanted = targets(measurements)
    configs = runs_needed(measurements, l1_args, iters)
    current = base
    with tempfile.TemporaryDirectory() as d:
        log(f"calibrate: {len(configs)} configurations, {len(names)} free "
            f"costs ({', '.join(names)})")
        for k in range(steps):
            values = _step(turtles, current, names, wanted, configs, d, jobs,
                           k)
            fitted = with_costs(current, values)
            moved = max(abs(fitted["costs"][n]["cycles"] -
                            current["costs"][n]["cycles"]) for n in names)
            current = fitted
            log(f"calibrate: step {k + 1}: the largest change {moved} cycles")
            if moved <= 1:
                break
        got = measure(turtles, current, configs, d, "fitted", jobs)
    residuals = [(t, target, got.get(t), tol) for t, target, tol in wanted]
    return current, residuals, values


def deviation(measured, target):
    if measured is None:
        return None
    if target == 0:
        return 0.0 if measured == 0 else float("inf")
    return (measured - target) / target


def record(fitted, measurements, measurements_path, l1_args, residuals):
    """The fitted profile with its sources and its calibration block: the
    measurements it was fitted to (its inputs) and the residuals."""
    p = copy.deepcopy(fitted)
    for v in p["costs"].values():
        if v.get("fit"):
            v["source"] = (f"fitted by scripts/calibrate to "
                           f"{measurements_path}")
    p["calibration"] = {
        "measurements": measurements_path,
        "source": measurements["source"],
        "cpu": measurements.get("cpu", ""),
        "l1_args": " ".join(l1_args),
        "l0_args_single": " ".join(measurements.get("l0_args_single", [])),
        "inputs": [t for t, _, _, _ in residuals],
        "residuals": {t: [target, None if m is None else round(m),
                          None if m is None else round(deviation(m, target),
                                                       4)]
                      for t, target, m, _ in residuals},
    }
    return p


def residual_lines(residuals):
    out = [f"{'observable':34} {'target':>8} {'measured':>9} {'dev.':>7}  "
           "within"]
    for t, target, m, tol in residuals:
        d = deviation(m, target)
        ok = "" if tol is None or d is None else (
            "yes" if abs(d) <= tol else f"no (±{tol:.0%})")
        ds = "-" if d is None else ("inf" if d == float("inf")
                                    else f"{d:+.1%}")
        ms = "-" if m is None else f"{m:,.0f}"
        out.append(f"{t:34} {target:>8,} {ms:>9} {ds:>7}  {ok}")
    return out


def dump_profile(p):
    """A profile's JSON text: one line per cost, as the files are kept."""
    lines = ["{"]
    keys = list(p)
    for i, k in enumerate(keys):
        end = "," if i < len(keys) - 1 else ""
        if k == "costs":
            lines.append('  "costs": {')
            costs = list(p["costs"].items())
            for j, (name, v) in enumerate(costs):
                sep = "," if j < len(costs) - 1 else ""
                lines.append(f"    {json.dumps(name)}: {json.dumps(v)}{sep}")
            lines.append("  }" + end)
        elif k == "calibration":
            lines.append('  "calibration": {')
            items = list(p[k].items())
            for j, (name, v) in enumerate(items):
                sep = "," if j < len(items) - 1 else ""
                if isinstance(v, dict):  # the residuals: one line each
                    rows = [f"      {json.dumps(a)}: {json.dumps(b)}"
                            for a, b in v.items()]
                    lines.append(f"    {json.dumps(name)}: {{\n" +
                                 ",\n".join(rows) + f"\n    }}{sep}")
                else:
                    lines.append(f"    {json.dumps(name)}: "
                                 f"{json.dumps(v)}{sep}")
            lines.append("  }" + end)
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(p[k])}{end}")
    return "\n".join(lines + ["}"]) + "\n"
