/* The guest-code fuzzer's programs: generated at random, biased towards
 * instructions where an emulator and a hypervisor most often go wrong,
 * or mutated from earlier ones, and turned into a multiboot image. */
#ifndef FUZZ_GEN_H
#define FUZZ_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct rng {
    uint64_t s;
};

uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint32_t rng_below(struct rng *r, uint32_t n);

struct prog {
    /* How it was generated (not part of the image): the emitters it
     * draws from (swarm testing: each program uses a random subset), and
     * whether it avoids what lets a guest tell bare from single mode
     * (CPUID, RDMSR, RDTSC, port input, VMX), so that the two can be
     * compared (fuzz/check.c). */
    uint32_t emitters;
    bool hidden;

    uint32_t mode; /* PROG_MODE_* */
    uint32_t fault_limit;
    uint32_t cr4_extra;
    uint64_t regs[16];
    uint8_t code[IMG_SLOTS * IMG_SLOT];
};

#define IMAGE_SIZE (IMG_FILE_END - IMG_LOAD)

void prog_generate(struct prog *p, struct rng *r);
/* A few random changes, taking material from `other` (may be p). */
void prog_mutate(struct prog *p, const struct prog *other, struct rng *r);
/* The image bytes (IMAGE_SIZE of them) of a program. */
void prog_image(const struct prog *p, uint8_t *image);
/* The program back from an image that prog_image wrote; -1 if it is not
 * one (wrong size or template). */
int prog_from_image(struct prog *p, const uint8_t *image, size_t size);

#endif
