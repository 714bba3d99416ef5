# The Debian packages the Linux guest is built from (docs/linux.md).
# The tests expect exactly these; to move them, change both lines of a
# package to a version `apt-cache policy` lists, then `make linux`.
LINUX_KERNEL_ABI := 6.1.0-57
LINUX_KERNEL_VERSION := 6.1.192-3
LINUX_BUSYBOX_VERSION := 1:1.35.0-4+deb12u1+b1
