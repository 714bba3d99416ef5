#include "cpu/decode_memo.h"

#include <string.h>

enum { MEMO_SLOTS = 1 << 14 };

struct memo_slot {
    uint64_t address;
    uint8_t used, mode64, len, anywhere;
    uint8_t bytes[15];
    struct insn rec;
};

static struct memo_slot memo[MEMO_SLOTS];

/* Records that do not depend on their address (no relative branch) are
 * kept under one key for every address: a guest that runs through
 * zeroed memory decodes `add [rax], al` at each new address, and
 * capstone would decode it again each time. */
static uint64_t hash_bytes(const uint8_t *bytes, unsigned len, bool mode64)
{
    uint64_t h = 0xCBF29CE484222325ull ^ ((uint64_t)mode64 << 63);
    for (unsigned i = 0; i < len; i++)
        h = (h ^ bytes[i]) * 0x100000001B3ull;
    return h;
}

static struct memo_slot *slot_of(uint64_t h, uint64_t address, bool anywhere)
{
    if (!anywhere)
        h = (h ^ address) * 0x100000001B3ull;
    return &memo[(h ^ (h >> 29)) & (MEMO_SLOTS - 1)];
}

static bool same_key(const struct memo_slot *s, const uint8_t *bytes,
                     unsigned len, uint64_t address, bool mode64,
                     bool anywhere)
{
    return s->used && s->anywhere == anywhere &&
           (anywhere || s->address == address) && s->mode64 == mode64 &&
           s->len == len && memcmp(s->bytes, bytes, len) == 0;
}

bool decode_memo_get(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, struct insn *out)
{
    if (len > sizeof memo[0].bytes)
        return false;
    uint64_t h = hash_bytes(bytes, len, mode64);
    for (int anywhere = 1; anywhere >= 0; anywhere--) {
        const struct memo_slot *s = slot_of(h, address, anywhere);
        if (same_key(s, bytes, len, address, mode64, anywhere)) {
            *out = s->rec;
            return true;
        }
    }
    return false;
}

void decode_memo_put(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, bool anywhere, const struct insn *rec)
{
    if (len > sizeof memo[0].bytes)
        return;
    struct memo_slot *s =
        slot_of(hash_bytes(bytes, len, mode64), address, anywhere);
    s->used = 1;
    s->anywhere = anywhere;
    s->address = address;
    s->mode64 = mode64;
    s->len = (uint8_t)len;
    memcpy(s->bytes, bytes, len);
    s->rec = *rec;
}
