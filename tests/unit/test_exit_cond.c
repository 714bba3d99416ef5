/* l0/vmx/exit_cond.c: the exit predicates of VMX non-root operation and
 * the CR and I/O exit qualifications. Expected values are worked out
 * from the SDM's rules (Vol. 3C 26.1.3, 25.6, 28.2.1, Appendix C) in each
 * test, never taken from the code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpu/mmu.h" /* CR0_*, CR4_*, PFEC_*: names only */
#include "vmx/exit_cond.h"

/* Physical memory for the bitmaps: 64 KiB at MEM_BASE, everything else
 * unbacked. I/O bitmap B is not adjacent to A, and the gap between them
 * is all ones, so looking a port up in the wrong place makes it exit. */
enum {
    MEM_BASE = 0x100000,
    MEM_SIZE = 0x10000,
    IO_A = MEM_BASE,
    IO_B = MEM_BASE + 0x8000,
    MSR_BITMAP = MEM_BASE + 0x4000,
    UNBACKED = 0x40000000,
};

#include "fake_phys.h"

static int reset_memory(void **state)
{
    (void)state;
    memset(mem, 0xff, sizeof mem);
    memset(&mem[IO_A - MEM_BASE], 0, 0x1000);
    memset(&mem[IO_B - MEM_BASE], 0, 0x1000);
    memset(&mem[MSR_BITMAP - MEM_BASE], 0, 0x1000);
    return 0;
}

/* Sets the bit of one port the way SDM 25.6.4 lays the bitmaps out. */
static void io_bit(uint32_t port)
{
    uint64_t base = port < 0x8000 ? IO_A : IO_B;
    uint32_t index = port & 0x7fff;
    mem[base - MEM_BASE + index / 8] |= (uint8_t)(1u << (index % 8));
}

static bool io(uint32_t proc, uint32_t port, unsigned size)
{
    return vmx_io_exits(proc, IO_A, IO_B, (uint16_t)port, size, fake_read,
                        NULL);
}

static const unsigned io_sizes[] = {1, 2, 4};

/* ---- I/O ---- */

static void test_io_no_control_never_exits(void **state)
{
    (void)state;
    io_bit(0x60);
    assert_false(io(0, 0x60, 1));
    assert_false(io(0, 0xffff, 4)); /* not even wrap-around */
}

static void test_io_unconditional_exits_every_port(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        assert_true(io(PROC_UNCOND_IO_EXITING, 0, io_sizes[i]));
        assert_true(io(PROC_UNCOND_IO_EXITING, 0x3f8, io_sizes[i]));
        assert_true(io(PROC_UNCOND_IO_EXITING, 0xfffc, io_sizes[i]));
    }
}

/* "use I/O bitmaps" = 1 makes "unconditional I/O exiting" irrelevant. */
static void test_io_bitmaps_override_unconditional(void **state)
{
    (void)state;
    uint32_t both = PROC_UNCOND_IO_EXITING | PROC_USE_IO_BITMAPS;
    assert_false(io(both, 0x3f8, 1));
    io_bit(0x3f8);
    assert_true(io(both, 0x3f8, 1));
    assert_true(io(PROC_USE_IO_BITMAPS, 0x3f8, 1));
}

static void test_io_bitmap_a_and_b_bit_positions(void **state)
{
    (void)state;
    io_bit(0x3f9);  /* A, byte 0x7f, bit 1 */
    io_bit(0x8900); /* B, byte 0x120, bit 0 */
    assert_true(io(PROC_USE_IO_BITMAPS, 0x3f9, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x3f8, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x3fa, 1));
    assert_true(io(PROC_USE_IO_BITMAPS, 0x8900, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x0900, 1)); /* same index in A */
    assert_false(io(PROC_USE_IO_BITMAPS, 0x8901, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x0000, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0xffff, 1));
}

/* An access of size s at port p touches ports p .. p+s-1: it exits iff
 * one of their bits is set. */
