#!/usr/bin/env bash
# make bench: the same compute-bound image on every backend, side by side
# in one run, with ratios. Benchmarks are not tests: nothing here passes
# or fails on speed.
#
# Method: guests/hello repeats identical integer work `rounds` times. Each
# backend boots it with rounds=1 and rounds=1+EXTRA; the difference in
# host wall time covers exactly EXTRA rounds, so boot (GRUB on Bochs) and
# start-up cancel out. The guest instructions in those rounds are counted
# by turtles (--stats); every backend executes the same instruction
# stream, so guest instructions per second = that count / the time.
set -eu
cd "$(dirname "$0")/.."
image=build/images/hello.elf
extra=${BENCH_ROUNDS:-12}
runs=${BENCH_RUNS:-3}
turtles=${TURTLES:-build/turtles}

count_insns() { # ROUNDS -> instructions retired in a turtles run
    "$turtles" run --stats "$image" -- "rounds=$1" 2>&1 >/dev/null |
        sed -n 's/.*instructions=\([0-9]*\).*/\1/p'
}

best_time() { # RUNNER ARG [IMAGE] -> best wall seconds of $runs runs
    local best=""
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s.%N)
        "$1" --timeout 600 "${3:-$image}" "$2" > /dev/null || return 1
        t1=$(date +%s.%N)
        best=$(awk -v a="$t0" -v b="$t1" -v c="${best:-1e9}" \
                   'BEGIN { d = b - a; print (d < c) ? d : c }')
    done
    echo "$best"
}

insns=$(( $(count_insns $((1 + extra))) - $(count_insns 1) ))
printf 'image: %s, %d extra rounds = %d guest instructions\n' \
    "$image" "$extra" "$insns"
printf '%-22s %10s %12s %14s\n' backend seconds "M insns/s" "vs turtles"

declare -A speed
for backend in turtles turtles-single turtles-nested qemu bochs; do
    runner=scripts/${backend%%-*}-run.sh
    export TURTLES_MODE=${backend#turtles-}
    [ "$backend" = turtles ] && export TURTLES_MODE=bare
    t1=$(best_time "$runner" rounds=1)
    tn=$(best_time "$runner" rounds=$((1 + extra)))
    speed[$backend]=$(awk -v n="$insns" -v a="$t1" -v b="$tn" \
                          'BEGIN { printf "%.1f", n / (b - a) / 1e6 }')
    secs=$(awk -v a="$t1" -v b="$tn" 'BEGIN { printf "%.3f", b - a }')
    ratio=$(awk -v s="${speed[$backend]}" -v t="${speed[turtles]}" \
                'BEGIN { printf "%.2f", s / t }')
    printf '%-22s %10s %12s %14s\n' "$backend" "$secs" "${speed[$backend]}" \
        "$ratio"
done
echo "(best of $runs runs; host wall time of the extra rounds only)"
awk -v t="${speed[turtles]}" -v b="${speed[bochs]}" -v q="${speed[qemu]}" \
    -v s="${speed[turtles-single]}" -v n="${speed[turtles-nested]}" \
    'BEGIN { printf "turtles / bochs = %.2f (issue 14 target >= 3), turtles / qemu = %.2f (target >= 0.25)\n", t / b, t / q
             printf "single / bare = %.2f, nested / bare = %.2f (targets >= 0.90)\n", s / t, n / t }'

# The step engine beside the block engine and the JIT (docs/emulator.md,
# "Engines"), bare mode, same image and method as above. --engine jit
# only on x86-64 hosts.
declare -A engine_speed
engines="step block"
[ "$(uname -m)" = x86_64 ] && engines="$engines jit"
for engine in $engines; do
    export TURTLES_MODE=bare TURTLES_EXTRA="--engine $engine"
    t1=$(best_time scripts/turtles-run.sh rounds=1)
    tn=$(best_time scripts/turtles-run.sh rounds=$((1 + extra)))
    engine_speed[$engine]=$(awk -v n="$insns" -v a="$t1" -v b="$tn" \
                                'BEGIN { printf "%.1f", n / (b - a) / 1e6 }')
    printf '%-22s %10s %12s\n' "turtles --engine $engine" \
        "$(awk -v a="$t1" -v b="$tn" 'BEGIN { printf "%.3f", b - a }')" \
        "${engine_speed[$engine]}"
done
unset TURTLES_EXTRA
awk -v s="${engine_speed[step]}" -v b="${engine_speed[block]}" \
    'BEGIN { printf "block / step = %.2f\n", b / s }'
