/* A small strict JSON reader (RFC 8259) for the emulator's own input
 * files (cost profiles): the whole text becomes a tree of values, each
 * with the line and column where it starts, so that a caller can say
 * where a bad value is. Stricter than the RFC where it helps: duplicate
 * keys, \u0000 and nesting deeper than JSON_MAX_DEPTH are refused. A
 * number without fraction or exponent is an integer (refused outside
 * int64); any other is a double. */
#ifndef L0_HV_JSON_READ_H
#define L0_HV_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { JSON_MAX_DEPTH = 32 };

enum json_type {
    JSON_NULL, JSON_BOOL, JSON_INTEGER, JSON_NUMBER, JSON_STRING,
    JSON_ARRAY, JSON_OBJECT
};

struct json_value {
    enum json_type type;
    unsigned line, column;     /* where the value starts, from 1 */
    bool boolean;
    int64_t integer;
    double number;             /* NUMBER: one with a fraction or exponent */
    char *string;              /* STRING: UTF-8, NUL-terminated */
    size_t count;              /* ARRAY, OBJECT: number of members */
    struct json_value *items;  /* ARRAY, OBJECT: the members */
    char **keys;               /* OBJECT: the key of each member */
};

/* Parses text[0..len). 0 and *out filled (free it with json_free), or -1
 * with a message "line L, column C: what" in err. */
int json_parse(const char *text, size_t len, struct json_value *out,
               char *err, size_t errlen);

void json_free(struct json_value *v);

/* The member of an object with this key, or NULL. */
const struct json_value *json_member(const struct json_value *object,
                                     const char *key);

/* "a string", "an object", ...: for messages. */
const char *json_type_name(enum json_type t);

#endif
