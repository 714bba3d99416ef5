# Freestanding images: the shared runtime (guests/rt) and every program
# linked with it. Each guests/NAME/ or tests/guests/NAME/ directory holds
# one program; it becomes $(BUILD)/guests/NAME.elf, a multiboot ELF.
#
# The code is 64-bit, but QEMU's multiboot loader only takes 32-bit ELF
# files, so the linked ELF64 is rewritten as ELF32 (same bytes, same
# addresses; the entry is 32-bit code anyway). $(BUILD)/guests/NAME.elf64
# is kept for debuggers.

GUEST_CC := gcc
GUEST_CFLAGS := -std=c11 -O2 -g -ffreestanding -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-builtin -nostdlib \
	-Wall -Wextra -Werror -Iguests/rt
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guests/rt/rt.ld \
	-Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

RT_SOURCES := $(wildcard guests/rt/*.c guests/rt/*.S)
RT_OBJECTS := $(patsubst guests/rt/%,$(BUILD)/rt/%.o,$(RT_SOURCES))

GUEST_DIRS := $(filter-out guests/rt/,$(wildcard guests/*/ tests/guests/*/))
GUEST_NAMES := $(notdir $(patsubst %/,%,$(GUEST_DIRS)))
GUEST_IMAGES := $(GUEST_NAMES:%=$(BUILD)/guests/%.elf)

$(BUILD)/rt/%.o: guests/rt/% $(wildcard guests/rt/*.h)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# One rule per program directory, so that a guest may have several files.
define guest_rules
$(BUILD)/guests/$(notdir $(1)).elf64: $(patsubst %.c,$(BUILD)/guests/$(notdir $(1))/%.o,$(notdir $(wildcard $(1)/*.c))) $(RT_OBJECTS) guests/rt/rt.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $$@ $$(filter %.o,$$^)

$(BUILD)/guests/$(notdir $(1))/%.o: $(1)/%.c $(wildcard guests/rt/*.h)
	@mkdir -p $$(dir $$@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $$< -o $$@
endef
$(foreach d,$(patsubst %/,%,$(GUEST_DIRS)),$(eval $(call guest_rules,$(d))))

$(BUILD)/guests/%.elf: $(BUILD)/guests/%.elf64
	objcopy -O elf32-i386 $< $@

.PHONY: guests
guests: $(GUEST_IMAGES)
