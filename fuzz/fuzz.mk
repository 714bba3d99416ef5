# Fuzzing (docs/fuzzing.md). `make fuzz` builds the fuzzers with ASan and
# UBSan and runs each for a share of FUZZ_TIME seconds (default 180);
# findings go to build/fuzz/findings/ with a command that replays them.

FUZZ_TIME ?= 180
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
	FUZZ_TIME=$(FUZZ_TIME) BUILD=$(BUILD) fuzz/run.sh
