#!/usr/bin/env bash
# Boots a multiboot image on QEMU's software CPU (TCG), the reference x86
# machine. The recipe is the one in DESIGN.md ("Facts verified").
set -u
source "$(dirname "$0")/run-lib.sh"

initrd=()
if [ ${#modules[@]} -gt 0 ]; then
    list=""
    for m in "${modules[@]}"; do
        file="${m%%=*}"; args=""
        [ "$file" != "$m" ] && args=" ${m#*=}"
        list="$list${list:+,}$file${args//,/,,}"
    done
    initrd=(-initrd "$list")
fi

# A Linux kernel: its initramfs, and no reboot after a panic. TCG's
# timers follow the host clock, so on a loaded host Linux's check that the
# PIT reaches the IO-APIC (check_timer) can count too few ticks and panic;
# `no_timer_check` skips it here only (turtles' time is modeled, so the
# check is deterministic there and keeps running).
if [ -n "$linux_initrd" ]; then
    initrd=(-initrd "$linux_initrd" -no-reboot)
    cmdline="$cmdline no_timer_check"
fi

timeout "$timeout_s" qemu-system-x86_64 -nodefaults -display none \
    -machine accel=tcg -cpu max -m 256 -serial "file:$work/serial.txt" \
    -device isa-debug-exit,iobase=0xf4,iosize=0x4 \
    -kernel "$image" -append "$cmdline" "${initrd[@]}"
code=$?
tr -d '\r' < "$work/serial.txt"
status=$(guest_status "$work/serial.txt")
# isa-debug-exit makes QEMU exit with (status << 1) | 1.
if [ -n "$status" ] && [ "$code" -eq $(( (status << 1) | 1 )) ]; then
    exit "$status"
fi
# A guest that said status 0 and then powered the machine off (ACPI S5):
# QEMU exits with 0, which isa-debug-exit can never give.
if [ "$status" = 0 ] && [ "$code" -eq 0 ]; then
    exit 0
fi
echo "qemu-run: the guest did not exit through isa-debug-exit (qemu exit code $code${status:+, guest said status $status})" >&2
exit 125
