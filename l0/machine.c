#include "machine.h"

#include <stdarg.h>

void machine_stop(struct machine *m, enum machine_stop reason,
                  uint32_t status, const char *fmt, ...)
{
    if (m->stop != STOP_NONE)
        return;
    m->stop = reason;
    m->exit_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->stop_message, sizeof m->stop_message, fmt, ap);
    va_end(ap);
}
