#!/usr/bin/env python3
"""The turtles program itself: bad input gives a clear message and the
documented exit status; runs are deterministic; options do what --help
says. Exit codes are the ones `turtles run --help` documents."""

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rawimage import image_file  # noqa: E402
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXIT_USAGE, EXIT_BAD_IMAGE, EXIT_NO_OUTPUT = 64, 65, 66
EXIT_OUTPUT_LOST = 74
EXIT_TRIPLE_FAULT, EXIT_INSN_LIMIT, EXIT_NO_L2 = 80, 82, 83
GUEST_BAD_ARGS = 4  # RT_EXIT_BAD_ARGS in guests/rt/rt.h


def turtles(args, timeout=120):
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run([prog] + args, cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def image(name):
    return os.path.join(ROOT, "build", "images", name + ".elf")


def scratch_file(data, suffix=".elf"):
    f = tempfile.NamedTemporaryFile(delete=False, suffix=suffix)
    f.write(data)
    f.close()
    return f.name


def hello_bytes():
    with open(image("hello"), "rb") as f:
        return f.read()


def multiboot_header_only():
    """A valid multiboot header (flags 0: no a.out addresses) in a file
    that is not an ELF image."""
    magic, flags = 0x1BADB002, 0
    header = b"".join(v.to_bytes(4, "little")
                      for v in (magic, flags, (-(magic + flags)) & 0xFFFFFFFF))
    return b"\x7fXYZ" + bytes(28) + header + b"junk" * 100


def overlapping_segments():
    """A multiboot ELF32 whose two PT_LOAD segments share 0x100 bytes of
    memory (0x100000-0x1001ff and 0x100100-0x1002ff)."""
    ehdr_size, phdr_size, mb_flags = 52, 32, 0x3
    multiboot = struct.pack("<III", 0x1BADB002, mb_flags,
                            -(0x1BADB002 + mb_flags) & 0xFFFFFFFF)
    data_at = ehdr_size + 2 * phdr_size
    ehdr = struct.pack("<4sBBBB8xHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0,
                       2, 3, 1, 0x100000, ehdr_size, 0, 0, ehdr_size,
                       phdr_size, 2, 0, 0, 0)
    phdrs = b"".join(struct.pack("<IIIIIIII", 1, data_at, pa, pa, 12, 0x200,
                                 7, 4) for pa in (0x100000, 0x100100))
    return ehdr + phdrs + multiboot + bytes(64)


def without_multiboot_header(data):
    magic = (0x1BADB002).to_bytes(4, "little")
    at = data.find(magic)
    assert 0 <= at < 8192, "the test image has no multiboot header"
    return data[:at] + b"\0\0\0\0" + data[at + 4:]


# (name, arguments, expected exit status, text the stderr must contain)
def cases():
    hello = hello_bytes()
    return [
        ("not an ELF file", [scratch_file(multiboot_header_only())],
         EXIT_BAD_IMAGE, "not an ELF file"),
        ("a shell script", [scratch_file(b"#!/bin/sh\necho hi\n" * 10)],
         EXIT_BAD_IMAGE, "no multiboot header"),
        # Cut right after the multiboot header (file offset 0x1000 + 12).
        ("truncated ELF", [scratch_file(hello[:0x1100])],
         EXIT_BAD_IMAGE, "lies outside the file"),
        ("segments outside RAM", ["--mem", "2", image("hello")],
         EXIT_BAD_IMAGE, "outside RAM"),
        ("no multiboot header", [scratch_file(without_multiboot_header(hello))],
         EXIT_BAD_IMAGE, "no multiboot header"),
        ("missing image file", ["/nonexistent/image.elf"],
         EXIT_BAD_IMAGE, "cannot open"),
        ("missing module file", ["--module", "/nonexistent/mod", image("hello")],
         EXIT_BAD_IMAGE, "/nonexistent/mod"),
        ("triple fault", [image("fault"), "--", "kind=tf"],
         EXIT_TRIPLE_FAULT, "triple fault"),
        ("runaway guest", ["--max-insns", "200000", image("fault"), "--", "kind=hang"],
         EXIT_INSN_LIMIT, "instruction limit of 200000"),
        ("unknown option", ["--frobnicate", image("hello")], EXIT_USAGE, "frobnicate"),
        ("bad --mem", ["--mem", "lots", image("hello")], EXIT_USAGE, "--mem"),
        ("bad --max-insns", ["--max-insns", "-5", image("hello")], EXIT_USAGE,
         "--max-insns"),
        ("no image", [], EXIT_USAGE, "no IMAGE"),
        ("unwritable --serial", ["--serial", "/nonexistent/dir/out.txt",
                                 image("hello")], EXIT_NO_OUTPUT, "--serial"),
        # Numbers: digits (or 0x hex) only, nothing around them, no wrap.
        ("--max-insns with a space and a sign", ["--max-insns", " -1",
         image("hello")], EXIT_USAGE, "--max-insns wants a whole number"),
        ("--max-insns past 2^64", ["--max-insns", "18446744073709551616",
         image("hello")], EXIT_USAGE, "--max-insns"),
        ("--max-insns with a suffix", ["--max-insns", "10k", image("hello")],
         EXIT_USAGE, "'10k'"),
        ("--mem with a plus sign", ["--mem", "+16", image("hello")],
         EXIT_USAGE, "--mem wants a whole number from 2 to 4096"),
        ("--mem of a bare 0x", ["--mem", "0x", image("hello")],
         EXIT_USAGE, "--mem"),
        ("--mode misspelt", ["--mode", "nest", image("hello")], EXIT_USAGE,
         "--mode wants bare, single or nested, not 'nest'"),
        # A long path must not push the reason out of the message.
        ("a 620-character path", ["/" + "d" * 600 + "/image.elf"],
         EXIT_BAD_IMAGE, "image.elf: cannot open: File name too long"),
        # Options after IMAGE are a mistake, not the guest's command line.
        ("an option after IMAGE", [image("hello"), "--mem", "1"], EXIT_USAGE,
         "put -- before it"),
        # Options that mean nothing where they are given.
        ("--trace without --db", ["--trace", image("hello")], EXIT_USAGE,
         "--trace only means something with --db"),
        ("--label without --db", ["--label", "x", image("hello")],
         EXIT_USAGE, "--label only means something with --db"),
        ("--l1-args in bare mode", ["--l1-args", "paging=ept", image("hello")],
         EXIT_USAGE, "--l1-args applies to --mode nested only"),
        ("--vmcs-shadowing in single mode", ["--mode", "single",
         "--vmcs-shadowing", "off", image("hello")], EXIT_USAGE,
         "--vmcs-shadowing applies to --mode nested only"),
        ("--merge in bare mode", ["--merge", "full", image("hello")],
         EXIT_USAGE, "--merge applies to --mode nested only"),
        ("--l1 in bare mode", ["--l1", image("l1vmm"), image("hello")],
         EXIT_USAGE, "--l1 applies to --mode nested only"),
        ("--module in nested mode, missing file", ["--mode", "nested",
         "--module", "/nonexistent/mod", image("hello")], EXIT_USAGE,
         "--module: in --mode nested"),
        # Images: overlapping segments; a bad L2 image is a load error.
        ("overlapping ELF segments", [scratch_file(overlapping_segments())],
         EXIT_BAD_IMAGE, "segments 0 (0x100000-0x100200) and 1 "
         "(0x100100-0x100300) overlap in memory"),
        ("garbage L2 image in nested mode", ["--mode", "nested",
         scratch_file(b"garbage" * 100)], EXIT_BAD_IMAGE,
         "no multiboot header"),
        ("overlapping L2 image in nested mode", ["--mode", "nested",
         scratch_file(overlapping_segments())], EXIT_BAD_IMAGE,
         "overlap in memory"),
        ("an --l1 that never enters VMX", ["--mode", "nested", "--l1",
         image("hello"), image("cpuid")], EXIT_NO_L2,
         "without ever entering VMX operation, so L2"),
        # Output that cannot be written is a failure.
        ("--serial /dev/full", ["--serial", "/dev/full", image("hello")],
         EXIT_OUTPUT_LOST, "No space left on device"),
    ]


# (name, turtles run arguments, the guest's status, text its output has):
# every program checks its own command line (guests/rt/cmdline.c).
def guest_argument_cases():
    l1vmm = ["--mode", "nested", "--l1", image("l1vmm")]
    return [
        ("l1vmm: a misspelt key", l1vmm + ["--l1-args", "pagin=shadow",
         image("hello")], "PANIC: l1vmm: unknown argument 'pagin=shadow' "
         "(keys: paging, ram, exit-path, interrupts, exception-bitmap)"),
        ("l1vmm: a bad value", l1vmm + ["--l1-args", "paging=shadw",
         image("hello")], "PANIC: l1vmm: 'paging=shadw': the value must be "
         "one of: ept shadow"),
        ("l1vmm: a number out of range", l1vmm + ["--l1-args", "ram=2048",
         image("hello")], "from 4 to 1024"),
        ("cpuid: not a number", [image("cpuid"), "--", "iters=many"],
         "PANIC: cpuid: 'iters=many': the value must be a number"),
        ("timer takes no arguments", [image("timer"), "--", "x=1"],
         "PANIC: timer: unknown argument 'x=1'"),
        ("hello: a word that is not KEY=VALUE", [image("hello"), "--",
         "--mem", "1"], "PANIC: hello: '--mem' is not KEY=VALUE"),
    ]


def main():
    r = Report("turtles cli")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return r.finish()

    def report(ok, name, detail=()):
        r.check(ok, name, *detail)

    for name, args, want_status, want_text in cases():
        status, out, err = turtles(["run"] + args)
        ok = status == want_status and want_text in err and "Sanitizer" not in err
        report(ok, f"{name}: exit {want_status}",
               [f"exit status {status}", f"stderr: {err.strip()[:400]}"])

    for name, args, want_text in guest_argument_cases():
        status, out, err = turtles(["run"] + args)
        report(status == GUEST_BAD_ARGS and want_text in out,
               f"{name}: the guest refuses it, status {GUEST_BAD_ARGS}",
               [f"exit status {status}", f"stdout: {out.strip()[-300:]}",
                f"stderr: {err.strip()[-300:]}"])

    # Words after IMAGE without -- are still the command line.
    status, out, err = turtles(["run", image("hello"), "rounds=2"])
    report(status == 0 and 'hello.elf rounds=2"' in out,
           "a KEY=VALUE word after IMAGE is the guest's", [status, out[:200]])

    # A closed standard output loses the guest's output: a failure.
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    p = subprocess.run(["sh", "-c", '"$0" run "$1" >&-', prog,
                        image("hello")], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    report(p.returncode == EXIT_OUTPUT_LOST and "standard output" in p.stderr,
           f"a closed standard output: exit {EXIT_OUTPUT_LOST}",
           [p.returncode, p.stderr[-300:]])

    # SIGINT and SIGTERM: the run stops, its output is flushed, it is
    # recorded as interrupted, and the status is 128 + the signal.
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "runs.db")
        for sig in (signal.SIGINT, signal.SIGTERM):
            serial = os.path.join(d, f"serial-{sig}.txt")
            proc = subprocess.Popen(
                [prog, "run", "--db", db, "--serial", serial, image("fault"),
                 "--", "kind=hang"], cwd=ROOT, stderr=subprocess.PIPE,
                text=True)
            # The guest reaches its endless loop within milliseconds (its
            # line stays in turtles' buffer until the end, so wait).
            time.sleep(1.5)
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
            text = open(serial).read() if os.path.exists(serial) else ""
            report(proc.returncode == 128 + sig and
                   "fault: provoking hang" in text and
                   f"stopped by signal {int(sig)}" in err,
                   f"{sig.name}: exit {128 + sig}, output flushed",
                   [proc.returncode, repr(text[:100]), err[-300:]])
        con = sqlite3.connect(db)
        rows = con.execute("select status, exit_code, instructions > 0 from "
                           "runs order by run_id").fetchall()
        con.close()
        report(rows == [("interrupted", 130, 1), ("interrupted", 143, 1)],
               "interrupted runs are recorded as such", [rows])

    # A signal also stops a REP string between two iterations: ECX =
    # 2^32 - 1, REP LODSB, jump back (mov ecx; mov esi; cld; rep lodsb;
    # jmp to the start), no timer, no limit.
    raw = image_file(b"\xb9\xff\xff\xff\xff\xbe\x00\x00\x20\x00\xfc"
                     b"\xf3\xac\xeb\xf2")
    try:
        for mode in ("bare", "single"):
            proc = subprocess.Popen([prog, "run", "--mode", mode, raw],
                                    cwd=ROOT, stderr=subprocess.PIPE,
                                    text=True)
            time.sleep(1.5)
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            report(proc.returncode == 130 and "rep lodsb" in err,
                   f"SIGINT stops a long REP string at once ({mode})",
                   [proc.returncode, err[-300:]])
    finally:
        os.unlink(raw)

    # --help documents every option and exits 0.
    status, out, _ = turtles(["run", "--help"])
    missing = [o for o in ("--mode", "--mem", "--max-insns", "--serial",
                           "--module", "--stats") if o not in out]
    report(status == 0 and not missing, "--help documents every option",
           [f"status {status}, missing {missing}"])

    # Determinism: same image and options, same output and counts.
    runs = [turtles(["run", "--stats", image("hello")]) for _ in range(2)]
    stats = [[l for l in r[2].splitlines() if "stats:" in l] for r in runs]
    report(runs[0][0] == 0 and runs[0][1] == runs[1][1] and stats[0] == stats[1]
           and len(stats[0]) == 1,
           "two runs print the same output and the same counts",
           [f"first: {runs[0][0]} {stats[0]}", f"second: {runs[1][0]} {stats[1]}"])

    # Modules and --serial reach the guest and the file.
    with tempfile.TemporaryDirectory() as d:
        out_path = os.path.join(d, "serial.txt")
        status, out, err = turtles(["run", "--serial", out_path, "--module",
                                    image("cpuid") + "=iters=5", image("hello"),
                                    "--", "rounds=2"])
        text = open(out_path).read() if os.path.exists(out_path) else ""
        report(status == 0 and "1 modules" in text and "rounds=2" in text
               and out == "",
               "--serial receives the output; --module and the command line "
               "reach the guest", [f"status {status}", f"serial: {text[:200]!r}"])

    progress_line(r.check)
    return r.finish()


def on_terminal(args):
    """Runs turtles with stderr on a pseudo-terminal (stdout a pipe) and
    the progress line's delay at 0: (status, stdout, what the terminal
    got)."""
    import pty
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    master, slave = pty.openpty()
    env = dict(os.environ, TURTLES_PROGRESS_DELAY_MS="0")
    p = subprocess.run([prog] + args, cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=slave, env=env, timeout=300)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    return p.returncode, p.stdout, tty.decode(errors="replace")


def progress_line(check):
    """On a terminal a run shows a progress line (guest MIPS, exits,
    modeled time) and erases it at the end; --quiet and a stderr that is
    not a terminal show none; neither changes the guest's output or the
    recorded counts."""
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "p.db")
        run = ["run", "--mode", "single", "--db", db, image("cpuid"), "--",
               "iters=3000"]
        status, out, tty = on_terminal(run)
        check(status == 0 and "MIPS" in tty and " exits, modeled " in tty
              and "\r\x1b[K" in tty and
              "MIPS" not in tty.rsplit("\r\x1b[K", 1)[1],
              "on a terminal, a progress line with MIPS, exits and modeled "
              "time, erased at the end", repr(tty[-300:]))
        q_status, q_out, q_tty = on_terminal(run[:1] + ["--quiet"] + run[1:])
        check(q_status == 0 and "MIPS" not in q_tty,
              "--quiet shows no progress line", repr(q_tty[-200:]))
        pipe = subprocess.run(
            [os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))]
            + run, cwd=ROOT, capture_output=True,
            env=dict(os.environ, TURTLES_PROGRESS_DELAY_MS="0"))
        rows = sqlite3.connect(db).execute(
            "SELECT instructions, cycles, (SELECT group_concat(count || ':' "
            "|| cycles) FROM exit_stats AS e WHERE e.run_id = r.run_id) "
            "FROM runs AS r ORDER BY run_id").fetchall()
        check(b"MIPS" not in pipe.stderr and out == q_out == pipe.stdout
              and len(rows) == 3 and rows[0] == rows[1] == rows[2],
              "the progress line changes neither the output nor the "
              "counts, and a stderr that is not a terminal has none",
              pipe.stderr[-200:], rows)


if __name__ == "__main__":
    sys.exit(main())
