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
out=$BUILD/fuzz
findings=$out/findings
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
    tail -n 4 "$log" | sed "s/^/  /"
    summary="$summary
$(grep -E '^[a-z0-9_-]+: (findings|.*programs|.*launches|.*cases)' "$log" | tail -n 3)"
    if [ "$rc" -ne 0 ]; then
        failed="$failed $name"
    fi
}

run guestfuzz "$BUILD/host-san/fuzz/guestfuzz" --time "$(share 50)" \
    --jobs "$FUZZ_JOBS" --findings "$findings" --turtles "$BUILD/turtles-san"

echo
echo "fuzz: summary ($FUZZ_TIME s budget)"
echo "$summary" | sed '/^$/d; s/^/  /'
if [ -n "$failed" ]; then
    echo "fuzz: FINDINGS in:$failed (reproducers and replay commands:" \
         "$findings/*.txt)"
    exit 1
fi
echo "fuzz: no findings"
