/* What the guest-code fuzzer checks between runs of one program:
 * determinism (the same mode twice) and agreement (bare against single,
 * where the architecture promises the guest cannot tell them apart). */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "gen.h"
#include "run.h"

/* Whether bare and single mode must agree on this program, as far as
 * its code tells (the opcode bytes of RDTSC, RDTSCP, RDPMC anywhere)
 * and as far as its two runs tell. check.c and docs/fuzzing.md say what
 * legitimately differs. */
bool check_code_comparable(const struct prog *p);
bool check_run_comparable(const struct run_result *bare,
                          const struct run_result *single);

/* Returns NULL if the two runs are the same run (determinism, and two
 * engines), or what differs. */
const char *check_same_run(const struct run_result *a,
                           const struct run_result *b);
/* For two runs that are comparable. */
const char *check_agree(const struct run_result *bare,
                        const struct run_result *single);

#endif
