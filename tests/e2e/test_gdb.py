#!/usr/bin/env python3
"""The gdb remote stub (`turtles run --gdb PORT`, docs/emulator.md
"Debugging with gdb"), driven by Debian's gdb in batch mode and, for the
protocol's corners, by a raw socket.

- bare: a breakpoint at guests/hello's `main` stops with RIP at the
  address `nm` gives, memory read through the guest's page tables equals
  the ELF file's bytes there and at another function, an unmapped address
  is an error, `stepi` moves RIP to the next instruction of objdump's
  disassembly, a breakpoint at `crc32` (inlined in main) gives registers
  equal to QEMU's gdb stub at the same breakpoint, and the run continued
  to the end prints the RESULT lines, the exit status and the instruction
  and cycle counts of a run without gdb (stopping costs no modeled time;
  the stub's one-instruction batches change nothing).
- nested: with --gdb-level l2 (the default) a breakpoint at hello's main
  (0x100130, where l1vmm has code of its own that L1 runs first) stops in
  L2: the bytes at RIP are hello's; with --gdb-level l1 the same address
  stops in L1 with l1vmm's bytes. Counts and output match a run without
  gdb.
- raw protocol: bad checksums get '-', malformed and unknown packets an
  error or the empty reply, the target description names i386:x86-64,
  registers are written and read back, 0x03 stops a running machine
  (S02), `D` lets the run finish as without gdb, `k` ends it (status 86).
- bad input: a port out of range or in use, --gdb-level without --gdb or
  outside nested mode: a message and a non-zero status."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import Report, arguments  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
TURTLES = os.environ.get("TURTLES", os.path.join(ROOT, "build", "turtles"))
IMAGES = os.path.join(ROOT, "build", "images")
HELLO = os.path.join(IMAGES, "hello.elf")
L1VMM = os.path.join(IMAGES, "l1vmm.elf")
STATS = re.compile(r"turtles: stats: instructions=(\d+) cycles=(\d+) ")
WAITING = re.compile(r"waiting for gdb on localhost:(\d+)")
GENERAL = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + \
    [f"r{n}" for n in range(8, 16)] + ["rip", "eflags", "cs", "ss", "ds",
                                       "es", "fs", "gs"]


def symbol(elf, name):
    out = subprocess.run(["nm", elf], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    raise KeyError(name)


def elf_bytes(elf, addr, n):
    """n bytes of the file's loadable segments at virtual address addr
    (ELF32 or ELF64 program headers, read here, not by the emulator)."""
    data = open(elf, "rb").read()
    is64 = data[4] == 2
    if is64:
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    else:
        phoff, = struct.unpack_from("<I", data, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    for k in range(phnum):
        off = phoff + k * phentsize
        if is64:
            ptype, _, poff, vaddr, _, filesz = struct.unpack_from(
                "<IIQQQQ", data, off)
        else:
            ptype, poff, vaddr, _, filesz = struct.unpack_from(
                "<IIIII", data, off)
        if ptype == 1 and vaddr <= addr and addr + n <= vaddr + filesz:
            return data[poff + addr - vaddr:poff + addr - vaddr + n]
    raise KeyError(hex(addr))


def next_insn(elf, addr):
    """The address of the instruction after the one at addr, by objdump."""
    out = subprocess.run(
        ["objdump", "-d", "-m", "i386:x86-64", f"--start-address={addr}",
         f"--stop-address={addr + 32}", elf],
        capture_output=True, text=True, check=True).stdout
    starts = [int(m[1], 16) for m in re.finditer(r"^\s*([0-9a-f]+):\t",
                                                 out, re.M)]
    return starts[1]


def start_turtles(args):
    """turtles waiting for gdb; (process, port)."""
    p = subprocess.Popen([TURTLES, "run", "--gdb", "0", "--stats"] + args,
                         cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    m = WAITING.search(line)
    if not m:
        p.kill()
        raise RuntimeError(f"turtles did not wait for gdb: {line!r}")
    return p, int(m[1])


def finish(p):
    out, err = p.communicate(timeout=120)
    return p.returncode, out, err


def plain_run(args):
    p = subprocess.run([TURTLES, "run", "--stats"] + args, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def gdb(port, elf, commands):
    argv = ["gdb", "-batch", "-nx", "-ex", "set architecture i386:x86-64",
            "-ex", f"file {elf}", "-ex", f"target remote localhost:{port}"]
    for c in commands:
        argv += ["-ex", c]
    return subprocess.run(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          timeout=120).stdout


def values(out, tag):
    """The `p/x` values printed after `echo TAG:` markers, in order."""
    return [int(v, 16) for v in re.findall(
        rf"{tag}:\n?\$\d+ = (0x[0-9a-f]+)", out)]


def bytes_after(out, tag):
    m = re.search(rf"{tag}:\n((?:0x[0-9a-f]+.*:\s+(?:0x[0-9a-f]{{2}}\s*)+\n)+)",
                  out)
    if not m:
        return None
    return bytes(int(b, 16) for b in re.findall(r"\s(0x[0-9a-f]{2})\b",
                                                 m[1]))


def registers(out):
    """General registers of the first `info registers` in out."""
    regs = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in GENERAL and f[0] not in regs and \
                f[1].startswith("0x"):
            regs[f[0]] = int(f[1], 16)
    return regs


def results(stdout):
    return [line for line in stdout.splitlines()
            if line.startswith(("RESULT", "EXIT"))]


def counts(stderr):
    m = STATS.search(stderr)
    return (int(m[1]), int(m[2])) if m else None


def same_run(r, title, got, plain):
    """The run under gdb ended as the run without it."""
    status, out, err = got
    pstatus, pout, perr = plain
    r.check(status == pstatus == 0, f"{title}: exit status 0 as without gdb",
            f"with gdb {status}, without {pstatus}", err[-600:])
    r.check(results(out) == results(pout) and results(out),
            f"{title}: RESULT lines as without gdb", results(out),
            results(pout))
    r.check(counts(err) == counts(perr) and counts(err),
            f"{title}: instructions and cycles as without gdb",
            counts(err), counts(perr))


def echo(tag, command):
    return [f"echo {tag}:\\n", command]


def check_bare(r, crc_regs):
    main = symbol(HELLO, "main")
    memcpy = symbol(HELLO, "memcpy")
    after = next_insn(HELLO, main)
    p, port = start_turtles([HELLO])
    out = gdb(port, HELLO, ["break main", "continue"] +
              echo("PC", "p/x $pc") + echo("CODE", "x/8xb $pc") +
              echo("MEMCPY", f"x/8xb {memcpy}") +
              echo("UNMAPPED", "x/x 0x7fff00000000") + ["stepi"] +
              echo("STEP", "p/x $pc") +
              ["delete", "break crc32", "continue", "info registers",
               "delete", "continue"])
    got = finish(p)
    r.check(values(out, "PC") == [main], "bare: break main stops at main",
            f"main {main:#x}", out[-1500:])
    r.check(bytes_after(out, "CODE") == elf_bytes(HELLO, main, 8),
            "bare: memory at RIP is the ELF's code", out[-1500:])
    r.check(bytes_after(out, "MEMCPY") == elf_bytes(HELLO, memcpy, 8),
            "bare: memory at memcpy is the ELF's code")
    r.check("Cannot access memory at address 0x7fff00000000" in out,
            "bare: an unmapped address is an error", out[-1500:])
    r.check(values(out, "STEP") == [after],
            "bare: stepi moves RIP to objdump's next instruction",
            f"expected {after:#x}", out[-1500:])
    regs = registers(out)
    crc_regs.append(regs)
    r.check(len(regs) == len(GENERAL), "bare: info registers at crc32",
            out[-1500:])
    r.check("exited normally" in out, "bare: gdb sees the guest exit (W00)",
            out[-800:])
    same_run(r, "bare", got, plain_run([HELLO]))


def check_nested(r):
    """Both levels run the runtime's boot code at `long_mode`, L1 first;
    hello's main (0x100130) is the middle of an instruction of l1vmm's,
    so the bytes there tell the two levels' memory apart."""
    entry = symbol(HELLO, "long_mode")
    r.check(entry == symbol(L1VMM, "long_mode"),
            "nested: L1 and L2 share the address of long_mode")
    main = symbol(HELLO, "main")
    hello_code = elf_bytes(HELLO, main, 8)
    l1_code = elf_bytes(L1VMM, main, 8)
    r.check(hello_code != l1_code,
            "nested: l1vmm has other bytes at hello's main")
    after = next_insn(HELLO, entry)
    nested = ["--mode", "nested", HELLO]
    for level, elf, code, more in (
            ("l2", HELLO, hello_code,
             ["stepi"] + echo("STEP", "p/x $pc") + ["delete", "break main",
                                                    "continue"] +
             echo("MAIN", "p/x $pc")),
            ("l1", L1VMM, l1_code, [])):
        p, port = start_turtles(["--mode", "nested", "--gdb-level", level,
                                 HELLO])
        out = gdb(port, elf, [f"break *{entry:#x}", "continue"] +
                  echo("PC", "p/x $pc") + echo("CODE", f"x/8xb {main:#x}") +
                  more + ["delete", "continue"])
        got = finish(p)
        r.check(values(out, "PC") == [entry] and
                bytes_after(out, "CODE") == code,
                f"nested --gdb-level {level}: a breakpoint at an address "
                f"both levels run stops in {level.upper()} (its bytes in "
                "memory)", out[-1500:])
        if level == "l2":
            r.check(values(out, "STEP") == [after],
                    "nested --gdb-level l2: stepi moves L2's RIP to the "
                    "next instruction", f"expected {after:#x}", out[-1500:])
            r.check(values(out, "MAIN") == [main],
                    "nested --gdb-level l2: break main stops at L2's main",
                    out[-1500:])
        same_run(r, f"nested {level}", got, plain_run(nested))


