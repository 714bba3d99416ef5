/* A whole machine (2 MiB of RAM, serial to stderr) for the platform
 * device tests, created before and destroyed after each test. */
#ifndef TESTS_UNIT_MACHINE_RIG_H
#define TESTS_UNIT_MACHINE_RIG_H

#include <stdio.h>

#include "machine.h"

static int machine_setup(void **state)
{
    struct machine *m = machine_create(2, stderr);
    *state = m;
    return m ? 0 : -1;
}

static int machine_teardown(void **state)
{
    machine_destroy(*state);
    return 0;
}

#endif
