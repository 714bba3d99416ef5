/* Cost profiles as data: a JSON file (experiments/profiles/NAME.json,
 * built into the program, or any file) read into a struct cost_profile.
 * The format is in docs/cost-model.md; every field of the struct is one
 * row of the table in cost_profile.c. */
#ifndef L0_HV_COST_PROFILE_H
#define L0_HV_COST_PROFILE_H

#include <stddef.h>

#include "hv/cost.h"

#define COST_DEFAULT_PROFILE "turtles-2010"

/* Reads a profile from its JSON text; `where` names it in messages.
 * 0, or -1 with a message naming the key that is wrong. */
int cost_profile_parse(const char *text, size_t len, const char *where,
                       struct cost_profile *p, char *err, size_t errlen);

/* NAME (a profile built in from experiments/profiles/) or FILE (an
 * argument with a '/' or ending in .json). With text, *text gets a copy
 * of the profile's JSON (free it). 0, or -1 with a message. */
int cost_profile_load(const char *name_or_file, struct cost_profile *p,
                      char **text, char *err, size_t errlen);

/* The profiles built in: generated at build time from
 * the JSON files of experiments/profiles/ (l0/l0.mk). */
struct cost_builtin {
    const char *name;
    const char *json;
};
extern const struct cost_builtin cost_builtins[];
extern const size_t cost_builtin_count;

#endif
