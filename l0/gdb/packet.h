/* The GDB remote serial protocol's framing (GDB manual, Appendix E
 * "GDB Remote Serial Protocol", sections "Overview" and "Packet
 * Acknowledgment"): `$payload#cc` with a two-digit hex checksum of the
 * payload bytes mod 256, `+`/`-` acknowledgments, the 0x03 interrupt
 * byte, `}` escapes; and the hex numbers and byte strings the commands
 * carry. Pure: no sockets, no machine (gdb/stub.c has those). */
#ifndef L0_GDB_PACKET_H
#define L0_GDB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest payload either side sends (announced in qSupported as
 * PacketSize, in hex). */
enum { GDB_PACKET_MAX = 4096 };

/* What one received byte completed. */
enum gdb_rx_event {
    GDB_RX_NONE,          /* nothing yet */
    GDB_RX_PACKET,        /* a packet with a good checksum: rx.data */
    GDB_RX_BAD_CHECKSUM,  /* a whole packet whose checksum is wrong */
    GDB_RX_TOO_LONG,      /* a whole packet longer than GDB_PACKET_MAX */
    GDB_RX_INTERRUPT,     /* 0x03 outside a packet: gdb's Ctrl-C */
    GDB_RX_ACK,           /* '+' */
    GDB_RX_NAK,           /* '-': resend the last packet */
};

struct gdb_rx {
    enum { RX_IDLE, RX_DATA, RX_SUM_HI, RX_SUM_LO } state;
    char data[GDB_PACKET_MAX + 1]; /* the payload, escapes undone, NUL */
    size_t len;
    uint8_t sum;       /* of the bytes as sent */
    uint8_t sent_sum;  /* the checksum the packet carries */
    bool bad_digit;    /* a checksum character that is not hex */
    bool escaped;      /* the last byte was '}' */
    bool too_long;
};

void gdb_rx_init(struct gdb_rx *rx);

/* Feeds one byte; bytes outside a packet other than '+', '-' and 0x03
 * are ignored (line noise). */
enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t byte);

/* `$payload#cc` into out, with '$', '#', '}' and '*' in the payload
 * escaped. Returns the framed length, or 0 if it does not fit. */
size_t gdb_frame(const char *payload, size_t len, char *out,
                 size_t out_size);

/* ---- the contents of packets ---- */

/* The value of a hex digit, or -1. */
int gdb_hex_digit(char ch);

/* A hex number of 1 to 16 digits at *p; *p moves past it. False (and
 * *p unchanged) if there is no digit or more than 16. */
bool gdb_parse_hex(const char **p, uint64_t *value);

/* `addr,length` and nothing else up to `end` (a character: ':' for M
 * and X, '\0' for m). */
bool gdb_parse_addr_len(const char **p, char end, uint64_t *addr,
                        uint64_t *len);

/* n bytes as 2n lowercase hex digits (out holds 2n + 1, NUL-ended). */
void gdb_hex_encode(const uint8_t *bytes, size_t n, char *out);

/* Exactly 2n hex digits at `hex` into n bytes; false if one is not hex
 * or the text is shorter. */
bool gdb_hex_decode(const char *hex, size_t n, uint8_t *out);

#endif
