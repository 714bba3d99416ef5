# latency: system call and context switch in TSC cycles (METRIC only).
#   sh latency.sh [ROUNDS]
set -e
/bin/latency "${1:-1000}"
echo "RESULT linux-latency done=1"
