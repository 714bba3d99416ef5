/* Runs one image the way `turtles run` does (l0/main.c), in process. */
#include "run.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/multiboot_load.h"
#include "cpu/block.h"
#include "cpu/cpu.h"
#include "hv/hv.h"
#include "hv/nested.h"
#include "layout.h"
#include "machine.h"
#include "record/trace.h"
#include "vmx/exit_cond.h"

const char *const run_mode_names[RUN_MODES] = {"bare", "single", "nested"};
const char *const run_engine_names[RUN_ENGINES] = {"step", "block", "jit"};
_Static_assert(ENGINE_STEP == 0 && ENGINE_BLOCK == 1 && ENGINE_JIT == 2,
               "run_engine_names follows enum cpu_engine");

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static uint64_t fnv1a_u64(uint64_t h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fnv1a(h, b, sizeof b);
}

#define FNV_START 0xCBF29CE484222325ull

/* FNV-1a's step over 8-byte words instead of bytes, for the 52 KiB of
 * memory each run hashes: byte by byte under ASan it was about a third
 * of a run's CPU before its first instruction (100 us). The XOR and the
 * multiplication by an odd number are each one-to-one, so two memories
 * that differ in one word always hash differently, as FNV-1a's bytes
 * do. `n` is a multiple of 8. */
_Static_assert((IMG_BSS_END - IMG_CODE) % 8 == 0, "hash_words takes words");

static uint64_t hash_words(const uint8_t *p, size_t n)
{
    uint64_t h = FNV_START;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001B3ull;
    }
    return h;
}

/* Whether L0 completes the instruction that exited, or makes it fault,
 * within the step that exited (cpu_finish_event counts the exit as one
 * step against --max-insns, as bare mode counts the instruction): CPUID,
 * INVD, MOV to or from a control register, RDMSR and WRMSR (completed and
 * skipped, or an injected #GP), and IN or OUT (completed and skipped;
 * l0/hv/handlers.c). Not INS/OUTS (bit 4 of the qualification, SDM Vol.
 * 3C Table 28-5) and not EPT violations: L0 resumes the guest at the
 * same instruction, which runs again as a step of its own; nor HLT,
 * external interrupts or anything else, whose steps were not checked. */
static bool completed_in_step(const struct trace_entry *e)
{
    switch (e->reason) {
    case VMX_EXIT_CPUID: case VMX_EXIT_INVD: case VMX_EXIT_CR_ACCESS:
    case VMX_EXIT_RDMSR: case VMX_EXIT_WRMSR:
        return true;
    case VMX_EXIT_IO:
        return !(e->qualification & 16);
    default:
        return false;
    }
}

/* Which exits L0 saw, from the exit trace (SDM Vol. 3C Table 28-5: bit 3 of
 * an I/O exit's qualification is the direction, 1 = IN), and all of them
 * in order for the checks of sameness (the host time of each is not
 * part of it). */
static void summarize_exits(const struct exit_trace *t, struct run_result *r)
{
    r->exits = t->count + t->dropped;
    r->exit_hash = FNV_START;
    r->exits_in_step = t->dropped == 0;
    for (size_t i = 0; i < t->count; i++) {
        const struct trace_entry *e = &t->entries[i];
        if (e->reason < 64)
            r->exit_reasons |= 1ull << e->reason;
        if (e->reason == VMX_EXIT_IO && (e->qualification & 8))
            r->port_input = true;
        if (!completed_in_step(e))
            r->exits_in_step = false;
        r->exit_hash = fnv1a_u64(r->exit_hash, e->reason);
        r->exit_hash = fnv1a_u64(r->exit_hash, e->qualification);
        r->exit_hash = fnv1a_u64(r->exit_hash, e->guest_rip);
        r->exit_hash = fnv1a_u64(r->exit_hash, e->cycle);
    }
}

/* The architectural state a run ended with: a run stopped by the
 * instruction limit in the middle of a loop has printed nothing. */
static uint64_t state_hash(const struct cpu *c)
{
    uint64_t h = FNV_START;
    for (int i = 0; i < 16; i++)
        h = fnv1a_u64(h, c->gpr[i]);
    h = fnv1a_u64(h, c->rip);
    return fnv1a_u64(h, cpu_rflags(c));
}

static void tap(void *ctx, uint8_t byte)
{
    struct run_result *r = ctx;
    if (r->out_len < RUN_OUT_MAX)
        r->out[r->out_len] = byte;
    r->out_len++;
    r->out_hash = fnv1a(r->out_hash, &byte, 1);
}

/* l1vmm loads its L2 from ELF program headers only: the flat image
 * behind an ELF32 header with one PT_LOAD segment (System V gABI) at the
 * image's load address, its bss included. */
enum { ELF_WRAP = 0x1000 };

/* What l1vmm takes to boot and load L2 (REP iterations count). */
enum { NESTED_BOOT_INSNS = 10000000 };

static void put(uint8_t *at, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        at[i] = (uint8_t)(v >> (8 * i));
}

