# l1vmm, the L1 hypervisor. Its image (build/images/l1vmm.elf) is built by
# guests/guests.mk like every program directory; this fragment adds its
# test (also the suite l1vmm of `make test`) and the runners
# (docs/l1vmm.md).
#
#   make bochs-run GUEST=cpuid GUEST_ARGS=iters=1000 ARGS="paging=shadow"
#       l1vmm on Bochs' VMX with build/images/GUEST.elf as L2
#   make kvm-run GUEST=hello ARGS="paging=ept"
#       the same on QEMU/KVM, for Intel hosts with nested VMX
#       (kvm_intel nested=1); not available on machines without VT-x
#
# ARGS is l1vmm's command line, GUEST_ARGS the guest's.

GUEST ?= hello
GUEST_ARGS ?=
ARGS ?=
L1VMM_IMAGE := $(BUILD)/images/l1vmm.elf
L1VMM_GUEST := $(BUILD)/images/$(GUEST).elf

.PHONY: l1vmm-test bochs-run kvm-run

l1vmm-test: $(IMAGES)
	python3 tests/e2e/test_l1vmm.py --build $(BUILD)

bochs-run: $(L1VMM_IMAGE) $(L1VMM_GUEST)
	scripts/bochs-run.sh --module "$(L1VMM_GUEST)$(if $(GUEST_ARGS),=$(GUEST_ARGS))" \
		$(L1VMM_IMAGE) $(ARGS)

# QEMU's isa-debug-exit turns status s into exit code (s << 1) | 1.
kvm-run: $(L1VMM_IMAGE) $(L1VMM_GUEST)
	qemu-system-x86_64 -nodefaults -display none -enable-kvm \
		-cpu host,+vmx -m 256 -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=0x4 \
		-kernel $(L1VMM_IMAGE) -append "$(ARGS)" \
		-initrd "$(L1VMM_GUEST)$(if $(GUEST_ARGS), $(subst $(comma),$(comma)$(comma),$(GUEST_ARGS)))"

comma := ,
