#!/usr/bin/env bash
# Runs an experiment file (default: experiments/default.exp) into a results
# database (default: results.db), then prints the report from that
# database. Each line: label mode guest guest-args l1-args L0-options...
set -eu
cd "$(dirname "$0")/.."
exp=${1:-experiments/default.exp}
db=${2:-results.db}
turtles=${TURTLES:-build/turtles}

while read -r label mode guest gargs l1args opts; do
    case "$label" in ''|'#'*) continue ;; esac
    args=(run --db "$db" --label "$label" --mode "$mode")
    [ "$l1args" != - ] && args+=(--l1-args "$l1args")
    # shellcheck disable=SC2206
    [ "$opts" != - ] && args+=($opts)
    args+=("build/images/$guest.elf")
    [ "$gargs" != - ] && args+=(-- "$gargs")
    printf '%-18s %s\n' "$label" "${args[*]:1}" >&2
    "$turtles" "${args[@]}" > /dev/null
done < "$exp"
echo >&2
"$turtles" report --db "$db"
