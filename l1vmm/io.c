/* L2's port I/O. Every IN, OUT, INS and OUTS exits (unconditional I/O
 * exiting); the devices L2's runtime uses register their port ranges in
 * one table, and any other port behaves as an empty ISA bus: reads give
 * all ones, writes are dropped. INS/OUTS are carried out here, element
 * by element through L2's paging. L2 gets the local APIC but no 8259:
 * the 8259's ports are such empty ports, and the real PICs stay masked
 * as l1vmm's runtime left them (rt_mask_pic), so that legacy IRQs such as
 * the PIT's cannot reach L2 through LINT0. */
#include "cpu.h"
#include "l1vmm.h"

/* Exit qualification for I/O instructions, SDM Vol. 3C Table 28-5. */
#define IO_SIZE(q) ((unsigned)((q) & 7) + 1)
#define IO_IN(q) (((q) >> 3) & 1)
#define IO_STRING(q) (((q) >> 4) & 1)
#define IO_REP(q) (((q) >> 5) & 1)
#define IO_PORT(q) ((uint16_t)((q) >> 16))

/* L2's console: its UART output, forwarded line by line with a prefix
 * so that L2's lines can be told from l1vmm's own. */
static char line[2048]; /* longer lines are split */
static unsigned line_len;

void io_flush(void)
{
    if (!line_len)
        return;
    line[line_len] = '\0';
    rt_printf("[L2] %s\n", line);
    line_len = 0;
}

void io_console_putc(char c)
{
    if (c == '\r')
        return;
    if (c == '\n') {
        if (!line_len)
            rt_printf("[L2]\n");
        io_flush();
        return;
    }
    line[line_len++] = c;
    if (line_len == sizeof line - 1)
        io_flush();
}

/* A 16550 at 0x3F8 that is always ready to send: the transmitter
 * holding register empty (LSR bit 5) and the transmitter idle (bit 6). */
enum { UART_DATA = 0, UART_IIR = 2, UART_LCR = 3, UART_LSR = 5 };
#define UART_LCR_DLAB 0x80
static uint8_t uart_lcr;

static uint32_t uart_in(uint16_t reg)
{
    switch (reg) {
    case UART_LSR:
        return 0x60;
    case UART_IIR:
        return 0x01; /* no interrupt pending */
    case UART_LCR:
        return uart_lcr;
    default:
        return 0;
    }
}

static void uart_out(uint16_t reg, uint32_t v)
{
    if (reg == UART_LCR)
        uart_lcr = (uint8_t)v;
    else if (reg == UART_DATA && !(uart_lcr & UART_LCR_DLAB))
        io_console_putc((char)v); /* with DLAB set it is the divisor */
}

/* isa-debug-exit: the value written is L2's exit status (the runtime's
 * rt_exit writes it first, guests/rt/console.c). */
static void debug_exit_out(uint16_t reg, uint32_t v)
{
    (void)reg;
    l2_end((int)v, 0);
}

/* Bochs' shutdown port: "Shutdown" written byte by byte powers off. */
static void shutdown_out(uint16_t reg, uint32_t v)
{
    static const char word[] = "Shutdown";
    static unsigned matched;
    (void)reg;
    matched = (char)v == word[matched] ? matched + 1 : (char)v == word[0];
    if (matched == sizeof word - 1)
        l2_end(RT_EXIT_OK, "L2 powered off through port 0x8900");
}

static const struct port_range {
    uint16_t first, last;
    uint32_t (*in)(uint16_t reg);
    void (*out)(uint16_t reg, uint32_t v);
} ports[] = {
    {0x3F8, 0x3FF, uart_in, uart_out},
    {0xF4, 0xF7, 0, debug_exit_out},
    {0x8900, 0x8900, 0, shutdown_out},
};

/* Direct access (Linux as L2): ports l1vmm does not need for itself
 * (the exit and shutdown ports) are performed on the machine, so L2
 * drives the real PIC, PIT, RTC, UART, PCI and ACPI registers. */
static int direct;
void io_direct(int on) { direct = on; }

static uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xFFFFFFFF : size == 2 ? 0xFFFF : 0xFF;
}

static void forward(uint16_t port, unsigned size, int in, uint64_t *rax)
{
    if (in) {
        uint32_t v = size == 4 ? inl(port) : size == 2 ? inw(port) : inb(port);
        /* A 32-bit IN zero-extends into RAX; 8 and 16 bits merge. */
        *rax = size == 4 ? v : (*rax & ~(uint64_t)size_mask(size)) | v;
    } else if (size == 4) {
        outl(port, (uint32_t)*rax);
    } else if (size == 2) {
        outw(port, (uint16_t)*rax);
    } else {
        outb(port, (uint8_t)*rax);
    }
}

