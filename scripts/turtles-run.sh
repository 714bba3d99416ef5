#!/usr/bin/env bash
# Boots a multiboot image on our emulator (build/turtles run --mode bare
# unless TURTLES_MODE says otherwise), with the same interface as
# qemu-run.sh and bochs-run.sh. TURTLES overrides the program's path.
# With TURTLES_MODE=nested the image is L2 under l1vmm (TURTLES_L1_ARGS:
# its command line); L2's lines lose l1vmm's "[L2] " prefix, so that they
# read as the image's own.
set -u
source "$(dirname "$0")/run-lib.sh"

turtles="${TURTLES:-$(dirname "$0")/../build/turtles}"
args=(run --mode "${TURTLES_MODE:-bare}" --serial "$work/serial.txt")
[ "${TURTLES_MODE:-}" = nested ] && args+=(--l1-args "${TURTLES_L1_ARGS:-}")
# shellcheck disable=SC2206
args+=(${TURTLES_EXTRA:-}) # more options of turtles run, for benchmarks
for m in "${modules[@]}"; do
    args+=(--module "$m")
done
if [ -n "$linux_initrd" ]; then
    timeout "$timeout_s" "$turtles" "${args[@]}" --kernel "$image" \
        --initrd "$linux_initrd" --append "$cmdline"
else
    timeout "$timeout_s" "$turtles" "${args[@]}" "$image" -- $cmdline
fi
code=$?
tr -d '\r' < "$work/serial.txt" | sed 's/^\[L2\] //' > "$work/out.txt"
cat "$work/out.txt"
status=$(guest_status "$work/out.txt")
if [ -n "$status" ] && [ "$code" -eq "$status" ]; then
    exit "$status"
fi
echo "turtles-run: the guest did not exit through isa-debug-exit (turtles exit code $code${status:+, guest said status $status})" >&2
exit 125
