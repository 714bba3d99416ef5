"""Expected result lines of the guests, computed here from first
principles (Python's own sieve, zlib's CRC-32, Python's sort), never
taken from a guest's output."""

import math
import struct
import zlib
from fractions import Fraction

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


def memwalk(size_mib, reads, seed):
    """guests/memwalk: page i holds ((i + 1) * golden ratio) ^ seed; the
    reads visit xorshift64(seed) % pages and fold each word FNV-style."""
    pages = size_mib * 256
    rng = _xorshift64(seed)
    total = 0
    for _ in range(reads):
        page = next(rng) % pages
        word = (((page + 1) * 0x9E3779B97F4A7C15) & MASK64) ^ seed
        total = ((total * 0x100000001B3) & MASK64) ^ word
    return (f"RESULT memwalk size_mib={size_mib} reads={reads} seed={seed} "
            f"sum={total:#x}")


if __name__ == "__main__":
    print(hello())


# ---- tests/guests/float ------------------------------------------------

def _f32(x):
    """x rounded to binary32 (to nearest even), as a Python float."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _bits64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _bits32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def _round_fraction(q, mode):
    """The binary64 value of the exact rational q in a rounding mode
    ('nearest', 'down', 'up', 'zero'), for normal results."""
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = 0
    while a >= 2:
        a /= 2
        e += 1
    while a < 1:
        a *= 2
        e -= 1
    scaled = a * (1 << 52)  # in [2^52, 2^53)
    low = scaled.numerator // scaled.denominator
    rest = scaled - low
    if mode == "nearest":
        up = rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low & 1)
    elif mode == "zero":
        up = False
    else:
        up = rest != 0 and ((mode == "up") == (sign > 0))
    return sign * math.ldexp(low + (1 if up else 0), e - 52)


def float_guest():
    """tests/guests/float: Python's floats are IEEE binary64 with rounding
    to nearest; binary32 steps are rounded through struct (double rounding
    is exact for +, *, / and sqrt of binary32 operands)."""
    zeta, harmonic = 0.0, 0.0
    for k in range(1, 2001):
        zeta += 1.0 / (float(k) * k)
        harmonic = _f32(harmonic + _f32(1.0 / k))
    newton = 2.0
    for _ in range(6):
        newton = 0.5 * (newton + 2.0 / newton)
    lines = [
        f"RESULT float arith zeta={_bits64(zeta):016x} "
        f"harmonic={_bits32(harmonic):08x} newton={_bits64(newton):016x} "
        f"sqrt3={_bits64(math.sqrt(3.0)):016x} "
        f"sqrt3f={_bits32(_f32(math.sqrt(3.0))):08x} "
        f"trunc={int(zeta * 1e15)} narrow={int(_f32(harmonic * 1000.0))} "
        f"widened={_bits64(harmonic):016x}"]
    conv = {"nearest": 2, "down": 2, "up": 3, "zero": 2}  # 2.5: ties to even
    for mode in ("nearest", "down", "up", "zero"):
        third = _round_fraction(Fraction(1, 3), mode)
        neg = _round_fraction(Fraction(-1, 3), mode)
        lines.append(f"RESULT float round={mode} third={_bits64(third):016x} "
                     f"neg={_bits64(neg):016x} cvt2.5={conv[mode]}")
    # SDM Vol. 1 11.5.2: ZE (bit 2), IE (bit 0), UE|PE (bits 4, 5) over
    # the default MXCSR 0x1F80.
    lines.append("RESULT float flags div0=0x1f84 invalid=0x1f81 underflow=0x1fb0")
    # FXSAVE stored MXCSR with RC = up (0x5F80); FXRSTOR restored it and XMM0.
    lines.append("RESULT float fxsave saved_mxcsr=0x5f80 restored_mxcsr=0x5f80 "
                 "xmm0=4444444411111111")
    lines.append("RESULT float xsave osxsave=0/1 xcr0=0:0x3 sse_bv=1 xmm1=77 "
                 "restored_init=0")
    lines.append(_x87_line())
    # One #XM; the handler masks ZE and the division gives +inf.
    detail = ["DETAIL float xm count=1 result=7f800000 mxcsr=0x1f84"]
    return lines, detail


def _round_bits(q, bits):
    """The exact rational q rounded to `bits` significant bits, to nearest
    even (normal range)."""
    if q == 0:
        return q
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    scaled = a / Fraction(2) ** (e - bits + 1)  # in [2^(bits-1), 2^bits)
    low = scaled.numerator // scaled.denominator
    rest = scaled - low
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and low & 1):
        low += 1
    return sign * low * Fraction(2) ** (e - bits + 1)


def _enc80(q):
    """The x87 80-bit encoding of a normal rational, as SEXP:MANTISSA."""
    sign = 0x8000 if q < 0 else 0
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    mant = a * Fraction(2) ** (63 - e)
    assert mant.denominator == 1
    return f"{sign | (16383 + e):04x}:{mant.numerator:016x}"


def _sqrt64(x):
    """sqrt(x) rounded to nearest with a 64-bit significand."""
    e = (x.numerator.bit_length() - x.denominator.bit_length()) // 2
    scale = Fraction(2) ** (2 * (63 - e))
    n = x * scale
    m = math.isqrt(n.numerator // n.denominator)
    if Fraction(2 * m + 1, 2) ** 2 < n:
        m += 1
    return _round_bits(Fraction(m) / Fraction(2) ** (63 - e), 64)


def _x87_line():
    """The x87 line: 64-bit significands, round to nearest (SDM Vol. 1
    8.1.5), except third24 under 24-bit precision control. FLDPI is pi
    rounded to 64 bits; FISTP of +-2.5 follows RC (nearest even, down, up,
    zero); FCOMI with a NaN sets ZF, PF, CF; FXAM of +inf is C2|C0; after
    FLD1 and FLDZ the full tag word holds R7 valid, R6 zero, the rest
    empty."""
    zeta = Fraction(0)
    for k in range(1, 501):
        zeta = _round_bits(zeta + _round_bits(Fraction(1, k * k), 64), 64)
    pi = Fraction(int("3243F6A8885A308D313198A2E037073", 16), 16 ** 30)
    root = _sqrt64(_round_bits(_round_bits(pi, 64) + 1, 64))
    third = _round_bits(Fraction(1, 3), 24)
    return (f"RESULT float x87 zeta={_enc80(zeta)} "
            f"sqrt_pi_plus_1={_enc80(root)} third24={_enc80(third)} "
            "fistp=2,-2,2,-3,3,-2,2,-2 fcomi=0x45 fxam=0x500 tags=0x1fff")
