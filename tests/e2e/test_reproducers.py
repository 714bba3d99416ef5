#!/usr/bin/env python3
"""Reproducers of issue 9 as raw-code images (tests/e2e/rawimage.py):
each runs in bare and single mode and must end with the stated status,
within a time limit (a hang is a failure). Under `make SAN=1 test`
TURTLES is the sanitizer build, so a UBSan report fails the case too."""

import os
import subprocess
import sys

from rawimage import CODE_AT, LOAD, image_file
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
# The PIT's counter 0 periodic (mode 2, count 65536), every IRQ masked
# at the 8259.
MASKED_PIT = b"\xb0\x34\xe6\x43" + b"\xb0\x00\xe6\x40\xe6\x40" + \
    b"\xb0\xff\xe6\x21"



def with_handlers(handlers, before):
    """Code that loads a flat GDT (multiboot gives none; code at 0x08)
    and an IDT whose gate v leads to handlers[v], then runs `before`, a
    function of the handlers' addresses ({vector: address})."""
    top = max(handlers)

    def assemble(at, tables):
        gdtr, idtr = tables, tables + 6
        c = bytearray()
        c += b"\x0f\x01\x15" + gdtr.to_bytes(4, "little")  # lgdt [gdtr]
        c += b"\x0f\x01\x1d" + idtr.to_bytes(4, "little")  # lidt [idtr]
        for vector in sorted(handlers):
            gate = tables + 12 + 24 + 8 * vector
            c += b"\xc7\x05" + gate.to_bytes(4, "little") + \
                (0x80000 | at[vector] & 0xFFFF).to_bytes(4, "little")
            c += b"\xc7\x05" + (gate + 4).to_bytes(4, "little") + \
                (0x8E00 | (at[vector] >> 16) << 16).to_bytes(4, "little")
        return c + before(at)
    # The layout does not depend on the addresses: assemble twice.
    base = LOAD + CODE_AT
    at, next_at = {}, base + len(assemble({v: 0 for v in handlers}, 0))
    for vector in sorted(handlers):
        at[vector] = next_at
        next_at += len(handlers[vector])
    tables = next_at
    code = assemble(at, tables) + b"".join(handlers[v]
                                           for v in sorted(handlers))
    gdt = bytes(8) + (0x00CF9A000000FFFF).to_bytes(8, "little") + \
        (0x00CF92000000FFFF).to_bytes(8, "little")
    idt_size = 8 * (top + 1)
    code += (23).to_bytes(2, "little") + (tables + 12).to_bytes(4, "little")
    code += (idt_size - 1).to_bytes(2, "little") + \
        (tables + 36).to_bytes(4, "little")
    return bytes(code + gdt + bytes(idt_size))


def with_handler(vector, before, handler):
    """with_handlers() for one vector; `before` takes its address."""
    return with_handlers({vector: handler}, lambda at: before(at[vector]))


def db_fault_on_own_handler():
    """An instruction breakpoint (DR0, DR7.L0) on the first byte of the
    #DB handler, then a jump there: each #DB fault is delivered to the
    handler, whose first fetch faults again, with no instruction ever
    retiring. Delivery clears RF (SDM Vol. 3A 6.12.1), so the processor
    loops forever; only --max-insns can end it."""
    def arm(handler_at):
        return (b"\xb8" + handler_at.to_bytes(4, "little") +
                b"\x0f\x23\xc0" +                     # mov dr0, eax
                b"\xb8\x01\x00\x00\x00\x0f\x23\xf8")  # dr7: L0, execute
    return with_handler(1, arm, b"\x90" + OUT_F4)  # never retires


