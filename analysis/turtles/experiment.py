"""Experiment files: a TOML matrix expanded into configurations.

The format is described in docs/experiments.md. Every configuration is one
`turtles run` with a label that names it uniquely within the experiment;
the label, together with the options the emulator records and its git
revision, is what the runner uses to resume (runner.py)."""

import itertools
import os
import tomllib
from dataclasses import dataclass, field

MODES = ("bare", "single", "nested")
SHADOWING = ("on", "off")
MERGE = ("full", "dirty")
# What L0 intercepts in a single-level run (turtles run --l0-traps).
L0_TRAPS = ("none", "kvm")
# The L1 hypervisors an experiment may name besides an image path, and
# what `turtles run --l1` gets: l1vmm is turtles' default; "kvm" is
# Debian's Linux with kvm-intel (docs/kvm-l1.md), its args words of L1's
# kernel command line.
L1_BUILTIN = {"l1vmm": None, "kvm": "kvm"}
DEFAULT_PROFILE = "default"
# The cost profiles built into turtles (l0/l0.mk embeds this folder).
PROFILES_DIR = os.path.join("experiments", "profiles")

TOP_KEYS = {"name", "description", "produces", "workloads", "l1", "matrix"}
MATRIX_KEYS = {"label", "workloads", "modes", "l1", "vmcs_shadowing", "merge",
               "cost_profiles", "repetitions", "exclude", "trace", "mem",
               "max_insns", "timeout", "l0_traps", "l0_exception_bitmap"}
# What a report or figure may be asked for (analysis/turtles/report.py).
PRODUCTS = ("cpuid", "paging", "exits", "slowdown", "multiplication",
            "table2", "figure10", "figure6", "figure9", "figure5", "csv",
            "json", "markdown")


class ExperimentError(Exception):
    """A mistake in an experiment file, with a message for its author."""


@dataclass(frozen=True)
class Config:
    """One run of the matrix."""
    label: str
    workload: str
    guest_image: str
    guest_args: tuple
    mode: str
    initrd: str | None = None   # a Linux workload: guest_image is its
    kernel: bool = False        # bzImage, guest_args its command line
    l1: str | None = None
    l1_image: str | None = None
    l1_args: tuple = ()
    vmcs_shadowing: str | None = None
    merge: str | None = None
    cost_profile: str = DEFAULT_PROFILE
    repetition: int = 0
    trace: bool = False
    mem: int | None = None
    max_insns: int | None = None
    timeout: float | None = None
    l0_traps: str | None = None            # single level: "kvm", or None
    l0_exception_bitmap: int | None = None  # single level

    def argv(self, turtles, db):
        """The `turtles run` command line of this configuration."""
        a = [turtles, "run", "--db", db, "--label", self.label,
             "--mode", self.mode]
        if self.mode == "nested":
            if self.l1_image:
                a += ["--l1", self.l1_image]
            a += ["--l1-args", " ".join(self.l1_args),
                  "--vmcs-shadowing", self.vmcs_shadowing,
                  "--merge", self.merge]
        if self.l0_traps == "kvm":
            a += ["--l0-traps", "kvm"]
        if self.l0_exception_bitmap is not None:
            a += ["--l0-exception-bitmap", hex(self.l0_exception_bitmap)]
        if self.cost_profile != DEFAULT_PROFILE:
            a += ["--cost-profile", self.cost_profile]
        if self.trace:
            a.append("--trace")
        if self.mem is not None:
            a += ["--mem", str(self.mem)]
        if self.max_insns is not None:
            a += ["--max-insns", str(self.max_insns)]
        if self.kernel:
            a += ["--kernel", self.guest_image]
            if self.initrd:
                a += ["--initrd", self.initrd]
            if self.guest_args:
                a += ["--append", " ".join(self.guest_args)]
            return a
        a.append(self.guest_image)
        if self.guest_args:
            a += ["--", *self.guest_args]
        return a

    def recorded_options(self):
        """The runs.options values this configuration must have been run
        with (docs/results.md), for the resume check."""
        o = {"label": self.label, "mode": self.mode}
        if self.mode == "nested":
            o.update(l1_args=" ".join(self.l1_args),
                     vmcs_shadowing=self.vmcs_shadowing, merge=self.merge)
        if self.cost_profile != DEFAULT_PROFILE:
            o["cost_profile"] = self.cost_profile
        if self.l0_traps == "kvm":
            o["l0_traps"] = "kvm"
        if self.l0_exception_bitmap is not None:
            o["l0_exception_bitmap"] = self.l0_exception_bitmap
        if self.mem is not None:
            o["mem_mib"] = self.mem
        if self.max_insns is not None:
            o["max_insns"] = self.max_insns
        return o


