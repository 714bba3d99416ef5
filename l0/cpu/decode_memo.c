#include "cpu/decode_memo.h"

#include <string.h>

enum { MEMO_SLOTS = 1 << 14 };

struct memo_slot {
    uint64_t address;
    uint8_t used, mode64, len;
    uint8_t bytes[15];
    struct insn rec;
};

static struct memo_slot memo[MEMO_SLOTS];

static struct memo_slot *slot_of(const uint8_t *bytes, unsigned len,
                                 uint64_t address, bool mode64)
{
    uint64_t h = 0xCBF29CE484222325ull ^ address ^ ((uint64_t)mode64 << 63);
    for (unsigned i = 0; i < len; i++)
        h = (h ^ bytes[i]) * 0x100000001B3ull;
    return &memo[(h ^ (h >> 29)) & (MEMO_SLOTS - 1)];
}

static bool same_key(const struct memo_slot *s, const uint8_t *bytes,
                     unsigned len, uint64_t address, bool mode64)
{
    return s->used && s->address == address && s->mode64 == mode64 &&
           s->len == len && memcmp(s->bytes, bytes, len) == 0;
}

bool decode_memo_get(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, struct insn *out)
{
    if (len > sizeof memo[0].bytes)
        return false;
    const struct memo_slot *s = slot_of(bytes, len, address, mode64);
    if (!same_key(s, bytes, len, address, mode64))
        return false;
    *out = s->rec;
    return true;
}

void decode_memo_put(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, const struct insn *rec)
{
    if (len > sizeof memo[0].bytes)
        return;
    struct memo_slot *s = slot_of(bytes, len, address, mode64);
    s->used = 1;
    s->address = address;
    s->mode64 = mode64;
    s->len = (uint8_t)len;
    memcpy(s->bytes, bytes, len);
    s->rec = *rec;
}
