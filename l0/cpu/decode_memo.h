/* A process-wide memo of decoded instructions, behind the decode caches
 * of all machines: decoding (capstone with details) is a pure function
 * of the instruction's bytes, the address (capstone computes a branch
 * target from it, wrapped to the operand size, before decode.c makes it a
 * displacement) and the mode, and it costs microseconds, while a process that starts
 * many machines (the fuzzers, thousands of short runs of similar
 * images) decodes the same instructions at the same addresses again and
 * again. Direct-mapped; a slot is used only when every key byte is the
 * same. Not thread-safe: L0 runs its machines on one thread. */
#ifndef CPU_DECODE_MEMO_H
#define CPU_DECODE_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/decode.h"

/* The record of the instruction that `len` bytes at `address` start with,
 * if the memo holds one whose bytes they start with; false if not. */
bool decode_memo_get(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, struct insn *out);
/* Keeps `rec`, decoded from `len` bytes, under its own rec->len bytes.
 * `anywhere`: the record is the same at every address (it holds no
 * relative branch target). */
void decode_memo_put(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, bool anywhere, const struct insn *rec);

#endif
