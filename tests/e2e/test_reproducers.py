#!/usr/bin/env python3
"""Reproducers of issue 9 as raw-code images (tests/e2e/rawimage.py):
each runs in bare and single mode and must end with the stated status,
within a time limit (a hang is a failure). Under `make SAN=1 test`
TURTLES is the sanitizer build, so a UBSan report fails the case too."""

import os
import subprocess
import sys

from rawimage import image_file
from tap import Report, arguments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXIT_INSN_LIMIT = 82
MODES = ("bare", "single")

# x86 encodings, 32-bit code.
OUT_F4 = b"\xe6\xf4"                      # out 0xf4, al
def mov_al(v): return b"\xb0" + bytes([v])
def mov_ecx(v): return b"\xb9" + v.to_bytes(4, "little")
def mov_esi(v): return b"\xbe" + v.to_bytes(4, "little")
CLD = b"\xfc"
REP_LODSB = b"\xf3\xac"

# (name, code, extra options, expected exit status)
CASES = [
    # Item 2: conditions that read OF before any arithmetic (JO, JL, JLE,
    # JG with displacement 0), then exit 42.
    ("Jcc before any arithmetic",
     b"\x70\x00\x7c\x00\x7e\x00\x7f\x00" + mov_al(42) + OUT_F4, [], 42),
    # Item 1: a REP string of 2^32 - 1 iterations stops at the limit.
    ("rep lodsb stops at --max-insns",
     mov_ecx(0xFFFFFFFF) + mov_esi(0x200000) + CLD + REP_LODSB + OUT_F4,
     ["--max-insns", "10"], EXIT_INSN_LIMIT),
]


def main():
    prog = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
    report = Report("reproducers")
    if not arguments(__doc__, ["turtles"]).wants("turtles"):
        return report.finish()
    for name, code, opts, want in CASES:
        path = image_file(code)
        try:
            for mode in MODES:
                title = f"{name} ({mode})"
                try:
                    p = subprocess.run([prog, "run", "--mode", mode] + opts +
                                       [path], capture_output=True,
                                       text=True, timeout=60)
                except subprocess.TimeoutExpired:
                    report.check(False, title, "no end within 60 s")
                    continue
                report.check(p.returncode == want, title,
                             f"status {p.returncode}, wanted {want}",
                             p.stderr.strip()[-400:])
        finally:
            os.unlink(path)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
