#!/usr/bin/env python3
"""The fuzzers' saved findings and time rule (docs/fuzzing.md).

Every program in fuzz/regress/ is replayed by guestfuzz (--replay runs
it in bare, single and nested mode with every check: crash, hang,
sanitizer report, determinism, bare/single agreement, and bare and single
under each of --engine step, block and jit, the block engine and the
JIT also building and compiling each block at its first entry, which
must all be the same run)
and must give no finding; where docs/fuzzing.md says what an image
shows, that is checked too. Then the l1fuzz runs that were findings
must end cleanly. Last, fuzz/l1fuzz.sh's hang rule, with a stand-in for
the emulator: a run that uses L1FUZZ_CPU seconds of CPU is a hang, one
that waits longer than that in wall-clock time is not (a loaded
machine)."""

import glob
import os
import re
import subprocess
import sys
import tempfile

from tap import Report, arguments

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# guestfuzz --replay's line per run: "MODE stop=N exit=... : message"
# and under it "serial: xx xx ...".
RUN_LINE = re.compile(r"^(bare|single|nested)\s+stop=\d+ .*?: (.*)$")
STOP_INSN_LIMIT = "instruction limit"
ENGINES = ("step", "block", "jit")


def runs(output):
    """{mode: (stop message, serial bytes as hex text)}, the first run
    of each mode (later ones are the determinism reruns)."""
    found, lines = {}, output.splitlines()
    for n, line in enumerate(lines):
        m = RUN_LINE.match(line)
        if m and m[1] not in found:
            serial = lines[n + 1].split("serial:", 1)[-1].strip() \
                if n + 1 < len(lines) else ""
            found[m[1]] = (m[2], serial)
    return found


def single_prints_as_bare(r, marker, what):
    """Bare mode's serial output holds `marker` (hex text) and single
    mode's is the same."""
    bare, single = r.get("bare", ("", "")), r.get("single", ("", ""))
    problems = []
    if marker not in bare[1]:
        problems.append(f"bare mode printed no {what}: {bare[1]!r}")
    if single[1] != bare[1]:
        problems.append(f"single printed {single[1]!r}, bare {bare[1]!r}")
    return problems


def cr0_nw_without_cd(r):
    """mov cr0 with NW = 1 and CD = 0 is #GP(0) (SDM Vol. 2B "MOV—Move
    to/from Control Registers"): the handler prints 0xee 0x0d, in single
    mode as in bare mode."""
    return single_prints_as_bare(r, "ee 0d", "#GP")


def stops_at_limit(r):
    """Faults that never retire end at --max-insns in bare and single
    mode (docs/emulator.md), instead of running forever."""
    return [f"{mode}: {r.get(mode, ('no run',))[0]}"
            for mode in ("bare", "single")
            if STOP_INSN_LIMIT not in r.get(mode, ("",))[0]]


def wrmsr_feature_control(r):
    """WRMSR IA32_FEATURE_CONTROL := 1 (lock): accepted by the bare
    machine (unlocked at reset), #GP(0) in single mode, where L0 shows the
    MSR locked: the handler prints 0xee 0x0d in single mode only, and the
    program is not compared (docs/fuzzing.md)."""
    bare, single = r.get("bare", ("", "")), r.get("single", ("", ""))
    problems = []
    if not single[1].startswith("ee 0d"):
        problems.append(f"single mode printed no #GP first: {single[1]!r}")
    if bare[1].startswith("ee 0d"):
        problems.append(f"bare mode took a #GP first: {bare[1]!r}")
    return problems


def int_data_breakpoint_reinjected(r):
    """INT 0xaf in 32-bit code with ESP = 4 and a data breakpoint (DR1,
    write, 8 bytes at 0): pushing EFLAGS at 0 hits it, so a #DB trap
    follows the delivery (SDM Vol. 3B 18.2.4: data breakpoints are
    traps), before the 0xaf handler's first instruction. The #DB handler
    reads its vector from the wrapped stack in unbacked memory (0xff),
    sees the 0xaf stub's address as the return address and dumps the
    registers: 0xee 0xff 0xdd. In single mode the push at 0xfffffffc
    meets an EPT violation and L0 injects the INT again; that delivery
    must give the same #DB (SDM Vol. 3C 27.6.1), or ESP in the dump is 12
    bytes (the #DB's frame) higher."""
    return single_prints_as_bare(r, "ee ff dd", "dump after a fault")


def db_data_breakpoint_reinjected(r):
    """MOV DR7 arms a read/write breakpoint on linear 0 (DR0 = 0), then
    POP ESP loads 0 and RET reads its return address there: the #DB trap
    follows the RET, with ESP = 4. Its delivery pushes EFLAGS at 0, which
    the breakpoint watches too, so a second #DB trap follows that
    delivery (cpu/debug.c), its frame 12 bytes further down; its handler,
    reading its vector from unbacked memory (0xff), dumps the registers:
    0xee 0xff 0xdd. In single mode the push at 0xfffffffc meets an EPT
    violation and L0 injects the first #DB again; that delivery hits the
    breakpoint again and must give the same second #DB. Until 3 December
    2026 bare mode dropped the hit, and single mode had once taken the
    injected #DB for a new one (two frames against one)."""
    return single_prints_as_bare(r, "ee ff dd", "dump after a fault")