static void test_io_every_size_checks_every_byte(void **state)
{
    for (size_t i = 0; i < 3; i++) {
        unsigned size = io_sizes[i];
        for (unsigned k = 0; k < 4; k++) {
            reset_memory(state);
            io_bit(0x1000 + k);
            assert_int_equal(io(PROC_USE_IO_BITMAPS, 0x1000, size), k < size);
        }
    }
}

static void test_io_access_ending_before_a_set_bit_does_not_exit(void **state)
{
    (void)state;
    io_bit(0x2004);
    for (size_t i = 0; i < 3; i++) {
        unsigned size = io_sizes[i];
        assert_false(io(PROC_USE_IO_BITMAPS, 0x2004 - size, size));
        assert_true(io(PROC_USE_IO_BITMAPS, 0x2005 - size, size));
    }
}

/* Port 0x7FFF size 2 touches 0x7FFF (last bit of A) and 0x8000 (first bit
 * of B). */
static void test_io_access_spanning_bitmaps_a_and_b(void **state)
{
    assert_false(io(PROC_USE_IO_BITMAPS, 0x7fff, 2));
    io_bit(0x8000);
    assert_true(io(PROC_USE_IO_BITMAPS, 0x7fff, 2));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x7fff, 1));
    reset_memory(state);
    io_bit(0x7fff);
    assert_true(io(PROC_USE_IO_BITMAPS, 0x7fff, 2));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x8000, 4));
    reset_memory(state);
    io_bit(0x8002);
    assert_true(io(PROC_USE_IO_BITMAPS, 0x7fff, 4));
    assert_false(io(PROC_USE_IO_BITMAPS, 0x7ffd, 2));
}

/* SDM 26.1.3: an access that wraps from port 0xFFFF to 0 exits whatever
 * the bitmaps hold. */
static void test_io_wraparound_always_exits(void **state)
{
    (void)state;
    assert_true(io(PROC_USE_IO_BITMAPS, 0xffff, 2));
    assert_true(io(PROC_USE_IO_BITMAPS, 0xffff, 4));
    assert_true(io(PROC_USE_IO_BITMAPS, 0xfffd, 4));
    /* Ending exactly at 0xFFFF is no wrap. */
    assert_false(io(PROC_USE_IO_BITMAPS, 0xffff, 1));
    assert_false(io(PROC_USE_IO_BITMAPS, 0xfffe, 2));
    assert_false(io(PROC_USE_IO_BITMAPS, 0xfffc, 4));
}

static void test_io_bitmap_outside_memory_exits(void **state)
{
    (void)state;
    assert_true(vmx_io_exits(PROC_USE_IO_BITMAPS, UNBACKED, IO_B, 0x60, 1,
                             fake_read, NULL));
    assert_false(vmx_io_exits(PROC_USE_IO_BITMAPS, UNBACKED, IO_B, 0x8060, 1,
                              fake_read, NULL));
}

/* SDM 28.2.1, Table 28-5. */
static void test_io_qualification_encoding(void **state)
{
    (void)state;
    /* OUT DX, AL to 0x3F8: size 0, OUT, DX, port in 31:16. */
    struct vmx_io_access out = {.port = 0x3f8, .size = 1};
    assert_int_equal(vmx_io_qualification(&out), 0x03f80000);
    /* IN EAX, 0x60: size code 3, bit 3 (IN), bit 6 (immediate). */
    struct vmx_io_access in = {.port = 0x60, .size = 4, .in = true,
                               .immediate = true};
    assert_int_equal(vmx_io_qualification(&in), 0x00600000 | 3 | 8 | 0x40);
    /* REP OUTSW to 0x8900: size code 1, bit 4 (string), bit 5 (REP). */
    struct vmx_io_access outs = {.port = 0x8900, .size = 2, .string = true,
                                 .rep = true};
    assert_int_equal(vmx_io_qualification(&outs), 0x89000000ull | 1 | 0x30);
    /* INSB from 0xFFFF: no bit above 31 ever set. */
    struct vmx_io_access ins = {.port = 0xffff, .size = 1, .in = true,
                                .string = true};
    assert_int_equal(vmx_io_qualification(&ins), 0xffff0000ull | 8 | 0x10);
}

