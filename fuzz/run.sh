#!/bin/sh
# `make fuzz`: runs every fuzzer for its share of FUZZ_TIME seconds (all
# built with ASan and UBSan), prints what each ran and found, and exits
# non-zero on any finding. Reproducers are under build/fuzz/findings/,
# each with a .txt that says what was seen and the command that replays
# it. docs/fuzzing.md describes the fuzzers.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-180}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
# FUZZ_SEED fixes every fuzzer's random seed (CI: the same tree passes or
# fails the same way); unset, each run explores new seeds.
FUZZ_SEED=${FUZZ_SEED:-}
out=$BUILD/fuzz
findings=$out/findings
rm -rf "$findings" # each run's findings only
mkdir -p "$findings" "$out/logs"
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}

# share PERCENT: that part of FUZZ_TIME, at least 5 seconds.
share() {
    s=$((FUZZ_TIME * $1 / 100))
    [ "$s" -ge 5 ] || s=5
    echo "$s"
}

failed=""
summary=""

# run NAME COMMAND...: runs one fuzzer, keeps its log and its last lines.
run() {
    name=$1
    shift
    echo "fuzz: $name: $*"
    log=$out/logs/$name.log
    "$@" > "$log" 2>&1
    rc=$?
    tail -n 5 "$log" | sed "s/^/  /"
    summary="$summary
$(grep -E '^[a-z0-9_-]+: (findings|.*programs|.*launches|.*cases)' "$log" | tail -n 4)"
    if [ "$rc" -ne 0 ]; then
        failed="$failed $name"
    fi
}

# Shares of FUZZ_TIME (docs/fuzzing.md, "Shares"). Each libFuzzer
# harness runs on one core for 2% of the time; they run FUZZ_JOBS at a
# time (up to all 4), so that no core idles while they do. l1fuzz gets
# 6%: 216 s of an hour, issue 9's 10^5 L1 launches reaching L2 2.4 times
# over at the 1,101 a second of 2 idle jobs measured by the last
# CI-equivalent `make fuzz` (1.5 times over needs 136 s). The rest is
# guestfuzz's, the fuzzer with a rate to reach (10^6 programs an hour).
LF_HARNESSES="exec entry_checks merge ept02"
lf_parallel=$FUZZ_JOBS
[ "$lf_parallel" -le 4 ] || lf_parallel=4
lf_waves=$(((4 + lf_parallel - 1) / lf_parallel))
LF_SHARE=2
L1FUZZ_SHARE=6
GUESTFUZZ_SHARE=$((100 - L1FUZZ_SHARE - LF_SHARE * lf_waves))

run guestfuzz "$BUILD/host-san/fuzz/guestfuzz" --time "$(share "$GUESTFUZZ_SHARE")" \
    --jobs "$FUZZ_JOBS" --findings "$findings" --turtles "$BUILD/turtles-san" \
    ${FUZZ_SEED:+--seed "$FUZZ_SEED"}

export L1FUZZ_SEED="${FUZZ_SEED:-${L1FUZZ_SEED:-}}"
run l1fuzz fuzz/l1fuzz.sh "$(share "$L1FUZZ_SHARE")" "$FUZZ_JOBS" "$findings"

# A libFuzzer harness: the repo's seeds, and the corpus it grows under
# build/fuzz/corpus/NAME; a crash, leak or timeout is saved as
# findings/lf_NAME-crash-*, ... and replays with `build/fuzz/lf_NAME FILE`.
# Runs in the background: what it prints for the summary goes to
# logs/lf_NAME.result, its first line "ok" or "failed".
libfuzzer() {
    name=$1
    seconds=$2
    corpus=$out/corpus/$name
    mkdir -p "$corpus"
    log=$out/logs/lf_$name.log
    "$out/lf_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$findings/lf_$name-" \
        ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
        "$corpus" "fuzz/corpus/$name" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    count() { ls "$findings" | grep -c "^lf_$name-$1-" ; }
    {
        [ "$rc" -eq 0 ] && echo ok || echo failed
        echo "lf_$name: cases=${execs:-0} crashes=$(count crash) leaks=$(count leak) timeouts=$(count timeout) ooms=$(count oom)"
        if [ "$rc" -ne 0 ]; then
            grep -m1 -E "ERROR|runtime error|abort|composition|vmcs02|entry" "$log"
            echo "replay: $out/lf_$name $(ls -t "$findings"/lf_"$name"-* 2>/dev/null | head -n 1)"
        fi
    } > "$out/logs/lf_$name.result"
}
set -- $LF_HARNESSES
while [ $# -gt 0 ]; do
    wave=""
    for i in $(seq "$lf_parallel"); do
        [ $# -gt 0 ] || break
        echo "fuzz: lf_$1: $(share "$LF_SHARE") s"
        libfuzzer "$1" "$(share "$LF_SHARE")" &
        wave="$wave $1"
        shift
    done
    wait
    for h in $wave; do
        result=$out/logs/lf_$h.result
        sed -n '2,$s/^/  /p' "$result"
        summary="$summary
$(sed -n 2p "$result")"
        [ "$(head -n 1 "$result")" = ok ] || failed="$failed lf_$h"
    done
done

echo
echo "fuzz: summary ($FUZZ_TIME s budget)"
echo "$summary" | sed '/^$/d; s/^/  /'
if [ -n "$failed" ]; then
    echo "fuzz: FINDINGS in:$failed (reproducers and replay commands:" \
         "$findings/*.txt)"
    # The reports themselves, so that a CI log alone shows what was found
    # and the command that replays it.
    for f in "$findings"/*.txt; do
        [ -f "$f" ] || continue
        echo "--- $f"
        head -n 40 "$f"
    done
    exit 1
fi
echo "fuzz: no findings"
