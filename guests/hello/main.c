/* hello: prints a greeting, then a few million instructions of integer
 * work (a sieve, a CRC-32, a sort) whose results are deterministic and are
 * recomputed independently by tests/e2e/expected.py. `rounds=N` on the
 * command line repeats the identical work N times (for benchmarks); the
 * result does not depend on it. */
#include "rt.h"

enum {
    SIEVE_LIMIT = 1 << 20,
    CRC_BYTES = 1 << 16,
    SORT_COUNT = 20000,
};

static uint8_t composite[SIEVE_LIMIT];
static uint8_t crc_data[CRC_BYTES];
static uint32_t sort_data[SORT_COUNT];

static uint32_t count_primes(void)
{
    uint32_t count = 0;
    for (uint32_t i = 2; i < SIEVE_LIMIT; i++) {
        if (composite[i])
            continue;
        count++;
        for (uint64_t j = (uint64_t)i * i; j < SIEVE_LIMIT; j += i)
            composite[j] = 1;
    }
    return count;
}

/* CRC-32 as in zlib and Ethernet: reflected polynomial 0xEDB88320. */
static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) {
        crc ^= *p++;
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void sift_down(uint32_t *a, uint32_t root, uint32_t n)
{
    for (uint32_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[root] >= a[child])
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
    }
}

static void heap_sort(uint32_t *a, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* sum of (i + 1) * a[i], modulo 2^64: sensitive to order and values. */
static uint64_t sort_and_weigh(void)
{
    heap_sort(sort_data, SORT_COUNT);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < SORT_COUNT; i++) {
        if (i && sort_data[i - 1] > sort_data[i])
            rt_panic("hello: heap sort left element %u out of order", i);
        sum += (uint64_t)(i + 1) * sort_data[i];
    }
    return sum;
}

int main(const struct rt_boot *boot)
{
    rt_printf("hello from turtles (cmdline \"%s\", %lu MiB RAM, %u modules)\n",
              boot->cmdline, rt_ram_bytes(boot) >> 20, boot->mods_count);

    static const struct rt_arg args[] = {{"rounds", 1, 1000000, 0}};
    RT_ARGS_REQUIRE(boot, "hello", args);
    uint64_t rounds = rt_cmdline_u64(boot->cmdline, "rounds", 1);
    uint32_t primes = 0, crc = 0;
    uint64_t weight = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t seed = 0x2545F4914F6CDD1Dull;
        for (uint32_t i = 0; i < CRC_BYTES; i++)
            crc_data[i] = (uint8_t)rt_xorshift64(&seed);
        for (uint32_t i = 0; i < SORT_COUNT; i++)
            sort_data[i] = (uint32_t)(rt_xorshift64(&seed) >> 32);
        memset(composite, 0, sizeof composite);
        primes = count_primes();
        crc = crc32(crc_data, CRC_BYTES);
        weight = sort_and_weigh();
    }
    uint64_t checksum = (primes * 0x9E3779B97F4A7C15ull + crc) ^ weight;

    rt_printf("RESULT hello primes=%u crc32=%#010x sorted=%#018lx "
              "checksum=%#018lx\n",
              primes, crc, weight, checksum);
    return RT_EXIT_OK;
}
