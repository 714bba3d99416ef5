#!/usr/bin/env python3
"""Debian's Linux kernel and our initramfs (make linux, docs/linux.md).

The workloads' RESULT lines are computed independently first: the same
workload scripts run on the host under the same busybox binary, with only
busybox's applets on PATH. QEMU TCG, the reference machine, must print
exactly those lines for each workload and exit with status 0 through
isa-debug-exit, and so must turtles in bare and single mode (the kernel
runs on the emulated CPU and platform, and as the guest of L0; bare and
nested also with acpi=off), and in nested mode as L2 under l1vmm with EPT and with
shadow paging, where shadow paging must show many more #PF, CR-access
and INVLPG exits. A kernel panic reboots (panic=-1): turtles ends with its reset status. turtles'
Linux loader (--kernel/--initrd/--append) must refuse what the boot
protocol cannot start, with the load-error status and a message that says
why."""

import concurrent.futures
import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINUX = os.path.join(ROOT, "build", "linux")
WORKLOADS = os.path.join(ROOT, "guests", "linux", "rootfs", "workloads")
EXIT_USAGE, EXIT_BAD_IMAGE, EXIT_RESET = 64, 65, 84

# Short enough for make test; experiments run the long versions.
CASES = [("boot", ""), ("process", "2"), ("compute", "64")]
# On turtles (about 1.6 G instructions to /init): each mode once; nested
# is Linux as L2 under l1vmm with EPT and with shadow paging (docs/l1vmm.md,
# "Linux as L2"); and a boot with acpi=off, where the kernel finds no
# IOAPIC and takes every interrupt from the 8259s through LINT0 (the
# firmware's virtual wire mode, which l1vmm sets up for L2 too,
# docs/linux.md), bare and nested: mode, workload, rounds,
# l1vmm's paging, more kernel arguments.
TURTLES_CASES = [("bare", "process", "1", "", []),
                 ("single", "boot", "", "", []),
                 ("nested", "boot", "", "ept", []),
                 ("nested", "boot", "", "shadow", []),
                 ("bare", "boot", "", "", ["acpi=off"]),
                 ("nested", "boot", "", "ept", ["acpi=off"])]
NESTED_OPTIONS = ["--mem", "512"]


def kernel_release():
    pins = open(os.path.join(ROOT, "guests", "linux", "versions.mk")).read()
    abi = re.search(r"^LINUX_KERNEL_ABI := (\S+)", pins, re.M).group(1)
    return f"{abi}-cloud-amd64"


def host_expected(workload, rounds):
    """The workload's RESULT lines, from the host running its script."""
    with tempfile.TemporaryDirectory() as d:
        bindir = os.path.join(d, "bin")
        os.mkdir(bindir)
        busybox = os.path.join(LINUX, "busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True,
                                 text=True, check=True).stdout.split()
        for a in applets:
            os.symlink(busybox, os.path.join(bindir, a))
        work = os.path.join(d, "work")
        os.mkdir(work)
        args = [busybox, "sh", os.path.join(WORKLOADS, workload + ".sh")]
        p = subprocess.run(args + ([rounds] if rounds else []), cwd=work,
                           env={"PATH": bindir}, capture_output=True,
                           text=True, timeout=120)
    lines = [f"RESULT linux-boot kernel={kernel_release()} workload={workload}"]
    return lines + [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]


def results(out):
    return [l for l in out.replace("\r", "").splitlines()
            if l.startswith("RESULT ")]


def kernel_cmdline(workload, rounds):
    words = ["console=ttyS0", "quiet", "panic=-1", f"workload={workload}"]
    return words + ([f"rounds={rounds}"] if rounds else [])


def l1stats(out):
    """l1vmm's exit counts by reason name, from its L1STATS block."""
    counts = {}
    for m in re.finditer(r"^L1STATS reason=\d+ name=(\S+) count=(\d+)", out,
                         re.M):
        counts[m.group(1)] = int(m.group(2))
    return counts


def region_of_interest(db):
    """(regions, ended_by_run, its instructions, the run's) of the one
    run in `db`, or None."""
    if not os.path.exists(db):
        return None
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT roi.regions, roi.ended_by_run, "
                           "roi.instructions, runs.instructions FROM roi "
                           "JOIN runs USING (run_id)").fetchone()
    finally:
        con.close()


