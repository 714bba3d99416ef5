/* The gdb remote stub (`turtles run --gdb PORT`, like QEMU's -gdb): gdb
 * connects over TCP on localhost and reads and writes registers and
 * memory, sets breakpoints, continues, single-steps and interrupts the
 * machine (docs/emulator.md, "Debugging with gdb").
 *
 * The stub keeps its breakpoints itself; nothing is written into guest
 * memory, so the guest never sees them. The CPU's run loop (cpu.c)
 * calls gdb_before_insn() at every boundary between batches, and runs
 * one instruction per batch while each_insn is set (a breakpoint, a
 * step or a stop is pending): the stub then sees every instruction
 * boundary, with either engine. In nested mode it looks only at the
 * instructions of one level; the other levels run freely. While the
 * machine is stopped nothing runs, so its modeled time stands still. */
#ifndef L0_GDB_STUB_H
#define L0_GDB_STUB_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb/packet.h"

struct cpu;
struct vmcs;

enum { GDB_MAX_BREAKPOINTS = 64 };

struct gdb_stub {
    /* Read by the run loop (cpu.c run_batch): one instruction per batch. */
    bool each_insn;
    /* Set by SIGIO: gdb sent something while the machine runs. */
    volatile sig_atomic_t io_ready;

    int listen_fd, fd;
    unsigned port;
    /* Only instructions run under this VMCS count (nested: the level
     * chosen with --gdb-level); NULL: every instruction. */
    const struct vmcs *level_vmcs;

    bool first_stop;   /* stop before the machine's first instruction */
    bool stepping;     /* `s`: stop after one instruction of the level */
    bool step_taken;   /* ... which has begun */
    bool interrupt;    /* 0x03: stop at the level's next instruction */
    bool skip_valid;   /* resumed at a breakpoint: pass it once */
    uint64_t skip_rip;
    uint64_t seen_steps, seen_rip; /* the last boundary the stub saw */
    uint64_t breakpoints[GDB_MAX_BREAKPOINTS];
    unsigned breakpoint_count;
    bool no_ack;       /* QStartNoAckMode */

    struct gdb_rx rx;
    uint8_t in[4096];  /* bytes received and not yet fed to rx */
    size_t in_pos, in_len;
    char reply[GDB_PACKET_MAX + 1];
    char sent[2 * GDB_PACKET_MAX + 8]; /* the last framed reply, for '-' */
    size_t sent_len;
};

/* Listens on 127.0.0.1:port (0: a port the system picks; g->port says
 * which). 0, or -1 with err set (the port is in use, say). */
int gdb_open(struct gdb_stub *g, unsigned port, char *err, size_t err_size);

/* Waits for gdb to connect. 0; -1 with err set if the wait was
 * interrupted by a signal or accept failed. */
int gdb_accept(struct gdb_stub *g, char *err, size_t err_size);

/* The run loop's hook, before the instruction at c->rip (c->gdb is g):
 * stops there, talking with gdb until it resumes, when a breakpoint, a
 * finished step, an interrupt or the first instruction asks for it.
 * gdb's `k` stops the machine (STOP_DEBUGGER); `D` or a closed
 * connection detaches the stub (c->gdb becomes NULL) and the run goes
 * on. */
void gdb_before_insn(struct gdb_stub *g, struct cpu *c);

/* The run ended with this exit status: tells gdb (`W`), if attached. */
void gdb_report_exit(struct gdb_stub *g, int status);

void gdb_close(struct gdb_stub *g);

#endif