/* ---- MSRs ---- */

/* Sets an MSR's bit at offset `offset` of the bitmap page (SDM 25.6.9). */
static void msr_bit(unsigned offset, uint32_t index)
{
    mem[MSR_BITMAP - MEM_BASE + offset + index / 8] |=
        (uint8_t)(1u << (index % 8));
}

static bool rdmsr(uint32_t proc, uint32_t msr)
{
    return vmx_msr_exits(proc, MSR_BITMAP, msr, false, fake_read, NULL);
}

static bool wrmsr(uint32_t proc, uint32_t msr)
{
    return vmx_msr_exits(proc, MSR_BITMAP, msr, true, fake_read, NULL);
}

static void test_msr_without_bitmaps_always_exits(void **state)
{
    (void)state;
    assert_true(rdmsr(0, 0x10));
    assert_true(wrmsr(0, 0x10));
    assert_true(rdmsr(PROC_USE_IO_BITMAPS, 0xc0000080));
}

static void test_msr_low_range_read_and_write_bitmaps(void **state)
{
    (void)state;
    uint32_t p = PROC_USE_MSR_BITMAPS;
    assert_false(rdmsr(p, 0x10));
    assert_false(wrmsr(p, 0x10));
    msr_bit(0, 0x10); /* read-low: byte 2, bit 0 */
    assert_true(rdmsr(p, 0x10));
    assert_false(wrmsr(p, 0x10));
    msr_bit(2048, 0x1fff); /* write-low: last bit */
    assert_true(wrmsr(p, 0x1fff));
    assert_false(rdmsr(p, 0x1fff));
    assert_false(wrmsr(p, 0x1ffe));
}

static void test_msr_high_range_read_and_write_bitmaps(void **state)
{
    (void)state;
    uint32_t p = PROC_USE_MSR_BITMAPS;
    msr_bit(1024, 0x80); /* read-high: IA32_EFER = 0xC0000080 */
    assert_true(rdmsr(p, 0xc0000080));
    assert_false(wrmsr(p, 0xc0000080));
    assert_false(rdmsr(p, 0x80)); /* same index, low range */
    msr_bit(3072, 0x102); /* write-high: IA32_KERNEL_GS_BASE */
    assert_true(wrmsr(p, 0xc0000102));
    assert_false(rdmsr(p, 0xc0000102));
    assert_false(wrmsr(p, 0x102));
    assert_false(rdmsr(p, 0xc0000000));
    assert_false(wrmsr(p, 0xc0001fff));
}

static void test_msr_outside_both_ranges_always_exits(void **state)
{
    (void)state;
    static const uint32_t outside[] = {
        0x2000, 0x480 + 0x10000, 0x40000000, 0xbfffffff,
        0xc0002000, 0xc0010000, 0xffffffff,
    };
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        assert_true(rdmsr(PROC_USE_MSR_BITMAPS, outside[i]));
        assert_true(wrmsr(PROC_USE_MSR_BITMAPS, outside[i]));
    }
}

static void test_msr_bitmap_outside_memory_exits(void **state)
{
    (void)state;
    assert_true(vmx_msr_exits(PROC_USE_MSR_BITMAPS, UNBACKED, 0x10, false,
                              fake_read, NULL));
}

/* ---- Control registers ---- */


static bool mov_to(const struct vmx_cr_controls *c, unsigned cr,
                   uint64_t value)
{
    struct vmx_cr_access a = {.type = VMX_CR_MOV_TO, .cr = cr,
                              .value = value};
    return vmx_cr_access_exits(c, &a);
}

static bool mov_from(const struct vmx_cr_controls *c, unsigned cr)
{
    struct vmx_cr_access a = {.type = VMX_CR_MOV_FROM, .cr = cr};
    return vmx_cr_access_exits(c, &a);
}

/* MOV to CR0 exits unless each bit set in the mask has the shadow's
 * value in the source. */
