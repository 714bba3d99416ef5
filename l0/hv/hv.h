/* L0, the host hypervisor, as far as one level needs it (--mode single):
 * it runs the image as its guest under vmcs01 with EPT01 and handles the
 * guest's VM exits in C through one dispatch table (hv.c). Every exit is
 * counted and costed (record/stats.h, hv/cost.h). */
#ifndef L0_HV_HV_H
#define L0_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/cost.h"
#include "record/stats.h"
#include "record/trace.h"
#include "ept-compress/ept02.h"
#include "vmcs-shadow/vmcs12.h"
#include "vmx/entry_memo.h"
#include "vmx/vmcs.h"

struct machine;
struct cpu;

/* L0's own memory, which no guest can reach: host-physical addresses
 * from L0_MEM_BASE (above any RAM, below 2^39) hold EPT01 and bitmaps. */
#define L0_MEM_BASE (1ull << 38)
#define L0_MEM_SIZE (1u << 20)

/* L0's state for running L2 (--mode nested). */
struct nested_state {
    uint64_t dirty[VMCS12_DIRTY_WORDS]; /* vmcs12 fields L1 wrote */
    bool merge_dirty;                   /* --merge dirty */
    bool shadowing;                     /* --vmcs-shadowing on */
    struct vmcs shadow;                 /* the shadow VMCS of vmcs01 */
    uint64_t shadow_pa;                 /* its region, in L0 memory */
    struct ept02 ept02;
    bool ept02_ready;
    bool debug; /* TURTLES_DEBUG set: say why L1's VM entries fail */
};

/* L1's view of VMX (--mode nested): its VMX operation and current VMCS. */
struct l1_vmx {
    bool enabled;      /* L1 sees VMX */
    bool vmxon;
    uint64_t vmxon_ptr;
    uint64_t current;  /* L1-physical address of the current VMCS, or ~0 */
    struct vmcs vmcs12; /* the current VMCS, cached by L0 */
    /* The entry checks of vmcs12's last passing VMLAUNCH/VMRESUME
     * (their env holds `current`, so another VMCS checks in full). */
    struct vmx_check_memo entry_memo;
};

/* Named counters (stats_counter) bumped at every nested transition:
 * each found by its name once, at its first use (so created in the same
 * order as before), then through the pointer. */
struct hv_counters {
    uint64_t *shadow_sync_fields, *vmcs02_fields_copied, *msr_list_entries;
};

struct hv {
    struct machine *m;
    struct cpu *c;
    const struct cost_profile *cost;
    struct exit_stats stats;
    struct hv_counters counters;

    struct vmcs vmcs01;
    struct vmcs vmcs02; /* L2 under L1 (--mode nested), built by L0 */
    struct vmcs *cur; /* the VMCS of the guest being run or handled */

    uint8_t *mem;       /* L0_MEM_SIZE bytes at L0_MEM_BASE */
    uint64_t mem_used;  /* bump allocator, 4 KiB pages */
    uint64_t ept_root;  /* host-physical: EPT01's PML4 */
    uint64_t msr_bitmap;

    int pending_irq;    /* an external interrupt not injected yet, or -1 */
    struct l1_vmx l1;
    struct nested_state nested;
    struct exit_trace *trace; /* every exit, when --trace asks (or NULL) */
    uint64_t episode_start;   /* cycle of the L2 exit being handled */
    uint64_t episode_seq;     /* its trace entry */
    uint64_t mmio_pages_mapped; /* EPT01 mappings made outside RAM */
    bool kvm_traps;             /* --l0-traps kvm (vmcs01.c) */
};

/* Sets up vmcs01 and EPT01 for a guest that starts in the CPU's present
 * state (the boot loader's entry state, cpu_reset_boot). Returns 0, or -1
 * with err set. */
int hv_init(struct hv *h, struct machine *m, const struct cost_profile *cost,
            bool nested, char *err, size_t err_size);
void hv_destroy(struct hv *h);

/* Runs the guest until the machine stops. */
void hv_run(struct hv *h, uint64_t max_insns);

/* Modeled cycles of L0's own work, charged to the clock and, during a
 * nested episode, to its part of the episode. */
void hv_charge(struct hv *h, enum nested_part part, uint64_t cycles);

/* The counter `name` of h->stats, through the pointer kept in *slot (a
 * member of h->counters). */
static inline uint64_t *hv_counter(struct hv *h, uint64_t **slot,
                                   const char *name)
{
    if (!*slot)
        *slot = stats_counter(&h->stats, name);
    return *slot;
}

/* With --trace: one step of L0's own work (record/trace.h) for the exit
 * being handled, or for STEP_L2_RESUMES the L2 exit whose episode ends;
 * exit_seq and cycle are filled in here. */
void hv_step(struct hv *h, struct trace_step s);

/* ---- ept01.c ---- */

uint64_t hv_alloc_page(struct hv *h); /* zeroed; 0 when L0 memory is full */
/* Identity-maps guest RAM (2 MiB pages) and the local APIC page. */
int hv_ept_build(struct hv *h);
/* Maps one 4 KiB page of guest-physical space to the same host-physical
 * page (MMIO: the machine's bus). */
int hv_ept_map_page(struct hv *h, uint64_t gpa, bool uncached);
/* Maps the guest-physical address outside RAM that the guest touched to
 * the same host-physical one (the machine's bus), uncached, with the
 * largest page that holds no RAM. 0, or -1 when L0's memory is full. */
int hv_ept_map_unbacked(struct hv *h, uint64_t gpa);
/* Drops RAM's mappings, which EPT violations then make 4 KiB at a time. */
int hv_ept_unmap_ram(struct hv *h);

/* ---- vmcs01.c ---- */

/* vmcs01 with its guest state taken from the CPU. */
void hv_vmcs01_setup(struct hv *h);
/* --l0-traps kvm: KVM 2.6.35's controls in vmcs01 (single level, before
 * the guest runs). 0, or -1 when L0's memory is full. */
int hv_use_kvm_traps(struct hv *h, uint32_t exception_bitmap);
/* --l0-exception-bitmap: the exceptions L0 intercepts and gives back. */
void hv_set_exception_bitmap(struct hv *h, uint32_t bitmap);

/* ---- handlers.c ---- */

enum hv_action { HV_RESUME, HV_STOP };
typedef enum hv_action (*hv_handler)(struct hv *h);
hv_handler hv_handler_for(struct hv *h, uint32_t basic_reason);
/* Guest RIP past the exiting instruction (and its interrupt shadow). */
void hv_skip_instruction(struct hv *h);
/* A hardware exception for the guest at the next VM entry. */
void hv_inject_exception(struct hv *h, unsigned vector, uint32_t error);
/* The event that an exit's interruption or IDT-vectoring information
 * describes (the same format, SDM Vol. 3C 25.9.2-3), with its error
 * code, for the guest at the next VM entry: an intercepted exception
 * given back, or an event whose delivery the exit interrupted. */
void hv_inject_event_info(struct hv *h, uint32_t info, uint32_t error);

#endif
