/* One platform device alone on an otherwise empty machine's buses, with a
 * clock the test sets by hand (modeled cycles) and a count of the times
 * the device kicked the CPU; made afresh before each test and destroyed
 * after it. Before including this, define
 *   RIG_DEVICE       the device's field of struct rig (struct pic *p)
 *   RIG_CREATE(r)    creates the device in r, NULL when it cannot
 *   RIG_DESTROY(r)   destroys it */
#ifndef TESTS_UNIT_DEVICE_RIG_H
#define TESTS_UNIT_DEVICE_RIG_H

#include <stdint.h>
#include <string.h>

#include "machine.h"

struct rig {
    struct machine m; /* only its buses: m.ports and m.mmio */
    RIG_DEVICE;
    uint64_t now;     /* cycles */
    int kicks;
};

static inline uint64_t clock_now(void *ctx)
{
    return ((struct rig *)ctx)->now;
}

static inline void kicked(void *ctx)
{
    ((struct rig *)ctx)->kicks++;
}

static int setup(void **state)
{
    static struct rig r;
    memset(&r, 0, sizeof r);
    r.m.ports.name = "port";
    r.m.mmio.name = "mmio";
    *state = &r;
    return RIG_CREATE(&r) ? 0 : -1;
}

static int teardown(void **state)
{
    RIG_DESTROY((struct rig *)*state);
    return 0;
}

#endif
