/* Probes: small assembly functions that run one instruction which may
 * fault, for tests of exceptions. A probe returns 0 when the instruction
 * completed and 1 when it raised an exception that rt_catch() asked for;
 * the exception itself is then in rt_caught.
 *
 * A probe is a leaf function in the section `rt_probes` whose return
 * address is on top of the stack when its instruction runs, so that the
 * handler can resume at rt_probe_fail ("mov $1, %eax; ret"). An
 * instruction fetch that faults right after a call from a probe (see
 * rt_probe_call) is caught too. Any other exception is reported as
 * unexpected, as without rt_catch. Probes work at CPL 0 and, once
 * rt_user_call has made the image user-accessible, at CPL 3. */
#ifndef RT_PROBE_H
#define RT_PROBE_H

#include <stdint.h>

struct rt_caught {
    uint64_t vector, error, cr2, rip, cs;
    unsigned count; /* exceptions caught so far */
};
extern volatile struct rt_caught rt_caught;

/* Exception `vector` is caught from now on (rt_set_handler(v, 0) ends it). */
void rt_catch(unsigned vector);

/* Calls fn (code that returns with EAX unchanged, e.g. a lone RET) with
 * EAX = 0: returns 0, or 1 if fetching fn faulted. */
int rt_probe_call(const void *fn);
/* Loads or stores one byte. */
int rt_probe_read8(const volatile void *p);
int rt_probe_write8(volatile void *p, uint8_t value);

#endif
