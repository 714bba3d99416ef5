#include "cpu/decode_memo.h"

#include <string.h>

enum { MEMO_SLOTS = 1 << 14 };

/* The key is the instruction's own bytes (rec.len of them), not the
 * window it was decoded from: x86 decoding reads an instruction's bytes
 * in order and none after its last (prefixes, opcode, ModRM, SIB,
 * displacement, immediate; capstone too: test_decode_memo.c checks it
 * on random windows), so any window that starts with those bytes
 * decodes to the same record. Keyed by the whole 15-byte window, an
 * instruction followed by other bytes (a generated program's slots)
 * missed, and hashing all 15 bytes was most of a hit's cost. */
struct memo_entry {
    uint64_t address;
    uint8_t mode64, anywhere;
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

/* Bit n of lengths[mode64][b]: an entry of length n starting with byte b
 * was put (it may have been replaced since), so that a lookup probes only
 * the lengths an instruction with that first byte has had. */
static uint16_t lengths[2][256];

_Static_assert(MEMO_SLOTS <= UINT16_MAX, "an entry's position + 1 in a slot");
_Static_assert(sizeof entries[0].bytes < 16, "a length is a bit of lengths");

/* FNV-1a, one byte at a time, so that a lookup extends the hash of a
 * shorter length to the next. Records that do not depend on their
 * address (no relative branch) are kept under one key for every
 * address: a guest that runs through zeroed memory decodes `add [rax],
 * al` at each new address, and capstone would decode it again each
 * time. */
static uint64_t hash_start(bool mode64)
{
    return 0xCBF29CE484222325ull ^ ((uint64_t)mode64 << 63);
}

static uint64_t hash_byte(uint64_t h, uint8_t byte)
{
    return (h ^ byte) * 0x100000001B3ull;
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
           e->mode64 == mode64 && e->rec.len == len &&
           memcmp(e->bytes, bytes, len) == 0;
}

bool decode_memo_get(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, struct insn *out)
{
    if (len == 0)
        return false;
    unsigned seen = lengths[mode64][bytes[0]];
    uint64_t h = hash_start(mode64);
    for (unsigned n = 1; n <= len && seen >> n; n++) {
        h = hash_byte(h, bytes[n - 1]);
        if (!(seen >> n & 1))
            continue;
        for (int anywhere = 1; anywhere >= 0; anywhere--) {
            uint16_t s = *slot_of(h, address, anywhere);
            if (s && same_key(&entries[s - 1], bytes, n, address, mode64,
                              anywhere)) {
                *out = entries[s - 1].rec;
                return true;
            }
        }
    }
    return false;
}

void decode_memo_put(const uint8_t *bytes, unsigned len, uint64_t address,
                     bool mode64, bool anywhere, const struct insn *rec)
{
    unsigned n = rec->len;
    if (n == 0 || n > len || n > sizeof entries[0].bytes)
        return;
    uint64_t h = hash_start(mode64);
    for (unsigned i = 0; i < n; i++)
        h = hash_byte(h, bytes[i]);
    uint16_t *s = slot_of(h, address, anywhere);
    if (!*s) /* each slot takes one entry: they never run out */
        *s = (uint16_t)++entries_used;
    struct memo_entry *e = &entries[*s - 1];
    e->anywhere = anywhere;
    e->address = address;
    e->mode64 = mode64;
    memcpy(e->bytes, bytes, n);
    e->rec = *rec;
    lengths[mode64][bytes[0]] |= (uint16_t)(1u << n);
}
