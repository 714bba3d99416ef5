# Tests. Unit tests are cmocka programs, one per tests/unit/test_*.c, each
# linked with the host-buildable (pure) sources it exercises. End-to-end
# tests boot real images on every backend and compare what they print.

UNIT_PURE_SOURCES := guests/rt/format.c guests/rt/cmdline.c

# The float guest alone uses SSE registers: it tests them. Every other
# program (and the runtime it links) keeps to general registers.
$(BUILD)/images/float/main.c.o: tests/guests/float/main.c \
		$(wildcard guests/rt/*.h)
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(filter-out -mgeneral-regs-only,$(GUEST_CFLAGS)) -msse2 \
		-mfpmath=sse -fno-math-errno -Itests/guests/float -c $< -o $@
UNIT_TESTS := $(patsubst tests/unit/%.c,$(HOST_BUILD)/tests/%,\
	$(wildcard tests/unit/test_*.c))
UNIT_INCLUDES += -Iguests/rt

$(HOST_BUILD)/tests/%: tests/unit/%.c $(UNIT_PURE_SOURCES) $(UNIT_LIB_DEPS) \
		$(wildcard guests/rt/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(UNIT_INCLUDES) $(HOST_LDFLAGS) -o $@ \
		$< $(UNIT_PURE_SOURCES) $(UNIT_LIBS) -lcmocka

# `make test` runs every suite, even after one fails, and ends with one
# summary (tests/run_suites.py, docs/testing.md). SUITE narrows it to
# some suites (names or shell patterns: SUITE=nested, SUITE='unit/*'),
# BACKEND the end-to-end suites to some backends (BACKEND=turtles).
RUN_SUITES = TURTLES=$(TURTLES) GUESTFUZZ=$(GUESTFUZZ) \
	python3 tests/run_suites.py --build $(BUILD) --only '$(SUITE)' \
	--backend '$(BACKEND)' --unit $(UNIT_TESTS)

test: $(UNIT_TESTS) $(IMAGES) $(LAYER_PROGRAMS) $(LINUX_KERNEL) $(LINUX_INITRD) \
		$(KVM_L1_INITRD)
	$(RUN_SUITES)

unit-test: $(UNIT_TESTS) $(IMAGES) $(LINUX_KERNEL) $(LINUX_INITRD)
	$(RUN_SUITES) --group unit

e2e-test: $(IMAGES) $(LAYER_PROGRAMS) $(LINUX_KERNEL) $(LINUX_INITRD) \
		$(KVM_L1_INITRD)
	$(RUN_SUITES) --group e2e
