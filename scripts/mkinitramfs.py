#!/usr/bin/env python3
"""Writes a gzip-compressed initramfs (the kernel's "newc" cpio format,
Documentation/driver-api/early-userspace/buffer-format.rst) from a list of
entries, without root and without the cpio tool: device nodes such as
/dev/console are written as archive entries, never created on the host.
Timestamps and owners are fixed, so the same inputs give the same bytes.

    mkinitramfs.py OUT.gz ENTRY...

ENTRY is one of
    dir:PATH                     a directory (mode 0755)
    file:PATH=HOSTFILE[:MODE]    a regular file (MODE in octal, default
                                 0755 if HOSTFILE is executable, else 0644)
    dev:PATH=c,MAJOR,MINOR       a character device (mode 0600)
"""
import gzip
import os
import stat
import sys


def header(ino, mode, size, name, rdev=(0, 0), nlink=1):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1],
              len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return b"\0" * (-n % 4)


def entry(ino, mode, name, data=b"", rdev=(0, 0)):
    raw = name.encode()
    out = header(ino, mode, len(data), name, rdev) + raw + b"\0"
    out += pad4(len(out))
    out += data + pad4(len(data))
    return out


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    archive = b""
    for ino, spec in enumerate(argv[1:], start=1):
        kind, _, rest = spec.partition(":")
        path, _, source = rest.partition("=")
        path = path.lstrip("/")
        if kind == "dir":
            archive += entry(ino, stat.S_IFDIR | 0o755, path)
        elif kind == "file":
            host, _, mode = source.partition(":")
            with open(host, "rb") as f:
                data = f.read()
            if mode:
                perm = int(mode, 8)
            else:
                perm = 0o755 if os.access(host, os.X_OK) else 0o644
            archive += entry(ino, stat.S_IFREG | perm, path, data)
        elif kind == "dev":
            what, major, minor = source.split(",")
            if what != "c":
                sys.exit(f"mkinitramfs: only character devices: {spec}")
            archive += entry(ino, stat.S_IFCHR | 0o600, path,
                             rdev=(int(major), int(minor)))
        else:
            sys.exit(f"mkinitramfs: unknown entry kind: {spec}")
    archive += entry(0, 0, "TRAILER!!!")
    with open(argv[0], "wb") as out:
        out.write(gzip.compress(archive, compresslevel=9, mtime=0))


if __name__ == "__main__":
    main(sys.argv[1:])
