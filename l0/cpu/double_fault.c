#include "cpu/double_fault.h"

#include "cpu/cpu.h"

/* SDM Vol. 3A Table 7-4 "Interrupt and Exception Classes". */
enum exc_class { BENIGN, CONTRIBUTORY, PAGE_FAULT, DOUBLE_FAULT };

static enum exc_class classify(unsigned vector, bool is_exception)
{
    if (!is_exception)
        return BENIGN;
    switch (vector) {
    case VEC_DE: case VEC_TS: case VEC_NP: case VEC_SS: case VEC_GP:
    case 21: /* #CP */
        return CONTRIBUTORY;
    case VEC_PF:
    case 20: /* #VE */
        return PAGE_FAULT;
    case VEC_DF: return DOUBLE_FAULT;
    default: return BENIGN;
    }
}

/* Table 7-5: contributory then contributory, and a page fault then a
 * contributory exception or a page fault, make a double fault; every
 * other pair is handled serially. A contributory exception or a page
 * fault while delivering a double fault shuts the processor down (7.15,
 * Interrupt 8); a benign one is handled serially. */
enum delivery_outcome double_fault_rule(unsigned first,
                                        bool first_is_exception,
                                        unsigned second)
{
    enum exc_class a = classify(first, first_is_exception);
    enum exc_class b = classify(second, true);
    if (b == BENIGN)
        return DELIVER_SERIALLY;
    if (a == DOUBLE_FAULT)
        return DELIVER_SHUTDOWN;
    if ((a == CONTRIBUTORY && b == CONTRIBUTORY) || a == PAGE_FAULT)
        return DELIVER_DOUBLE;
    return DELIVER_SERIALLY;
}