static void test_mov_to_cr0_mask_and_shadow(void **state)
{
    (void)state;
    static const struct {
        uint64_t mask, shadow, value;
        bool exits;
    } rows[] = {
        {0, 0, CR0_PG | CR0_PE, false},            /* nothing host-owned */
        {0, ~0ull, 0, false},
        {CR0_PG | CR0_PE, CR0_PG | CR0_PE, CR0_PG | CR0_PE | CR0_ET, false},
        {CR0_PG | CR0_PE, CR0_PG | CR0_PE, CR0_PE, true}, /* clears PG */
        {CR0_PG | CR0_PE, CR0_PG | CR0_PE, CR0_PG, true}, /* clears PE */
        {CR0_TS, 0, CR0_TS, true},                 /* sets a masked bit */
        {CR0_TS, CR0_TS, CR0_TS | CR0_MP, false},
        {CR0_NE, CR0_NE, CR0_NE | CR0_PG | CR0_PE, false},
        {~0ull, 0x80000011, 0x80000011, false},
        {~0ull, 0x80000011, 0x80000031, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct vmx_cr_controls c = {.cr0_mask = rows[i].mask,
                                    .cr0_shadow = rows[i].shadow};
        assert_int_equal(mov_to(&c, 0, rows[i].value), rows[i].exits);
    }
}

/* CR4 has its own mask and shadow; CR0's do not apply to it. */
static void test_mov_to_cr4_uses_cr4_mask_and_shadow(void **state)
{
    (void)state;
    struct vmx_cr_controls c = {.cr0_mask = ~0ull, .cr0_shadow = 0,
                                .cr4_mask = CR4_VMXE, .cr4_shadow = 0};
    assert_false(mov_to(&c, 4, CR4_PAE));
    assert_true(mov_to(&c, 4, CR4_PAE | CR4_VMXE));
    c.cr4_shadow = CR4_VMXE;
    assert_true(mov_to(&c, 4, CR4_PAE));
    assert_false(mov_to(&c, 4, CR4_PAE | CR4_VMXE));
    /* And CR4's do not apply to CR0. */
    struct vmx_cr_controls d = {.cr4_mask = ~0ull};
    assert_false(mov_to(&d, 0, CR0_PG | CR0_PE));
}

/* Reads of CR0/CR4 never exit; masked bits come from the shadow. */
static void test_mov_from_cr0_cr4_reads_shadow_without_exit(void **state)
{
    (void)state;
    struct vmx_cr_controls c = {.proc_ctls = ~0u, .cr0_mask = ~0ull,
                                .cr4_mask = ~0ull};
    assert_false(mov_from(&c, 0));
    assert_false(mov_from(&c, 4));
    /* CR0 = PG|NE|ET|PE, NE owned by the host, shadow NE = 0. */
    assert_int_equal(vmx_cr_read_shadowed(0x80000031, CR0_NE, 0), 0x80000011);
    /* Shadow bits outside the mask are not seen. */
    assert_int_equal(vmx_cr_read_shadowed(0x80000011, CR0_NE, ~0ull),
                     0x80000031);
    assert_int_equal(vmx_cr_read_shadowed(0x2020, CR4_VMXE, 0), 0x20);
    assert_int_equal(vmx_cr_read_shadowed(0x2020, 0, 0), 0x2020);
}

/* A MOV to CR0/CR4 that does not exit leaves host-owned bits alone. */
static void test_mov_to_cr_without_exit_keeps_host_bits(void **state)
{
    (void)state;
    struct vmx_cr_controls c = {.cr0_mask = CR0_NE, .cr0_shadow = 0,
                                .cr4_mask = CR4_VMXE, .cr4_shadow = 0};
    struct vmx_cr_access a = {.type = VMX_CR_MOV_TO, .cr = 0,
                              .value = CR0_PG | CR0_ET | CR0_PE};
    assert_false(vmx_cr_access_exits(&c, &a));
    assert_int_equal(vmx_cr_write_result(&c, &a, CR0_PG | CR0_NE | CR0_ET |
                                                     CR0_PE),
                     CR0_PG | CR0_NE | CR0_ET | CR0_PE);
    a.cr = 4;
    a.value = CR4_PAE;
    assert_int_equal(vmx_cr_write_result(&c, &a, CR4_VMXE),
                     CR4_VMXE | CR4_PAE);
    /* CR3 has no mask: the value is taken whole. */
    a.cr = 3;
    a.value = 0x5000;
    assert_int_equal(vmx_cr_write_result(&c, &a, 0x1000), 0x5000);
}

/* CLTS exits iff TS is set in both the mask and the shadow; without an
 * exit it clears TS unless TS is host-owned. */
static void test_clts_rules(void **state)
{
    (void)state;
    static const struct {
        uint64_t mask, shadow;
        bool exits;
        uint64_t result; /* from CR0 = PG|TS|PE when it does not exit */
    } rows[] = {
        {0, 0, false, CR0_PG | CR0_PE},
        {0, CR0_TS, false, CR0_PG | CR0_PE},
        {CR0_TS, 0, false, CR0_PG | CR0_TS | CR0_PE},
        {CR0_TS, CR0_TS, true, 0},
        {~0ull & ~(uint64_t)CR0_TS, ~0ull, false, CR0_PG | CR0_PE},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct vmx_cr_controls c = {.cr0_mask = rows[i].mask,
                                    .cr0_shadow = rows[i].shadow};
        struct vmx_cr_access a = {.type = VMX_CR_CLTS};
        assert_int_equal(vmx_cr_access_exits(&c, &a), rows[i].exits);
        if (!rows[i].exits)
            assert_int_equal(
                vmx_cr_write_result(&c, &a, CR0_PG | CR0_TS | CR0_PE),
                rows[i].result);
    }
}

/* LMSW: exits if it would set a host-owned PE that the shadow has clear,
 * or if a host-owned MP/EM/TS differs from the shadow; bits above 3 of
 * the source are not loaded and never matter. */
static void test_lmsw_exit_rules(void **state)
{
    (void)state;
    static const struct {
        uint64_t mask, shadow;
        uint16_t src;
        bool exits;
    } rows[] = {
        {0, 0, 0xffff, false},
        {CR0_PE, 0, CR0_PE, true},       /* would set PE */
        {CR0_PE, CR0_PE, 0, false},      /* cannot clear PE: no change */
        {CR0_PE, 0, 0, false},
        {CR0_PE, CR0_PE, CR0_PE, false},
        {CR0_MP, 0, CR0_MP, true},
        {CR0_MP, CR0_MP, 0, true},
        {CR0_MP, CR0_MP, CR0_MP, false},
        {CR0_EM, 0, CR0_EM | CR0_MP, true},
        {CR0_TS, CR0_TS, CR0_PE, true},
        {CR0_NE, 0, CR0_NE, false},      /* bit 5 is not LMSW's */
        {~0ull & ~0xfull, 0, 0xfff0, false},
        {0xf, CR0_PE | CR0_TS, CR0_PE | CR0_TS, false},
        {0xf, CR0_PE | CR0_TS, CR0_TS, false}, /* PE clear: ignored */
        {0xf, CR0_PE | CR0_TS, CR0_PE, true},  /* TS differs */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct vmx_cr_controls c = {.cr0_mask = rows[i].mask,
                                    .cr0_shadow = rows[i].shadow};
        struct vmx_cr_access a = {.type = VMX_CR_LMSW, .value = rows[i].src};
        assert_int_equal(vmx_cr_access_exits(&c, &a), rows[i].exits);
    }
}

/* LMSW without exit: loads CR0[3:0] except host-owned bits, never clears
 * PE, never touches bits above 3. */
static void test_lmsw_result(void **state)
{
    (void)state;
    struct vmx_cr_controls c = {0};
    struct vmx_cr_access a = {.type = VMX_CR_LMSW, .value = 0xfffe};
    assert_int_equal(vmx_cr_write_result(&c, &a, CR0_PG | CR0_ET | CR0_PE),
                     CR0_PG | CR0_ET | CR0_TS | CR0_EM | CR0_MP | CR0_PE);
    a.value = 0;
    assert_int_equal(vmx_cr_write_result(&c, &a, CR0_PG | CR0_TS | CR0_PE),
                     CR0_PG | CR0_PE);
    a.value = CR0_PE;
    assert_int_equal(vmx_cr_write_result(&c, &a, CR0_ET), CR0_ET | CR0_PE);
    c.cr0_mask = CR0_TS;
    a.value = CR0_MP;
    assert_int_equal(vmx_cr_write_result(&c, &a, CR0_TS | CR0_PE),
                     CR0_TS | CR0_MP | CR0_PE);
}

/* MOV to CR3 with CR3-load exiting exits unless the value is one of the
 * first n targets. */
static void test_cr3_target_list(void **state)
{
    (void)state;
    const uint64_t targets[4] = {0x1000, 0x2000, 0x3000, 0x4000};
    for (unsigned n = 0; n <= 4; n++) {
        struct vmx_cr_controls c = {.proc_ctls = PROC_CR3_LOAD_EXITING,
                                    .cr3_target_count = n};
        memcpy(c.cr3_target, targets, sizeof targets);
        for (unsigned i = 0; i < 4; i++)
            assert_int_equal(mov_to(&c, 3, targets[i]), i >= n);
        assert_true(mov_to(&c, 3, 0x5000));
        assert_true(mov_to(&c, 3, 0x1001));
        /* Without CR3-load exiting the list does not matter. */
        c.proc_ctls = 0;
        assert_false(mov_to(&c, 3, 0x5000));
        assert_false(mov_to(&c, 3, targets[0]));
    }
}

static void test_cr3_store_and_cr8_controls(void **state)
{
    (void)state;
    struct vmx_cr_controls c = {0};
    assert_false(mov_from(&c, 3));
    assert_false(mov_from(&c, 8));
    assert_false(mov_to(&c, 8, 0xf));
    c.proc_ctls = PROC_CR3_STORE_EXITING;
    assert_true(mov_from(&c, 3));
    assert_false(mov_from(&c, 8));
    assert_false(mov_to(&c, 3, 0x1000)); /* load exiting is separate */
    c.proc_ctls = PROC_CR8_LOAD_EXITING;
    assert_true(mov_to(&c, 8, 0));
    assert_false(mov_from(&c, 8));
    c.proc_ctls = PROC_CR8_STORE_EXITING;
    assert_true(mov_from(&c, 8));
    assert_false(mov_to(&c, 8, 0));
    /* "use TPR shadow" alone never makes CR8 accesses exit. */
    c.proc_ctls = PROC_TPR_SHADOW;
    assert_false(mov_to(&c, 8, 0));
    assert_false(mov_from(&c, 8));
    c.proc_ctls = PROC_TPR_SHADOW | PROC_CR8_LOAD_EXITING;
    assert_true(mov_to(&c, 8, 0));
}

/* SDM 28.2.1, Table 28-3. */
static void test_cr_qualification_encoding(void **state)
{
    (void)state;
    /* MOV CR3, RBX: CR 3, type 0, register 3 in bits 11:8. */
    struct vmx_cr_access a = {.type = VMX_CR_MOV_TO, .cr = 3, .gpr = 3};
    assert_int_equal(vmx_cr_qualification(&a), 0x303);
    /* MOV R15, CR8: CR 8, type 1 in bits 5:4, register 15. */
    struct vmx_cr_access b = {.type = VMX_CR_MOV_FROM, .cr = 8, .gpr = 15};
    assert_int_equal(vmx_cr_qualification(&b), 0xf18);
    /* MOV CR0, RAX. */
    struct vmx_cr_access c = {.type = VMX_CR_MOV_TO, .cr = 0, .gpr = 0,
                              .value = 0x80000011};
    assert_int_equal(vmx_cr_qualification(&c), 0);
    /* CLTS: type 2, everything else 0 even if the struct has junk. */
    struct vmx_cr_access d = {.type = VMX_CR_CLTS, .cr = 4, .gpr = 7,
                              .value = 0xffff};
    assert_int_equal(vmx_cr_qualification(&d), 0x20);
    /* LMSW from memory, source 0xFFFF: type 3, bit 6, data in 31:16; CR
     * and register fields 0. */
    struct vmx_cr_access e = {.type = VMX_CR_LMSW, .cr = 4, .gpr = 7,
                              .value = 0xffff, .lmsw_memory = true};
    assert_int_equal(vmx_cr_qualification(&e), 0xffff0070ull);
    /* LMSW from a register, source 0x000B. */
    struct vmx_cr_access f = {.type = VMX_CR_LMSW, .value = 0xb};
    assert_int_equal(vmx_cr_qualification(&f), 0x000b0030);
}

/* ---- Exceptions ---- */

static void test_exception_bitmap_selects_each_vector(void **state)
{
    (void)state;
    for (unsigned v = 0; v < 32; v++) {
        if (v == 2 || v == 14)
            continue;
        for (unsigned w = 0; w < 32; w++) {
            if (w == 2 || w == 14)
                continue;
            assert_int_equal(vmx_exception_exits(1u << v, w, 0, 0, 0),
                             v == w);
        }
    }
}

static void test_exception_nmi_and_interrupt_vectors_never_exit(void **state)
{
    (void)state;
    assert_false(vmx_exception_exits(~0u, 2, 0, 0, 0));
    assert_false(vmx_exception_exits(~0u, 32, 0, 0, 0));
    assert_false(vmx_exception_exits(~0u, 255, 0, 0, 0));
}

/* #PF: if (PFEC & mask) == match, exit iff bit 14 is 1; otherwise exit
 * iff bit 14 is 0. */
static void test_page_fault_mask_match_truth_table(void **state)
{
    (void)state;
    enum { P = PFEC_P, W = PFEC_W, U = PFEC_U };
    static const struct {
        uint32_t bit14, pfec, mask, match;
        bool exits;
    } rows[] = {
        /* mask 0, match 0: always equal, bit 14 decides directly. */
        {1, P | W, 0, 0, true},
        {0, P | W, 0, 0, false},
        /* mask 0, match != 0: never equal, bit 14 inverted. */
        {0, P | W, 0, 0xffffffff, true},
        {1, P | W, 0, 0xffffffff, false},
        /* Only faults on present pages (P = 1) when bit 14 = 1. */
        {1, P, P, P, true},
        {1, P | W | U, P, P, true},
        {1, W, P, P, false},
        {1, 0, P, P, false},
        /* ... and only not-present ones when bit 14 = 0. */
        {0, W, P, P, true},
        {0, P | W, P, P, false},
        /* Write faults from user mode only. */
        {1, W | U, W | U, W | U, true},
        {1, P | W | U, W | U, W | U, true},
        {1, W, W | U, W | U, false},
        {0, U, W | U, W | U, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint32_t bitmap = rows[i].bit14 << 14;
        assert_int_equal(vmx_exception_exits(bitmap, 14, rows[i].pfec,
                                             rows[i].mask, rows[i].match),
                         rows[i].exits);
    }
}

/* The mask/match rule belongs to #PF alone. */
static void test_error_code_rule_only_for_page_faults(void **state)
{
    (void)state;
    /* #GP (13) with a mismatching mask/match still follows its bit. */
    assert_true(vmx_exception_exits(1u << 13, 13, 0, 0, 1));
    assert_false(vmx_exception_exits(0, 13, 0, 0, 1));
    /* #PF's bit and a matching mask/match do not leak into other vectors. */
    assert_false(vmx_exception_exits(1u << 14, 13, 0, 0, 0));
    assert_false(vmx_exception_exits(1u << 14, 15, 0, 0, 0));
}

/* ---- Exit reasons ---- */

static void test_exit_reason_names(void **state)
{
    (void)state;
    assert_string_equal(vmx_exit_reason_name(VMX_EXIT_CPUID), "CPUID");
    assert_int_equal(VMX_EXIT_CPUID, 10);
    assert_int_equal(VMX_EXIT_CR_ACCESS, 28);
    assert_int_equal(VMX_EXIT_IO, 30);
    assert_int_equal(VMX_EXIT_EPT_VIOLATION, 48);
    assert_int_equal(VMX_EXIT_EPT_MISCONFIG, 49);
    assert_int_equal(VMX_EXIT_PREEMPTION_TIMER, 52);
    assert_string_equal(vmx_exit_reason_name(48), "EPT violation");
    assert_string_equal(vmx_exit_reason_name(2), "triple fault");
    assert_non_null(vmx_exit_reason_name(0));
    assert_non_null(vmx_exit_reason_name(69));
}

/* Appendix C leaves 35, 38 and 42 out below 70; the model knows nothing
 * from 70 on, nor any value with bits above 15. */
static void test_undefined_exit_reasons_are_recognised(void **state)
{
    (void)state;
    unsigned defined = 0;
    for (uint32_t r = 0; r < 70; r++) {
        bool hole = r == 35 || r == 38 || r == 42;
        assert_int_equal(vmx_exit_reason_defined(r), !hole);
        if (!hole) {
            assert_true(strlen(vmx_exit_reason_name(r)) > 0);
            defined++;
        }
    }
    assert_int_equal(defined, 67);
    assert_false(vmx_exit_reason_defined(70));
    assert_false(vmx_exit_reason_defined(0xffff));
    assert_false(vmx_exit_reason_defined(0x10000 | 10));
    assert_false(vmx_exit_reason_defined(VMX_EXIT_REASON_ENTRY_FAILURE | 33));
    assert_null(vmx_exit_reason_name(0xffffffff));
}

/* Every name is different, so a message names one reason. */
static void test_exit_reason_names_are_distinct(void **state)
{
    (void)state;
    for (uint32_t a = 0; a < 70; a++)
        for (uint32_t b = a + 1; b < 70; b++)
            if (vmx_exit_reason_defined(a) && vmx_exit_reason_defined(b))
                assert_string_not_equal(vmx_exit_reason_name(a),
                                        vmx_exit_reason_name(b));
}

#define T(f) cmocka_unit_test_setup(f, reset_memory)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_io_no_control_never_exits),
        T(test_io_unconditional_exits_every_port),
        T(test_io_bitmaps_override_unconditional),
        T(test_io_bitmap_a_and_b_bit_positions),
        T(test_io_every_size_checks_every_byte),
        T(test_io_access_ending_before_a_set_bit_does_not_exit),
        T(test_io_access_spanning_bitmaps_a_and_b),
        T(test_io_wraparound_always_exits),
        T(test_io_bitmap_outside_memory_exits),
        T(test_io_qualification_encoding),
        T(test_msr_without_bitmaps_always_exits),
        T(test_msr_low_range_read_and_write_bitmaps),
        T(test_msr_high_range_read_and_write_bitmaps),
        T(test_msr_outside_both_ranges_always_exits),
        T(test_msr_bitmap_outside_memory_exits),
        T(test_mov_to_cr0_mask_and_shadow),
        T(test_mov_to_cr4_uses_cr4_mask_and_shadow),
        T(test_mov_from_cr0_cr4_reads_shadow_without_exit),
        T(test_mov_to_cr_without_exit_keeps_host_bits),
        T(test_clts_rules),
        T(test_lmsw_exit_rules),
        T(test_lmsw_result),
        T(test_cr3_target_list),
        T(test_cr3_store_and_cr8_controls),
        T(test_cr_qualification_encoding),
        T(test_exception_bitmap_selects_each_vector),
        T(test_exception_nmi_and_interrupt_vectors_never_exit),
        T(test_page_fault_mask_match_truth_table),
        T(test_error_code_rule_only_for_page_faults),
        T(test_exit_reason_names),
        T(test_undefined_exit_reasons_are_recognised),
        T(test_exit_reason_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
