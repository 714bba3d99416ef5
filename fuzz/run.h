/* One run of an image on a fresh machine, in this process: bare, single
 * or nested (under the L1 hypervisor), with an instruction limit. What a
 * run ended with is kept for the checks (check.h). */
#ifndef FUZZ_RUN_H
#define FUZZ_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum run_mode { RUN_BARE, RUN_SINGLE, RUN_NESTED, RUN_MODES };

extern const char *const run_mode_names[RUN_MODES];

/* How the CPU finds its instructions (--engine, docs/emulator.md
 * "Engines"): the values of enum cpu_engine (cpu/cpu.h). */
enum { RUN_ENGINES = 3 };
extern const char *const run_engine_names[RUN_ENGINES];

#define RUN_OUT_MAX 4096

struct run_result {
    int stop;             /* enum machine_stop */
    uint32_t exit_status;
    uint64_t insns, cycles;
    uint64_t out_len;     /* serial bytes, of which the first RUN_OUT_MAX */
    uint64_t out_hash;    /* FNV-1a of all of them */
    uint64_t ram_hash;    /* of the code region, data and stack afterwards */
    uint64_t state_hash;  /* of the GPRs, RIP and RFLAGS at the end */
    uint64_t exits;       /* VM exits L0 saw (single, nested) */
    uint64_t exit_hash;   /* of each one's reason, qualification, RIP
                             and modeled cycle, in order */
    bool code_changed;    /* the program wrote to its own code */
    bool paging_changed;  /* ... or to its page tables (layout.h) */
    uint64_t exit_reasons; /* single/nested: bit n set if L0 saw reason n */
    bool port_input;      /* single: an I/O exit for IN or INS */
    bool exits_in_step;   /* single: every VM exit was one that L0 completes
                             in the guest's step that exited (run.c) */
    char stop_message[256];
    uint8_t out[RUN_OUT_MAX];
};

struct run_config {
    uint64_t max_insns;
    uint64_t mem_mib;     /* bare and single */
    uint64_t nested_mem_mib; /* nested: room for the L1 hypervisor */
    const char *l1_path;  /* nested: the L1 hypervisor's image */
    const char *l1_args;
};

/* Runs `image` (its bytes, a multiboot file) once, with the CPU's
 * `engine` (enum cpu_engine); with `first_entry`, blocks built at the
 * first arrival at their start and, under the JIT, their runs compiled
 * at their first entry (0: the emulator's defaults). For nested mode the
 * image is passed to the L1 hypervisor as its module through a memfd.
 * Returns 0, or -1 if the machine could not even be set up (the reason
 * in r->stop_message). */
int run_image(const struct run_config *cfg, enum run_mode mode, int engine,
              unsigned first_entry, const uint8_t *image, size_t size,
              struct run_result *r);

#endif
