#include "gdb/stub.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "gdb/memory.h"
#include "gdb/regs.h"
#include "machine.h"

enum { SIG_INT = 2, SIG_TRAP = 5 }; /* gdb's signal numbers */

/* What a command leaves the stopped machine to do. */
enum action { STAY, RESUME, DETACH, KILL };

/* The description gdb asks for with qXfer:features:read: the
 * architecture alone, so that gdb uses its default amd64 registers
 * (gdb/regs.h) without `set architecture`. */
static const char target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\"><architecture>i386:x86-64</architecture>"
    "</target>\n";

/* ---- the connection ------------------------------------------------- */

static struct gdb_stub *sigio_stub;

static void on_sigio(int signo)
{
    (void)signo;
    if (sigio_stub)
        sigio_stub->io_ready = 1;
}

int gdb_open(struct gdb_stub *g, unsigned port, char *err, size_t err_size)
{
    memset(g, 0, sizeof *g);
    g->fd = -1;
    g->first_stop = true;
    gdb_rx_init(&g->rx);
    g->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1;
    if (g->listen_fd < 0 ||
        setsockopt(g->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                   sizeof one) != 0 ||
        bind(g->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(g->listen_fd, 1) != 0 ||
        getsockname(g->listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        snprintf(err, err_size, "--gdb: cannot listen on localhost:%u: %s",
                 port, strerror(errno));
        if (g->listen_fd >= 0)
            close(g->listen_fd);
        g->listen_fd = -1;
        return -1;
    }
    g->port = ntohs(a.sin_port);
    return 0;
}

int gdb_accept(struct gdb_stub *g, char *err, size_t err_size)
{
    g->fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (g->fd < 0) {
        snprintf(err, err_size, "--gdb: waiting for gdb on localhost:%u: %s",
                 g->port, strerror(errno));
        return -1;
    }
    close(g->listen_fd);
    g->listen_fd = -1;
    int one = 1;
    setsockopt(g->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* SIGIO when gdb sends while the machine runs (its Ctrl-C): the run
     * loop pays nothing until then. */
    sigio_stub = g;
    struct sigaction sa = {.sa_handler = on_sigio, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGIO, &sa, NULL);
    fcntl(g->fd, F_SETOWN, getpid());
    fcntl(g->fd, F_SETFL, fcntl(g->fd, F_GETFL) | O_ASYNC);
    return 0;
}

static void disconnect(struct gdb_stub *g)
{
    if (g->fd >= 0)
        close(g->fd);
    g->fd = -1;
    sigio_stub = NULL;
    signal(SIGIO, SIG_IGN); /* a SIGIO still queued must not kill us */
}

void gdb_close(struct gdb_stub *g)
{
    disconnect(g);
    if (g->listen_fd >= 0)
        close(g->listen_fd);
    g->listen_fd = -1;
}

static void send_raw(struct gdb_stub *g, const char *bytes, size_t len)
{
    while (g->fd >= 0 && len) {
        ssize_t n = send(g->fd, bytes, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            disconnect(g); /* gdb is gone: noticed by the caller */
            return;
        }
        bytes += n;
        len -= (size_t)n;
    }
}

static void send_packet(struct gdb_stub *g, const char *payload, size_t len)
{
    g->sent_len = gdb_frame(payload, len, g->sent, sizeof g->sent);
    send_raw(g, g->sent, g->sent_len);
}

static void reply(struct gdb_stub *g, const char *payload)
{
    send_packet(g, payload, strlen(payload));
}

/* The next byte from gdb: -1 when the connection ended, -2 when a signal
 * interrupted a blocking wait; `wait` false: -3 when nothing is there. */
static int next_byte(struct gdb_stub *g, bool wait)
{
    if (g->in_pos < g->in_len)
        return g->in[g->in_pos++];
    if (g->fd < 0)
        return -1;
    ssize_t n = recv(g->fd, g->in, sizeof g->in, wait ? 0 : MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
        return -2;
    if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -3;
    if (n <= 0)
        return -1;
    g->in_pos = 1;
    g->in_len = (size_t)n;
    return g->in[0];
}

/* gdb left (`D`, or the connection closed): the run goes on alone. */
static void detach(struct gdb_stub *g, struct cpu *c)
{
    g->breakpoint_count = 0;
    g->each_insn = false;
    disconnect(g);
    c->gdb = NULL;
}

/* ---- commands --------------------------------------------------------- */

static bool at_level(const struct gdb_stub *g, const struct cpu *c)
{
    return !g->level_vmcs || (c->vmx.nonroot && c->vmx.vmcs == g->level_vmcs);
}

static int find_breakpoint(const struct gdb_stub *g, uint64_t addr)
{
    for (unsigned k = 0; k < g->breakpoint_count; k++)
        if (g->breakpoints[k] == addr)
            return (int)k;
    return -1;
}

static void read_registers(struct gdb_stub *g, const struct cpu *c)
{
    char *out = g->reply;
    for (unsigned n = 0; n < GDB_REG_COUNT; n++) {
        uint8_t v[GDB_REG_MAX_SIZE];
        unsigned size = gdb_reg_get(c, n, v);
        gdb_hex_encode(v, size, out);
        out += 2 * size;
    }
}

/* G: the writable registers take their new values; the others (segment
 * selectors, x87) keep theirs (gdb/regs.h). */
static const char *write_registers(struct cpu *c, const char *hex)
{
    for (unsigned n = 0; n < GDB_REG_COUNT && *hex; n++) {
        uint8_t v[GDB_REG_MAX_SIZE];
        unsigned size = gdb_reg_size(n);
        if (!gdb_hex_decode(hex, size, v))
            return "E01";
        gdb_reg_set(c, n, v);
        hex += 2 * size;
    }
    return "OK";
}

static const char *read_register(struct gdb_stub *g, const struct cpu *c,
                                 const char *p)
{
    uint64_t n;
    uint8_t v[GDB_REG_MAX_SIZE];
    if (!gdb_parse_hex(&p, &n) || *p)
        return "E01";
    unsigned size = n < GDB_REG_COUNT ? gdb_reg_get(c, (unsigned)n, v) : 0;
    if (!size)
        return "xxxxxxxxxxxxxxxx"; /* a register gdb knows and we do not */
    gdb_hex_encode(v, size, g->reply);
    return g->reply;
}

static const char *write_register(struct cpu *c, const char *p)
{
    uint64_t n;
    uint8_t v[GDB_REG_MAX_SIZE];
    if (!gdb_parse_hex(&p, &n) || *p++ != '=' || n >= GDB_REG_COUNT)
        return "E01";
    unsigned size = gdb_reg_size((unsigned)n);
    if (strlen(p) != 2 * size || !gdb_hex_decode(p, size, v))
        return "E01";
    return gdb_reg_set(c, (unsigned)n, v) ? "OK" : "E02";
}

static const char *read_memory(struct gdb_stub *g, struct cpu *c,
                               const char *p)
{
    uint64_t addr, len;
    if (!gdb_parse_addr_len(&p, '\0', &addr, &len))
        return "E01";
    if (len > GDB_PACKET_MAX / 2)
        len = GDB_PACKET_MAX / 2; /* gdb asks again for the rest */
    uint8_t buf[GDB_PACKET_MAX / 2];
    size_t n = gdb_mem_read(c, addr, buf, (size_t)len);
    if (n == 0 && len)
        return "E14"; /* EFAULT: nothing mapped there */
    gdb_hex_encode(buf, n, g->reply);
    return g->reply;
}

static const char *write_memory(struct cpu *c, const char *p)
{
    uint64_t addr, len;
    uint8_t buf[GDB_PACKET_MAX / 2];
    if (!gdb_parse_addr_len(&p, ':', &addr, &len) || len > sizeof buf ||
        strlen(++p) != 2 * len || !gdb_hex_decode(p, (size_t)len, buf))
        return "E01";
    return gdb_mem_write(c, addr, buf, (size_t)len) == len ? "OK" : "E14";
}

/* Z0/z0 (software) and Z1/z1 (hardware) breakpoints are the same thing
 * here: addresses the stub compares RIP with. Watchpoints (Z2-Z4) are
 * not offered: the empty reply. */
static const char *breakpoint(struct gdb_stub *g, const char *p, bool insert)
{
    uint64_t type, addr, kind;
    if (!gdb_parse_hex(&p, &type) || *p++ != ',' ||
        !gdb_parse_hex(&p, &addr) || *p++ != ',' ||
        !gdb_parse_hex(&p, &kind) || (*p && *p != ';'))
        return "E01";
    if (type > 1)
        return "";
    int k = find_breakpoint(g, addr);
    if (insert && k < 0) {
        if (g->breakpoint_count == GDB_MAX_BREAKPOINTS)
            return "E0c"; /* ENOMEM: the table is full */
        g->breakpoints[g->breakpoint_count++] = addr;
    } else if (!insert && k >= 0) {
        g->breakpoints[k] = g->breakpoints[--g->breakpoint_count];
    }
    return "OK";
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static const char *read_features(struct gdb_stub *g, const char *p)
{
    static const char annex[] = "target.xml:";
    uint64_t offset, len;
    if (strncmp(p, annex, sizeof annex - 1) != 0)
        return "E00";
    p += sizeof annex - 1;
    if (!gdb_parse_addr_len(&p, '\0', &offset, &len))
        return "E01";
    size_t size = sizeof target_xml - 1;
    if (offset > size)
        return "E01";
    size_t n = size - offset;
    if (len > GDB_PACKET_MAX - 1)
        len = GDB_PACKET_MAX - 1;
    bool last = n <= len;
    if (!last)
        n = (size_t)len;
    g->reply[0] = last ? 'l' : 'm';
    memcpy(g->reply + 1, target_xml + offset, n);
    g->reply[n + 1] = '\0';
    return g->reply;
}

static const char *query(struct gdb_stub *g, const char *p)
{
    static const struct {
        const char *prefix, *answer;
    } answers[] = {
        {"qSupported", "PacketSize=1000;qXfer:features:read+;"
                       "QStartNoAckMode+"},
        {"qAttached", "1"},
        {"qC", "QC1"},
        {"qfThreadInfo", "m1"},
        {"qsThreadInfo", "l"},
        {"qSymbol", "OK"},
    };
    static const char features[] = "qXfer:features:read:";
    if (strncmp(p, features, sizeof features - 1) == 0)
        return read_features(g, p + sizeof features - 1);
    for (size_t k = 0; k < sizeof answers / sizeof *answers; k++) {
        size_t n = strlen(answers[k].prefix);
        if (strncmp(p, answers[k].prefix, n) == 0 &&
            (p[n] == '\0' || p[n] == ':' || p[n] == ','))
            return answers[k].answer;
    }
    return ""; /* not supported */
}

/* `c [ADDR]`, `s [ADDR]`: resume, at ADDR if given. */
static enum action resume(struct gdb_stub *g, struct cpu *c, const char *p,
                          bool step)
{
    uint64_t addr;
    if (*p) {
        if (!gdb_parse_hex(&p, &addr) || *p) {
            reply(g, "E01");
            return STAY;
        }
        c->rip = addr;
    }
    g->stepping = step;
    return RESUME;
}

/* One packet; returns what the machine does next. */
static enum action command(struct gdb_stub *g, struct cpu *c, const char *p)
{
    const char *r = "";
    switch (p[0]) {
    case '?': r = "S05"; break;
    case 'g': read_registers(g, c); r = g->reply; break;
    case 'G': r = write_registers(c, p + 1); break;
    case 'p': r = read_register(g, c, p + 1); break;
    case 'P': r = write_register(c, p + 1); break;
    case 'm': r = read_memory(g, c, p + 1); break;
    case 'M': r = write_memory(c, p + 1); break;
    case 'c': return resume(g, c, p + 1, false);
    case 's': return resume(g, c, p + 1, true);
    case 'Z': r = breakpoint(g, p + 1, true); break;
    case 'z': r = breakpoint(g, p + 1, false); break;
    case 'k': return KILL;
    case 'D': reply(g, "OK"); return DETACH;
    case 'H': case 'T': r = "OK"; break; /* one thread */
    case 'q': r = query(g, p); break;
    case 'Q':
        if (strcmp(p, "QStartNoAckMode") == 0) {
            reply(g, "OK"); /* acknowledged: the last ack of the session */
            g->no_ack = true;
            return STAY;
        }
        break;
    case 'v':
        if (strncmp(p, "vKill", 5) == 0) {
            reply(g, "OK");
            return KILL;
        }
        break; /* vCont? and the rest: not supported */
    }
    reply(g, r);
    return STAY;
}

/* ---- stopping and resuming ----------------------------------------- */

/* The machine is stopped (for `signal`, or -1 at the first stop, which
 * gdb asks about with `?`): serves gdb until it resumes or leaves. */
static void stop_here(struct gdb_stub *g, struct cpu *c, int signal)
{
    char stop[8];
    if (signal >= 0) {
        snprintf(stop, sizeof stop, "S%02x", signal);
        reply(g, stop);
    }
    g->interrupt = false;
    enum action a = STAY;
    while (a == STAY) {
        int b = next_byte(g, true);
        if (b == -2) {
            if (machine_take_signal(c->m)) /* SIGINT or SIGTERM */
                return;
            continue;
        }
        if (b < 0) {
            a = DETACH;
            break;
        }
        switch (gdb_rx_feed(&g->rx, (uint8_t)b)) {
        case GDB_RX_PACKET:
            if (!g->no_ack)
                send_raw(g, "+", 1);
            a = command(g, c, g->rx.data);
            break;
        case GDB_RX_BAD_CHECKSUM:
            if (!g->no_ack)
                send_raw(g, "-", 1);
            break;
        case GDB_RX_TOO_LONG:
            if (!g->no_ack)
                send_raw(g, "+", 1);
            reply(g, "E01");
            break;
        case GDB_RX_NAK:
            send_raw(g, g->sent, g->sent_len);
            break;
        default:
            break;
        }
        if (g->fd < 0)
            a = DETACH;
    }
    if (a == DETACH) {
        detach(g, c);
        return;
    }
    if (a == KILL) {
        machine_stop(c->m, STOP_DEBUGGER, 0, "gdb killed the run");
        disconnect(g);
        return;
    }
    /* The instruction at this boundary runs next: it is the step when
     * it is the level's. The boundary itself is not looked at again. */
    g->step_taken = g->stepping && at_level(g, c);
    g->seen_steps = c->insns + c->faulted_steps;
    g->seen_rip = c->rip;
    g->each_insn = g->breakpoint_count > 0 || g->stepping;
}

/* While the machine runs, gdb sends only its interrupt (0x03). */
static void drain(struct gdb_stub *g, struct cpu *c)
{
    g->io_ready = 0;
    for (;;) {
        int b = next_byte(g, false);
        if (b == -3 || b == -2)
            return;
        if (b == -1) {
            detach(g, c);
            return;
        }
        if (gdb_rx_feed(&g->rx, (uint8_t)b) == GDB_RX_INTERRUPT) {
            g->interrupt = true;
            g->each_insn = true;
        }
    }
}

void gdb_before_insn(struct gdb_stub *g, struct cpu *c)
{
    if (g->io_ready)
        drain(g, c);
    if (c->gdb != g)
        return;
    if (g->first_stop) {
        g->first_stop = false;
        stop_here(g, c, -1);
        return;
    }
    if (!g->each_insn || !at_level(g, c))
        return;
    /* Neither an instruction retired nor an event moved RIP since the
     * stub last looked: the same boundary, or a REP string paused
     * between iterations, which is no boundary. */
    uint64_t steps = c->insns + c->faulted_steps;
    if (steps == g->seen_steps && c->rip == g->seen_rip)
        return;
    g->seen_steps = steps;
    g->seen_rip = c->rip;
    int signal = g->interrupt                       ? SIG_INT
                 : g->stepping && g->step_taken     ? SIG_TRAP
                 : find_breakpoint(g, c->rip) >= 0 ? SIG_TRAP
                                                    : -1;
    if (signal >= 0)
        stop_here(g, c, signal);
    else if (g->stepping)
        g->step_taken = true;
}

void gdb_report_exit(struct gdb_stub *g, int status)
{
    char w[8];
    snprintf(w, sizeof w, "W%02x", status & 0xFF);
    if (g->fd >= 0)
        reply(g, w);
    gdb_close(g);
}