def ins_faulting_write():
    """INSB whose write faults (#GP(0): ES is null, SDM Vol. 2A "INS")
    must not consume the port's data. The PIT's counter 0 is latched
    (0xABCD loaded a few ticks ago, so its high byte is 0xAB); if INSB
    read the low byte before faulting, the #GP handler's first read
    returns the high byte. Exit 42 when the handler reads low then high, 1 otherwise."""
    def setup(_):
        return (b"\xb0\x30\xe6\x43" +        # counter 0, LSB+MSB, mode 0
                b"\xb0\xcd\xe6\x40\xb0\xab\xe6\x40" +  # count 0xABCD
                mov_ecx(2000) + b"\xe2\xfe" +  # a few ticks: it has loaded
                b"\xb0\x00\xe6\x43" +        # latch counter 0
                b"\x31\xc0\x8e\xc0" +        # mov es, 0 (null)
                b"\x66\xba\x40\x00" +        # mov dx, 0x40
                b"\x6c" + mov_al(2) + OUT_F4)  # insb: must fault
    handler = (b"\xe4\x40\x3c\xab\x74\x0a" +  # in al, 0x40; je bad
               b"\xe4\x40\x3c\xab\x75\x04" +  # in al, 0x40; jne bad
               mov_al(42) + OUT_F4 + mov_al(1) + OUT_F4)
    return with_handler(13, setup, handler)


def trap_frame_above_ram():
    """A data breakpoint (DR0 = 0, DR7: L0, write, 4 bytes) hit by a PUSH
    that leaves ESP at 0: the #DB trap's frame is pushed at 0xFFFFFFF4,
    above RAM, where writes are dropped. In single mode that push is an
    EPT violation during event delivery, and resuming does not hit the
    breakpoint again: L0 must inject the trap again (SDM Vol. 3C 28.2.4).
    Exit 42 from the #DB handler, 1 if the trap was lost."""
    return with_handler(1, lambda _: b"\x31\xc0\x0f\x23\xc0" +       # mov dr0, 0
                        b"\xb8\x01\x00\x0d\x00\x0f\x23\xf8" +      # mov dr7, 0xd0001
                        b"\xbc\x04\x00\x00\x00\x50" +              # mov esp, 4; push eax
                        mov_al(1) + OUT_F4, mov_al(42) + OUT_F4)


def db_reads_own_gate():
    """A read/write breakpoint (DR0, DR7: L0, R/W 11, 4 bytes) on the
    IDT's gate 1, then INT1: its delivery reads the gate, so a #DB trap
    follows before the handler's first instruction, and each #DB's
    delivery reads the gate again (SDM Vol. 3B 18.3.1.2: the accesses of
    an event's delivery are watched too). No instruction retires again;
    only --max-insns ends it. The handler exits 42, which it did when the
    hits of a #DB's own delivery were dropped."""
    handler = mov_al(42) + OUT_F4

    def arm(handler_at):
        # The tables follow the handler: GDTR, IDTR, a 3-entry GDT, the IDT.
        gate = handler_at + len(handler) + 12 + 24 + 8
        return (b"\xb8" + gate.to_bytes(4, "little") +
                b"\x0f\x23\xc0" +                     # mov dr0, eax
                b"\xb8\x01\x00\x0f\x00\x0f\x23\xf8" +  # dr7: 0xf0001
                b"\xf1" + mov_al(1) + OUT_F4)          # int1
    return with_handler(1, arm, handler)


def mov_to(addr, value):
    """mov dword [addr], value"""
    return b"\xc7\x05" + addr.to_bytes(4, "little") + \
        value.to_bytes(4, "little")