static const struct port_range *device_at(uint16_t port)
{
    for (unsigned i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (port >= ports[i].first && port <= ports[i].last)
            return &ports[i];
    return 0;
}

/* With direct access the port is the machine's (forward). */
static int forwarded(const struct port_range *dev)
{
    return direct && (!dev || dev->in == uart_in);
}

/* One access of L2 to a port: an IN or OUT, or one element of INS or
 * OUTS. */
static uint32_t port_in(uint16_t port, unsigned size)
{
    const struct port_range *dev = device_at(port);
    if (forwarded(dev)) {
        uint64_t v = 0;
        forward(port, size, 1, &v);
        return (uint32_t)v;
    }
    return dev && dev->in ? dev->in(port - dev->first) : size_mask(size);
}

static void port_out(uint16_t port, unsigned size, uint32_t v)
{
    const struct port_range *dev = device_at(port);
    if (forwarded(dev)) {
        uint64_t x = v;
        forward(port, size, 0, &x);
    } else if (dev && dev->out) {
        dev->out(port - dev->first, v & size_mask(size));
    }
}

/* ---- INS and OUTS (SDM Vol. 2A "INS", Vol. 2B "OUTS") ---- */

/* Elements carried out per exit; a longer REP resumes at the
 * instruction, as after an interrupt between iterations. */
enum { STRING_IO_BATCH = 4096 };
#define RFLAGS_DF (1u << 10)
#define PF_W 2u
#define PF_U 4u

/* rSI, rDI or rCX advanced by `d` at address size `asz` (instruction
 * information bits 9:7: 0 16-bit, 1 32-bit, 2 64-bit): a 16-bit register
 * keeps its upper bits, a 32-bit one is zero-extended, as a write of
 * the register would. */
static uint64_t addr_add(uint64_t reg, int64_t d, unsigned asz)
{
    uint64_t r = reg + (uint64_t)d;
    return asz == 0 ? (reg & ~0xFFFFull) | (r & 0xFFFF)
                    : asz == 1 ? (uint32_t)r : r;
}

/* Moves one element between `buf` and L2's memory at `linear`, every
 * byte translated first (an element may straddle two pages). On a
 * fault L2 gets its #PF with CR2, as from the CPU; 0 then. */
static int l2_element(uint64_t linear, uint8_t *buf, unsigned size,
                      int write)
{
    struct l2_paging pg = l2_paging_now();
    int user = ((vmread(GUEST_ES_ACCESS + 2 * 2) >> 5) & 3) == 3; /* SS.DPL */
    uint32_t access = (write ? PF_W : 0) | (user ? PF_U : 0);
    uint8_t *bytes[4];
    for (unsigned k = 0; k < size; k++) {
        uint32_t error;
        bytes[k] = l2_linear_byte(&pg, linear + k, access, &error);
        if (bytes[k])
            continue;
        if (error == L2_NOT_RAM) {
            char why[120];
            rt_snprintf(why, sizeof why, "string I/O at L2 linear %#lx: "
                        "not in L2's RAM, or paging l1vmm cannot walk",
                        linear + k);
            l2_end(RT_EXIT_FAIL, why);
            return 0;
        }
        /* CR2 is not in the VMCS: L1's CR2 is L2's (see shadow.c). */
        write_cr2(linear + k);
        inject_exception(VEC_PF, 1, error);
        return 0;
    }
    for (unsigned k = 0; k < size; k++) {
        if (write)
            *bytes[k] = buf[k];
        else
            buf[k] = *bytes[k];
    }
    return 1;
}

/* The exit gives the port, size, direction and REP (qualification), the
 * address size (instruction information) and the linear address of the
 * first element; each next one is that address's segment base plus the
 * advanced rSI/rDI. Simplification: segment limits are not checked (L2
 * runs with flat segments). */
static void string_io(uint64_t q)
{
    unsigned size = IO_SIZE(q), in = IO_IN(q), rep = IO_REP(q);
    unsigned asz = (vmread(EXIT_INSTRUCTION_INFO) >> 7) & 7;
    uint64_t mask = asz == 0 ? 0xFFFF : asz == 1 ? 0xFFFFFFFF : ~0ull;
    uint64_t *index = &l2.regs.gpr[in ? GPR_RDI : GPR_RSI];
    uint64_t *count = &l2.regs.gpr[GPR_RCX];
    uint64_t base = vmread(GUEST_LINEAR_ADDRESS) - (*index & mask);
    int code64 = (vmread(GUEST_ES_ACCESS + 2 * 1) >> 13) & 1; /* CS.L */
    int64_t step = (vmread(GUEST_RFLAGS) & RFLAGS_DF) ? -(int64_t)size
                                                     : (int64_t)size;
    for (unsigned n = 0; !rep || (*count & mask); n++) {
        if (n == STRING_IO_BATCH || l2.done)
            return;
        uint64_t linear = base + (*index & mask);
        if (!code64)
            linear &= 0xFFFFFFFF;
        uint32_t v = 0;
        if (in) {
            v = port_in(IO_PORT(q), size);
            if (!l2_element(linear, (uint8_t *)&v, size, 1))
                return;
        } else {
            if (!l2_element(linear, (uint8_t *)&v, size, 0))
                return;
            port_out(IO_PORT(q), size, v);
        }
        *index = addr_add(*index, step, asz);
        if (!rep)
            break;
        *count = addr_add(*count, -1, asz);
    }
    skip_instruction();
}

/* IA32_VMX_BASIC bit 54: INS/OUTS exits fill the instruction
 * information (SDM Vol. 3D A.1), which string_io needs. */
#define BASIC_INS_OUTS_INFO (1ull << 54)

void io_exit(uint64_t q)
{
    if (IO_STRING(q)) {
        if (caps.basic & BASIC_INS_OUTS_INFO)
            string_io(q);
        else
            l2_end(RT_EXIT_FAIL, "string I/O: this CPU gives INS/OUTS "
                                 "exits no instruction information");
        return;
    }
    uint16_t port = IO_PORT(q);
    unsigned size = IO_SIZE(q);
    uint64_t *rax = &l2.regs.gpr[GPR_RAX];
    if (IO_IN(q)) {
        uint32_t v = port_in(port, size);
        /* IN writes AL or AX, or EAX zero-extended into RAX. */
        if (size == 4)
            *rax = v;
        else {
            uint64_t mask = size_mask(size);
            *rax = (*rax & ~mask) | (v & mask);
        }
    } else {
        port_out(port, size, (uint32_t)*rax);
    }
    skip_instruction();
}
