# Fuzzing (docs/fuzzing.md). `make fuzz` builds the fuzzers with ASan and
# UBSan and runs each for a share of FUZZ_TIME seconds (default 180);
# findings go to build/fuzz/findings/ with a command that replays them.

FUZZ_TIME ?= 180
FUZZ_SEED ?=
FUZZ_BUILD := $(BUILD)/fuzz
GUESTFUZZ := $(HOST_BUILD)/fuzz/guestfuzz
GUESTFUZZ_SOURCES := fuzz/guestfuzz.c fuzz/gen.c fuzz/run.c fuzz/check.c \
	fuzz/sandbox.c fuzz/findings.c

# The fixed part of every generated image, assembled once as a flat
# binary at its load address and embedded into guestfuzz.
$(FUZZ_BUILD)/image.bin: fuzz/image.S fuzz/layout.h
	@mkdir -p $(dir $@)
	$(GUEST_CC) -c -Ifuzz fuzz/image.S -o $(FUZZ_BUILD)/image.o
	ld -m elf_x86_64 -Ttext=0x100000 -e _start -o $(FUZZ_BUILD)/image.elf \
		$(FUZZ_BUILD)/image.o
	objcopy -O binary $(FUZZ_BUILD)/image.elf $@

$(HOST_BUILD)/fuzz/template.o: fuzz/template.S $(FUZZ_BUILD)/image.bin
	@mkdir -p $(dir $@)
	$(HOST_CC) -c -DFUZZ_TEMPLATE='"$(FUZZ_BUILD)/image.bin"' $< -o $@

$(GUESTFUZZ): $(GUESTFUZZ_SOURCES) $(wildcard fuzz/*.h) \
		$(HOST_BUILD)/fuzz/template.o $(L0_LIB)
	$(HOST_CC) $(HOST_CFLAGS) $(L0_INCLUDES) -Ifuzz $(HOST_LDFLAGS) -o $@ \
		$(GUESTFUZZ_SOURCES) $(HOST_BUILD)/fuzz/template.o $(L0_LIB) \
		$(L0_LDLIBS)

LAYER_PROGRAMS += $(GUESTFUZZ)

.PHONY: fuzz fuzz-programs
fuzz-programs: $(GUESTFUZZ) $(TURTLES) $(IMAGES)

# The fuzzers always run under the sanitizers.
fuzz:
	$(MAKE) SAN=1 fuzz-programs
	$(MAKE) fuzz-libfuzzer
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_SEED=$(FUZZ_SEED) BUILD=$(BUILD) fuzz/run.sh

# libFuzzer harnesses, built with Debian's clang: the library sources
# with coverage for the fuzzer (fuzzer-no-link), each harness with the
# fuzzer's main. Their seed corpora are in fuzz/corpus/NAME/.
LF_CC := clang
LF_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
	-fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
LF_BUILD := $(FUZZ_BUILD)/lf
LF_HARNESSES := exec entry_checks merge ept02
LF_PROGRAMS := $(LF_HARNESSES:%=$(FUZZ_BUILD)/lf_%)
LF_LIB := $(LF_BUILD)/libturtles.a
LF_SUPPORT := $(LF_BUILD)/fuzz/gen.o $(LF_BUILD)/fuzz/lf_vmcs.o \
	$(LF_BUILD)/fuzz/template.o

$(LF_BUILD)/%.o: %.c $(wildcard l0/*.h l0/*/*.h vmcs-shadow/*.h \
		ept-compress/*.h fuzz/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(LF_CC) $(LF_CFLAGS) -fsanitize=fuzzer-no-link $(L0_INCLUDES) -Ifuzz \
		-c $< -o $@

$(LF_BUILD)/fuzz/template.o: fuzz/template.S $(FUZZ_BUILD)/image.bin
	@mkdir -p $(dir $@)
	$(LF_CC) -c -DFUZZ_TEMPLATE='"$(FUZZ_BUILD)/image.bin"' $< -o $@

# The built-in cost profiles are generated C (l0/l0.mk).
LF_COST_BUILTIN := $(LF_BUILD)/gen/cost_builtin.o
$(LF_COST_BUILTIN): $(COST_BUILTIN_C) l0/hv/cost_profile.h l0/hv/cost.h
	@mkdir -p $(dir $@)
	$(LF_CC) $(LF_CFLAGS) -fsanitize=fuzzer-no-link $(L0_INCLUDES) -c $< -o $@

$(LF_LIB): $(L0_SOURCES:%.c=$(LF_BUILD)/%.o) $(LF_COST_BUILTIN)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/lf_%: $(LF_BUILD)/fuzz/lf_%.o $(LF_SUPPORT) $(LF_LIB)
	$(LF_CC) $(LF_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(L0_LDLIBS) -lcapstone

.PHONY: fuzz-libfuzzer
fuzz-libfuzzer: $(LF_PROGRAMS)

# The results writer embeds the schema (l0/record/record.mk).
$(LF_BUILD)/l0/record/db.o: $(RECORD_SCHEMA_INC)
$(LF_BUILD)/l0/record/db.o: L0_INCLUDES += -I$(RECORD_GEN)

# The harnesses are only linked by `make fuzz` (clang), but compiled by
# every `make`, so that a change of the APIs they use is seen at once.
LF_CHECK_OBJECTS := $(LF_HARNESSES:%=$(HOST_BUILD)/fuzz/lf_%.o) \
	$(HOST_BUILD)/fuzz/lf_vmcs.o
$(HOST_BUILD)/fuzz/lf_%.o: fuzz/lf_%.c $(wildcard fuzz/*.h l0/*/*.h \
		vmcs-shadow/*.h ept-compress/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(L0_INCLUDES) -Ifuzz -c $< -o $@
LAYER_PROGRAMS += $(LF_CHECK_OBJECTS)

# tests/unit/test_fuzz_check.c: the bare/single comparison on made-up runs.
$(HOST_BUILD)/tests/test_fuzz_check: fuzz/check.c $(wildcard fuzz/*.h)
$(HOST_BUILD)/tests/test_fuzz_check: UNIT_PURE_SOURCES += fuzz/check.c
$(HOST_BUILD)/tests/test_fuzz_check: UNIT_INCLUDES += -Ifuzz
