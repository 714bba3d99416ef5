#!/usr/bin/env python3
"""Debian's Linux kernel and our initramfs (make linux, docs/linux.md).

The workloads' RESULT lines are computed independently first: the same
workload scripts run on the host under the same busybox binary, with only
busybox's applets on PATH. QEMU TCG, the reference machine, must print
exactly those lines for each workload and exit with status 0 through
isa-debug-exit. turtles' Linux loader (--kernel/--initrd/--append) must
refuse what the boot protocol cannot start, with the load-error status and
a message that says why."""

import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINUX = os.path.join(ROOT, "build", "linux")
WORKLOADS = os.path.join(ROOT, "guests", "linux", "rootfs", "workloads")
EXIT_USAGE, EXIT_BAD_IMAGE = 64, 65

# Short enough for make test; experiments run the long versions.
CASES = [("boot", ""), ("process", "2"), ("compute", "64")]


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


def qemu(workload, rounds):
    cmdline = ["console=ttyS0", "quiet", "panic=-1", f"workload={workload}"]
    if rounds:
        cmdline.append(f"rounds={rounds}")
    p = subprocess.run([os.path.join(ROOT, "scripts", "qemu-run.sh"),
                        "--timeout", "240", "--initrd",
                        os.path.join(LINUX, "initrd.gz"),
                        os.path.join(LINUX, "vmlinuz")] + cmdline,
                       capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def turtles(args):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run"] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    return p.returncode, p.stderr


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
