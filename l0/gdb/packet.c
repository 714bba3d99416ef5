#include "gdb/packet.h"

#include <string.h>

void gdb_rx_init(struct gdb_rx *rx)
{
    memset(rx, 0, sizeof *rx);
}

int gdb_hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static void rx_start(struct gdb_rx *rx)
{
    rx->state = RX_DATA;
    rx->len = 0;
    rx->sum = 0;
    rx->bad_digit = false;
    rx->escaped = false;
    rx->too_long = false;
}

static void rx_keep(struct gdb_rx *rx, uint8_t byte)
{
    if (rx->escaped) {
        byte ^= 0x20;
        rx->escaped = false;
    } else if (byte == '}') {
        rx->escaped = true;
        return;
    }
    if (rx->len == GDB_PACKET_MAX) {
        rx->too_long = true;
        return;
    }
    rx->data[rx->len++] = (char)byte;
}

enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t byte)
{
    switch (rx->state) {
    case RX_IDLE:
        if (byte == '$')
            rx_start(rx);
        return byte == '+'    ? GDB_RX_ACK
               : byte == '-'  ? GDB_RX_NAK
               : byte == 0x03 ? GDB_RX_INTERRUPT
                              : GDB_RX_NONE;
    case RX_DATA:
        if (byte == '#') {
            rx->state = RX_SUM_HI;
        } else if (byte == '$') {
            rx_start(rx); /* a packet cut short: start over */
        } else {
            rx->sum += byte;
            rx_keep(rx, byte);
        }
        return GDB_RX_NONE;
    case RX_SUM_HI:
    case RX_SUM_LO: {
        int d = gdb_hex_digit((char)byte);
        rx->bad_digit |= d < 0;
        if (rx->state == RX_SUM_HI) {
            rx->sent_sum = (uint8_t)((d < 0 ? 0 : d) << 4);
            rx->state = RX_SUM_LO;
            return GDB_RX_NONE;
        }
        rx->sent_sum |= (uint8_t)(d < 0 ? 0 : d);
        rx->state = RX_IDLE;
        rx->data[rx->len] = '\0';
        if (rx->bad_digit || rx->sent_sum != rx->sum)
            return GDB_RX_BAD_CHECKSUM;
        return rx->too_long ? GDB_RX_TOO_LONG : GDB_RX_PACKET;
    }
    }
    return GDB_RX_NONE;
}

size_t gdb_frame(const char *payload, size_t len, char *out, size_t out_size)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    uint8_t sum = 0;
    if (out_size < 4)
        return 0;
    out[n++] = '$';
    for (size_t k = 0; k < len; k++) {
        uint8_t b = (uint8_t)payload[k];
        bool escape = b == '$' || b == '#' || b == '}' || b == '*';
        if (n + (escape ? 2 : 1) + 3 > out_size)
            return 0;
        if (escape) {
            out[n++] = '}';
            sum += '}';
            b ^= 0x20;
        }
        out[n++] = (char)b;
        sum += b;
    }
    out[n++] = '#';
    out[n++] = hex[sum >> 4];
    out[n++] = hex[sum & 15];
    return n;
}

bool gdb_parse_hex(const char **p, uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;
    unsigned digits = 0;
    for (int d; (d = gdb_hex_digit(*s)) >= 0; s++, digits++) {
        if (digits == 16)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    if (digits == 0)
        return false;
    *value = v;
    *p = s;
    return true;
}

bool gdb_parse_addr_len(const char **p, char end, uint64_t *addr,
                        uint64_t *len)
{
    const char *s = *p;
    if (!gdb_parse_hex(&s, addr) || *s++ != ',' || !gdb_parse_hex(&s, len) ||
        *s != end)
        return false;
    *p = s;
    return true;
}

void gdb_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = hex[bytes[k] >> 4];
        out[2 * k + 1] = hex[bytes[k] & 15];
    }
    out[2 * n] = '\0';
}

bool gdb_hex_decode(const char *hex, size_t n, uint8_t *out)
{
    for (size_t k = 0; k < n; k++) {
        int hi = gdb_hex_digit(hex[2 * k]);
        if (hi < 0)
            return false;
        int lo = gdb_hex_digit(hex[2 * k + 1]);
        if (lo < 0)
            return false;
        out[k] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
