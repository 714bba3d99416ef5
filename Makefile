# turtles: a nested-virtualization research emulator. See README.md.
#
#   make            build everything into build/
#   make test       build and run every test suite (unit and end-to-end),
#                   all of them even if one fails, then a summary;
#                   SUITE=NAME and BACKEND=NAME narrow it (docs/testing.md)
#   make run        the main job on its built-in default (EXP=FILE: another
#                   experiment file, docs/experiments.md; V=1: show the build)
#   make bench      benchmarks (side-by-side measurements, never tests)
#   make SAN=1 test host code built with ASan and UBSan
#   make fuzz       the fuzzers for FUZZ_TIME seconds (docs/fuzzing.md)
#
# Every target first runs scripts/deps.sh, which installs the Debian
# packages that are missing (NO_DEPS=1 skips it).

BUILD := build
HOST_CC := gcc
HOST_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE
HOST_BUILD := $(BUILD)/host
ifeq ($(SAN),1)
HOST_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
HOST_LDFLAGS += -fsanitize=address,undefined
HOST_BUILD := $(BUILD)/host-san
endif

ifeq ($(filter clean,$(MAKECMDGOALS))$(NO_DEPS),)
DEPS_STATUS := $(shell scripts/deps.sh 1>&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error scripts/deps.sh failed: the Debian packages above are missing)
endif
endif

.PHONY: all test unit-test e2e-test run bench clean
.DEFAULT_GOAL := all

# Each layer's rules live beside it. A layer may add targets to
# LAYER_PROGRAMS (built by `make`); its tests are suites of
# tests/run_suites.py.
LAYER_PROGRAMS :=
UNIT_LIBS :=
UNIT_LIB_DEPS :=
UNIT_INCLUDES :=
include guests/guests.mk guests/linux/linux.mk guests/kvm-l1/kvm-l1.mk
include $(wildcard l0/l0.mk l0/record/record.mk l1vmm/l1vmm.mk)
# fuzz.mk before tests.mk: `make test` needs guestfuzz (the fuzz-regress
# suite), and a rule's prerequisites are expanded where it is read.
include fuzz/fuzz.mk
include tests/tests.mk

all: $(IMAGES) $(UNIT_TESTS) $(LAYER_PROGRAMS)

# The main job: an experiment file (default experiments/default.toml, into
# results.db) run in parallel, then its report read back from the database
# and a short summary; figures and tables go to results/NAME/. The build's
# command lines stay quiet unless V=1.
EXP ?= experiments/default.toml
ifneq ($(V),1)
ifneq ($(filter run,$(MAKECMDGOALS)),)
.SILENT:
endif
endif
# An experiment with KVM as L1 (l1 = [..., "kvm"], experiments/kvm-l1.toml)
# also needs L1's kernel and initramfs (docs/kvm-l1.md).
RUN_KVM_L1 := $(if $(shell grep -qs '"kvm"' $(EXP) && echo y),\
	$(LINUX_KERNEL) $(KVM_L1_INITRD))
run: $(IMAGES) $(LAYER_PROGRAMS) $(RUN_KVM_L1)
	TURTLES=$(TURTLES) scripts/experiment.sh $(EXP)

bench: $(IMAGES) $(LAYER_PROGRAMS) $(LINUX_KERNEL) $(LINUX_INITRD) \
	$(KVM_L1_INITRD)
	scripts/bench.sh

clean:
	rm -rf $(BUILD)
