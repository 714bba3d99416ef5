#!/usr/bin/env python3
"""scripts/kvm-run.sh (make kvm-run): l1vmm on QEMU/KVM with nested VMX.
This host has no VT-x, so the checks are tested against stand-in
/proc/cpuinfo, /dev/kvm and kvm_intel parameter files, and the run
against a stand-in QEMU that runs the same l1vmm and guest on turtles
(nested) and exits as QEMU's isa-debug-exit does. Checked: each missing
piece is named; --dry-run prints the QEMU command; QEMU's exit status is
translated; --db records l1vmm's L1STATS as level-1 rows equal to the
ones turtles records for the same run."""

import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
TURTLES = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
CPUID = os.path.join(ROOT, "build", "images", "cpuid.elf")
T = Report("kvm-run")

# A stand-in for qemu-system-x86_64: l1vmm (-kernel, -append) with its
# module (-initrd "FILE ARGS") on turtles, serial output to -serial
# file:PATH, exit status (s << 1) | 1 as isa-debug-exit gives. FAKE_QEMU
# =fail exits 1 at once, =hang sleeps.
FAKE_QEMU = r"""#!/usr/bin/env bash
case "${FAKE_QEMU:-}" in fail) echo "qemu: failed to initialize kvm" >&2; exit 1 ;;
hang) sleep 30; exit 0 ;; esac
while [ $# -gt 0 ]; do
    case "$1" in
    -append) append="$2"; shift 2 ;;
    -initrd) initrd="$2"; shift 2 ;;
    -serial) serial="${2#file:}"; shift 2 ;;
    *) shift ;;
    esac
done
set -- ${initrd//,,/,}
"$TURTLES" run --mode nested --l1-args "$append" --serial "$serial" "$@"
s=$?
exit $(( (s << 1) | 1 ))
"""


def kvm_run(*args, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([os.path.join(ROOT, "scripts", "kvm-run.sh"),
                           *args], cwd=ROOT, capture_output=True, text=True,
                          env=e, timeout=300)


def host(d, vmx=True, nested="Y", dev=True):
    """Stand-in host files; returns the environment that points at them."""
    os.makedirs(d, exist_ok=True)
    cpuinfo = os.path.join(d, "cpuinfo")
    with open(cpuinfo, "w") as f:
        f.write("flags\t\t: fpu sse2 " + ("vmx " if vmx else "svm ") +
                "lm\n")
    params = os.path.join(d, "kvm_intel", "parameters")
    os.makedirs(params, exist_ok=True)
    for name, value in (("nested", nested), ("enable_shadow_vmcs", "Y")):
        with open(os.path.join(params, name), "w") as f:
            f.write(value + "\n")
    kvm = os.path.join(d, "kvm")
    if dev:
        open(kvm, "w").close()
    qemu = os.path.join(d, "qemu")
    with open(qemu, "w") as f:
        f.write(FAKE_QEMU)
    os.chmod(qemu, 0o755)
    return {"KVM_RUN_CPUINFO": cpuinfo, "KVM_RUN_DEV": kvm,
            "KVM_RUN_MODULE": os.path.dirname(params), "QEMU": qemu,
            "TURTLES": TURTLES}


def main():
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return T.finish()
    with open("/proc/cpuinfo") as f:
        has_vmx = " vmx" in f.read()
    if not has_vmx:
        p = kvm_run("--dry-run", CPUID)
        T.check(p.returncode == 69 and "Intel VMX" in p.stderr,
                "on this host (no VT-x) kvm-run says Intel VMX is missing "
                "and exits 69", p.returncode, p.stderr)
    with tempfile.TemporaryDirectory() as d:
        env = host(os.path.join(d, "amd"), vmx=False, nested="N", dev=False)
        p = kvm_run("--dry-run", CPUID, env=env)
        T.check(p.returncode == 69 and "AMD CPU" in p.stderr and
                "KVM is not loaded" in p.stderr and
                "it is 'N'" in p.stderr,
                "every missing piece is named: VMX (an AMD CPU), /dev/kvm, "
                "nested=Y", p.stderr)
        env = host(os.path.join(d, "intel"))
        p = kvm_run("--dry-run", "--l1-args", "paging=shadow", CPUID,
                    "iters=5", "x=1,2", env=env)
        T.check(p.returncode == 0 and "-enable-kvm" in p.stdout and
                "host,+vmx" in p.stdout and "paging=shadow" in p.stdout and
                "cpuid.elf iters=5 x=1,,2'" in p.stdout,
                "--dry-run on a host with everything prints the QEMU command "
                "(the module's commas doubled)", p.stdout, p.stderr)

        db = os.path.join(d, "hw.db")
        p = kvm_run("--db", db, "--label", "hw", "--l1-args", "paging=ept",
                    CPUID, "iters=20", env=env)
        T.check(p.returncode == 0 and "L1STATS end" in p.stdout and
                "wrote run_id=1" in p.stderr,
                "a run: QEMU's (0 << 1) | 1 is status 0, the output is "
                "shown and recorded", p.returncode, p.stderr[-400:])
        emulated = os.path.join(d, "emu.db")
        subprocess.run([TURTLES, "run", "--mode", "nested", "--l1-args",
                        "paging=ept", "--db", emulated, CPUID, "--",
                        "iters=20"], cwd=ROOT, capture_output=True)
        q = ("SELECT reason, reason_name, count FROM exit_stats WHERE "
             "handler_level = 1 AND guest_level = 2 ORDER BY reason")
        hw, emu = (sqlite3.connect(x).execute(q).fetchall()
                   for x in (db, emulated))
        opts = sqlite3.connect(db).execute(
            "SELECT json_extract(options, '$.l0'), json_extract(options, "
            "'$.vmcs_shadowing'), cost_profile, (SELECT value FROM "
            "guest_metrics WHERE level = 2 AND key = 'iters') FROM runs"
        ).fetchone()
        T.check(hw == emu and len(hw) >= 2 and
                opts == ("kvm", "on", "hardware", "20"),
                "l1vmm's L1STATS become the level-1 rows turtles records "
                "for the same run; L2's RESULT lines are level-2 metrics",
                hw, emu, opts)

        p = kvm_run(CPUID, env=dict(env, FAKE_QEMU="fail"))
        T.check(p.returncode == 125 and "could not start" in p.stderr,
                "QEMU's own failure (exit 1) is said as such, status 125",
                p.returncode, p.stderr)
        p = kvm_run("--timeout", "1", CPUID, env=dict(env, FAKE_QEMU="hang"))
        T.check(p.returncode == 125 and "timed out after 1 s" in p.stderr,
                "a run past --timeout is said as such, status 125",
                p.returncode, p.stderr)
    return T.finish()


if __name__ == "__main__":
    sys.exit(main())
