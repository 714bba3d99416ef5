/* The double-fault rules: what the processor does when delivering one
 * event raises an exception (SDM Vol. 3A 7.15, Interrupt 8, Table 7-5
 * "Conditions for Generating a Double Fault"). Pure, for unit tests. */
#ifndef L0_CPU_DOUBLE_FAULT_H
#define L0_CPU_DOUBLE_FAULT_H

#include <stdbool.h>

enum delivery_outcome {
    DELIVER_SERIALLY, /* the second exception is delivered */
    DELIVER_DOUBLE,   /* a double fault (#DF) is delivered */
    DELIVER_SHUTDOWN, /* a triple fault: the processor shuts down */
};

/* `second` (an exception vector) was raised while delivering `first`;
 * `first_is_exception` is false for external interrupts and INT n, which
 * are benign whatever their vector (Table 7-5 lists exceptions). */
enum delivery_outcome double_fault_rule(unsigned first,
                                        bool first_is_exception,
                                        unsigned second);

#endif
