#!/bin/sh
# Installs the Debian packages turtles needs, only those missing; safe to run
# again. `make`, `make test`, `make run` and `make bench` call it first.
set -eu

packages="
gcc libc6-dev make binutils pkg-config python3
libcapstone-dev libsqlite3-dev sqlite3 libcmocka-dev
qemu-system-x86
bochs bochsbios vgabios
grub-pc-bin grub-common xorriso mtools
clang llvm
python3-matplotlib
gdb
slurm-wlm munge
"

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
