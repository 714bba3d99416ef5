#!/bin/sh
# Fetches the real software the Linux guest runs, from Debian's archive,
# without installing anything on the host: `apt-get download` into
# build/linux/cache, then `dpkg-deb -x` under build/linux/.
#
#   scripts/linux-fetch.sh [BUILD_DIR]
#
# Leaves build/linux/vmlinuz (the bzImage), build/linux/kernel/ (the whole
# package: modules for the KVM-as-L1 work) and build/linux/busybox.
# The versions are pinned in guests/linux/versions.mk; docs/linux.md says
# how to move them.
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
out="$build/linux"
cache="$out/cache"
eval "$(sed -n 's/^\(LINUX_[A-Z_]*\) *:= *\(.*\)$/\1="\2"/p' guests/linux/versions.mk)"
kernel_deb="linux-image-${LINUX_KERNEL_ABI}-cloud-amd64=${LINUX_KERNEL_VERSION}"
busybox_deb="busybox-static=${LINUX_BUSYBOX_VERSION}"

mkdir -p "$cache"
have() { ls "$cache"/"$1"_*.deb > /dev/null 2>&1; }
if ! have "linux-image-${LINUX_KERNEL_ABI}-cloud-amd64" || ! have busybox-static; then
    # apt-get download runs as the _apt user when it can; a root-owned
    # cache it cannot write to only costs a warning.
    if ! (cd "$cache" && apt-get download -q "$kernel_deb" "$busybox_deb"); then
        echo "linux-fetch: apt-get download failed; updating the package lists once" >&2
        sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -q
        (cd "$cache" && apt-get download -q "$kernel_deb" "$busybox_deb") || {
            echo "linux-fetch: $kernel_deb or $busybox_deb is not in the archive any more." >&2
            echo "linux-fetch: move the pins in guests/linux/versions.mk (docs/linux.md)." >&2
            exit 1
        }
    fi
fi

rm -rf "$out/kernel" "$out/busybox-pkg"
dpkg-deb -x "$cache"/linux-image-"${LINUX_KERNEL_ABI}"-cloud-amd64_*.deb "$out/kernel"
dpkg-deb -x "$cache"/busybox-static_*.deb "$out/busybox-pkg"
cp "$out/kernel/boot/vmlinuz-${LINUX_KERNEL_ABI}-cloud-amd64" "$out/vmlinuz"
cp "$out/busybox-pkg/bin/busybox" "$out/busybox"
echo "linux-fetch: $out/vmlinuz ($LINUX_KERNEL_ABI, $LINUX_KERNEL_VERSION), $out/busybox ($LINUX_BUSYBOX_VERSION)"
