"""Multiboot images made of a few raw instruction bytes, for reproducers
that must run before any runtime code: one ELF32 segment loaded at
1 MiB holding the ELF header, the multiboot header and the code, which
starts in 32-bit protected mode with paging off (multiboot 0.6.96 3.2)."""

import struct
import tempfile

LOAD = 0x100000
HEADER_AT = 0x60          # multiboot header, 4-byte aligned, first 8 KiB
CODE_AT = 0x70            # entry point
MB_MAGIC = 0x1BADB002


def image_bytes(code):
    mb = struct.pack("<III", MB_MAGIC, 0, (-MB_MAGIC) & 0xFFFFFFFF)
    body = bytearray(CODE_AT) + bytes(code)
    body[HEADER_AT:HEADER_AT + len(mb)] = mb
    ident = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)  # 32-bit, LE, v1
    ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, LOAD + CODE_AT,
                               52, 0, 0, 52, 32, 1, 40, 0, 0)
    phdr = struct.pack("<IIIIIIII", 1, 0, LOAD, LOAD, len(body), len(body),
                       7, 0x1000)
    body[0:len(ehdr) + len(phdr)] = ehdr + phdr
    return bytes(body)


def image_file(code):
    """Writes the image to a temporary file and returns its path."""
    f = tempfile.NamedTemporaryFile(delete=False, suffix=".elf")
    f.write(image_bytes(code))
    f.close()
    return f.name