def rdmsr_tsc_not_compared(out):
    """MOV ECX, 0x10; RDMSR reads IA32_TSC, which L0's MSR bitmap lets
    the guest read without an exit; the TSC counts modeled cycles, which
    single mode spends in exits too, so the registers differ (a dump one
    apart, or the registers at the instruction limit) and the program is
    not compared: its code holds RDMSR's opcode bytes."""
    return ([] if "bare/single comparable: no" in out
            else ["compared bare against single"])


# What an image documents, beyond "no finding" (given the runs; those
# given the output lines are listed in DOCUMENTED_OUTPUT).
DOCUMENTED_OUTPUT = {
    "rdmsr-tsc-single.img": rdmsr_tsc_not_compared,
    "rdmsr-tsc-at-limit.img": rdmsr_tsc_not_compared,
}
DOCUMENTED = {
    "wrmsr-feature-control-single.img": wrmsr_feature_control,
    "cr0-nw-without-cd-single.img": cr0_nw_without_cd,
    "hang-max-insns-bare.img": stops_at_limit,
    "int-data-breakpoint-reinjected-single.img": int_data_breakpoint_reinjected,
    "db-data-breakpoint-reinjected-single.img": db_data_breakpoint_reinjected,
}


def replay(guestfuzz, path):
    """guestfuzz --replay of one image: the process and its FINDING lines."""
    p = subprocess.run([guestfuzz, "--replay", path],
                       capture_output=True, text=True, timeout=600)
    return p, [line for line in p.stdout.splitlines()
               if line.startswith("FINDING")]


def check_regress(report, guestfuzz):
    images = sorted(glob.glob(os.path.join(ROOT, "fuzz", "regress", "*.img")))
    report.check(bool(images), "fuzz/regress holds images")
    for path in images:
        name = os.path.basename(path)
        title = f"guestfuzz --replay {name}"
        try:
            p, problems = replay(guestfuzz, path)
        except subprocess.TimeoutExpired:
            report.check(False, title, "no end within 600 s")
            continue
        out = p.stdout.splitlines()
        if p.returncode != 0 and not problems:
            problems.append(f"status {p.returncode}: {p.stderr.strip()[-300:]}")
        r = runs(p.stdout)
        problems += [f"no {mode} run" for mode in ("bare", "single", "nested")
                     if mode not in r]
        problems += [f"no {mode} run under --engine {engine}"
                     for mode in ("bare", "single") for engine in ENGINES
                     if not re.search(rf"^{mode}\s+stop=.* engine={engine} ",
                                      p.stdout, re.M)]
        problems += [f"no {mode} run under --engine {engine} with blocks "
                     "from the first entry"
                     for mode in ("bare", "single") for engine in ENGINES[1:]
                     if not re.search(rf"^{mode}\s+stop=.* engine={engine} "
                                      r"\(blocks from the first entry\)",
                                      p.stdout, re.M)]
        if name in DOCUMENTED and not problems:
            problems += DOCUMENTED[name](r)
        if name in DOCUMENTED_OUTPUT and not problems:
            problems += DOCUMENTED_OUTPUT[name](out)
        report.run_check(problems, title, out, 12)


# fuzz/layout.h: the program's mode, a u32 at IMG_P_MODE (file offset).
IMG_P_MODE_OFFSET = 0x40
PROG_MODES = {0: "32-bit", 1: "64-bit"}


# fuzz/layout.h: the first slot of generated code (IMG_CODE - IMG_LOAD).
IMG_CODE_OFFSET = 0x8000


def replay_template(guestfuzz, build, mode, code=b""):
    """guestfuzz --replay of the template (fuzz/image.S) in `mode`, its
    first slot starting with `code` (NOPs after it)."""
    with open(os.path.join(build, "fuzz", "image.bin"), "rb") as f:
        template = bytearray(f.read())
    template[IMG_P_MODE_OFFSET:IMG_P_MODE_OFFSET + 4] = \
        mode.to_bytes(4, "little")
    template[IMG_CODE_OFFSET:IMG_CODE_OFFSET + len(code)] = code
    with tempfile.NamedTemporaryFile(suffix=".img") as img:
        img.write(template)
        img.flush()
        return replay(guestfuzz, img.name)


def check_template_comparable(report, guestfuzz, build):
    """The template's program of NOPs, in each mode, is compared bare
    against single: it uses nothing that legitimately differs, and the
    processor's own Accessed/Dirty updates of the template's page tables
    are no change of them (docs/fuzzing.md)."""
    for mode, name in PROG_MODES.items():
        p, problems = replay_template(guestfuzz, build, mode)
        out = p.stdout.splitlines()
        if "bare/single comparable: yes" not in out:
            problems.append("not compared bare against single")
        report.run_check(problems, f"guestfuzz --replay of the template's "
                         f"{name} program of NOPs: compared bare against "
                         "single, no finding", out, 12)


