"""Expected result lines of the guests, computed here from first
principles (Python's own sieve, zlib's CRC-32, Python's sort), never
taken from a guest's output."""

import zlib

MASK64 = (1 << 64) - 1


def _xorshift64(state):
    while True:
        state ^= (state << 13) & MASK64
        state ^= state >> 7
        state ^= (state << 17) & MASK64
        yield state


def _primes_below(limit):
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\0\0"
    for i in range(2, int(limit ** 0.5) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytes(len(range(i * i, limit, i)))
    return sum(sieve)


def hello():
    """guests/hello: sieve below 2^20, CRC-32 of 64 KiB, sorted 20000."""
    rng = _xorshift64(0x2545F4914F6CDD1D)
    data = bytes(next(rng) & 0xFF for _ in range(1 << 16))
    values = sorted(next(rng) >> 32 for _ in range(20000))
    primes = _primes_below(1 << 20)
    crc = zlib.crc32(data)
    weight = sum((i + 1) * v for i, v in enumerate(values)) & MASK64
    checksum = ((primes * 0x9E3779B97F4A7C15 + crc) & MASK64) ^ weight
    return (f"RESULT hello primes={primes} crc32={crc:#010x} "
            f"sorted={weight:#018x} checksum={checksum:#018x}")


def cpuid(iters):
    return f"RESULT cpuid iters={iters}"


def exits(kind, iters):
    """guests/exits: every iteration completes (an exception or interrupt
    kind counts the events its handler took, one per iteration)."""
    return f"RESULT exits kind={kind} iters={iters} done={iters}"


if __name__ == "__main__":
    print(hello())
