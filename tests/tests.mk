# Tests. Unit tests are cmocka programs, one per tests/unit/test_*.c, each
# linked with the host-buildable (pure) sources it exercises. End-to-end
# tests boot real images on every backend and compare what they print.

UNIT_PURE_SOURCES := guests/rt/format.c guests/rt/cmdline.c
UNIT_TESTS := $(patsubst tests/unit/%.c,$(HOST_BUILD)/tests/%,\
	$(wildcard tests/unit/test_*.c))
UNIT_INCLUDES += -Iguests/rt

$(HOST_BUILD)/tests/%: tests/unit/%.c $(UNIT_PURE_SOURCES) $(UNIT_LIB_DEPS) \
		$(wildcard guests/rt/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(UNIT_INCLUDES) $(HOST_LDFLAGS) -o $@ \
		$< $(UNIT_PURE_SOURCES) $(UNIT_LIBS) -lcmocka

unit-test: $(UNIT_TESTS) $(IMAGES) $(LINUX_KERNEL) $(LINUX_INITRD)
	@failed=0; for t in $(UNIT_TESTS); do $$t || failed=1; done; \
	exit $$failed

e2e-test: $(IMAGES) $(LAYER_PROGRAMS) $(LINUX_KERNEL) $(LINUX_INITRD)
	TURTLES=$(TURTLES) python3 tests/e2e/test_guests.py --build $(BUILD)
	TURTLES=$(TURTLES) python3 tests/e2e/test_turtles_cli.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_reproducers.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_single.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_nested.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_l1_vmx.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_report.py
	TURTLES=$(TURTLES) python3 tests/e2e/test_linux.py

test: unit-test e2e-test $(LAYER_TESTS)