# Programs that loop until --max-insns (JMP to itself), after an exit
# that L0 completes within its step (OUT imm8, AL) or one after which it
# runs the same instruction again (OUTSB: a step more than in bare mode),
# and whether bare against single compares them (fuzz/check.c).
LIMIT_PROGRAMS = [
    ("JMP $", b"\xeb\xfe", "yes"),
    ("OUT 0x80, AL; JMP $", b"\xe6\x80\xeb\xfe", "yes"),
    ("OUTSB; JMP $", b"\x6e\xeb\xfe", "no"),
]


def check_limit_comparable(report, guestfuzz, build):
    for mode, name in PROG_MODES.items():
        for asm, code, want in LIMIT_PROGRAMS:
            p, problems = replay_template(guestfuzz, build, mode, code)
            out = p.stdout.splitlines()
            r = runs(p.stdout)
            problems += [f"{m}: {r.get(m, ('no run',))[0]}"
                         for m in ("bare", "single")
                         if STOP_INSN_LIMIT not in r.get(m, ("",))[0]]
            if f"bare/single comparable: {want}" not in out:
                problems.append(f"bare/single comparable is not {want}")
            report.run_check(problems, f"guestfuzz --replay of {asm} "
                             f"({name}): stopped at the limit, compared "
                             f"bare against single: {want}, no finding",
                             out, 12)


# l1fuzz runs that were findings (docs/fuzzing.md), replayed as
# fuzz/l1fuzz.sh ran them: (seed, VMCS shadowing, merge, what they showed).
L1FUZZ_FINDINGS = [
    (1796217755, "on", "dirty",
     "L2 loaded CR3 with EPT12's PML4 and wrote L1's code: #PF in L1"),
    (1796218620, "off", "full",
     "L2 loaded CR3 with EPT12's PML4 and wrote L1's code: METRIC lost"),
]


def check_l1fuzz_findings(report, turtles, build):
    """Each run ends cleanly (status 0, the METRIC line) where the fuzzer
    once found L2 writing L1's memory; l1fuzz itself panics if L2 wrote
    its code or read-only data."""
    for seed, shadowing, merge, what in L1FUZZ_FINDINGS:
        cmd = [turtles, "run", "--mode", "nested", "--vmcs-shadowing",
               shadowing, "--merge", merge, "--max-insns", "200000000",
               "--l1", os.path.join(build, "images", "l1fuzz.elf"),
               "--l1-args", f"seed={seed} rounds=50",
               os.path.join(build, "images", "hello.elf")]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        out = p.stdout.splitlines()
        problems = [] if p.returncode == 0 else [f"status {p.returncode}"]
        if not any(line.startswith("METRIC l1fuzz") for line in out):
            problems.append("no METRIC line")
        report.run_check(problems, f"l1fuzz seed={seed} shadowing {shadowing}"
                         f" merge {merge} ends cleanly (was: {what})", out, 8)


# Stands in for turtles-san: spins on the CPU or sleeps (FAKE), then
# prints what an l1fuzz run that ended cleanly prints.
FAKE_EMULATOR = """#!/bin/sh
[ "$FAKE" = sleep ] && sleep 4
exec python3 -c 'import os, time
while os.environ["FAKE"] == "spin" and time.process_time() < 4: pass
print("METRIC l1fuzz launches=1 l2_reached=1")'
"""


def check_l1fuzz_time_rule(report):
    with tempfile.TemporaryDirectory(prefix="l1fuzz-rule") as tmp:
        build = os.path.join(tmp, "build")
        os.makedirs(build)
        fake = os.path.join(build, "turtles-san")
        with open(fake, "w") as f:
            f.write(FAKE_EMULATOR)
        os.chmod(fake, 0o755)
        for kind, hang in (("spin", True), ("sleep", False)):
            findings = os.path.join(tmp, "findings-" + kind)
            env = dict(os.environ, FAKE=kind, L1FUZZ_CPU="1", BUILD=build)
            p = subprocess.run(["sh", os.path.join(ROOT, "fuzz", "l1fuzz.sh"),
                                "1", "1", findings], capture_output=True,
                               text=True, env=env, timeout=120)
            saved = sorted(os.listdir(findings))
            got = bool(saved) and all("-hang-" in s for s in saved)
            want = "a hang" if hang else "no finding"
            report.check(got == hang and (hang or not saved),
                         f"l1fuzz.sh: a run that {'uses' if hang else 'waits'}"
                         f" 4 s over a CPU limit of 1 s is {want}",
                         f"findings: {saved}", p.stdout.strip()[-300:])


def main():
    report = Report("fuzz-regress")
    args = arguments(__doc__, ["turtles"])
    if not args.wants("turtles"):
        return report.finish()
    guestfuzz = os.environ.get(
        "GUESTFUZZ", os.path.join(ROOT, "build", "host", "fuzz", "guestfuzz"))
    check_regress(report, guestfuzz)
    build = os.path.join(ROOT, args.build)
    check_template_comparable(report, guestfuzz, build)
    check_limit_comparable(report, guestfuzz, build)
    check_l1fuzz_findings(report, os.environ.get(
        "TURTLES", os.path.join(build, "turtles")), build)
    check_l1fuzz_time_rule(report)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
