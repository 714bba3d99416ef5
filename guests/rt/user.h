/* Running code at CPL 3, for tests of user mode. */
#ifndef RT_USER_H
#define RT_USER_H

#include <stdint.h>

/* The interrupt vector through which user code returns (a DPL 3 gate). */
#define RT_VEC_USER_RETURN 0xF0

/* Runs fn(arg) at CPL 3 and returns what fn returns. The first call makes
 * the runtime's identity map user-accessible (U/S = 1 at every level;
 * without SMEP and SMAP supervisor accesses are unchanged), so that fn
 * can be any code of the image. fn runs on `stack_top` (16-byte aligned)
 * with RFLAGS = `rflags` (IOPL and IF as given), CS = RT_SEL_UCODE|3 and
 * SS = RT_SEL_UDATA|3, entered with IRETQ. Exceptions and interrupts from
 * CPL 3 run on the stack of the caller, below its frame (TSS.RSP0). When
 * fn returns, INT RT_VEC_USER_RETURN brings the CPU back to CPL 0 with
 * the caller's RFLAGS, DS and ES. */
uint64_t rt_user_call(uint64_t (*fn)(uint64_t), uint64_t arg,
                      void *stack_top, uint64_t rflags);

#endif
