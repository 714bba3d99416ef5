# l1vmm, the L1 hypervisor. Its image (build/images/l1vmm.elf) is built by
# guests/guests.mk like every program directory; this fragment adds its
# test (also the suite l1vmm of `make test`) and the runners
# (docs/l1vmm.md).
#
#   make bochs-run GUEST=cpuid GUEST_ARGS=iters=1000 ARGS="paging=shadow"
#       l1vmm on Bochs' VMX with build/images/GUEST.elf as L2
#   make kvm-run GUEST=hello ARGS="paging=ept" [DB=FILE] [DRY_RUN=1]
#       the same on QEMU/KVM, for Intel hosts with nested VMX
#       (kvm_intel nested=1); says what is missing elsewhere
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

# scripts/kvm-run.sh checks the host first (Intel VMX, /dev/kvm,
# kvm_intel nested=Y), translates QEMU's exit status, and with DB=FILE
# records l1vmm's L1STATS as level-1 rows; DRY_RUN=1 only checks.
kvm-run: $(L1VMM_IMAGE) $(L1VMM_GUEST)
	scripts/kvm-run.sh $(if $(DRY_RUN),--dry-run) $(if $(DB),--db "$(DB)") \
		$(if $(LABEL),--label "$(LABEL)") --l1-args "$(ARGS)" \
		"$(L1VMM_GUEST)" $(GUEST_ARGS)

