# Freestanding images: the shared runtime (guests/rt) and every program
# linked with it (guests/linux is not one: guests/linux/linux.mk). Each of guests/NAME/, tests/guests/NAME/ and l1vmm/
# holds one program (its *.c and *.S files); it becomes
# $(BUILD)/images/NAME.elf, a multiboot ELF.
#
# The code is 64-bit, but QEMU's multiboot loader only takes 32-bit ELF
# files, so the linked ELF64 is rewritten as ELF32 (same bytes, same
# addresses; the entry is 32-bit code anyway). $(BUILD)/images/NAME.elf64
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

IMAGE_DIRS := $(patsubst %/,%,$(filter-out guests/rt/ guests/linux/ guests/kvm-l1/,\
	$(wildcard guests/*/ tests/guests/*/ l1vmm/)))
IMAGES := $(foreach d,$(IMAGE_DIRS),$(BUILD)/images/$(notdir $(d)).elf)

$(BUILD)/rt/%.o: guests/rt/% $(wildcard guests/rt/*.h)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# One set of rules per program directory: $(1) is the directory.
define image_rules
$(BUILD)/images/$(notdir $(1)).elf64: $(patsubst $(1)/%,$(BUILD)/images/$(notdir $(1))/%.o,$(wildcard $(1)/*.c $(1)/*.S)) $(RT_OBJECTS) guests/rt/rt.ld
	$(GUEST_CC) $(GUEST_LDFLAGS) -o $$@ $$(filter %.o,$$^)

$(BUILD)/images/$(notdir $(1))/%.o: $(1)/% $(wildcard guests/rt/*.h $(1)/*.h tests/guests/*.h) l1vmm/vmx.h
	@mkdir -p $$(dir $$@)
	$(GUEST_CC) $(GUEST_CFLAGS) -I$(1) -c $$< -o $$@
endef
$(foreach d,$(IMAGE_DIRS),$(eval $(call image_rules,$(d))))

$(BUILD)/images/%.elf: $(BUILD)/images/%.elf64
	objcopy -O elf32-i386 $< $@

.PHONY: images
images: $(IMAGES)
