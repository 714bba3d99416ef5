# Shared by qemu-run.sh and bochs-run.sh: argument parsing and the
# guest's exit status. Sourced, not run.
#
# Usage of both runners:
#   RUNNER [--module FILE[=ARGS]]... [--timeout SECONDS] IMAGE [CMDLINE...]
#   RUNNER --initrd FILE [--timeout SECONDS] BZIMAGE [KERNEL CMDLINE...]
# (the second: a Linux kernel and its initramfs, not on Bochs)
# The guest's serial output goes to stdout. The runner exits with the
# status the guest gave rt_exit ("EXIT status=N" on the serial line), or
# with 125 if the run ended any other way (timeout, backend error).

modules=()
linux_initrd=""
timeout_s=120
while [ $# -gt 0 ]; do
    case "$1" in
    --module) modules+=("$2"); shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --initrd) linux_initrd="$2"; shift 2 ;;
    -h|--help) sed -n '5,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "$0: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || { echo "usage: $0 [--module FILE[=ARGS]]... [--initrd FILE] [--timeout S] IMAGE [CMDLINE...]" >&2; exit 2; }
image="$1"
shift
cmdline="$*"
[ -f "$image" ] || { echo "$0: no such image: $image" >&2; exit 2; }
[ -z "$linux_initrd" ] || [ -f "$linux_initrd" ] || { echo "$0: no such initrd: $linux_initrd" >&2; exit 2; }
for m in "${modules[@]}"; do
    [ -f "${m%%=*}" ] || { echo "$0: no such module: ${m%%=*}" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# guest_status SERIAL_FILE: prints N from the last "EXIT status=N" line.
guest_status() {
    tr -d '\r' < "$1" | sed -n 's/^EXIT status=\([0-9]*\)$/\1/p' | tail -n 1
}
