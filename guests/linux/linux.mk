# The Linux guest (docs/linux.md): Debian's cloud kernel and busybox-static,
# fetched with `apt-get download` and unpacked under build/linux (never
# installed), and an initramfs of ours whose /init runs one workload.
#
#   make linux      build/linux/vmlinuz and build/linux/initrd.gz
#
# Then, e.g.:
#   scripts/qemu-run.sh --kernel build/linux/vmlinuz \
#       --initrd build/linux/initrd.gz workload=process

include guests/linux/versions.mk

LINUX_DIR := $(BUILD)/linux
LINUX_KERNEL := $(LINUX_DIR)/vmlinuz
LINUX_INITRD := $(LINUX_DIR)/initrd.gz
LINUX_TOOLS := $(patsubst guests/linux/tools/%.c,$(LINUX_DIR)/tools/%,\
	$(wildcard guests/linux/tools/*.c))
LINUX_ROOTFS := $(shell find guests/linux/rootfs -type f 2>/dev/null)

.PHONY: linux
linux: $(LINUX_KERNEL) $(LINUX_INITRD)

# The fetched files depend on the pins only.
$(LINUX_KERNEL) $(LINUX_DIR)/busybox &: guests/linux/versions.mk scripts/linux-fetch.sh
	scripts/linux-fetch.sh $(BUILD)
	@touch $(LINUX_KERNEL) $(LINUX_DIR)/busybox

# Static programs for the guest's userland: glibc's libc.a (libc6-dev).
$(LINUX_DIR)/tools/%: guests/linux/tools/%.c
	@mkdir -p $(dir $@)
	$(HOST_CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

$(LINUX_INITRD): $(LINUX_DIR)/busybox $(LINUX_TOOLS) $(LINUX_ROOTFS) scripts/mkinitramfs.py
	python3 scripts/mkinitramfs.py $@ dir:bin dir:dev dir:proc dir:sys \
		dir:tmp dir:workloads dev:dev/console=c,5,1 \
		file:init=guests/linux/rootfs/init:0755 \
		file:bin/busybox=$(LINUX_DIR)/busybox:0755 \
		$(foreach t,$(LINUX_TOOLS),file:bin/$(notdir $(t))=$(t):0755) \
		$(foreach w,$(wildcard guests/linux/rootfs/workloads/*.sh),\
			file:workloads/$(notdir $(w))=$(w):0644)
