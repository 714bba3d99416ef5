#!/bin/sh
# KVM as L1 on real hardware: the same kernel and L1 initramfs that
# `turtles run --mode nested --l1 kvm` boots, run by QEMU/KVM on an Intel
# host whose KVM offers nested VMX (kvm_intel nested=1), the card's
# configuration (docs/kvm-l1.md, "On real hardware").
#
#   scripts/kvm-l1-qemu.sh [--dry-run] [--l1-args TEXT] IMAGE [ARGS]
#
# IMAGE (a multiboot guest) and ARGS go into a second gzip'd archive
# after build/kvm-l1/initrd.gz, as turtles adds them (/l2/image,
# /l2/cmdline). --dry-run builds that initrd, prints the QEMU command
# and keeps the initrd (its path is the -initrd argument) instead of
# running it: machines without VT-x can check everything but the run.
set -eu
cd "$(dirname "$0")/.."
dry=0
l1_args=""
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry=1; shift ;;
    --l1-args) l1_args="$2"; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 1 ]; then
    echo "usage: scripts/kvm-l1-qemu.sh [--dry-run] [--l1-args TEXT] IMAGE [ARGS]" >&2
    exit 64
fi
image=$1; shift
kernel=build/linux/vmlinuz
l1_initrd=build/kvm-l1/initrd.gz
for f in "$kernel" "$l1_initrd" "$image"; do
    [ -f "$f" ] || { echo "kvm-l1-qemu: $f is missing (make linux kvm-l1)" >&2; exit 65; }
done
work=$(mktemp -d)
printf '%s' "$*" > "$work/cmdline"
python3 scripts/mkinitramfs.py "$work/l2.gz" dir:l2 \
    "file:l2/image=$image:0644" "file:l2/cmdline=$work/cmdline:0644"
# The kernel unpacks concatenated archives in turn; compressed ones need
# no alignment (Documentation/driver-api/early-userspace/buffer-format.rst).
cat "$l1_initrd" "$work/l2.gz" > "$work/initrd.gz"
set -- qemu-system-x86_64 -nodefaults -display none -enable-kvm \
    -cpu host,+vmx -m 512 -serial stdio -no-reboot \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1${l1_args:+ $l1_args}"
if [ "$dry" = 1 ]; then
    echo "$@"
    exit 0
fi
"$@" || code=$?
rm -rf "$work"
# isa-debug-exit: QEMU exits with (status << 1) | 1.
code=${code:-0}
[ $((code & 1)) = 1 ] && exit $((code >> 1))
exit "$code"
