#!/usr/bin/env python3
"""KVM as L1 (make kvm-l1, docs/kvm-l1.md): Debian's kernel runs in
--mode nested as L1 on L0's emulated VMX, loads kvm.ko and kvm-intel.ko
from its own package, and kvmrun runs a multiboot image as L2 under KVM.

One boot (about 2.3 G instructions): L1 reaches /dev/kvm with EPT, VPID
and unrestricted guest on (kvm-intel accepted L0's capability MSRs), the
L2 cpuid guest prints the RESULT line computed here, kvmrun prints
KVM's statistics, and L0's database holds L2's CPUIDs as exits L1
handled (handler 1, guest 2) and L1's VMRESUMEs. Then the options that
choose the L1 are checked for the mistakes a user can make."""

import os
import re
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expected  # noqa: E402
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXIT_USAGE, EXIT_BAD_IMAGE = 64, 65
REASON_CPUID, REASON_VMRESUME = 10, 24
ITERS = 200


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def turtles(args, timeout=60):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog, "run"] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout.replace("\r", ""), p.stderr


def kernel_release():
    pins = open(os.path.join(ROOT, "guests", "linux", "versions.mk")).read()
    abi = re.search(r"^LINUX_KERNEL_ABI := (\S+)", pins, re.M).group(1)
    return f"{abi}-cloud-amd64"


def main():
    r = Report("kvm-l1")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()
    if not os.path.exists(os.path.join(ROOT, "build", "kvm-l1", "initrd.gz")):
        r.check(False, "the KVM-as-L1 initramfs is built", "run `make kvm-l1`")
        return r.finish()

    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "kvm.db")
        status, out, err = turtles(
            ["--mode", "nested", "--l1", "kvm", "--max-insns", "8000000000",
             "--db", db, image("cpuid"), "--", f"iters={ITERS}"], timeout=1200)
        lines = out.splitlines()
        r.check(status == 0, "KVM-as-L1 runs the cpuid guest to status 0",
                f"status {status}", out.strip()[-800:], err.strip()[-400:])
        want = (f"RESULT kvm-l1 kernel={kernel_release()} kvm_intel=loaded "
                "ept=Y vpid=Y unrestricted_guest=Y")
        r.check(want in lines, "kvm-intel loads with EPT, VPID and "
                "unrestricted guest", f"want {want}",
                [l for l in lines if "kvm-l1" in l])
        l2 = [l[len("[L2] "):] for l in lines if l.startswith("[L2] RESULT")]
        r.check(l2 == [expected.cpuid(ITERS)], "L2 prints its RESULT line "
                "under KVM", f"want {[expected.cpuid(ITERS)]}", f"got {l2}")
        stats = dict(re.findall(r"^KVMSTATS stat=(\w+) value=(\d+)$", out,
                                re.M))
        r.check("KVMSTATS begin l2_status=0" in lines and
                "KVMSTATS end" in lines and
                int(stats.get("exits", 0)) >= ITERS and
                int(stats.get("io_exits", 0)) > 0,
                "kvmrun prints KVM's statistics: at least one exit per CPUID",
                f"exits={stats.get('exits')} io_exits={stats.get('io_exits')}")
        rows = {}
        if os.path.exists(db):
            con = sqlite3.connect(db)
            rows = dict(((h, g, reason), n) for h, g, reason, n in
                        con.execute("select handler_level, guest_level, "
                                    "reason, count from exit_stats"))
            con.close()
        l2_cpuid = rows.get((1, 2, REASON_CPUID), 0)
        resumes = rows.get((0, 1, REASON_VMRESUME), 0)
        r.check(l2_cpuid >= ITERS and resumes >= l2_cpuid,
                "L0's database: L2's CPUIDs are exits L1 (KVM) handles, "
                "each ended by L1's VMRESUME",
                f"(1, 2, CPUID) = {l2_cpuid}", f"(0, 1, VMRESUME) = {resumes}")

    kernel = os.path.join(ROOT, "build", "linux", "vmlinuz")
    for args, code, says, why in [
            (["--mode", "nested", "--l1-kernel", kernel, image("hello")],
             EXIT_USAGE, "--l1-kernel", "--l1-kernel without --l1 kvm"),
            (["--mode", "nested", "--l1", image("l1vmm"), "--l1-initrd",
              kernel, image("hello")], EXIT_USAGE, "--l1 kvm",
             "--l1-initrd with another L1"),
            (["--mode", "nested", "--l1", "kvm", "--kernel", kernel],
             EXIT_USAGE, "not supported", "Linux as L2 under KVM"),
            (["--mode", "nested", "--l1", "kvm", kernel], EXIT_BAD_IMAGE,
             "vmlinuz", "a bzImage as KVM's multiboot L2 image"),
            (["--mode", "nested", "--l1", "kvm", "--l1-initrd",
              "/nonexistent/initrd", image("hello")], EXIT_BAD_IMAGE,
             "/nonexistent/initrd", "a missing L1 initrd")]:
        status, out, err = turtles(args)
        r.check(status == code and says in err, f"turtles: {why} is refused "
                f"(status {code})", f"status {status}", err.strip())
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
