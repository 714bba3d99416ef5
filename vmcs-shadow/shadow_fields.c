/* The shadowed fields, chosen by what l1vmm's exit path touches (l1vmm/
 * main.c, exitpath.c, exits.c, vmcs.c, shadow.c), in the spirit of KVM's
 * vmcs_shadow_fields.h. The L2 CPUID path of l1vmm's `exit-path=lean`
 * (EXIT_REASON, GUEST_RIP, EXIT_INSN_LEN, GUEST_INTERRUPTIBILITY, then
 * VMWRITE GUEST_RIP) is entirely shadowed: with shadowing on it costs L1
 * no exit to L0. `exit-path=kvm` also writes HOST_CR0, which traps.
 *
 * Deliberately not shadowed:
 * - INSN_ERROR: L0 writes it when it emulates a failing VMX instruction
 *   (VMfailValid, SDM Vol. 3C 31.4); shadowed, L1 would read the shadow's
 *   stale copy. KVM leaves it out for the same reason.
 * - Addresses L0 must check or translate before they reach vmcs02: EPT
 *   pointer, I/O and MSR bitmaps, link pointer, MSR-list addresses.
 * - Pin, secondary, exit controls, host state, masks, exception bitmap,
 *   segment state: written once at setup by l1vmm; trapping keeps them
 *   visible to L0 when they change.
 * - TPR threshold: this CPU offers no TPR shadow (l0/vmx/caps.h), so no
 *   L1 uses it. Preemption-timer value: l1vmm does not arm the timer. */
#include "vmcs-shadow/shadow_fields.h"

#include <string.h>

#include "vmcs-shadow/vmcs12.h"

#define RO(name) {VMCS_IDX_##name, true}
#define RW(name) {VMCS_IDX_##name, false}

const struct shadow_field shadow_fields[] = {
    /* VM-exit information (SDM Vol. 3C 25.9), read on every exit. */
    RO(EXIT_REASON),         /* run loop: the dispatch */
    RO(EXIT_QUALIFICATION),  /* CR, I/O, INVLPG, EPT and #PF handlers */
    RO(EXIT_INSN_LEN),       /* skip_instruction, after each emulation */
    RO(EXIT_INTR_INFO),      /* exceptions and NMIs */
    RO(EXIT_INTR_ERROR),
    RO(IDT_VECTORING_INFO),  /* every exit: an event to re-inject */
    RO(IDT_VECTORING_ERROR),
    RO(GUEST_PHYSICAL_ADDR), /* EPT violations and misconfigurations */
    RO(GUEST_LINEAR_ADDR),   /* read with it by L1s that report faults */
    /* Guest state L1 emulates instructions on (SDM Vol. 3C 25.4). */
    RW(GUEST_RIP),           /* skip_instruction */
    RW(GUEST_RSP),           /* MOV CR with RSP, L2's stack */
    RW(GUEST_RFLAGS),        /* HLT (IF) */
    RW(GUEST_CR0),           /* CR exits, LMSW, CLTS */
    RW(GUEST_CR3),           /* shadow paging's root, MOV from CR3 */
    RW(GUEST_CR4),
    RW(GUEST_EFER),          /* every exit when IA32_VMX_MISC[5] is 0 */
    RW(GUEST_INTERRUPTIBILITY), /* HLT, skipping a STI/MOV SS shadow */
    RW(GUEST_ACTIVITY_STATE),   /* HLT */
    /* Controls L1 changes while it runs L2 (SDM Vol. 3C 25.6-25.8). */
    RW(CR0_READ_SHADOW),     /* what L2 reads of CR0/CR4 */
    RW(CR4_READ_SHADOW),
    RW(ENTRY_INTR_INFO),     /* event injection into L2 (25.8.3) */
    RW(ENTRY_EXCEPTION_ERROR),
    RW(ENTRY_INSN_LEN),
    RW(PROC_CONTROLS),       /* interrupt-window exiting on and off */
    RW(ENTRY_CONTROLS),      /* "IA-32e mode guest" follows L2's EFER */
};

#undef RO
#undef RW

const unsigned shadow_field_count =
    sizeof shadow_fields / sizeof shadow_fields[0];

static const struct shadow_field *find(enum vmcs_index i)
{
    for (unsigned k = 0; k < shadow_field_count; k++)
        if (shadow_fields[k].index == i)
            return &shadow_fields[k];
    return NULL;
}

static bool writable(const struct shadow_field *f, bool vmwrite_any_field)
{
    return !f->read_only || vmwrite_any_field;
}

bool shadow_field_shadowed(enum vmcs_index i, bool write,
                           bool vmwrite_any_field)
{
    const struct shadow_field *f = find(i);
    return f && (!write || writable(f, vmwrite_any_field));
}

static void clear_bit(uint8_t *bitmap, uint32_t encoding)
{
    uint32_t bit = encoding & 0x7FFF;
    bitmap[bit >> 3] &= (uint8_t)~(1u << (bit & 7));
}

/* Both access encodings of the field: the high one (full + 1) is a
 * separate bit of the bitmap for a 64-bit field (SDM Vol. 3C 25.11.2). */
static void shadow_bit(uint8_t *bitmap, enum vmcs_index i)
{
    uint16_t enc = vmcs_field_at(i)->encoding;
    clear_bit(bitmap, enc);
    if (vmcs_encoding_width(enc) == VMCS_WIDTH_64)
        clear_bit(bitmap, enc + 1u);
}

void shadow_bitmaps_build(uint8_t vmread_bitmap[SHADOW_BITMAP_SIZE],
                          uint8_t vmwrite_bitmap[SHADOW_BITMAP_SIZE],
                          bool vmwrite_any_field)
{
    memset(vmread_bitmap, 0xFF, SHADOW_BITMAP_SIZE);
    memset(vmwrite_bitmap, 0xFF, SHADOW_BITMAP_SIZE);
    for (unsigned k = 0; k < shadow_field_count; k++) {
        shadow_bit(vmread_bitmap, shadow_fields[k].index);
        if (writable(&shadow_fields[k], vmwrite_any_field))
            shadow_bit(vmwrite_bitmap, shadow_fields[k].index);
    }
}

unsigned shadow_sync_to_shadow(struct vmcs *shadow, const struct vmcs *v12)
{
    for (unsigned k = 0; k < shadow_field_count; k++) {
        enum vmcs_index i = shadow_fields[k].index;
        vmcs_set(shadow, i, vmcs_get(v12, i));
    }
    return shadow_field_count;
}

unsigned shadow_sync_from_shadow(struct vmcs *v12, uint64_t *dirty,
                                 const struct vmcs *shadow,
                                 bool vmwrite_any_field)
{
    unsigned read = 0;
    for (unsigned k = 0; k < shadow_field_count; k++) {
        if (!writable(&shadow_fields[k], vmwrite_any_field))
            continue;
        enum vmcs_index i = shadow_fields[k].index;
        uint64_t value = vmcs_get(shadow, i);
        read++;
        if (value == vmcs_get(v12, i))
            continue;
        vmcs_set(v12, i, value);
        vmcs12_dirty_mark(dirty, i);
    }
    return read;
}
