# L0: the emulated machine and the host hypervisor, built for the host.
# Everything but main.c goes into one static library that the turtles
# program and the unit tests link.

L0_SOURCES := $(filter-out l0/main.c,$(wildcard l0/*.c l0/*/*.c))
# L0's nested-VMX helpers, pure C in their own top-level folders.
L0_SOURCES += $(wildcard vmcs-shadow/*.c ept-compress/*.c analysis/*.c)
# Linux's boot protocol, written once for L0 and l1vmm (freestanding).
L0_SOURCES += guests/rt/bzimage.c
# Strict number parsing, shared with the guests' runtime.
L0_SOURCES += guests/rt/cmdline.c guests/rt/format.c
L0_OBJECTS := $(L0_SOURCES:%.c=$(HOST_BUILD)/%.o)
L0_LIB := $(HOST_BUILD)/libturtles.a
L0_LDLIBS := -lcapstone -lsqlite3 -lm
L0_INCLUDES := -Il0 -I.
TURTLES := $(if $(filter 1,$(SAN)),$(BUILD)/turtles-san,$(BUILD)/turtles)

$(HOST_BUILD)/l0/%.o: l0/%.c $(wildcard l0/*.h l0/*/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(L0_INCLUDES) -c $< -o $@

$(filter-out $(HOST_BUILD)/l0/%,$(L0_OBJECTS)): $(HOST_BUILD)/%.o: %.c \
		$(wildcard l0/*/*.h vmcs-shadow/*.h ept-compress/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(L0_INCLUDES) -c $< -o $@

# The git revision a run was made with, for the results database; HEAD's
# reflog changes with every commit or checkout, so results.o is rebuilt then.
$(HOST_BUILD)/l0/results.o: HOST_CFLAGS += \
	-DTURTLES_GIT_REVISION='"$(shell git rev-parse --short=12 HEAD 2>/dev/null)"'
$(HOST_BUILD)/l0/results.o: \
	$(wildcard $(shell git rev-parse --git-path logs/HEAD 2>/dev/null))

# The cost profiles of experiments/profiles/, built in (hv/cost_profile.h):
# `turtles run --cost-profile NAME` needs no file beside the program.
COST_PROFILES := $(sort $(wildcard experiments/profiles/*.json))
COST_BUILTIN_C := $(HOST_BUILD)/gen/cost_builtin.c
$(COST_BUILTIN_C): l0/hv/embed_profiles.sh $(COST_PROFILES)
	@mkdir -p $(dir $@)
	sh l0/hv/embed_profiles.sh $(COST_PROFILES) > $@.tmp && mv $@.tmp $@
$(COST_BUILTIN_C:.c=.o): $(COST_BUILTIN_C) l0/hv/cost_profile.h l0/hv/cost.h
	$(HOST_CC) $(HOST_CFLAGS) $(L0_INCLUDES) -c $< -o $@
L0_OBJECTS += $(COST_BUILTIN_C:.c=.o)

$(L0_LIB): $(L0_OBJECTS)
	@rm -f $@
	ar rcs $@ $^

# The program links capstone and SQLite in, at fixed addresses: loaded
# as shared libraries, their 80,000 relocations (capstone's tables of
# pointers, for every architecture) were a fifth of a trivial run's host
# instructions and 400 page faults, done before main() at every start
# (docs/emulator.md, "Speed"). The unit tests and fuzzers keep L0_LDLIBS.
TURTLES_LDLIBS := -no-pie -l:libcapstone.a -l:libsqlite3.a -lm
ifneq ($(wildcard l0/main.c),)
$(TURTLES): $(HOST_BUILD)/l0/main.o $(L0_LIB)
	$(HOST_CC) $(HOST_LDFLAGS) -o $@ $^ $(TURTLES_LDLIBS)
LAYER_PROGRAMS += $(TURTLES)
endif

UNIT_LIBS += $(L0_LIB) $(L0_LDLIBS)
UNIT_LIB_DEPS += $(L0_LIB)
UNIT_INCLUDES += $(L0_INCLUDES)