@dataclass
class Experiment:
    name: str
    description: str
    produces: list
    configs: list = field(default_factory=list)


def _strings(v, what):
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ExperimentError(f"{what} must be a string or a list of strings")
    return v


def _image(name, root):
    """A guest or L1 name is build/images/NAME.elf (relative to the
    checkout, where the runner starts turtles); a path is taken from the
    current directory."""
    if "/" in name or name.endswith(".elf"):
        return os.path.abspath(name)
    return os.path.join("build", "images", name + ".elf")


def _path(name):
    return name if name.startswith("build/") else os.path.abspath(name)


def _workloads(table, root):
    """{name: (image, args, initrd, is_kernel)}: a guest image with its
    command line, or a Linux bzImage (kernel) with an initrd and the
    kernel's command line (args)."""
    if not isinstance(table, dict) or not table:
        raise ExperimentError("[workloads] must define at least one workload")
    out = {}
    for name, w in table.items():
        if not isinstance(w, dict) or ("guest" in w) == ("kernel" in w):
            raise ExperimentError(f"workload {name!r} needs guest = \"NAME\""
                                  " or kernel = \"PATH\"")
        keys = {"guest", "args"} if "guest" in w else {"kernel", "initrd",
                                                       "args"}
        unknown = set(w) - keys
        if unknown:
            raise ExperimentError(f"workload {name!r}: unknown keys "
                                  f"{sorted(unknown)} ({', '.join(sorted(keys))})")
        args = tuple(_strings(w.get("args", []), f"{name}.args"))
        if "guest" in w:
            out[name] = (_image(w["guest"], root), args, None, False)
        else:
            initrd = w.get("initrd")
            out[name] = (_path(w["kernel"]), args,
                         _path(initrd) if initrd else None, True)
    return out


def _l1s(table, root):
    out = {name: (image, ()) for name, image in L1_BUILTIN.items()}
    for name, h in (table or {}).items():
        if not isinstance(h, dict):
            raise ExperimentError(f"[l1.{name}] must be a table")
        unknown = set(h) - {"hypervisor", "args"}
        if unknown:
            raise ExperimentError(f"l1 {name!r}: unknown keys "
                                  f"{sorted(unknown)} (hypervisor, args)")
        hv = h.get("hypervisor", "l1vmm")
        image = L1_BUILTIN[hv] if hv in L1_BUILTIN else _image(hv, root)
        out[name] = (image, tuple(_strings(h.get("args", []),
                                           f"l1.{name}.args")))
    return out


def _profile_argument(name, root, where):
    """The --cost-profile of a cost_profiles entry: "default" (none), a
    built-in NAME (experiments/profiles/NAME.json) or a FILE (a path with
    a '/' or ending in .json, made absolute)."""
    if name == DEFAULT_PROFILE:
        return name
    if "/" in name or name.endswith(".json"):
        path = os.path.abspath(name)
        if not os.path.isfile(path):
            raise ExperimentError(f"{where}.cost_profiles: no file {name}")
        return path
    if not os.path.isfile(os.path.join(root or ".", PROFILES_DIR,
                                       name + ".json")):
        raise ExperimentError(f"{where}.cost_profiles: {name!r} is not a "
                              f"profile of {PROFILES_DIR}/ (a file is a path "
                              "with a '/' or ending in .json)")
    return name


def profile_label(profile):
    """How a cost profile shows in a label: its name, without folder and
    .json."""
    return os.path.splitext(os.path.basename(profile))[0]


def _choices(m, key, allowed, default, where):
    v = _strings(m.get(key, default), f"{where}.{key}")
    for x in v:
        if allowed is not None and x not in allowed:
            raise ExperimentError(f"{where}.{key}: {x!r} is not one of "
                                  f"{', '.join(allowed)}")
    return v


