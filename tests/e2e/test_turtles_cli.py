#!/usr/bin/env python3
"""The turtles program itself: bad input gives a clear message and the
documented exit status; runs are deterministic; options do what --help
says. Exit codes are the ones `turtles run --help` documents."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXIT_USAGE, EXIT_BAD_IMAGE, EXIT_NO_OUTPUT = 64, 65, 66
EXIT_TRIPLE_FAULT, EXIT_INSN_LIMIT = 80, 82


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
                                    "--", "greeting=hi"])
        text = open(out_path).read() if os.path.exists(out_path) else ""
        report(status == 0 and "1 modules" in text and "greeting=hi" in text
               and out == "",
               "--serial receives the output; --module and the command line "
               "reach the guest", [f"status {status}", f"serial: {text[:200]!r}"])

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
