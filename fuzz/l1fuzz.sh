#!/bin/sh
# The hostile-L1 fuzzer: runs tests/guests/l1fuzz (docs/fuzzing.md) as L1
# of turtles-san in nested mode, seed after seed, cycling through L0's
# options (VMCS shadowing on/off, merge dirty/full), JOBS runs at a time,
# for SECONDS. Sums what the L1 counted (launches, L2 reached, VMfails,
# entry failures, exits by reason) and reports every run that did not end
# cleanly as a finding, with the command that replays it.
#
#   fuzz/l1fuzz.sh SECONDS JOBS FINDINGS_DIR
#
# A run is a hang when it used L1FUZZ_CPU seconds of CPU time (default
# 300), or 30 times that in wall-clock time: the rule of guestfuzz's
# sandbox (fuzz/sandbox.c), so that a run that merely waited for a
# processor on a loaded machine is not reported as a hang.
set -u
seconds=$1
jobs=$2
findings=$3
BUILD=${BUILD:-build}
work=$BUILD/fuzz/work/l1fuzz
rm -rf "$work"
mkdir -p "$work" "$findings"
# 500 rounds a run: a run's start (ASan, the machine, L1's boot) costs
# as much CPU as 25 to 50 rounds (docs/fuzzing.md, "What a launch costs").
rounds=${L1FUZZ_ROUNDS:-500}
cpu=${L1FUZZ_CPU:-300}
base=${L1FUZZ_SEED:-$(date +%s)}
end=$(($(date +%s) + seconds))

# job K: its seeds are base+K, base+K+jobs, ...
job() {
    k=$1
    i=0
    while [ "$(date +%s)" -lt "$end" ]; do
        seed=$((base + k + i * jobs))
        case $(((k + i) % 4)) in
        0) opts="--vmcs-shadowing on --merge dirty" ;;
        1) opts="--vmcs-shadowing off --merge full" ;;
        2) opts="--vmcs-shadowing on --merge full" ;;
        *) opts="--vmcs-shadowing off --merge dirty" ;;
        esac
        i=$((i + 1))
        cmd="$BUILD/turtles-san run --mode nested $opts --max-insns 200000000 --l1 $BUILD/images/l1fuzz.elf --l1-args 'seed=$seed rounds=$rounds' $BUILD/images/hello.elf"
        # The soft RLIMIT_CPU ends the emulator with SIGXCPU (status 128 +
        # 24); the hard one, a little later, with SIGKILL if it did not.
        (ulimit -St "$cpu" && ulimit -Ht $((cpu + 10)) &&
            exec timeout $((cpu * 30)) sh -c "$cmd") \
            > "$work/$k.out" 2> "$work/$k.err"
        rc=$?
        # What L1 counted, also when something failed after its end
        # (LeakSanitizer reports at exit).
        grep -h '^METRIC l1fuzz\|^EXITS l1fuzz' "$work/$k.out" >> "$work/tally"
        if [ "$rc" -eq 0 ] && grep -q '^METRIC l1fuzz' "$work/$k.out"; then
            continue
        fi
        # A documented simplification of the emulator (real mode, 16-bit
        # code: docs/emulator.md) ends the run: counted, not a finding.
        if [ "$rc" -eq 70 ] && grep -q "is not emulated" "$work/$k.err"; then
            echo limit >> "$work/limits"
            continue
        fi
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 152 ] || [ "$rc" -eq 137 ]; then
            kind=hang
        elif grep -q "LeakSanitizer" "$work/$k.err"; then kind=leak
        elif grep -q "Sanitizer\|runtime error" "$work/$k.err"; then kind=sanitizer
        elif [ "$rc" -eq 70 ]; then kind=internal
        elif [ "$rc" -ge 128 ]; then kind=crash
        else kind=other
        fi
        txt=$findings/l1fuzz-$kind-seed$seed.txt
        {
            echo "l1fuzz: $kind (exit status $rc)"
            echo "replay: $cmd"
            echo
            grep -v "invalid opcode\|unimplemented instruction" "$work/$k.err" | tail -n 30
            # L1's own word (its PANIC or EXCEPTION lines) is on the serial.
            echo "L1's last serial output:"
            tail -n 8 "$work/$k.out"
        } > "$txt"
        echo "$kind" >> "$work/findings"
    done
}

k=0
while [ "$k" -lt "$jobs" ]; do
    job "$k" &
    k=$((k + 1))
done
wait

touch "$work/tally" "$work/findings" "$work/limits"
awk -v secs="$seconds" '
/^METRIC/ { runs++; for (i = 3; i <= NF; i++) { split($i, kv, "="); m[kv[1]] += kv[2] } }
/^EXITS/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); e[kv[1]] += kv[2] } }
END {
    printf "l1fuzz: %d runs in %d s: launches=%d l2_reached=%d (%.1f/s, %.3g per hour) vmfail_valid=%d vmfail_invalid=%d entry_failures=%d exits=%d\n",
        runs, secs, m["launches"], m["l2_reached"], m["l2_reached"] / secs,
        m["l2_reached"] / secs * 3600, m["vmfail_valid"], m["vmfail_invalid"],
        m["entry_failures"], m["exits"]
    printf "l1fuzz: exits by basic reason (65: VM-entry failure):"
    for (r = 0; r <= 65; r++) if (e[r]) printf " %d=%d", r, e[r]
    printf "\n"
}' "$work/tally"
total=$(wc -l < "$work/findings")
printf "l1fuzz: findings=%d" "$total"
for kind in crash sanitizer hang leak internal other; do
    printf " %s=%d" "$kind" "$(grep -c "^$kind" "$work/findings")"
done
printf " (in %s/l1fuzz-*.txt); runs ended by a documented limit: %d\n" \
    "$findings" "$(wc -l < "$work/limits")"
[ "$total" -eq 0 ]