def qemu(workload, rounds):
    cmdline = kernel_cmdline(workload, rounds)
    p = subprocess.run([os.path.join(ROOT, "scripts", "qemu-run.sh"),
                        "--timeout", "240", "--initrd",
                        os.path.join(LINUX, "initrd.gz"),
                        os.path.join(LINUX, "vmlinuz")] + cmdline,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def turtles(args, timeout=120):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run"] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stderr


def turtles_linux(mode, append, paging="", limit=8_000_000_000, db=None):
    """Boots the kernel on turtles (nested: under l1vmm with `paging`;
    with `db`, recorded there); returns (status, serial, stderr)."""
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    args = [prog, "run", "--mode", mode, "--max-insns", str(limit),
            "--kernel", os.path.join(LINUX, "vmlinuz"),
            "--initrd", os.path.join(LINUX, "initrd.gz"),
            "--append", " ".join(append)] + (["--db", db] if db else [])
    if mode == "nested":
        args[2:2] = NESTED_OPTIONS + ["--l1-args", f"ram=256 paging={paging}"]
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    return p.returncode, p.stdout, p.stderr


def main():
    r = Report("linux")
    wants = arguments(__doc__, ["qemu", "turtles"]).wants
    kernel = os.path.join(LINUX, "vmlinuz")
    initrd = os.path.join(LINUX, "initrd.gz")
    if not (os.path.exists(kernel) and os.path.exists(initrd)):
        r.check(False, "the Linux guest is built", "run `make linux`")
        return r.finish()

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        runs = {c: pool.submit(qemu, *c) for c in CASES if wants("qemu")}
        for workload, rounds in CASES if wants("qemu") else ():
            want = host_expected(workload, rounds)
            status, out, err = runs[(workload, rounds)].result()
            got = results(out)
            r.check(status == 0 and got == want and len(want) >= 1,
                    f"QEMU: workload={workload} prints the host's RESULT lines",
                    f"status {status}", f"want {want}", f"got {got}",
                    err.strip()[-400:])
    if not wants("turtles"):
        return r.finish()

    l1_exits = {}
    dbs = tempfile.TemporaryDirectory()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        boots = [pool.submit(turtles_linux, mode,
                             kernel_cmdline(workload, rounds) + more, paging,
                             db=os.path.join(dbs.name, f"{k}.db"))
                 for k, (mode, workload, rounds, paging, more)
                 in enumerate(TURTLES_CASES)]
    for k, ((mode, workload, rounds, paging, more), boot) in enumerate(
            zip(TURTLES_CASES, boots)):
        want = host_expected(workload, rounds)
        status, out, err = boot.result()
        got = results(out)
        where = f" (l1vmm paging={paging})" if paging else ""
        where += "".join(f" {m}" for m in more)
        r.check(status == 0 and got == want,
                f"turtles --mode {mode}{where}: workload={workload} prints the "
                "host's RESULT lines", f"status {status}", f"want {want}",
                f"got {got}", out.strip()[-600:], err.strip()[-400:])
        if paging and not more:
            l1_exits[paging] = l1stats(out)
        # /init runs the workload as the region of interest (roi start and
        # end, docs/exit-stats.md): one region, ended by the guest, inside
        # the run (the level that marks it is L2 in nested mode).
        roi = region_of_interest(os.path.join(dbs.name, f"{k}.db"))
        r.check(roi is not None and roi[0] == 1 and roi[1] == 0 and
                0 < roi[2] < roi[3],
                f"turtles --mode {mode}{where}: the database holds the "
                "workload as one region of interest",
                f"(regions, ended_by_run, instructions, run's) = {roi}")
    dbs.cleanup()

    # The seeds' pattern (docs/l1vmm.md): under shadow paging L1 handles
    # L2's page faults and CR3 writes itself; with EPT it sees almost none.
    ept, shadow = l1_exits["ept"], l1_exits["shadow"]
    for reason in ("EXCEPTION_NMI", "CR_ACCESS", "INVLPG"):
        r.check(shadow.get(reason, 0) > 10 * max(ept.get(reason, 0), 1),
                f"nested Linux boot: shadow paging has over 10x the {reason} "
                "exits of EPT", f"shadow {shadow}", f"ept {ept}")

    # A kernel that cannot find its init panics; panic=-1 reboots at once,
    # through the FADT's reset register: the run ends with the reset status.
    status, out, err = turtles_linux("bare", ["console=ttyS0", "panic=-1",
                                              "rdinit=/nonexistent", "init=/nonexistent"])
    r.check(status == EXIT_RESET and "Kernel panic" in out,
            "turtles: a kernel panic ends the run with the reset status",
            f"status {status}", out.strip()[-400:], err.strip()[-300:])

    with tempfile.TemporaryDirectory() as d:
        # Not a bzImage: a multiboot ELF given as --kernel.
        status, err = turtles(["--kernel", os.path.join(ROOT, "build", "images", "hello.elf")])
        r.check(status == EXIT_BAD_IMAGE and "not a bzImage" in err,
                "turtles: an ELF given as --kernel is not a bzImage", status, err)
        # A bzImage whose protocol is too old.
        old = os.path.join(d, "old-bzImage")
        data = bytearray(open(kernel, "rb").read(0x10000))
        data[0x206:0x208] = (0x0204).to_bytes(2, "little")
        open(old, "wb").write(data)
        status, err = turtles(["--kernel", old])
        r.check(status == EXIT_BAD_IMAGE and "older than 2.10" in err,
                "turtles: a boot protocol older than 2.10 is refused", status, err)
        # Too little RAM for the kernel, and an initrd larger than RAM.
        status, err = turtles(["--mem", "32", "--kernel", kernel])
        r.check(status == EXIT_BAD_IMAGE and "needs RAM" in err,
                "turtles: a kernel larger than RAM is refused", status, err)
        big = os.path.join(d, "big-initrd")
        with open(big, "wb") as f:
            f.truncate(300 << 20)
        status, err = turtles(["--kernel", kernel, "--initrd", big])
        r.check(status == EXIT_BAD_IMAGE and "initrd" in err,
                "turtles: an initrd larger than RAM is refused", status, err)
    for args, why in [
            (["--initrd", initrd, os.path.join(ROOT, "build", "images", "hello.elf")],
             "--initrd without --kernel"),
            (["--kernel", kernel, "console=ttyS0"], "command-line words without --append"),
            (["--kernel", kernel, "--module", initrd], "--module beside --kernel")]:
        status, err = turtles(args)
        r.check(status == EXIT_USAGE and "turtles:" in err,
                f"turtles: {why} is a usage error", status, err)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
