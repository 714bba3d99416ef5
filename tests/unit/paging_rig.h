/* A whole machine in 64-bit mode for the unit tests that run code or
 * make data accesses through its paging: four-level tables at fixed
 * addresses and a 64-bit code segment at CPL 0. */
#ifndef TESTS_UNIT_PAGING_RIG_H
#define TESTS_UNIT_PAGING_RIG_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/mmu.h"
#include "machine.h"

enum { RIG_PML4 = 0x1000, RIG_PDPT = 0x2000, RIG_PD = 0x3000 };

static void put64(struct machine *m, uint64_t pa, uint64_t v)
{
    memcpy(m->ram + pa, &v, 8);
}

/* PML4[0] -> PDPT[0] -> PD[0] -> the page table at `pt`, which maps the
 * first 2 MiB to themselves in writable 4 KiB pages if `identity`. */
static void rig_tables(struct machine *m, uint64_t pt, bool identity)
{
    put64(m, RIG_PML4, RIG_PDPT | 3);
    put64(m, RIG_PDPT, RIG_PD | 3);
    put64(m, RIG_PD, pt | 3);
    for (uint64_t p = 0; identity && p < 512; p++)
        put64(m, pt + 8 * p, p << 12 | 3);
}

/* 64-bit mode at CPL 0 under those tables (CR0.PG, CR4.PAE, EFER.LME
 * and LMA, CS a 64-bit code segment, selector 8), interrupts off, the
 * software TLB empty. */
static void rig_long_mode(struct cpu *c)
{
    cpu_reset_multiboot(c, 0, 0);
    c->cr0 |= CR0_PG | CR0_NE;
    c->cr4 = CR4_PAE;
    c->cr3 = RIG_PML4;
    c->efer = EFER_LME | EFER_LMA;
    c->seg[SEG_CS] = (struct segment){
        .sel = 8, .base = 0, .limit = 0xFFFFFFFF,
        .attr = 0xB | SEG_ATTR_S | SEG_ATTR_P | SEG_ATTR_L | SEG_ATTR_G};
    cpu_update_mode(c);
    mmu_flush_all(c);
}

#endif