def _positive(m, key, where, kind=int):
    if key not in m:
        return None
    v = m[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or \
            (kind is int and not isinstance(v, int)):
        raise ExperimentError(f"{where}.{key} must be a non-negative "
                              f"{'integer' if kind is int else 'number'}")
    return v


def _label(template, values, where):
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as e:
        raise ExperimentError(f"{where}.label {template!r}: {e} (known: "
                              f"{', '.join(sorted(values))})") from None


def _default_label(v):
    parts = [v["workload"], v["mode"]]
    if v["mode"] == "nested":
        parts += [v["l1"], "shadow-" + v["vmcs_shadowing"],
                  "merge-" + v["merge"]]
    if v.get("l0_traps") == "kvm":
        parts.append("l0-kvm")
    if v["cost_profile"] != DEFAULT_PROFILE:
        parts.append(profile_label(v["cost_profile"]))
    return "-".join(parts)


def _excluded(values, exclude):
    return any(all(values.get(k) == x for k, x in e.items())
               for e in exclude)


def _expand(m, i, workloads, l1s, root):
    where = f"matrix[{i}]"
    unknown = set(m) - MATRIX_KEYS
    if unknown:
        raise ExperimentError(f"{where}: unknown keys {sorted(unknown)} "
                              f"(known: {', '.join(sorted(MATRIX_KEYS))})")
    names = _choices(m, "workloads", list(workloads), list(workloads), where)
    modes = _choices(m, "modes", MODES, ["nested"], where)
    l1_names = _choices(m, "l1", list(l1s), ["l1vmm"], where)
    shadowing = _choices(m, "vmcs_shadowing", SHADOWING, ["on"], where)
    merges = _choices(m, "merge", MERGE, ["dirty"], where)
    traps = _choices(m, "l0_traps", L0_TRAPS, ["none"], where)
    ebitmap = _positive(m, "l0_exception_bitmap", where)
    profiles = [_profile_argument(p, root, where) for p in _choices(
        m, "cost_profiles", None, [DEFAULT_PROFILE], where)]
    reps = _positive(m, "repetitions", where)
    reps = 1 if reps is None else reps
    if reps < 1:
        raise ExperimentError(f"{where}.repetitions must be at least 1")
    exclude = m.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(e, dict)
                                                for e in exclude):
        raise ExperimentError(f"{where}.exclude must be a list of tables")
    trace = m.get("trace", False)
    if not isinstance(trace, bool):
        raise ExperimentError(f"{where}.trace must be true or false")
    out, seen = [], set()
    for w, mode, l1, sh, mg, prof, tr in itertools.product(
            names, modes, l1_names, shadowing, merges, profiles, traps):
        if mode != "nested":
            l1 = sh = mg = None  # L1 and L0's nesting options: nested only
        # L0's intercepts: single level only (turtles run --l0-traps).
        tr = tr if mode == "single" and tr == "kvm" else None
        eb = ebitmap if mode == "single" else None
        values = dict(workload=w, mode=mode, l1=l1, vmcs_shadowing=sh,
                      merge=mg, cost_profile=prof, l0_traps=tr)
        shown = dict(values, cost_profile=profile_label(prof))
        key = tuple(values.values())
        if key in seen or _excluded(values, exclude):
            continue
        seen.add(key)
        base = (_label(m["label"], shown, where) if "label" in m
                else _default_label(values))
        image, args, initrd, kernel = workloads[w]
        l1_image, l1_args = l1s[l1] if l1 else (None, ())
        for rep in range(reps):
            out.append(Config(
                label=base if reps == 1 else f"{base}#{rep}",
                workload=w, guest_image=image, guest_args=args, mode=mode,
                initrd=initrd, kernel=kernel,
                l1=l1, l1_image=l1_image, l1_args=l1_args,
                vmcs_shadowing=sh, merge=mg, cost_profile=prof,
                repetition=rep, trace=trace, mem=_positive(m, "mem", where),
                max_insns=_positive(m, "max_insns", where),
                timeout=_positive(m, "timeout", where, float),
                l0_traps=tr, l0_exception_bitmap=eb))
    return out


def parse(text, root, source="experiment"):
    """An Experiment from the TOML text of an experiment file."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ExperimentError(f"{source}: not valid TOML: {e}") from None
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ExperimentError(f"{source}: unknown keys {sorted(unknown)} "
                              f"(known: {', '.join(sorted(TOP_KEYS))})")
    produces = _strings(doc.get("produces", []), "produces")
    for p in produces:
        if p not in PRODUCTS:
            raise ExperimentError(f"produces: {p!r} is not one of "
                                  f"{', '.join(PRODUCTS)}")
    matrix = doc.get("matrix")
    if not isinstance(matrix, list) or not matrix:
        raise ExperimentError(f"{source}: needs at least one [[matrix]]")
    workloads = _workloads(doc.get("workloads"), root)
    l1s = _l1s(doc.get("l1"), root)
    configs = []
    for i, m in enumerate(matrix):
        configs += _expand(m, i, workloads, l1s, root)
    labels = [c.label for c in configs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ExperimentError(f"{source}: two configurations share the "
                              f"label(s) {', '.join(dup)}: give each "
                              "[[matrix]] a label template that tells them "
                              "apart")
    name = doc.get("name") or os.path.splitext(os.path.basename(source))[0]
    return Experiment(name=name, description=doc.get("description", ""),
                      produces=produces, configs=configs)


def load(path, root):
    with open(path, "rb") as f:
        text = f.read().decode()
    return parse(text, root, source=path)
