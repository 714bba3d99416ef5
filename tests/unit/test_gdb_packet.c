/* l0/gdb/packet.c: the remote protocol's framing and the numbers and
 * byte strings in packets. Expected checksums are worked out by hand
 * from the GDB manual's rule (the sum of the payload bytes mod 256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gdb/packet.h"

static struct gdb_rx rx;

/* Feeds a string; returns the event of its last byte, and fails if an
 * earlier byte completed something. */
static enum gdb_rx_event feed(const char *s, size_t len)
{
    enum gdb_rx_event e = GDB_RX_NONE;
    for (size_t k = 0; k < len; k++) {
        assert_int_equal(e, GDB_RX_NONE);
        e = gdb_rx_feed(&rx, (uint8_t)s[k]);
    }
    return e;
}

#define FEED(s) feed(s, sizeof(s) - 1)

static void test_a_packet_with_its_checksum(void **state)
{
    (void)state;
    gdb_rx_init(&rx);
    /* 'g' is 0x67. */
    assert_int_equal(FEED("$g#67"), GDB_RX_PACKET);
    assert_string_equal(rx.data, "g");
    /* m (0x6d) 1 (0x31) 0 (0x30) , (0x2c) 4 (0x34): 0x12e -> 0x2e;
     * upper-case hex digits are accepted too. */
    assert_int_equal(FEED("$m10,4#2E"), GDB_RX_PACKET);
    assert_string_equal(rx.data, "m10,4");
    assert_int_equal(FEED("$#00"), GDB_RX_PACKET); /* empty payload */
    assert_string_equal(rx.data, "");
    assert_int_equal(FEED("$?#3F"), GDB_RX_PACKET);
}

static void test_a_wrong_or_malformed_checksum(void **state)
{
    (void)state;
    gdb_rx_init(&rx);
    assert_int_equal(FEED("$g#68"), GDB_RX_BAD_CHECKSUM);
    assert_int_equal(FEED("$g#6z"), GDB_RX_BAD_CHECKSUM);
    assert_int_equal(FEED("$g#z7"), GDB_RX_BAD_CHECKSUM);
    /* The receiver is ready for the next packet. */
    assert_int_equal(FEED("$g#67"), GDB_RX_PACKET);
}

static void test_bytes_between_packets(void **state)
{
    (void)state;
    gdb_rx_init(&rx);
    assert_int_equal(gdb_rx_feed(&rx, '+'), GDB_RX_ACK);
    assert_int_equal(gdb_rx_feed(&rx, '-'), GDB_RX_NAK);
    assert_int_equal(gdb_rx_feed(&rx, 0x03), GDB_RX_INTERRUPT);
    assert_int_equal(gdb_rx_feed(&rx, 'x'), GDB_RX_NONE); /* noise */
    assert_int_equal(gdb_rx_feed(&rx, '#'), GDB_RX_NONE);
    /* Inside a packet 0x03 is data, and a '$' starts over. */
    assert_int_equal(FEED("$ab$g#67"), GDB_RX_PACKET);
    assert_string_equal(rx.data, "g");
    static const char with_03[] = "$\x03#03";
    assert_int_equal(feed(with_03, sizeof with_03 - 1), GDB_RX_PACKET);
    assert_int_equal(rx.data[0], 3);
}

static void test_escapes_are_undone(void **state)
{
    (void)state;
    gdb_rx_init(&rx);
    /* "}]" is ']' ^ 0x20 = '}'; the checksum covers the bytes as sent:
     * 'X' 0x58 + '}' 0x7d + ']' 0x5d = 0x132 -> 0x32. */
    assert_int_equal(FEED("$X}]#32"), GDB_RX_PACKET);
    assert_int_equal(rx.len, 2);
    assert_string_equal(rx.data, "X}");
}

