#!/usr/bin/env bash
# make bench: measures the same compute-bound image on each backend in one
# run and prints host seconds and ratios. Benchmarks are not tests: nothing
# here passes or fails on speed.
#
# Until the emulator exists the backends are QEMU TCG and Bochs; the
# measured span includes each backend's boot (Bochs also runs GRUB).
set -eu
cd "$(dirname "$0")/.."
image=build/images/hello.elf
runs=${BENCH_RUNS:-3}

measure() { # BACKEND-SCRIPT -> best wall seconds of $runs runs
    local best=""
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$1" "$image" > /dev/null
        t1=$(date +%s.%N)
        best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{d = $2 - $1; print (d < $3) ? d : $3}')
    done
    echo "$best"
}

qemu=$(measure scripts/qemu-run.sh)
bochs=$(measure scripts/bochs-run.sh)
printf '%-28s %10s %10s\n' "image: $image" "seconds" "vs qemu"
printf '%-28s %10.3f %10.2f\n' "qemu (tcg)" "$qemu" 1
printf '%-28s %10.3f %10.2f\n' "bochs (grub + image)" "$bochs" \
    "$(awk -v a="$bochs" -v b="$qemu" 'BEGIN { print a / b }')"
echo "(best of $runs runs each; host wall time, boot included)"