if [ -n "${engine_speed[jit]:-}" ]; then
    awk -v j="${engine_speed[jit]}" -v b="${engine_speed[block]}" \
        -v o="${speed[bochs]}" -v q="${speed[qemu]}" \
        'BEGIN { printf "jit / block = %.2f; jit / bochs = %.2f (target >= 3), jit / qemu = %.2f (target >= 0.25)\n", j / b, j / o, j / q }'
fi

# One CPUID exit round trip in host time: the cpuid guest with many
# iterations against one, the difference per iteration. The process's
# CPU time (user + system) of build/turtles itself, not the wall time of
# scripts/turtles-run.sh: the machine is shared, and the wall time of the
# script (bash, timeout, the serial file) adds its own noise. Pairs of
# runs alternated, the median of their differences: one run slowed by
# another process then moves nothing.
cpu_time() { # COMMAND... -> CPU seconds; its stderr goes to $stats_file
    local TIMEFORMAT='%3U %3S'
    { time "$@" > /dev/null 2> "$stats_file"; } 2>&1 | awk '{ print $1 + $2 }'
}
stats_file=$(mktemp)
trap 'rm -f "$stats_file"' EXIT
round_trip() { # LABEL ITERS TURTLES-OPTIONS...
    local label=$1 n=$2 d=()
    shift 2
    for _ in $(seq "${BENCH_PAIRS:-5}"); do
        local a b
        a=$(cpu_time "$turtles" run "$@" build/images/cpuid.elf iters=1)
        b=$(cpu_time "$turtles" run "$@" build/images/cpuid.elf "iters=$((n + 1))")
        d+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }')")
    done
    printf '%s\n' "${d[@]}" | sort -g |
        awk -v n="$n" -v l="$label" -v p="${#d[@]}" '{ x[NR] = $1 }
            END { m = p % 2 ? x[(p + 1) / 2] : (x[p / 2] + x[p / 2 + 1]) / 2
                  printf "%s CPUID exit round trip: %.0f ns host CPU time (%d exits; median of %d pairs, %.0f-%.0f)\n", l, m / n * 1e9, n, p, x[1] / n * 1e9, x[p] / n * 1e9 }'
}
round_trip single-level "${BENCH_CPUID_ITERS:-200000}" --mode single
round_trip "nested, shadowing off" 40000 --mode nested --vmcs-shadowing off
round_trip "nested, shadowing on" 40000 --mode nested --vmcs-shadowing on
echo "(issue 14 targets: nested, shadowing off <= 12000 ns; shadowing on <= 7000 ns)"

# memwalk (guests/memwalk): host time per TLB miss of the emulator's own
# TLB, as the time of extra random reads over the extra TLB fills they
# cause (--stats), bare, single and nested (L2 RAM large enough for the
# 64 MiB region). These lines use the process's CPU time (user + system),
# not wall time, since the machine is shared (cpu_time, above).
memwalk_point() { # MODE READS TURTLES-OPTIONS... -> "seconds fills"
    local mode=$1 reads=$2 best="" fills t
    shift 2
    for _ in $(seq "$runs"); do
        t=$(cpu_time "$turtles" run --mode "$mode" --mem 512 --stats "$@" \
                build/images/memwalk.elf "reads=$reads")
        fills=$(sed -n 's/.*tlb_fills=\([0-9]*\).*/\1/p' "$stats_file")
        best=$(awk -v d="$t" -v c="${best:-1e9}" 'BEGIN { print (d < c) ? d : c }')
    done
    echo "$best ${fills:-0}"
}
memwalk_ns() { # MODE TURTLES-OPTIONS... -> ns per TLB miss
    local a b
    a=$(memwalk_point "$1" 100000 "${@:2}")
    b=$(memwalk_point "$1" 1100000 "${@:2}")
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        if (y[2] > x[2]) printf "%.0f", (y[1] - x[1]) / (y[2] - x[2]) * 1e9;
        else printf "?" }'
}
declare -A miss_ns
miss_ns[bare]=$(memwalk_ns bare)
miss_ns[single]=$(memwalk_ns single)
miss_ns[nested]=$(memwalk_ns nested --l1-args ram=160)
for mode in bare single nested; do
    printf 'memwalk host time per TLB miss, %-6s %6s ns\n' "$mode" \
        "${miss_ns[$mode]}"
done
awk -v b="${miss_ns[bare]}" -v n="${miss_ns[nested]}" \
    'BEGIN { if (b + 0 > 0) printf "memwalk nested / bare = %.2f (targets: bare <= 150 ns, nested <= 1.5x bare)\n", n / b }'

