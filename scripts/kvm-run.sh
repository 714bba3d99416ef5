#!/usr/bin/env bash
# kvm-run.sh: l1vmm on real hardware, QEMU/KVM with nested VMX on an Intel
# host (docs/l1vmm.md, "On an Intel host"), with a guest as L2.
#
#   scripts/kvm-run.sh [--dry-run] [--db FILE [--label NAME]]
#       [--l1-args TEXT] [--timeout SECONDS] GUEST.elf [GUEST ARGS...]
#
# First it checks what the host needs and says what is missing: a CPU
# with Intel VMX, /dev/kvm usable by this user, kvm_intel loaded with
# nested=Y, and qemu-system-x86_64. --dry-run stops after the checks and
# prints the QEMU command line. The serial output goes to stdout. Exit
# status: the guest's own (QEMU's (status << 1) | 1 translated back), 69
# when the host cannot run it, 125 when QEMU failed or timed out (the
# message says which), 2 for bad usage. With --db, l1vmm's L1STATS block
# and the guests' RESULT/METRIC lines go into the results database as a
# run of level-1 rows (scripts/exp record-l1stats).
#
# KVM_RUN_CPUINFO, KVM_RUN_DEV, KVM_RUN_MODULE (default /proc/cpuinfo,
# /dev/kvm, /sys/module/kvm_intel) point the checks elsewhere: for tests.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cpuinfo=${KVM_RUN_CPUINFO:-/proc/cpuinfo}
kvm_dev=${KVM_RUN_DEV:-/dev/kvm}
module=${KVM_RUN_MODULE:-/sys/module/kvm_intel}
l1vmm=${L1VMM:-$root/build/images/l1vmm.elf}
qemu=${QEMU:-qemu-system-x86_64}

dry_run=0 db="" label="" l1_args="" timeout_s=600
usage() { sed -n '5,6p' "$0" | sed 's/^# \{0,1\}/usage: /;2s/^usage: /       /' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry_run=1; shift ;;
    --db) db="$2"; shift 2 ;;
    --label) label="$2"; shift 2 ;;
    --l1-args) l1_args="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "kvm-run: unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || usage
guest="$1"; shift
guest_args="$*"
for f in "$guest" "$l1vmm"; do
    [ -f "$f" ] || { echo "kvm-run: no such image: $f (run make first)" >&2; exit 2; }
done

# ---- what the host must offer ----
missing=()
if ! grep -qw vmx "$cpuinfo" 2>/dev/null; then
    if grep -qw svm "$cpuinfo" 2>/dev/null; then
        missing+=("Intel VMX: this is an AMD CPU (svm in $cpuinfo, no vmx); l1vmm is a VMX hypervisor and KVM on AMD offers L1 SVM, not VMX")
    else
        missing+=("Intel VMX: no 'vmx' flag in $cpuinfo (no VT-x, or it is off in the firmware, or this is a VM whose hypervisor hides it)")
    fi
fi
if [ ! -e "$kvm_dev" ]; then
    missing+=("$kvm_dev: KVM is not loaded (sudo modprobe kvm_intel)")
elif [ ! -r "$kvm_dev" ] || [ ! -w "$kvm_dev" ]; then
    missing+=("access to $kvm_dev: add yourself to its group (sudo adduser \$USER kvm) and log in again")
fi
nested=$(cat "$module/parameters/nested" 2>/dev/null)
case "$nested" in
Y|y|1) ;;
"") missing+=("kvm_intel with nested=Y: $module/parameters/nested does not exist (kvm_intel is not loaded: sudo modprobe kvm_intel nested=1)") ;;
*) missing+=("kvm_intel with nested=Y: it is '$nested' (sudo modprobe -r kvm_intel && sudo modprobe kvm_intel nested=1; to keep it, 'options kvm_intel nested=1' in /etc/modprobe.d/kvm.conf)") ;;
esac
command -v "$qemu" >/dev/null 2>&1 || missing+=("$qemu: install Debian's qemu-system-x86")
if [ ${#missing[@]} -gt 0 ]; then
    echo "kvm-run: this host cannot run l1vmm on KVM; missing:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 69
fi
# VMCS shadowing is KVM's choice as L0: recorded with the run.
shadowing=$(cat "$module/parameters/enable_shadow_vmcs" 2>/dev/null)
case "$shadowing" in Y|y|1) shadowing=on ;; N|n|0) shadowing=off ;; *) shadowing=unknown ;; esac

# The guest is l1vmm's multiboot module: "FILE ARGS", commas doubled
# (QEMU separates modules with commas).
module_arg="$guest${guest_args:+ $guest_args}"
cmd=("$qemu" -nodefaults -display none -enable-kvm -cpu host,+vmx -m 256
     -device isa-debug-exit,iobase=0xf4,iosize=0x4
     -kernel "$l1vmm" -append "$l1_args" -initrd "${module_arg//,/,,}")
if [ "$dry_run" = 1 ]; then
    echo "kvm-run: the host has Intel VMX, $kvm_dev and nested=Y (VMCS shadowing $shadowing); would run:"
    for a in "${cmd[@]}" -serial stdio; do
        if [[ "$a" =~ ^[A-Za-z0-9_./:=+,-]+$ ]]; then printf '%s ' "$a"
        else printf "'%s' " "${a//\'/\'\\\'\'}"; fi
    done
    echo
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s%N)
timeout "$timeout_s" "${cmd[@]}" -serial "file:$work/serial.txt"
code=$?
host_ns=$(( $(date +%s%N) - start ))
tr -d '\r' < "$work/serial.txt"
status=$(tr -d '\r' < "$work/serial.txt" | sed -n 's/^EXIT status=\([0-9]*\)$/\1/p' | tail -n 1)

# QEMU's exit status: isa-debug-exit makes it (status << 1) | 1; 0 is an
# ACPI power-off; timeout(1) says 124; otherwise QEMU itself failed.
if [ -n "$status" ] && { [ "$code" -eq $(( (status << 1) | 1 )) ] ||
                         { [ "$status" = 0 ] && [ "$code" -eq 0 ]; }; }; then
    if [ -n "$db" ]; then
        "$root/scripts/exp" record-l1stats "$work/serial.txt" --db "$db" \
            --image "$guest" --cmdline "$guest_args" --l1-args "$l1_args" \
            --status "$status" --host-ns "$host_ns" ${label:+--label "$label"} \
            --shadowing "$shadowing" \
            --revision "$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null)" ||
            exit 125
    fi
    exit "$status"
fi
case "$code" in
124) why="timed out after $timeout_s s (--timeout)" ;;
1) why="QEMU exited with 1: it could not start the machine (its message is above; 'failed to initialize kvm' means no access to $kvm_dev)" ;;
0) why="QEMU exited with 0 but the guest reported no status (it powered off early)" ;;
*) if [ "$code" -gt 128 ]; then why="QEMU was killed by signal $((code - 128))";
   elif [ $((code & 1)) -eq 1 ]; then why="the guest wrote $((code >> 1)) to isa-debug-exit without an EXIT line (l1vmm failed: see its output)";
   else why="QEMU exited with $code"; fi ;;
esac
echo "kvm-run: $why; nothing recorded" >&2
exit 125
