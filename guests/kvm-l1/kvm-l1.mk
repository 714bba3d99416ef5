# KVM as L1 (docs/kvm-l1.md): Debian's kernel with kvm.ko and kvm-intel.ko
# from the same package (unpacked by `make linux`), busybox, and kvmrun,
# our KVM userspace that runs one multiboot image as L2.
#
#   make kvm-l1     build/kvm-l1/initrd.gz (and build/kvm-l1/kvmrun)
#
# Then, e.g.:
#   build/turtles run --mode nested --l1 kvm build/images/hello.elf

KVM_L1_DIR := $(BUILD)/kvm-l1
KVM_L1_INITRD := $(KVM_L1_DIR)/initrd.gz
KVMRUN := $(KVM_L1_DIR)/kvmrun
KVM_L1_MODULES := $(LINUX_DIR)/kernel/lib/modules/$(LINUX_KERNEL_ABI)-cloud-amd64/kernel

.PHONY: kvm-l1
kvm-l1: $(LINUX_KERNEL) $(KVM_L1_INITRD)

$(KVMRUN): $(wildcard kvmrun/*.c kvmrun/*.h) guests/rt/multiboot.h
	@mkdir -p $(dir $@)
	$(HOST_CC) -static -O2 -Wall -Wextra -Werror -I. -o $@ $(filter %.c,$^)

$(KVM_L1_INITRD): $(LINUX_DIR)/busybox $(LINUX_KERNEL) $(KVMRUN) \
		$(LINUX_DIR)/tools/exitport guests/kvm-l1/init scripts/mkinitramfs.py
	python3 scripts/mkinitramfs.py $@ dir:bin dir:dev dir:proc dir:sys \
		dir:modules dev:dev/console=c,5,1 \
		file:init=guests/kvm-l1/init:0755 \
		file:bin/busybox=$(LINUX_DIR)/busybox:0755 \
		file:bin/exitport=$(LINUX_DIR)/tools/exitport:0755 \
		file:bin/kvmrun=$(KVMRUN):0755 \
		file:modules/irqbypass.ko=$(KVM_L1_MODULES)/virt/lib/irqbypass.ko:0644 \
		file:modules/kvm.ko=$(KVM_L1_MODULES)/arch/x86/kvm/kvm.ko:0644 \
		file:modules/kvm-intel.ko=$(KVM_L1_MODULES)/arch/x86/kvm/kvm-intel.ko:0644