# Host instructions per guest instruction (hello, bare), where the host
# offers a hardware instruction counter to perf.
if command -v perf > /dev/null &&
   host_insns=$(perf stat -x, -e instructions "$turtles" run --stats \
                    "$image" -- "rounds=$((1 + extra))" 2>&1 >/dev/null) &&
   hi=$(echo "$host_insns" | awk -F, '$3 == "instructions" && $1 ~ /^[0-9]+$/ { print $1 }') &&
   [ -n "$hi" ]; then
    gi=$(echo "$host_insns" | sed -n 's/.*instructions=\([0-9]*\).*/\1/p')
    awk -v h="$hi" -v g="$gi" 'BEGIN { printf "host instructions per guest instruction (hello, bare): %.1f\n", h / g }'
else
    echo "host instructions per guest instruction: not measured (perf has no hardware instruction counter here)"
fi

# KVM as L1 (make kvm-l1, docs/kvm-l1.md): host seconds of a run that
# boots L1, loads kvm-intel and runs a one-CPUID L2, and the host time of
# one L2 CPUID under KVM (100000 more iterations, the difference; the
# boot's own time varies by seconds, so fewer would be noise).
kvm_l1_run() { # ITERS -> host seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$turtles" run --mode nested --l1 kvm build/images/cpuid.elf -- \
        "iters=$1" > /dev/null || return 1
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
if [ -f build/kvm-l1/initrd.gz ] && [ -f build/linux/vmlinuz ]; then
    k1=$(kvm_l1_run 1 || echo failed)
    kn=$(kvm_l1_run 100001 || echo failed)
    printf 'KVM as L1: L1 boot, kvm-intel and one L2 CPUID: %s s\n' "$k1"
    awk -v a="$k1" -v b="$kn" 'BEGIN { if (a + 0 > 0 && b + 0 > 0)
        printf "KVM as L1: one L2 CPUID: %.0f us host time\n", (b - a) / 100000 * 1e6 }'
fi

# Linux (docs/linux.md): the same kernel and initramfs booted to /init,
# then one workload (process, 1 round), on QEMU TCG and on turtles bare,
# single and nested (Linux as L2 under l1vmm with EPT): host seconds of
# the whole run, and the instructions turtles counts (in nested mode L1's
# and L2's together). One run each: a boot takes seconds to minutes.
linux_append="console=ttyS0 quiet panic=-1 workload=process rounds=1"
linux_turtles() { # MODE -> "seconds instructions", or "failed"
    local opts=(--mode "$1") t0 t1 n
    [ "$1" = nested ] && opts+=(--mem 512 --l1-args "ram=256 paging=ept")
    t0=$(date +%s.%N)
    n=$("$turtles" run "${opts[@]}" --stats --max-insns 40000000000 \
            --kernel build/linux/vmlinuz --initrd build/linux/initrd.gz \
            --append "$linux_append" 2>&1 >/dev/null |
        sed -n 's/.*instructions=\([0-9]*\).*/\1/p' | head -n 1) || true
    t1=$(date +%s.%N)
    [ -n "$n" ] || { echo failed; return; }
    awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.1f %s", b - a, n }'
}
if [ -f build/linux/vmlinuz ] && [ -f build/linux/initrd.gz ]; then
    t0=$(date +%s.%N)
    if scripts/qemu-run.sh --timeout 600 --initrd build/linux/initrd.gz \
            build/linux/vmlinuz $linux_append > /dev/null; then
        t1=$(date +%s.%N)
        qemu_linux=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    else
        qemu_linux=failed
    fi
    printf 'Linux boot + process workload: qemu %s s\n' "$qemu_linux"
    for mode in bare single nested; do
        r=$(linux_turtles "$mode")
        awk -v m="$mode" -v r="$r" -v q="$qemu_linux" 'BEGIN {
            split(r, f, " ")
            if (r == "failed") { printf "Linux boot + process workload: turtles %s failed\n", m; exit }
            printf "Linux boot + process workload: turtles %-6s %7.1f s, %.2f G guest instructions", m, f[1], f[2] / 1e9
            if (q + 0 > 0) printf ", %.1fx QEMU'"'"'s time", f[1] / q
            printf "\n" }'
    done
fi

# Start-up: a trivial run (cpuid iters=1, bare) from exec to exit, CPU
# time.
startup=1e9
for _ in $(seq 5); do
    t=$(cpu_time "$turtles" run build/images/cpuid.elf iters=1)
    startup=$(awk -v d="$t" -v c="$startup" 'BEGIN { print (d < c) ? d : c }')
done
awk -v s="$startup" 'BEGIN { printf "start-up of a trivial run: %.0f ms CPU time (target: unchanged, about 5 ms)\n", s * 1e3 }'
