#!/usr/bin/env bash
# `make run`: runs an experiment file (default experiments/default.toml)
# into a results database (default: results.db for the default
# experiment, results/NAME.db otherwise), then prints its report read back
# from the database and a short summary; figures, CSV, JSON and REPORT.md
# go to the third argument (default results/NAME/). The guests' output of each run is kept in the
# database's .logs/ directory.
set -eu
cd "$(dirname "$0")/.."
exp=${1:-experiments/default.toml}
db=${2:-}
out=${3:-}
turtles=${TURTLES:-build/turtles}
if [ -z "$db" ] && [ "$exp" = experiments/default.toml ]; then
    db=results.db
fi
status=0
TURTLES=$turtles scripts/exp run "$exp" ${db:+--db "$db"} || status=$?
echo >&2
# turtles report's CPUID table: the default experiment's, and KVM as L1
# beside l1vmm (experiments/kvm-l1.toml, docs/kvm-l1.md).
case "$exp" in
experiments/default.toml | experiments/kvm-l1.toml) report=1 ;;
*) report= ;;
esac
if [ -n "$report" ]; then
    "$turtles" report --db "${db:-results/$(basename "$exp" .toml).db}"
    echo
fi
scripts/exp report "$exp" ${db:+--db "$db"} ${out:+--out "$out"} --summary
exit "$status"