static void test_a_packet_too_long(void **state)
{
    (void)state;
    gdb_rx_init(&rx);
    assert_int_equal(gdb_rx_feed(&rx, '$'), GDB_RX_NONE);
    uint8_t sum = 0;
    for (unsigned k = 0; k < GDB_PACKET_MAX + 10; k++) {
        assert_int_equal(gdb_rx_feed(&rx, 'a'), GDB_RX_NONE);
        sum += 'a';
    }
    static const char hex[] = "0123456789abcdef";
    assert_int_equal(gdb_rx_feed(&rx, '#'), GDB_RX_NONE);
    assert_int_equal(gdb_rx_feed(&rx, (uint8_t)hex[sum >> 4]), GDB_RX_NONE);
    assert_int_equal(gdb_rx_feed(&rx, (uint8_t)hex[sum & 15]),
                     GDB_RX_TOO_LONG);
    assert_int_equal(rx.len, GDB_PACKET_MAX);
    assert_int_equal(FEED("$g#67"), GDB_RX_PACKET);
}

static void test_framing_a_reply(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(gdb_frame("OK", 2, out, sizeof out), 6);
    assert_memory_equal(out, "$OK#9a", 6); /* 0x4f + 0x4b = 0x9a */
    /* '#' 0x23 is sent as '}' 0x7d, 0x03: sum 0x80. */
    assert_int_equal(gdb_frame("#", 1, out, sizeof out), 6);
    assert_memory_equal(out, "$}\x03#80", 6);
    /* What does not fit is refused, not cut. */
    assert_int_equal(gdb_frame("OK", 2, out, 5), 0);
    /* Framed replies read back as they were. */
    static const char payload[] = "a$b#c}d*e";
    size_t n = gdb_frame(payload, sizeof payload - 1, out, sizeof out);
    gdb_rx_init(&rx);
    assert_int_equal(feed(out, n), GDB_RX_PACKET);
    assert_string_equal(rx.data, payload);
}

static void test_hex_numbers(void **state)
{
    (void)state;
    const char *p = "7fFf,10";
    uint64_t v, a, l;
    assert_true(gdb_parse_hex(&p, &v));
    assert_int_equal(v, 0x7fff);
    assert_int_equal(*p, ',');
    p = "ffffffffffffffff";
    assert_true(gdb_parse_hex(&p, &v));
    assert_true(v == UINT64_MAX);
    p = "10000000000000000"; /* 17 digits */
    assert_false(gdb_parse_hex(&p, &v));
    p = ",5";
    assert_false(gdb_parse_hex(&p, &v));
    p = "100130,8";
    assert_true(gdb_parse_addr_len(&p, '\0', &a, &l));
    assert_int_equal(a, 0x100130);
    assert_int_equal(l, 8);
    p = "10,2:abcd";
    assert_true(gdb_parse_addr_len(&p, ':', &a, &l));
    assert_int_equal(*p, ':');
    static const char *const bad[] = {"10", "10,", ",4", "10,4x", "10;4",
                                      ""};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        p = bad[k];
        assert_false(gdb_parse_addr_len(&p, '\0', &a, &l));
    }
}

static void test_hex_bytes(void **state)
{
    (void)state;
    uint8_t b[3] = {0x00, 0xAB, 0x7F}, back[3];
    char hex[7];
    gdb_hex_encode(b, 3, hex);
    assert_string_equal(hex, "00ab7f");
    assert_true(gdb_hex_decode("00AB7f", 3, back));
    assert_memory_equal(back, b, 3);
    assert_false(gdb_hex_decode("00ab7", 3, back)); /* short */
    assert_false(gdb_hex_decode("0g", 1, back));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_packet_with_its_checksum),
        cmocka_unit_test(test_a_wrong_or_malformed_checksum),
        cmocka_unit_test(test_bytes_between_packets),
        cmocka_unit_test(test_escapes_are_undone),
        cmocka_unit_test(test_a_packet_too_long),
        cmocka_unit_test(test_framing_a_reply),
        cmocka_unit_test(test_hex_numbers),
        cmocka_unit_test(test_hex_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