def breakpoint_after_paused_string():
    """A REP STOSB of 2^24 bytes paused by the LAPIC timer (vector 0x40);
    the timer's handler sets TF and runs LODSB, on which DR0 holds an
    instruction breakpoint: a #DB fault before LODSB with DR6.B0 and not
    BS (SDM Vol. 3B 18.3.1.1, 18.3.1.4). A flag left from the paused
    string took LODSB for it and reported BS. Exit 42 from the #DB
    handler when DR6 is right and ECX shows the STOSB was cut short; 3
    otherwise; 1 if the timer never came."""
    timer, db, count, apic = 0x40, 1, 1 << 24, 0xFEE00000
    lodsb_offset = 1 + 7 + 1          # pushfd, or [esp], popfd
    handler = (b"\x9c" + b"\x81\x0c\x24\x00\x01\x00\x00" + b"\x9d" +
               b"\xac" + mov_al(2) + OUT_F4)
    check = (b"\x0f\x21\xf0" +                  # mov eax, dr6
             b"\x25\x0f\x40\x00\x00" +          # and eax, B0-B3 | BS
             b"\x83\xf8\x01\x75\x10" +          # cmp eax, 1; jne bad
             b"\x81\xf9" + count.to_bytes(4, "little") +
             b"\x73\x08" +                      # cmp ecx, count; jae bad
             b"\x85\xc9\x74\x04" +              # test ecx, ecx; jz bad
             mov_al(42) + OUT_F4 +               # good
             mov_al(3) + OUT_F4)                 # bad

    def program(at):
        return (b"\xb8" + (at[timer] + lodsb_offset).to_bytes(4, "little") +
                b"\x0f\x23\xc0" +                  # mov dr0, eax
                b"\xb8\x01\x00\x00\x00\x0f\x23\xf8" +  # dr7: L0, execute
                mov_to(apic + 0xF0, 0x1FF) +        # LAPIC enabled
                mov_to(apic + 0x320, timer) +       # one-shot at 0x40
                mov_to(apic + 0x3E0, 0xB) +         # divide by 1
                mov_ecx(count) + b"\xbf\x00\x00\x20\x00" +  # edi = 2 MiB
                b"\x31\xc0" +                        # xor eax, eax
                mov_to(apic + 0x380, 100000) +      # initial count
                b"\xfb\x90\xf3\xaa" +                # sti; nop; rep stosb
                mov_al(1) + OUT_F4)
    return with_handlers({db: check, timer: handler}, program)


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
    # Found by guestfuzz: faults that never retire an instruction count
    # against the limit too.
    ("#DB fault on its own handler stops at --max-insns",
     db_fault_on_own_handler(), ["--max-insns", "1000"], EXIT_INSN_LIMIT),
    # Found by the events work: HLT with IF = 1 while the PIT runs but
    # the 8259 masks its IRQ. Each PIT period wakes the halted CPU and
    # nothing is delivered, so time runs on while nothing retires; the
    # wake-ups count against the limit.
    ("HLT under a masked periodic timer stops at --max-insns",
     MASKED_PIT +
     b"\xfb\xf4\xeb\xfd",                    # sti; hlt; jmp hlt
     ["--max-insns", "1000"], EXIT_INSN_LIMIT),
    # The same without the loop: nothing is delivered, so the CPU stays
    # halted and never runs the exit after HLT. Single mode resumed the
    # guest after HLT at each timer event (status 1).
    ("HLT under a masked periodic timer stays halted",
     MASKED_PIT +
     b"\xfb\xf4" + mov_al(1) + OUT_F4,        # sti; hlt; exit 1
     ["--max-insns", "1000"], EXIT_INSN_LIMIT),
    # Found by guestfuzz (seed 20261202): L0 dropped the event whose
    # delivery an EPT violation interrupted (there, a data breakpoint).
    ("a #DB trap whose frame is pushed above RAM is delivered",
     trap_frame_above_ram(), [], 42),
    # Each #DB's delivery hits a breakpoint on its own gate: it repeats,
    # one step each, up to the limit (docs/emulator.md, "Debug").
    ("a #DB whose delivery reads a watched gate repeats to the limit",
     db_reads_own_gate(), ["--max-insns", "1000"], EXIT_INSN_LIMIT),
    # INS checks its destination before it reads the port.
    ("INS whose write faults leaves the port's data", ins_faulting_write(),
     [], 42),
    # A REP string paused by an interrupt must not make the handler's
    # next string instruction look paused (cpu.h string_paused).
    ("a breakpoint after a paused REP string is a plain #DB fault",
     breakpoint_after_paused_string(), [], 42),
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
