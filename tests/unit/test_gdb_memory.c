/* l0/gdb/memory.c: the debugger's view of guest memory. Virtual
 * addresses go through the guest's page tables (4 KiB and 2 MiB pages,
 * a read across two pages that map far apart), nothing but RAM is
 * reached, and looking changes nothing: no accessed flag in the tables,
 * no TLB fill, no walk counted, no modeled cycle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "gdb/memory.h"
#include "machine.h"
#include "paging_rig.h"

/* 4-level paging: linear 0x4000 -> 0x100000, 0x5000 -> 0x200000 (4 KiB
 * pages), 0x6000 not present, 0x7000 -> the LAPIC's MMIO page,
 * 0x200000-0x3FFFFF -> 0x200000 (one 2 MiB page). No accessed flags. */
enum { PML4 = RIG_PML4, PD = RIG_PD, PT = 0x4000 };

static struct machine *paged_machine(void)
{
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    rig_tables(m, PT, false);
    put64(m, PD + 8, 0x200000 | 0x83); /* PS */
    put64(m, PT + 4 * 8, 0x100000 | 3);
    put64(m, PT + 5 * 8, 0x200000 | 3);
    put64(m, PT + 7 * 8, 0xFEE00000 | 3);
    rig_long_mode(m->cpu);
    return m;
}

static void test_reads_through_the_page_tables(void **state)
{
    (void)state;
    struct machine *m = paged_machine();
    struct cpu *c = m->cpu;
    memcpy(m->ram + 0x100FFC, "abcd", 4);
    memcpy(m->ram + 0x200000, "efgh", 4);
    memcpy(m->ram + 0x234567, "2MiB", 4);
    uint8_t tables[0x4000];
    memcpy(tables, m->ram + PML4, sizeof tables);
    uint64_t fills = c->tlb.fills, walks = c->walk_refs, cycles = c->cycles;

    uint8_t buf[8];
    assert_int_equal(gdb_mem_read(c, 0x4FFC, buf, 8), 8);
    assert_memory_equal(buf, "abcdefgh", 8);
    assert_int_equal(gdb_mem_read(c, 0x234567, buf, 4), 4);
    assert_memory_equal(buf, "2MiB", 4);
    uint64_t pa;
    assert_true(gdb_mem_translate(c, 0x5123, &pa));
    assert_int_equal(pa, 0x200123);

    /* Nothing changed: tables (no A flags), TLB, counters, time. */
    assert_memory_equal(m->ram + PML4, tables, sizeof tables);
    assert_int_equal(c->tlb.fills, fills);
    assert_int_equal(c->walk_refs, walks);
    assert_int_equal(c->cycles, cycles);
    assert_false(c->exc.raised);
    machine_destroy(m);
}

static void test_only_ram_is_reached(void **state)
{
    (void)state;
    struct machine *m = paged_machine();
    struct cpu *c = m->cpu;
    uint8_t buf[16];
    assert_int_equal(gdb_mem_read(c, 0x6000, buf, 4), 0); /* not present */
    assert_int_equal(gdb_mem_read(c, 0x7000, buf, 4), 0); /* MMIO */
    assert_int_equal(gdb_mem_read(c, 0x7fff00000000ull, buf, 4), 0);
    /* A read runs up to the first page it cannot reach. */
    assert_int_equal(gdb_mem_read(c, 0x5FF8, buf, 16), 8);
    assert_false(c->exc.raised);
    machine_destroy(m);
}

static void test_writes_reach_ram_through_the_tables(void **state)
{
    (void)state;
    struct machine *m = paged_machine();
    struct cpu *c = m->cpu;
    assert_int_equal(gdb_mem_write(c, 0x5010, (const uint8_t *)"xy", 2), 2);
    assert_memory_equal(m->ram + 0x200010, "xy", 2);
    assert_int_equal(gdb_mem_write(c, 0x6000, (const uint8_t *)"z", 1), 0);
    machine_destroy(m);
}

static void test_without_paging(void **state)
{
    (void)state;
    struct machine *m = machine_create(4, NULL);
    assert_non_null(m);
    struct cpu *c = m->cpu;
    cpu_reset_multiboot(c, 0, 0); /* protected mode, paging off */
    memcpy(m->ram + 0x1234, "flat", 4);
    uint8_t buf[4];
    assert_int_equal(gdb_mem_read(c, 0x1234, buf, 4), 4);
    assert_memory_equal(buf, "flat", 4);
    /* No linear address above 4 GiB outside IA-32e mode. */
    assert_int_equal(gdb_mem_read(c, 0x100001234ull, buf, 4), 0);
    assert_int_equal(gdb_mem_read(c, 0x3FFFFE, buf, 4), 2); /* RAM ends */
    machine_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_through_the_page_tables),
        cmocka_unit_test(test_only_ram_is_reached),
        cmocka_unit_test(test_writes_reach_ram_through_the_tables),
        cmocka_unit_test(test_without_paging),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
