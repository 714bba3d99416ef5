/* The options of a run as one JSON object, for the runs.options column:
 * every option a run was given, so that a result can be traced back to
 * its configuration with json_extract(options, '$.name'). */
#ifndef L0_RECORD_OPTIONS_JSON_H
#define L0_RECORD_OPTIONS_JSON_H

#include <stddef.h>
#include <stdint.h>

struct run_option {
    const char *name;
    const char *text; /* a JSON string; NULL: the value is `number` */
    int64_t number;
};

/* {"name":value,...} in the order given, malloc'd; NULL if memory ran out
 * or an option has no name. */
char *options_json(const struct run_option *options, size_t count);

#endif
