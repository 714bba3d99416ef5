#include "cpu/decode_memo.h"

#include <string.h>

enum { MEMO_SLOTS = 1 << 14 };

struct memo_entry {
    uint64_t address;
    uint8_t mode64, len, anywhere;
    uint8_t bytes[15];
    struct insn rec;
};

/* The direct-mapped table holds only positions (0 = empty, else index +
 * 1) in `entries`, which fill from the start. The entries (2 MiB) are
 * touched in order, as many as the process has decoded: a run of a
 * thousand instructions dirties 30 pages of them, where hashing the
 * entries themselves over the 2 MiB touched nearly all 512 pages, one
 * or two page faults per instruction decoded (half the page faults of
 * a trivial run). */
static uint16_t memo_slot[MEMO_SLOTS];
static struct memo_entry entries[MEMO_SLOTS];
static unsigned entries_used;

_Static_assert(MEMO_SLOTS <= UINT16_MAX, "an entry's position + 1 in a slot");

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

static uint16_t *slot_of(uint64_t h, uint64_t address, bool anywhere)
{
    if (!anywhere)
        h = (h ^ address) * 0x100000001B3ull;
    return &memo_slot[(h ^ (h >> 29)) & (MEMO_SLOTS - 1)];
}

static bool same_key(const struct memo_entry *e, const uint8_t *bytes,
                     unsigned len, uint64_t address, bool mode64,
                     bool anywhere)
{
    return e->anywhere == anywhere && (anywhere || e->address == address) &&
           e->mode64 == mode64 && e->len == len &&
           memcmp(e->bytes, bytes, len) == 0;
}

bool decode_memo_get(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, struct insn *out)
{
    if (len > sizeof entries[0].bytes)
        return false;
    uint64_t h = hash_bytes(bytes, len, mode64);
    for (int anywhere = 1; anywhere >= 0; anywhere--) {
        uint16_t s = *slot_of(h, address, anywhere);
        if (s && same_key(&entries[s - 1], bytes, len, address, mode64,
                          anywhere)) {
            *out = entries[s - 1].rec;
            return true;
        }
    }
    return false;
}

void decode_memo_put(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, bool anywhere, const struct insn *rec)
{
    if (len > sizeof entries[0].bytes)
        return;
    uint16_t *s = slot_of(hash_bytes(bytes, len, mode64), address, anywhere);
    if (!*s) /* each slot takes one entry: they never run out */
        *s = (uint16_t)++entries_used;
    struct memo_entry *e = &entries[*s - 1];
    e->anywhere = anywhere;
    e->address = address;
    e->mode64 = mode64;
    e->len = (uint8_t)len;
    memcpy(e->bytes, bytes, len);
    e->rec = *rec;
}