static void elf_wrap(uint8_t *elf, const uint8_t *image, size_t size)
{
    memset(elf, 0, ELF_WRAP);
    static const uint8_t ident[] = {0x7f, 'E', 'L', 'F', 1, 1, 1};
    memcpy(elf, ident, sizeof ident);
    put(elf + 16, 2, 2);    /* ET_EXEC */
    put(elf + 18, 3, 2);    /* EM_386 */
    put(elf + 20, 1, 4);    /* EV_CURRENT */
    put(elf + 24, (uint32_t)image[28] | (uint32_t)image[29] << 8 |
                      (uint32_t)image[30] << 16 | (uint32_t)image[31] << 24,
        4);                 /* e_entry: the multiboot header's entry_addr */
    put(elf + 28, 52, 4);   /* e_phoff */
    put(elf + 40, 52, 2);   /* e_ehsize */
    put(elf + 42, 32, 2);   /* e_phentsize */
    put(elf + 44, 1, 2);    /* e_phnum */
    uint8_t *ph = elf + 52;
    put(ph + 0, 1, 4);      /* PT_LOAD */
    put(ph + 4, ELF_WRAP, 4);
    put(ph + 8, IMG_LOAD, 4);
    put(ph + 12, IMG_LOAD, 4);
    put(ph + 16, (uint32_t)size, 4);
    put(ph + 20, IMG_BSS_END - IMG_LOAD, 4);
    put(ph + 24, 7, 4);     /* RWX */
    put(ph + 28, 0x1000, 4);
}

static int boot(struct machine *m, const struct run_config *cfg,
                enum run_mode mode, const uint8_t *image, size_t size,
                struct boot_entry *entry, char *err, size_t err_size)
{
    if (mode != RUN_NESTED)
        return multiboot_load_image(m, image, size, "image", "", entry, err,
                                    err_size);
    int fd = memfd_create("fuzz-l2", 0);
    if (fd < 0) {
        snprintf(err, err_size, "memfd_create failed");
        return -1;
    }
    int rc = -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    uint8_t elf[ELF_WRAP];
    elf_wrap(elf, image, size);
    if (write(fd, elf, sizeof elf) == (ssize_t)sizeof elf &&
        write(fd, image, size) == (ssize_t)size) {
        struct boot_module l2 = {path, ""};
        struct boot_config bc = {cfg->l1_path, cfg->l1_args, &l2, 1};
        rc = multiboot_load(m, &bc, entry, err, err_size);
    } else {
        snprintf(err, err_size, "cannot write the memfd");
    }
    close(fd);
    return rc;
}

int run_image(const struct run_config *cfg, enum run_mode mode, int engine,
              unsigned first_entry, const uint8_t *image, size_t size,
              struct run_result *r)
{
    memset(r, 0, offsetof(struct run_result, out));
    r->out_hash = FNV_START;
    struct machine *m = machine_create(
        mode == RUN_NESTED ? cfg->nested_mem_mib : cfg->mem_mib, NULL);
    if (!m) {
        snprintf(r->stop_message, sizeof r->stop_message,
                 "cannot create the machine");
        return -1;
    }
    m->serial_tap = tap;
    m->serial_tap_ctx = r;
    struct hv hv; /* single and nested: hv_init zeroes its 73 KiB */
    struct exit_trace trace;
    trace_init(&trace, 1u << 16);
    struct boot_entry entry;
    char err[256];
    int rc = boot(m, cfg, mode, image, size, &entry, err, sizeof err);
    if (rc == 0) {
        cpu_reset_multiboot(m->cpu, entry.entry, entry.info_pa);
        m->cpu->engine = (enum cpu_engine)engine;
        if (first_entry) {
            block_cache_build_after(m->cpu->bcache, 1);
            block_cache_jit_after(m->cpu->bcache, 1);
        }
        if (mode == RUN_BARE)
            cpu_run(m->cpu, cfg->max_insns);
        else if (hv_init(&hv, m, cost_default(),
                         mode == RUN_NESTED, err, sizeof err) == 0 &&
                 (mode != RUN_NESTED || nested_init(&hv, true, true) == 0)) {
            hv.trace = &trace;
            hv_run(&hv, mode == RUN_NESTED ? cfg->max_insns + NESTED_BOOT_INSNS
                                           : cfg->max_insns);
        }
        else
            machine_stop(m, STOP_INTERNAL, 0, "%s", err);
        r->stop = (int)m->stop;
        r->exit_status = m->exit_status;
        r->insns = m->cpu->insns;
        r->cycles = m->cpu->cycles;
        r->state_hash = state_hash(m->cpu);
        snprintf(r->stop_message, sizeof r->stop_message, "%s",
                 m->stop_message);
        summarize_exits(&trace, r);
        if (mode != RUN_NESTED && m->ram_size >= IMG_BSS_END) {
            const uint8_t *code = m->ram + IMG_CODE;
            r->ram_hash = hash_words(code, IMG_BSS_END - IMG_CODE);
            r->code_changed = memcmp(code, image + (IMG_CODE - IMG_LOAD),
                                     IMG_CODE_END - IMG_CODE) != 0;
            r->paging_changed =
                memcmp(m->ram + IMG_PML4, image + (IMG_PML4 - IMG_LOAD),
                       IMG_PD + 4096 - IMG_PML4) != 0;
        }
    } else {
        snprintf(r->stop_message, sizeof r->stop_message, "%s", err);
    }
    if (rc == 0 && mode != RUN_BARE)
        hv_destroy(&hv);
    machine_destroy(m);
    trace_free(&trace);
    return rc;
}