def check_qemu(r, crc_regs):
    if not shutil.which("qemu-system-x86_64") or not crc_regs:
        r.check(False, "qemu: qemu-system-x86_64 and turtles' registers")
        return
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    q = subprocess.Popen(
        ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-machine",
         "accel=tcg", "-cpu", "max", "-m", "256", "-serial", "null",
         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x4", "-kernel",
         HELLO, "-gdb", f"tcp:127.0.0.1:{port}", "-S"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = ""
    for _ in range(50):  # QEMU takes a moment to listen
        time.sleep(0.1)
        out = gdb(port, HELLO, ["break crc32", "continue", "info registers",
                                "kill"])
        if "Breakpoint 1," in out:
            break
    q.wait(timeout=60)
    qemu = registers(out)
    r.check(qemu == crc_regs[0] and len(qemu) == len(GENERAL),
            "qemu: the general registers at crc32 equal turtles'",
            {k: (hex(v), hex(crc_regs[0].get(k, -1))) for k, v in
             qemu.items() if crc_regs[0].get(k) != v}, out[-800:])


# ---- the raw protocol -------------------------------------------------

def frame(payload):
    return b"$" + payload + b"#" + b"%02x" % (sum(payload) % 256)


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def read(self, n=1):
        while len(self.buf) < n:
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def packet(self):
        """The next packet's payload (acks skipped), its checksum checked
        here."""
        while self.read() != b"$":
            pass
        payload = b""
        while (b := self.read()) != b"#":
            payload += b
        sent = int(self.read(2), 16)
        if sent != sum(payload) % 256:
            raise ValueError(f"bad checksum on {payload!r}")
        self.s.sendall(b"+")
        return payload

    def ask(self, payload):
        self.s.sendall(frame(payload))
        ack = self.read()
        if ack != b"+":
            return ack
        return self.packet()


def check_raw(r):
    p, port = start_turtles([HELLO])
    g = Raw(port)
    g.s.sendall(b"$?#00")
    r.check(g.read() == b"-", "raw: a bad checksum gets '-'")
    r.check(g.ask(b"?") == b"S05", "raw: ? at the first stop gets S05")
    answers = {
        b"mzz,4": b"E01", b"m100000": b"E01", b"M100000,2:zz": b"E01",
        b"Z0,zz,1": b"E01", b"pzz": b"E01", b"P0=12": b"E01",
        b"m7fff00000000,4": b"E14", b"Z2,100000,4": b"", b"Y": b"",
        b"vCont?": b"", b"qAttached": b"1",
    }
    for q, want in answers.items():
        got = g.ask(q)
        r.check(got == want, f"raw: {q.decode()} -> {want.decode()!r}",
                got)
    g.s.sendall(frame(b"m" + b"0" * 5000))
    r.check(g.read() == b"+" and g.packet() == b"E01",
            "raw: a packet longer than PacketSize gets E01")
    xml = g.ask(b"qXfer:features:read:target.xml:0,ffb")
    r.check(xml.startswith(b"l<?xml") and b"i386:x86-64" in xml,
            "raw: the target description names i386:x86-64", xml)
    r15 = g.ask(b"pf")
    r.check(g.ask(b"Pf=8877665544332211") == b"OK" and
            g.ask(b"pf") == b"8877665544332211",
            "raw: a register written reads back")
    g.ask(b"Pf=" + r15)
    regs = g.ask(b"g")
    r.check(len(regs) == 2 * 536, "raw: g sends 536 bytes of registers",
            len(regs))
    g.s.sendall(frame(b"c"))
    g.read()
    time.sleep(0.05)
    g.s.sendall(b"\x03")
    r.check(g.packet() == b"S02", "raw: 0x03 stops the running machine")
    r.check(g.ask(b"D") == b"OK", "raw: D detaches")
    g.s.close()
    same_run(r, "raw detach", finish(p), plain_run([HELLO]))

    p, port = start_turtles([HELLO])
    g = Raw(port)
    g.s.sendall(frame(b"k"))
    status, _, err = finish(p)
    r.check(status == 86 and "gdb killed the run" in err,
            "raw: k ends the run with status 86", status, err[-400:])


def check_bad_input(r):
    cases = [
        (["--gdb", "65536", HELLO], 64, "--gdb wants a whole number"),
        (["--gdb-level", "l1", "--mode", "nested", HELLO], 64,
         "--gdb-level only means something with --gdb"),
        (["--gdb", "0", "--gdb-level", "l1", HELLO], 64,
         "--gdb-level applies to --mode nested only"),
    ]
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    cases.append((["--gdb", str(port), HELLO], 85,
                  f"cannot listen on localhost:{port}"))
    for args, want, text in cases:
        p = subprocess.run([TURTLES, "run"] + args, cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
        r.check(p.returncode == want and text in p.stderr,
                f"bad input: {' '.join(args[:4])} -> {want}",
                p.returncode, p.stderr)
    busy.close()


def main():
    r = Report("gdb")
    args = arguments(__doc__, ["turtles", "qemu"])
    if not shutil.which("gdb"):
        r.check(False, "gdb is installed (scripts/deps.sh)")
        return r.finish()
    crc_regs = []
    if args.wants("turtles") or args.wants("qemu"):
        check_bare(r, crc_regs)
    if args.wants("turtles"):
        check_nested(r)
        check_raw(r)
        check_bad_input(r)
    if args.wants("qemu"):
        check_qemu(r, crc_regs)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
